"""Queries on mentor profiles and mentorships."""

from typing import Any

import asyncpg

from actors.mentoring import MentoringTerms
from storage.ids import new_id

Connection = asyncpg.Connection | asyncpg.Pool

LIVE_STATES = ("pending", "accepted")


async def save_mentor_profile(
    db: Connection,
    account_id: int,
    *,
    open: bool,
    subjects: list[str],
    grade_levels: list[str],
    capacity: int,
    note: str,
) -> asyncpg.Record:
    """Insert or replace a teacher's mentoring offer and return it."""
    return await db.fetchrow(
        "INSERT INTO mentor_profiles (account_id, open, subjects, grade_levels,"
        " capacity, note) VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (account_id) DO UPDATE SET open = EXCLUDED.open,"
        " subjects = EXCLUDED.subjects, grade_levels = EXCLUDED.grade_levels,"
        " capacity = EXCLUDED.capacity, note = EXCLUDED.note, updated_at = now()"
        " RETURNING *",
        account_id,
        open,
        subjects,
        grade_levels,
        capacity,
        note,
    )


async def mentor_profile(
    db: Connection, account_id: int, *, lock: bool = False
) -> asyncpg.Record | None:
    """Return a teacher's mentoring offer; ``lock`` locks the row until commit,
    which serialises the capacity check of concurrent acceptances."""
    suffix = " FOR UPDATE" if lock else ""
    return await db.fetchrow(
        "SELECT * FROM mentor_profiles WHERE account_id = $1" + suffix, account_id
    )


async def accepted_count(db: Connection, mentor_id: int) -> int:
    """Return how many mentees a mentor has now."""
    return await db.fetchval(
        "SELECT count(*) FROM mentorships WHERE mentor_id = $1 AND state = 'accepted'",
        mentor_id,
    )


async def free_places(db: Connection, account_id: int, capacity: int) -> int:
    """Return a local mentor's capacity minus their accepted mentorships."""
    return max(0, capacity - await accepted_count(db, account_id))


async def offer_json(db: Connection, account: Any) -> dict[str, Any] | None:
    """Return a local or remote teacher's mentoring offer as the client API
    shows it, or None when the teacher has none."""
    profile = await mentor_profile(db, account["id"])
    if profile is None:
        return None
    if account["domain"] is None:
        places = await free_places(db, account["id"], profile["capacity"])
    elif profile["remote_free_places"] is None:
        places = profile["capacity"]
    else:
        places = profile["remote_free_places"]
    return {
        "open": profile["open"] and places > 0,
        "subjects": list(profile["subjects"]),
        "grade_levels": list(profile["grade_levels"]),
        "capacity": profile["capacity"],
        "free_places": places,
        "note": profile["note"],
    }


async def save_remote_offer(
    db: Connection, account_id: int, offer: MentoringTerms | None
) -> None:
    """Store the mentoring offer read from a remote actor document, or remove
    the stored one when the document no longer publishes an offer."""
    if offer is None:
        await db.execute(
            "DELETE FROM mentor_profiles WHERE account_id = $1", account_id
        )
        return
    await db.execute(
        "INSERT INTO mentor_profiles (account_id, open, subjects, grade_levels,"
        " capacity, note, remote_free_places) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT (account_id) DO UPDATE SET open = EXCLUDED.open,"
        " subjects = EXCLUDED.subjects, grade_levels = EXCLUDED.grade_levels,"
        " capacity = EXCLUDED.capacity, note = EXCLUDED.note,"
        " remote_free_places = EXCLUDED.remote_free_places,"
        " updated_at = CASE WHEN (mentor_profiles.open, mentor_profiles.subjects,"
        "  mentor_profiles.grade_levels, mentor_profiles.capacity,"
        "  mentor_profiles.note, mentor_profiles.remote_free_places)"
        "  IS NOT DISTINCT FROM (EXCLUDED.open, EXCLUDED.subjects,"
        "  EXCLUDED.grade_levels, EXCLUDED.capacity, EXCLUDED.note,"
        "  EXCLUDED.remote_free_places)"
        "  THEN mentor_profiles.updated_at ELSE now() END",
        account_id,
        offer.open,
        offer.subjects,
        offer.grade_levels,
        offer.capacity,
        offer.note,
        offer.free_places,
    )


