"""Queries on lists of followed accounts and their timelines."""

from __future__ import annotations

from typing import Any

import asyncpg

from storage.accounts import transaction
from storage.ids import new_id

Connection = asyncpg.Connection | asyncpg.Pool

REPLIES_POLICIES = ("followed", "list", "none")
# Lists one account may keep.
MAX_LISTS_PER_ACCOUNT = 100
# Members of one list.
MAX_LIST_ACCOUNTS = 1000

# Largest bigint, the open upper cursor.
_NO_CURSOR = 9223372036854775807


class ListError(Exception):
    """A list change that cannot be stored, with the HTTP status to return."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def of_account(db: Connection, account_id: int) -> list[asyncpg.Record]:
    """Return an account's lists, oldest first."""
    return list(
        await db.fetch(
            "SELECT * FROM lists WHERE account_id = $1 ORDER BY id", account_id
        )
    )


async def get(db: Connection, account_id: int, list_id: int) -> asyncpg.Record | None:
    """Return the list ``list_id`` when ``account_id`` owns it, else None."""
    return await db.fetchrow(
        "SELECT * FROM lists WHERE id = $1 AND account_id = $2", list_id, account_id
    )


async def create(
    db: Connection, account_id: int, title: str, replies_policy: str, exclusive: bool
) -> asyncpg.Record:
    """Insert a list; raise ListError(422) when the account has too many."""
    async with transaction(db) as connection:
        # Locking the owner makes the count and the insert one step.
        await connection.execute(
            "SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE", account_id
        )
        count = await connection.fetchval(
            "SELECT count(*) FROM lists WHERE account_id = $1", account_id
        )
        if count >= MAX_LISTS_PER_ACCOUNT:
            raise ListError(
                422,
                f"Validation failed: an account has at most {MAX_LISTS_PER_ACCOUNT} lists",
            )
        row = await connection.fetchrow(
            "INSERT INTO lists (id, account_id, title, replies_policy, exclusive)"
            " VALUES ($1, $2, $3, $4, $5) RETURNING *",
            new_id(),
            account_id,
            title,
            replies_policy,
            exclusive,
        )
    assert row is not None
    return row


async def update(
    db: Connection,
    list_id: int,
    title: str,
    replies_policy: str,
    exclusive: bool,
) -> asyncpg.Record | None:
    return await db.fetchrow(
        "UPDATE lists SET title = $2, replies_policy = $3, exclusive = $4"
        " WHERE id = $1 RETURNING *",
        list_id,
        title,
        replies_policy,
        exclusive,
    )


async def delete(db: Connection, list_id: int) -> None:
    await db.execute("DELETE FROM lists WHERE id = $1", list_id)


async def members(
    db: Connection,
    list_id: int,
    max_id: int | None,
    after_id: int | None,
    limit: int | None,
    ascending: bool = False,
) -> list[asyncpg.Record]:
    """Return member accounts with their ``list_account_id``, newest first, or
    with ``ascending`` the members right above ``after_id``, oldest first.

    ``limit`` None returns every member, as Mastodon does for ``limit=0``.
    """
    order = "ASC" if ascending else "DESC"
    return list(
        await db.fetch(
            "SELECT a.*, la.id AS list_account_id FROM list_accounts la"
            " JOIN accounts a ON a.id = la.account_id"
            " WHERE la.list_id = $1 AND a.deleted_at IS NULL"
            f" AND la.id < coalesce($2::bigint, {_NO_CURSOR})"
            " AND la.id > coalesce($3::bigint, 0)"
            f" ORDER BY la.id {order} LIMIT $4",
            list_id,
            max_id,
            after_id,
            limit,
        )
    )


