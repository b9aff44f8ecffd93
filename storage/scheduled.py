"""Queries on scheduled statuses and on the Idempotency-Key of status creation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from storage.ids import new_id

Connection = asyncpg.Connection | asyncpg.Pool

# How long an Idempotency-Key is remembered, in seconds, as in Mastodon.
IDEMPOTENCY_SECONDS = 3600


async def insert(
    db: Connection, account_id: int, scheduled_at: datetime, params: dict[str, Any]
) -> asyncpg.Record:
    row = await db.fetchrow(
        "INSERT INTO scheduled_statuses (id, account_id, scheduled_at, params)"
        " VALUES ($1, $2, $3, $4) RETURNING *",
        new_id(),
        account_id,
        scheduled_at,
        params,
    )
    assert row is not None
    return row


async def of_account(
    db: Connection,
    account_id: int,
    *,
    max_id: int | None,
    after_id: int | None,
    ascending: bool,
    limit: int,
) -> list[asyncpg.Record]:
    """Return a page of an account's scheduled statuses, newest first unless
    ``ascending`` (a ``min_id`` page)."""
    order = "ASC" if ascending else "DESC"
    return await db.fetch(
        "SELECT * FROM scheduled_statuses WHERE account_id = $1"
        " AND ($2::bigint IS NULL OR id < $2) AND ($3::bigint IS NULL OR id > $3)"
        f" ORDER BY id {order} LIMIT $4",
        account_id,
        max_id,
        after_id,
        limit,
    )


async def by_id(db: Connection, account_id: int, scheduled_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT * FROM scheduled_statuses WHERE id = $1 AND account_id = $2",
        scheduled_id,
        account_id,
    )


async def reschedule(
    db: Connection, account_id: int, scheduled_id: int, scheduled_at: datetime
) -> asyncpg.Record | None:
    return await db.fetchrow(
        "UPDATE scheduled_statuses SET scheduled_at = $3, attempts = 0, last_error = NULL"
        " WHERE id = $1 AND account_id = $2 RETURNING *",
        scheduled_id,
        account_id,
        scheduled_at,
    )


async def delete(db: Connection, account_id: int, scheduled_id: int) -> bool:
    deleted = await db.fetchval(
        "DELETE FROM scheduled_statuses WHERE id = $1 AND account_id = $2 RETURNING id",
        scheduled_id,
        account_id,
    )
    return deleted is not None


async def claim_due(db: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """Lock and return due scheduled statuses that no other worker holds.

    Run inside a transaction; rows failed five times are left alone.
    """
    return await db.fetch(
        "SELECT * FROM scheduled_statuses WHERE scheduled_at <= now() AND attempts < 5"
        " ORDER BY scheduled_at LIMIT $1 FOR UPDATE SKIP LOCKED",
        limit,
    )


async def record_failure(db: Connection, scheduled_id: int, error: str) -> None:
    await db.execute(
        "UPDATE scheduled_statuses SET attempts = attempts + 1, last_error = $2"
        " WHERE id = $1",
        scheduled_id,
        error[:500],
    )


async def claim_key(db: Connection, account_id: int, key: str) -> asyncpg.Record | None:
    """Claim an Idempotency-Key for a new status.

    Returns None once the key is claimed for this request, or the row of the
    same key used within the last hour: its status_id and
    scheduled_status_id are both None while that first request is running.
    The account's keys older than an hour are dropped first.
    """
    await db.execute(
        "DELETE FROM idempotency_keys WHERE account_id = $1"
        " AND created_at <= now() - make_interval(secs => $2)",
        account_id,
        IDEMPOTENCY_SECONDS,
    )
    claimed = await db.fetchval(
        "INSERT INTO idempotency_keys (account_id, key) VALUES ($1, $2)"
        " ON CONFLICT DO NOTHING RETURNING true",
        account_id,
        key,
    )
    if claimed:
        return None
    return await db.fetchrow(
        "SELECT * FROM idempotency_keys WHERE account_id = $1 AND key = $2",
        account_id,
        key,
    )


async def settle_key(
    db: Connection,
    account_id: int,
    key: str,
    *,
    status_id: int | None = None,
    scheduled_status_id: int | None = None,
) -> None:
    """Store what the request that claimed a key created."""
    await db.execute(
        "UPDATE idempotency_keys SET status_id = $3, scheduled_status_id = $4"
        " WHERE account_id = $1 AND key = $2",
        account_id,
        key,
        status_id,
        scheduled_status_id,
    )


async def release_key(db: Connection, account_id: int, key: str) -> None:
    """Free a key whose request failed, so the client can retry with it."""
    await db.execute(
        "DELETE FROM idempotency_keys WHERE account_id = $1 AND key = $2"
        " AND status_id IS NULL AND scheduled_status_id IS NULL",
        account_id,
        key,
    )
