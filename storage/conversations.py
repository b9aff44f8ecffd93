"""Queries on direct conversations: threads of direct statuses an account
wrote or is mentioned in, with their read state."""

from __future__ import annotations

from typing import Any

import asyncpg

Connection = asyncpg.Connection | asyncpg.Pool

# Largest bigint, the open upper cursor.
_NO_CURSOR = 9223372036854775807

# The direct statuses of account $1 grouped by the root of their thread. A
# thread is walked up at most 40 replies, as thread contexts are. Each row has
# root_id, last_status_id and status_ids.
_THREADS = (
    "WITH RECURSIVE mine AS ("
    " SELECT s.id, s.in_reply_to_id FROM statuses s"
    " WHERE s.visibility = 'direct' AND s.deleted_at IS NULL AND s.account_id = $1"
    " UNION"
    " SELECT s.id, s.in_reply_to_id FROM mentions m JOIN statuses s ON s.id = m.status_id"
    " WHERE m.account_id = $1 AND s.visibility = 'direct' AND s.deleted_at IS NULL"
    " AND NOT account_hidden_from(s.account_id, $1)),"
    " up AS (SELECT id AS status_id, id AS ancestor_id, in_reply_to_id, 0 AS depth"
    " FROM mine"
    " UNION ALL SELECT up.status_id, p.id, p.in_reply_to_id, up.depth + 1"
    " FROM up JOIN statuses p ON p.id = up.in_reply_to_id WHERE up.depth < 40),"
    " roots AS (SELECT DISTINCT ON (status_id) status_id, ancestor_id AS root_id"
    " FROM up ORDER BY status_id, depth DESC),"
    " threads AS (SELECT root_id, max(status_id) AS last_status_id,"
    " array_agg(status_id) AS status_ids FROM roots GROUP BY root_id)"
)


async def page_of(db: Connection, account_id: int, page: Any) -> list[asyncpg.Record]:
    """Return a page of an account's conversations, cut by their last status id.

    Each row has ``root_id``, ``last_status_id``, ``status_ids`` and ``unread``.
    A conversation the account removed shows again when a newer status arrives.

    NOTE: threads are found on each read by walking up from every direct
    status of the account. An account with many thousands of direct statuses
    makes this slower, and a conversation id stored on write would then help.
    """
    return list(
        await db.fetch(
            _THREADS + " SELECT t.*, " + _UNREAD + " AS unread FROM threads t"
            " LEFT JOIN conversation_states c ON c.account_id = $1"
            " AND c.root_status_id = t.root_id"
            " WHERE t.last_status_id > coalesce(c.hidden_through_status_id, 0)"
            f" AND t.last_status_id < coalesce($2::bigint, {_NO_CURSOR})"
            " AND t.last_status_id > coalesce($3::bigint, 0)"
            f" ORDER BY t.last_status_id {page.order} LIMIT $4",
            account_id,
            page.max_id,
            page.after_id,
            page.limit,
        )
    )


# A conversation is unread while its last status is by someone else and newer
# than the last one read.
_UNREAD = (
    "(t.last_status_id > coalesce(c.last_read_status_id, 0)"
    " AND (SELECT s.account_id FROM statuses s WHERE s.id = t.last_status_id) <> $1)"
)


async def one(db: Connection, account_id: int, root_id: int) -> asyncpg.Record | None:
    """Return one conversation of the account by its root status id, or None
    when it has none or removed it."""
    return await db.fetchrow(
        _THREADS + " SELECT t.*, " + _UNREAD + " AS unread FROM threads t"
        " LEFT JOIN conversation_states c ON c.account_id = $1"
        " AND c.root_status_id = t.root_id"
        " WHERE t.root_id = $2"
        " AND t.last_status_id > coalesce(c.hidden_through_status_id, 0)",
        account_id,
        root_id,
    )


async def mark_read(
    db: Connection, account_id: int, root_id: int, last_status_id: int
) -> None:
    await db.execute(
        "INSERT INTO conversation_states (account_id, root_status_id, last_read_status_id)"
        " VALUES ($1, $2, $3) ON CONFLICT (account_id, root_status_id) DO UPDATE"
        " SET last_read_status_id = greatest(conversation_states.last_read_status_id,"
        " EXCLUDED.last_read_status_id)",
        account_id,
        root_id,
        last_status_id,
    )


async def hide(
    db: Connection, account_id: int, root_id: int, last_status_id: int
) -> None:
    """Remove a conversation from the account's list until a newer status arrives."""
    await db.execute(
        "INSERT INTO conversation_states (account_id, root_status_id,"
        " last_read_status_id, hidden_through_status_id) VALUES ($1, $2, $3, $3)"
        " ON CONFLICT (account_id, root_status_id) DO UPDATE"
        " SET hidden_through_status_id = EXCLUDED.hidden_through_status_id,"
        " last_read_status_id = greatest(conversation_states.last_read_status_id,"
        " EXCLUDED.last_read_status_id)",
        account_id,
        root_id,
        last_status_id,
    )


async def participants(
    db: Connection, account_id: int, threads: dict[int, list[int]]
) -> dict[int, list[asyncpg.Record]]:
    """Return the authors and mentioned accounts of each thread's statuses, by
    root id, without ``account_id``; ``threads`` maps root ids to status ids."""
    pairs = [
        (root_id, status_id) for root_id, ids in threads.items() for status_id in ids
    ]
    rows = await db.fetch(
        "WITH thread AS (SELECT * FROM unnest($2::bigint[], $3::bigint[])"
        " AS t(root_id, status_id)),"
        " people AS (SELECT t.root_id, s.account_id FROM thread t"
        " JOIN statuses s ON s.id = t.status_id"
        " UNION SELECT t.root_id, m.account_id FROM thread t"
        " JOIN mentions m ON m.status_id = t.status_id)"
        " SELECT p.root_id, a.* FROM people p JOIN accounts a ON a.id = p.account_id"
        " WHERE a.id <> $1 AND a.deleted_at IS NULL ORDER BY p.root_id, a.id",
        account_id,
        [root_id for root_id, _ in pairs],
        [status_id for _, status_id in pairs],
    )
    by_root: dict[int, list[asyncpg.Record]] = {root_id: [] for root_id in threads}
    for row in rows:
        by_root[row["root_id"]].append(row)
    return by_root
