"""Queries on read markers of the home timeline and notifications."""

from __future__ import annotations

import asyncpg

Connection = asyncpg.Connection | asyncpg.Pool

TIMELINES = ("home", "notifications")


async def of_account(
    db: Connection, account_id: int, timelines: list[str]
) -> list[asyncpg.Record]:
    return list(
        await db.fetch(
            "SELECT * FROM markers WHERE account_id = $1 AND timeline = ANY($2::text[])",
            account_id,
            timelines,
        )
    )


async def save(
    db: Connection, account_id: int, timeline: str, last_read_id: int
) -> asyncpg.Record:
    """Store a marker and count one more version of it; return the stored row."""
    row = await db.fetchrow(
        "INSERT INTO markers (account_id, timeline, last_read_id)"
        " VALUES ($1, $2, $3)"
        " ON CONFLICT (account_id, timeline) DO UPDATE SET"
        " last_read_id = EXCLUDED.last_read_id,"
        " version = markers.version + 1, updated_at = now()"
        " RETURNING *",
        account_id,
        timeline,
        last_read_id,
    )
    assert row is not None
    return row


async def last_read(db: Connection, account_id: int, timeline: str) -> int:
    """Return the last read id of a timeline, 0 when nothing is marked."""
    value = await db.fetchval(
        "SELECT last_read_id FROM markers WHERE account_id = $1 AND timeline = $2",
        account_id,
        timeline,
    )
    return int(value or 0)
