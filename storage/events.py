"""Queries on events and their participants."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from storage.ids import new_id

Connection = asyncpg.Connection | asyncpg.Pool

# Events whose status was deleted are gone for every read.
_VISIBLE = "s.deleted_at IS NULL"

# Columns whose change is worth telling participants about and counts in the
# iCalendar SEQUENCE; a new participant count alone is not such a change.
CHANGE_COLUMNS = (
    "name",
    "starts_at",
    "ends_at",
    "timezone",
    "online_url",
    "place",
    "capacity",
    "join_mode",
    "registration_open",
    "status",
)


def changed_columns(before: Any, after: Any) -> list[str]:
    """Return the CHANGE_COLUMNS whose values differ between two event rows.

    ``after`` may also be an ``actors.event.EventFields``.
    """
    old = {**dict(before), "place": place_of(before)}
    if isinstance(after, asyncpg.Record):
        new = {**dict(after), "place": place_of(after)}
    else:
        new = {name: getattr(after, name) for name in CHANGE_COLUMNS}
    return [name for name in CHANGE_COLUMNS if old[name] != new[name]]


async def insert(
    db: asyncpg.Connection,
    status_id: int,
    local: bool,
    fields: Any,
    account_id: int,
    group_account_id: int | None,
) -> asyncpg.Record:
    """Insert the event row of a status, or update it when its uri is stored.

    ``fields`` is an ``actors.event.EventFields``. Raises asyncpg's
    CheckViolationError when the end is before the start.
    """
    return await db.fetchrow(
        "INSERT INTO events (status_id, uri, local, account_id, group_account_id,"
        " group_uri, name, starts_at, ends_at, timezone, online_url, place, capacity,"
        " join_mode, registration_open, status, remote_participant_count)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13, $14,"
        " $15, $16, $17)"
        " ON CONFLICT (uri) DO UPDATE SET name = EXCLUDED.name,"
        " starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at,"
        " timezone = EXCLUDED.timezone, online_url = EXCLUDED.online_url,"
        " place = EXCLUDED.place, capacity = EXCLUDED.capacity,"
        " join_mode = EXCLUDED.join_mode,"
        " registration_open = EXCLUDED.registration_open, status = EXCLUDED.status,"
        " remote_participant_count = EXCLUDED.remote_participant_count,"
        " updated_at = now()"
        " RETURNING *",
        status_id,
        fields.uri,
        local,
        account_id,
        group_account_id,
        fields.group,
        fields.name,
        fields.starts_at,
        fields.ends_at,
        fields.timezone,
        fields.online_url,
        json.dumps(fields.place) if fields.place else None,
        fields.capacity,
        fields.join_mode,
        fields.registration_open,
        fields.status,
        fields.participant_count,
    )


def place_of(event: Any) -> dict[str, Any] | None:
    """Return the event's Place as a dict (asyncpg returns jsonb as text)."""
    value = event["place"]
    if value is None or isinstance(value, dict):
        return value
    parsed: dict[str, Any] = json.loads(value)
    return parsed


async def by_status_id(db: Connection, status_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT e.* FROM events e JOIN statuses s ON s.id = e.status_id"
        f" WHERE e.status_id = $1 AND {_VISIBLE}",
        status_id,
    )


async def by_uri(db: Connection, uri: str) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT e.* FROM events e JOIN statuses s ON s.id = e.status_id"
        f" WHERE e.uri = $1 AND {_VISIBLE}",
        uri,
    )


async def lock(db: asyncpg.Connection, status_id: int) -> asyncpg.Record | None:
    """Lock an event row for the transaction, so capacity checks do not race."""
    return await db.fetchrow(
        "SELECT * FROM events WHERE status_id = $1 FOR UPDATE", status_id
    )


async def accepted_count(db: Connection, event_id: int) -> int:
    return int(
        await db.fetchval(
            "SELECT count(*) FROM event_participants"
            " WHERE event_id = $1 AND state = 'accepted'",
            event_id,
        )
    )


async def participant_counts(db: Connection, event_ids: list[int]) -> dict[int, int]:
    """Return the accepted participants of each event that has any."""
    rows = await db.fetch(
        "SELECT event_id, count(*) AS n FROM event_participants"
        " WHERE event_id = ANY($1::bigint[]) AND state = 'accepted' GROUP BY event_id",
        event_ids,
    )
    return {row["event_id"]: row["n"] for row in rows}