# The directory's rows: local mentors with their counted free places, and
# remote mentors with the free places their actor documents report.
_DIRECTORY = (
    "SELECT * FROM (SELECT a.*, p.subjects AS mentor_subjects,"
    " p.grade_levels AS mentor_grade_levels, p.capacity, p.note AS mentor_note,"
    " p.updated_at AS offer_updated_at,"
    " CASE WHEN a.domain IS NULL THEN p.capacity - (SELECT count(*)"
    "  FROM mentorships m WHERE m.mentor_id = a.id AND m.state = 'accepted')"
    "  ELSE coalesce(p.remote_free_places, p.capacity) END AS free_places"
    " FROM mentor_profiles p JOIN accounts a ON a.id = p.account_id"
    " WHERE p.open AND a.deleted_at IS NULL AND a.actor_type = 'Person'"
    " AND ($1::boolean IS NULL OR (a.domain IS NULL) = $1)"
    " AND ($6::bigint IS NULL OR NOT EXISTS (SELECT 1 FROM blocks b"
    "  WHERE (b.account_id = $6 AND b.target_account_id = a.id)"
    "  OR (b.account_id = a.id AND b.target_account_id = $6)))"
    " AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM unnest(p.subjects) s"
    "  WHERE lower(s) = lower($2)))"
    " AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM unnest(p.grade_levels) g"
    "  WHERE lower(g) = lower($3)))) listed"
    " WHERE free_places > 0"
    " ORDER BY offer_updated_at DESC, id LIMIT $4 OFFSET $5"
)


async def directory(
    db: Connection,
    *,
    subject: str | None,
    grade_level: str | None,
    local: bool | None = None,
    viewer_id: int | None = None,
    limit: int,
    offset: int,
) -> list[asyncpg.Record]:
    """Return the teachers open to mentoring with a free place, newest offers
    first, with their free places.

    Subject and grade level are case-insensitive exact matches. ``local``
    True lists local teachers only, False remote ones only, None both. Remote
    teachers are those whose actor documents this instance has stored. With
    ``viewer_id``, teachers the viewer blocked or who blocked the viewer are
    left out.
    """
    return await db.fetch(
        _DIRECTORY, local, subject, grade_level, limit, offset, viewer_id
    )


async def insert(
    db: Connection,
    *,
    uri: str | None,
    offer_uri: str | None,
    mentor_id: int,
    mentee_id: int,
    message: str,
    subjects: list[str],
    uris_for_id: Any = None,
    peer_check: str | None = None,
) -> asyncpg.Record | None:
    """Insert a pending mentorship; return None when the pair already has a live
    one or the uri is already stored. ``uris_for_id`` builds (uri, offer uri)
    from the new id for local offers, and ``peer_check`` "pending" queues the
    check of a remote mentor's server software."""
    mentorship_id = new_id()
    if uris_for_id is not None:
        uri, offer_uri = uris_for_id(mentorship_id)
    return await db.fetchrow(
        "INSERT INTO mentorships (id, uri, offer_uri, mentor_id, mentee_id, message,"
        " subjects, peer_check) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT DO NOTHING RETURNING *",
        mentorship_id,
        uri,
        offer_uri,
        mentor_id,
        mentee_id,
        message,
        subjects,
        peer_check,
    )


async def live_between(
    db: Connection, mentor_id: int, mentee_id: int
) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT * FROM mentorships WHERE mentor_id = $1 AND mentee_id = $2"
        " AND state IN ('pending', 'accepted')",
        mentor_id,
        mentee_id,
    )


async def by_id(db: Connection, mentorship_id: int) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM mentorships WHERE id = $1", mentorship_id)


async def by_uri(db: Connection, uri: str) -> asyncpg.Record | None:
    """Find a mentorship by its object uri or by its Offer's uri."""
    return await db.fetchrow(
        "SELECT * FROM mentorships WHERE uri = $1 OR offer_uri = $1", uri
    )


async def set_state(db: Connection, mentorship_id: int, state: str) -> asyncpg.Record:
    return await db.fetchrow(
        "UPDATE mentorships SET state = $2, answered_at = now() WHERE id = $1"
        " RETURNING *",
        mentorship_id,
        state,
    )


