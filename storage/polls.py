"""Queries on polls and their votes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from storage.ids import new_id

Connection = asyncpg.Connection | asyncpg.Pool


async def insert(
    db: Connection,
    status_id: int,
    titles: list[str],
    *,
    multiple: bool,
    hide_totals: bool,
    expires_at: datetime | None,
    counts: list[int] | None = None,
    voters_count: int | None = None,
) -> asyncpg.Record:
    """Store the poll of a status, with zero votes unless ``counts`` is given."""
    counts = counts or [0] * len(titles)
    options = [
        {"title": title, "votes_count": count} for title, count in zip(titles, counts)
    ]
    row = await db.fetchrow(
        "INSERT INTO polls (id, status_id, options, multiple, hide_totals,"
        " expires_at, votes_count, voters_count)"
        " VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8) RETURNING *",
        new_id(),
        status_id,
        options,
        multiple,
        hide_totals,
        expires_at,
        sum(counts),
        0 if voters_count is None else voters_count,
    )
    assert row is not None
    return row


async def replace_options(
    db: Connection,
    poll_id: int,
    titles: list[str],
    *,
    multiple: bool,
    hide_totals: bool,
    expires_at: datetime | None,
) -> None:
    """Set new options and drop every vote, as Mastodon does when an edit
    changes a poll's options."""
    options = [{"title": title, "votes_count": 0} for title in titles]
    await db.execute("DELETE FROM poll_votes WHERE poll_id = $1", poll_id)
    await db.execute(
        "UPDATE polls SET options = $2::jsonb, multiple = $3, hide_totals = $4,"
        " expires_at = $5, votes_count = 0, voters_count = 0, updated_at = now()"
        " WHERE id = $1",
        poll_id,
        options,
        multiple,
        hide_totals,
        expires_at,
    )


async def set_remote_counts(
    db: Connection,
    poll_id: int,
    counts: list[int],
    voters_count: int | None,
    expires_at: datetime | None,
) -> None:
    """Store the counts a remote poll's origin sent in an Update."""
    row = await db.fetchrow("SELECT options FROM polls WHERE id = $1", poll_id)
    if row is None:
        return
    options = options_of(row)
    for option, count in zip(options, counts):
        option["votes_count"] = count
    await db.execute(
        "UPDATE polls SET options = $2::jsonb, votes_count = $3,"
        " voters_count = $4, expires_at = coalesce($5, expires_at) WHERE id = $1",
        poll_id,
        options,
        sum(counts),
        voters_count,
        expires_at,
    )


async def by_id(db: Connection, poll_id: int) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM polls WHERE id = $1", poll_id)


async def by_status(db: Connection, status_id: int) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM polls WHERE status_id = $1", status_id)


async def of_statuses(db: Connection, status_ids: list[int]) -> dict[int, asyncpg.Record]:
    rows = await db.fetch(
        "SELECT * FROM polls WHERE status_id = ANY($1::bigint[])", status_ids
    )
    return {row["status_id"]: row for row in rows}


async def choices_of(
    db: Connection, account_id: int, poll_ids: list[int]
) -> dict[int, list[int]]:
    """Return the options ``account_id`` chose, by poll id."""
    rows = await db.fetch(
        "SELECT poll_id, choice FROM poll_votes"
        " WHERE account_id = $1 AND poll_id = ANY($2::bigint[]) ORDER BY choice",
        account_id,
        poll_ids,
    )
    found: dict[int, list[int]] = {}
    for row in rows:
        found.setdefault(row["poll_id"], []).append(row["choice"])
    return found


async def add_votes(
    db: asyncpg.Connection,
    poll: Any,
    account_id: int,
    choices: list[int],
    uris: list[str | None],
) -> bool:
    """Record one account's choices and update the poll's counts.

    Returns False, changing nothing, when the account has voted already.
    Run inside a transaction; the poll row is locked while counting.
    """
    await db.execute("SELECT 1 FROM polls WHERE id = $1 FOR UPDATE", poll["id"])
    voted = await db.fetchval(
        "SELECT EXISTS (SELECT 1 FROM poll_votes WHERE poll_id = $1 AND account_id = $2)",
        poll["id"],
        account_id,
    )
    if voted:
        return False
    await db.execute(
        "INSERT INTO poll_votes (id, poll_id, account_id, choice, uri)"
        " SELECT unnest($1::bigint[]), $2, $3, unnest($4::int[]), unnest($5::text[])"
        " ON CONFLICT DO NOTHING",
        [new_id() for _ in choices],
        poll["id"],
        account_id,
        choices,
        uris,
    )
    await recount(db, poll["id"])
    return True


async def recount(db: asyncpg.Connection, poll_id: int) -> None:
    await db.execute(
        "UPDATE polls p SET"
        " options = (SELECT jsonb_agg(jsonb_build_object("
        "   'title', o.item->>'title',"
        "   'votes_count', (SELECT count(*) FROM poll_votes v"
        "     WHERE v.poll_id = p.id AND v.choice = o.position - 1)) ORDER BY o.position)"
        "   FROM jsonb_array_elements(p.options) WITH ORDINALITY AS o(item, position)),"
        " votes_count = (SELECT count(*) FROM poll_votes v WHERE v.poll_id = p.id),"
        " voters_count = (SELECT count(DISTINCT account_id) FROM poll_votes v"
        "   WHERE v.poll_id = p.id)"
        " WHERE p.id = $1",
        poll_id,
    )


async def claim_ended(db: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """Mark up to ``limit`` ended polls as closed and return them.

    Run inside a transaction. Rows locked by another worker are skipped.
    """
    return await db.fetch(
        "UPDATE polls SET closed_at = now() WHERE id IN ("
        " SELECT id FROM polls WHERE closed_at IS NULL AND expires_at <= now()"
        " ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING *",
        limit,
    )


async def local_voter_ids(db: Connection, poll_id: int) -> list[int]:
    rows = await db.fetch(
        "SELECT DISTINCT v.account_id FROM poll_votes v"
        " JOIN accounts a ON a.id = v.account_id"
        " WHERE v.poll_id = $1 AND a.domain IS NULL",
        poll_id,
    )
    return [row["account_id"] for row in rows]


def options_of(poll: Any) -> list[dict[str, Any]]:
    """Return a poll's options as a list of {"title", "votes_count"}."""
    options = poll["options"]
    return list(options)