async def upsert_participant(
    db: Connection,
    event_id: int,
    account_id: int,
    uri: str | None,
    state: str,
    message: str = "",
) -> asyncpg.Record:
    """Create or replace the participation of an account in an event."""
    return await db.fetchrow(
        "INSERT INTO event_participants (id, event_id, account_id, uri, state, message)"
        " VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (event_id, account_id) DO UPDATE SET"
        " uri = coalesce(EXCLUDED.uri, event_participants.uri),"
        " state = EXCLUDED.state, message = EXCLUDED.message, updated_at = now()"
        " RETURNING *",
        new_id(),
        event_id,
        account_id,
        uri,
        state,
        message,
    )


async def participant(
    db: Connection, event_id: int, account_id: int
) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT * FROM event_participants WHERE event_id = $1 AND account_id = $2",
        event_id,
        account_id,
    )


async def participant_by_uri(db: Connection, uri: str) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM event_participants WHERE uri = $1", uri)


async def set_state(db: Connection, participant_id: int, state: str) -> None:
    await db.execute(
        "UPDATE event_participants SET state = $2, updated_at = now() WHERE id = $1",
        participant_id,
        state,
    )


async def remove_participant(
    db: Connection, event_id: int, account_id: int
) -> asyncpg.Record | None:
    return await db.fetchrow(
        "DELETE FROM event_participants WHERE event_id = $1 AND account_id = $2"
        " RETURNING *",
        event_id,
        account_id,
    )


async def participants(db: Connection, event_id: int) -> list[asyncpg.Record]:
    """Return the participants with their accounts, oldest first."""
    return await db.fetch(
        "SELECT p.id AS participant_id, p.state, p.message, p.created_at AS joined_at,"
        " a.* FROM event_participants p JOIN accounts a ON a.id = p.account_id"
        " WHERE p.event_id = $1 ORDER BY p.id",
        event_id,
    )


async def participant_inboxes(
    db: Connection, event_id: int, states: tuple[str, ...] = ("accepted",)
) -> list[str]:
    """Return the inboxes of remote participants in ``states``, one per host."""
    rows = await db.fetch(
        "SELECT DISTINCT coalesce(a.shared_inbox_url, a.inbox_url) AS inbox"
        " FROM event_participants p JOIN accounts a ON a.id = p.account_id"
        " WHERE p.event_id = $1 AND p.state = ANY($2::text[])"
        " AND a.domain IS NOT NULL",
        event_id,
        list(states),
    )
    return [row["inbox"] for row in rows if row["inbox"]]


async def update_fields(
    db: asyncpg.Connection, status_id: int, fields: Any
) -> asyncpg.Record:
    """Replace a local event's fields with ``fields`` and bump its sequence.

    ``fields`` is an ``actors.event.EventFields``; the uri, organiser and group
    stay as they are. Raises asyncpg's CheckViolationError when the end is
    before the start.
    """
    return await db.fetchrow(
        "UPDATE events SET name = $2, starts_at = $3, ends_at = $4, timezone = $5,"
        " online_url = $6, place = $7::jsonb, capacity = $8, join_mode = $9,"
        " registration_open = $10, status = $11, sequence = sequence + 1,"
        " updated_at = now()"
        " WHERE status_id = $1 RETURNING *",
        status_id,
        fields.name,
        fields.starts_at,
        fields.ends_at,
        fields.timezone,
        fields.online_url,
        json.dumps(fields.place) if fields.place else None,
        fields.capacity,
        fields.join_mode,
        fields.registration_open,
        fields.status,
    )


async def bump_sequence(db: Connection, status_id: int) -> int:
    """Count one more change of an event; return its new sequence."""
    return int(
        await db.fetchval(
            "UPDATE events SET sequence = sequence + 1, updated_at = now()"
            " WHERE status_id = $1 RETURNING sequence",
            status_id,
        )
    )


async def set_status_text(
    db: Connection, status_id: int, *, name: str, content: str, source_text: str
) -> None:
    """Store the new title and description of a local event's status."""
    await db.execute(
        "UPDATE statuses SET name = $2, content = $3, source_text = $4,"
        " edited_at = now() WHERE id = $1",
        status_id,
        name,
        content,
        source_text,
    )


async def reset_reminders(db: Connection, event_id: int) -> None:
    """Let participants be reminded again, after the event moved."""
    await db.execute(
        "UPDATE event_participants SET reminded_at = NULL"
        " WHERE event_id = $1 AND reminded_at IS NOT NULL",
        event_id,
    )


