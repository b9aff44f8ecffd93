"""Queries on earlier versions of edited statuses and on pinned statuses."""

from __future__ import annotations

from typing import Any

import asyncpg

from storage.ids import new_id

Connection = asyncpg.Connection | asyncpg.Pool

# Pinned statuses per account, as in Mastodon.
MAX_PINS = 5


async def save_version(
    db: Connection,
    status: Any,
    *,
    poll_options: list[str] | None,
    media_ids: list[int],
) -> None:
    """Store the current version of ``status`` before an edit replaces it.

    The first version is dated at the status's creation, later ones at the
    edit that made them.
    """
    await db.execute(
        "INSERT INTO status_edits (id, status_id, content, spoiler_text, sensitive,"
        " poll_options, media_ids, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        new_id(),
        status["id"],
        status["content"],
        status["spoiler_text"],
        status["sensitive"],
        poll_options,
        media_ids,
        status["edited_at"] or status["created_at"],
    )


async def versions(db: Connection, status_id: int) -> list[asyncpg.Record]:
    """Return the earlier versions of a status, oldest first."""
    return await db.fetch(
        "SELECT * FROM status_edits WHERE status_id = $1 ORDER BY created_at, id",
        status_id,
    )


async def pin(db: asyncpg.Connection, account_id: int, status_id: int) -> bool:
    """Pin a status; return False when the account already has MAX_PINS.

    Run inside a transaction: the account's pins are locked while counting.
    Pinning a pinned status again changes nothing and returns True.
    """
    # Pins of deleted statuses stay in the table but count for nothing.
    pinned = await db.fetch(
        "SELECT p.status_id FROM status_pins p JOIN statuses s ON s.id = p.status_id"
        " WHERE p.account_id = $1 AND s.deleted_at IS NULL FOR UPDATE OF p",
        account_id,
    )
    if any(row["status_id"] == status_id for row in pinned):
        return True
    if len(pinned) >= MAX_PINS:
        return False
    await db.execute(
        "INSERT INTO status_pins (id, account_id, status_id) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING",
        new_id(),
        account_id,
        status_id,
    )
    return True


async def unpin(db: Connection, account_id: int, status_id: int) -> None:
    await db.execute(
        "DELETE FROM status_pins WHERE account_id = $1 AND status_id = $2",
        account_id,
        status_id,
    )


async def pinned_ids(db: Connection, account_id: int, status_ids: list[int]) -> set[int]:
    rows = await db.fetch(
        "SELECT status_id FROM status_pins WHERE account_id = $1"
        " AND status_id = ANY($2::bigint[])",
        account_id,
        status_ids,
    )
    return {row["status_id"] for row in rows}


async def pinned_statuses(db: Connection, account_id: int) -> list[asyncpg.Record]:
    """Return an account's pinned statuses that still exist, last pinned first."""
    return await db.fetch(
        "SELECT s.* FROM status_pins p JOIN statuses s ON s.id = p.status_id"
        " WHERE p.account_id = $1 AND s.deleted_at IS NULL ORDER BY p.id DESC",
        account_id,
    )