async def list_for(
    db: Connection, account_id: int, state: str | None
) -> list[asyncpg.Record]:
    """Return the mentorships a teacher is mentor or mentee of, newest first."""
    return await db.fetch(
        "SELECT * FROM mentorships WHERE (mentor_id = $1 OR mentee_id = $1)"
        " AND ($2::text IS NULL OR state = $2) ORDER BY id DESC LIMIT 200",
        account_id,
        state,
    )


async def thread(db: Connection, mentorship: Any, limit: int) -> list[asyncpg.Record]:
    """Return the direct statuses between mentor and mentee since the offer,
    oldest first: each written by one of the pair and mentioning the other.

    Received statuses carry their published time, often in whole seconds and
    from another clock, so "since" allows one minute before the offer.
    """
    return await db.fetch(
        "SELECT s.* FROM statuses s WHERE s.visibility = 'direct'"
        " AND s.deleted_at IS NULL"
        " AND s.created_at >= $3::timestamptz - interval '1 minute'"
        " AND ((s.account_id = $1 AND EXISTS (SELECT 1 FROM mentions m"
        "   WHERE m.status_id = s.id AND m.account_id = $2))"
        "  OR (s.account_id = $2 AND EXISTS (SELECT 1 FROM mentions m"
        "   WHERE m.status_id = s.id AND m.account_id = $1)))"
        " ORDER BY s.id LIMIT $4",
        mentorship["mentor_id"],
        mentorship["mentee_id"],
        mentorship["created_at"],
        limit,
    )


async def notify(
    db: Connection,
    account_id: int,
    kind: str,
    from_account_id: int,
    mentorship_id: int,
) -> None:
    """Add a mentorship notification for a local account.

    It replaces an older notification of the same type from the same teacher,
    which concerns an earlier, finished mentorship of the pair, because the
    unique index on notifications allows one per type and sender when no
    status is named. Nothing is added for a remote account.
    """
    await db.execute(
        "DELETE FROM notifications WHERE account_id = $1 AND type = $2"
        " AND from_account_id = $3 AND status_id IS NULL",
        account_id,
        kind,
        from_account_id,
    )
    await db.execute(
        "INSERT INTO notifications (id, account_id, type, from_account_id,"
        " mentorship_id) SELECT $1, $2, $3, $4, $5"
        " WHERE EXISTS (SELECT 1 FROM accounts WHERE id = $2 AND domain IS NULL)"
        " ON CONFLICT DO NOTHING",
        new_id(),
        account_id,
        kind,
        from_account_id,
        mentorship_id,
    )


async def pending_peer_checks(db: Connection, limit: int) -> list[asyncpg.Record]:
    """Return the mentorships whose remote mentor's server software is still to
    be checked, oldest first, with the mentor's actor id."""
    return await db.fetch(
        "SELECT m.id, m.uri, a.actor_id AS mentor_actor_id FROM mentorships m"
        " JOIN accounts a ON a.id = m.mentor_id"
        " WHERE m.peer_check = 'pending' ORDER BY m.created_at LIMIT $1",
        limit,
    )


async def finish_peer_check(db: Connection, mentorship_id: int) -> asyncpg.Record | None:
    """Mark a pending software check done and return the mentorship, or None
    when another worker finished it first."""
    return await db.fetchrow(
        "UPDATE mentorships SET peer_check = 'done'"
        " WHERE id = $1 AND peer_check = 'pending' RETURNING *",
        mentorship_id,
    )


async def remote_mentee_inboxes(db: Connection, mentor_id: int) -> list[str]:
    """Return the inboxes of the remote mentees with a live mentorship of a
    local mentor, whose instances list the mentor's free places."""
    rows = await db.fetch(
        "SELECT DISTINCT coalesce(a.shared_inbox_url, a.inbox_url) AS inbox"
        " FROM mentorships m JOIN accounts a ON a.id = m.mentee_id"
        " WHERE m.mentor_id = $1 AND m.state IN ('pending', 'accepted')"
        " AND a.domain IS NOT NULL AND a.deleted_at IS NULL",
        mentor_id,
    )
    return [row["inbox"] for row in rows]