async def notify_participants(
    db: Connection, event_id: int, kind: str, from_account_id: int
) -> list[int]:
    """Notify the local accepted and pending participants of an event.

    An older notification of the same kind about the same event is replaced, so
    a second edit shows again at the top. Returns the notified account ids.
    """
    rows = await db.fetch(
        "SELECT p.account_id FROM event_participants p"
        " JOIN accounts a ON a.id = p.account_id"
        " WHERE p.event_id = $1 AND p.state IN ('accepted', 'pending')"
        " AND a.domain IS NULL AND p.account_id <> $2",
        event_id,
        from_account_id,
    )
    account_ids = [row["account_id"] for row in rows]
    if not account_ids:
        return []
    await db.execute(
        "DELETE FROM notifications WHERE account_id = ANY($1::bigint[])"
        " AND type = $2 AND from_account_id = $3 AND status_id = $4",
        account_ids,
        kind,
        from_account_id,
        event_id,
    )
    await db.executemany(
        "INSERT INTO notifications (id, account_id, type, from_account_id, status_id)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        [
            (new_id(), account_id, kind, from_account_id, event_id)
            for account_id in account_ids
        ],
    )
    return account_ids


async def upcoming(
    db: Connection,
    *,
    query: str | None = None,
    account_id: int | None = None,
    group_account_id: int | None = None,
    local_only: bool = False,
    since_days: int = 1,
    limit: int = 40,
    offset: int = 0,
) -> list[asyncpg.Record]:
    """Return public events, soonest first, that ended at most ``since_days`` ago.

    ``query`` matches words of the name (each as a prefix).
    """
    tsquery = _prefix_query(query) if query else None
    return await db.fetch(
        "SELECT e.*, s.visibility FROM events e JOIN statuses s ON s.id = e.status_id"
        f" WHERE {_VISIBLE} AND s.visibility = 'public'"
        " AND e.ends_at > now() - make_interval(days => $1)"
        " AND ($2::text IS NULL OR to_tsvector('simple', e.name) @@ to_tsquery('simple', $2))"
        " AND ($3::bigint IS NULL OR e.account_id = $3)"
        " AND ($4::bigint IS NULL OR e.group_account_id = $4)"
        " AND (NOT $5 OR e.local)"
        " ORDER BY e.starts_at, e.status_id LIMIT $6 OFFSET $7",
        since_days,
        tsquery,
        account_id,
        group_account_id,
        local_only,
        limit,
        offset,
    )


async def search(
    db: Connection, query: str, *, limit: int = 20, offset: int = 0
) -> list[asyncpg.Record]:
    """Return public events whose name matches ``query``, past ones included.

    Each word of ``query`` matches as a prefix. Events that have not ended come
    first, soonest first; then past events, latest first.
    """
    tsquery = _prefix_query(query)
    if tsquery is None:
        return []
    return await db.fetch(
        "SELECT e.*, s.visibility FROM events e JOIN statuses s ON s.id = e.status_id"
        f" WHERE {_VISIBLE} AND s.visibility = 'public'"
        " AND to_tsvector('simple', e.name) @@ to_tsquery('simple', $1)"
        " ORDER BY (e.ends_at < now()),"
        " CASE WHEN e.ends_at >= now() THEN e.starts_at END,"
        " e.starts_at DESC, e.status_id"
        " LIMIT $2 OFFSET $3",
        tsquery,
        limit,
        offset,
    )


def _prefix_query(text: str) -> str | None:
    words = ["".join(ch for ch in word if ch.isalnum()) for word in text.split()]
    words = [word.lower() for word in words if word][:8]
    return " & ".join(f"{word}:*" for word in words) or None


async def due_reminders(
    db: Connection, minutes: int, limit: int = 500
) -> list[asyncpg.Record]:
    """Return accepted local participations of events starting within ``minutes``
    that have not been reminded yet."""
    return await db.fetch(
        "SELECT p.id, p.account_id, e.status_id, e.account_id AS organiser_id"
        " FROM event_participants p"
        " JOIN events e ON e.status_id = p.event_id"
        " JOIN statuses s ON s.id = e.status_id"
        " JOIN accounts a ON a.id = p.account_id"
        f" WHERE p.state = 'accepted' AND p.reminded_at IS NULL AND {_VISIBLE}"
        " AND a.domain IS NULL AND e.status <> 'CANCELLED'"
        " AND e.starts_at > now()"
        " AND e.starts_at <= now() + make_interval(mins => $1)"
        " ORDER BY e.starts_at LIMIT $2",
        minutes,
        limit,
    )


async def mark_reminded(db: Connection, participant_id: int) -> bool:
    """Mark a participation as reminded. Returns False when another worker
    marked it first."""
    done = await db.fetchval(
        "UPDATE event_participants SET reminded_at = now()"
        " WHERE id = $1 AND reminded_at IS NULL RETURNING id",
        participant_id,
    )
    return done is not None