async def add_members(
    db: Connection, owner_id: int, list_id: int, account_ids: list[int]
) -> None:
    """Add followed accounts to a list, all or none.

    Raises ListError with 404 when an id names no account, and 422 when the
    owner does not follow one (a pending request counts), when one is already
    a member, or when the list would grow over MAX_LIST_ACCOUNTS.
    """
    async with transaction(db) as connection:
        await connection.execute(
            "SELECT 1 FROM lists WHERE id = $1 FOR UPDATE", list_id
        )
        found = await connection.fetch(
            "SELECT a.id, f.id AS follow_id,"
            " EXISTS (SELECT 1 FROM list_accounts la WHERE la.list_id = $3"
            "  AND la.account_id = a.id) AS member"
            " FROM accounts a LEFT JOIN follows f ON f.account_id = $2"
            "  AND f.target_account_id = a.id"
            " WHERE a.id = ANY($1::bigint[]) AND a.deleted_at IS NULL",
            account_ids,
            owner_id,
            list_id,
        )
        by_id = {row["id"]: row for row in found}
        for account_id in account_ids:
            row = by_id.get(account_id)
            if row is None:
                raise ListError(404, "Record not found")
            if row["follow_id"] is None:
                raise ListError(
                    422,
                    f"Validation failed: you must follow account {account_id}"
                    " to add it to a list",
                )
            if row["member"]:
                raise ListError(
                    422,
                    f"Validation failed: account {account_id} is already in the list",
                )
        count = await connection.fetchval(
            "SELECT count(*) FROM list_accounts WHERE list_id = $1", list_id
        )
        if count + len(by_id) > MAX_LIST_ACCOUNTS:
            raise ListError(
                422,
                f"Validation failed: a list has at most {MAX_LIST_ACCOUNTS} accounts",
            )
        await connection.executemany(
            "INSERT INTO list_accounts (id, list_id, account_id, follow_id)"
            " VALUES ($1, $2, $3, $4)",
            [
                (new_id(), list_id, row["id"], row["follow_id"])
                for row in by_id.values()
            ],
        )


async def remove_members(db: Connection, list_id: int, account_ids: list[int]) -> None:
    await db.execute(
        "DELETE FROM list_accounts WHERE list_id = $1 AND account_id = ANY($2::bigint[])",
        list_id,
        account_ids,
    )


async def containing(
    db: Connection, owner_id: int, account_id: int
) -> list[asyncpg.Record]:
    """Return the lists of ``owner_id`` that contain ``account_id``."""
    return list(
        await db.fetch(
            "SELECT l.* FROM lists l JOIN list_accounts la ON la.list_id = l.id"
            " WHERE l.account_id = $1 AND la.account_id = $2 ORDER BY l.id",
            owner_id,
            account_id,
        )
    )


# Which replies a list timeline keeps, by replies_policy. A reply to its own
# author is a thread and always stays; "followed" keeps replies to accounts
# the owner follows or to the owner, "list" replies to members.
_REPLY_RULE = (
    "(s.in_reply_to_id IS NULL AND s.in_reply_to_uri IS NULL"
    " OR s.in_reply_to_account_id = s.account_id"
    " OR l.replies_policy = 'followed' AND (s.in_reply_to_account_id = l.account_id"
    "  OR EXISTS (SELECT 1 FROM follows f WHERE f.account_id = l.account_id"
    "   AND f.target_account_id = s.in_reply_to_account_id AND f.accepted))"
    " OR l.replies_policy = 'list' AND EXISTS (SELECT 1 FROM list_accounts r"
    "  WHERE r.list_id = l.id AND r.account_id = s.in_reply_to_account_id))"
)


async def timeline(db: Connection, list_row: Any, page: Any) -> list[asyncpg.Record]:
    """Return a page of a list timeline: the owner's home feed narrowed to
    statuses by members, under the list's replies policy.

    ``page`` is a ``web.reading.Page``. The rows come back in the page's
    order; callers sort them newest first.
    """
    return list(
        await db.fetch(
            "SELECT s.* FROM lists l"
            " JOIN list_accounts la ON la.list_id = l.id"
            " JOIN home_feed h ON h.account_id = l.account_id"
            " JOIN statuses s ON s.id = h.status_id AND s.account_id = la.account_id"
            " WHERE l.id = $1 AND s.deleted_at IS NULL"
            f" AND h.status_id < coalesce($2::bigint, {_NO_CURSOR})"
            " AND h.status_id > coalesce($3::bigint, 0)"
            f" AND {_REPLY_RULE}"
            " AND status_visible(s, l.account_id)"
            " AND NOT account_hidden_from(s.account_id, l.account_id)"
            f" ORDER BY h.status_id {page.order} LIMIT $4",
            list_row["id"],
            page.max_id,
            page.after_id,
            page.limit,
        )
    )
