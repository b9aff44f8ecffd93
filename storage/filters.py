"""Queries on keyword filters and their keywords."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from actors.filters import Filter, Keyword
from storage.accounts import transaction
from storage.ids import new_id

Connection = asyncpg.Connection | asyncpg.Pool

# Filters one account may keep, expired ones included until they are deleted.
MAX_FILTERS_PER_ACCOUNT = 200


class TooManyFilters(Exception):
    """The account already has MAX_FILTERS_PER_ACCOUNT filters."""


async def create(db: Connection, account_id: int, new: Filter) -> Filter:
    """Insert a filter with its keywords in one transaction and return it stored.

    Raises TooManyFilters when the account has MAX_FILTERS_PER_ACCOUNT already.
    """
    async with transaction(db) as connection:
        # Locking the account row makes the count and the insert one step for
        # concurrent requests of the same account.
        await connection.execute(
            "SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE", account_id
        )
        count = await connection.fetchval(
            "SELECT count(*) FROM filters WHERE account_id = $1", account_id
        )
        if count >= MAX_FILTERS_PER_ACCOUNT:
            raise TooManyFilters(account_id)
        row = await connection.fetchrow(
            "INSERT INTO filters (id, account_id, title, contexts, action, expires_at)"
            " VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
            new_id(),
            account_id,
            new.title,
            sorted(new.contexts),
            new.action,
            new.expires_at,
        )
        keyword_rows = []
        for item in new.keywords:
            keyword_rows.append(
                await connection.fetchrow(
                    "INSERT INTO filter_keywords (id, filter_id, keyword, whole_word)"
                    " VALUES ($1, $2, $3, $4) RETURNING *",
                    new_id(),
                    row["id"],
                    item.keyword,
                    item.whole_word,
                )
            )
    return _filter(row, keyword_rows)


async def of_account(db: Connection, account_id: int) -> list[Filter]:
    """Return every filter of an account, expired ones included, newest first."""
    return await _select(db, "f.account_id = $1", account_id)


async def active_of_account(db: Connection, account_id: int) -> list[Filter]:
    """Return the filters of an account that have not expired."""
    return await _select(
        db,
        "f.account_id = $1 AND (f.expires_at IS NULL OR f.expires_at > now())",
        account_id,
    )


async def delete(db: Connection, account_id: int, filter_id: int) -> bool:
    """Delete an account's filter and its keywords.

    Returns False when the account has no filter with that id.
    """
    deleted = await db.fetchval(
        "DELETE FROM filters WHERE id = $1 AND account_id = $2 RETURNING id",
        filter_id,
        account_id,
    )
    return deleted is not None


async def _select(db: Connection, condition: str, *args: Any) -> list[Filter]:
    # One query for filters and keywords: the keywords come as a JSON array.
    rows = await db.fetch(
        "SELECT f.*, coalesce(("
        "  SELECT jsonb_agg(jsonb_build_object("
        "    'id', k.id, 'keyword', k.keyword, 'whole_word', k.whole_word) ORDER BY k.id)"
        "  FROM filter_keywords k WHERE k.filter_id = f.id), '[]'::jsonb) AS keyword_list"
        " FROM filters f WHERE " + condition + " ORDER BY f.id DESC",
        *args,
    )
    return [_filter(row, _json_list(row["keyword_list"])) for row in rows]


def _json_list(value: Any) -> list[dict[str, Any]]:
    # Connections from storage.pool decode jsonb, but a plain asyncpg
    # connection returns the text.
    if isinstance(value, str):
        return list(json.loads(value))
    return list(value)


def _filter(row: Any, keyword_rows: list[Any]) -> Filter:
    return Filter(
        id=row["id"],
        title=row["title"],
        contexts=frozenset(row["contexts"]),
        action=row["action"],
        expires_at=row["expires_at"],
        keywords=tuple(
            Keyword(
                id=int(item["id"]),
                keyword=item["keyword"],
                whole_word=item["whole_word"],
            )
            for item in keyword_rows
        ),
    )


async def get(db: Connection, account_id: int, filter_id: int) -> Filter | None:
    """Return an account's filter by id, expired or not, else None."""
    found = await _select(db, "f.account_id = $1 AND f.id = $2", account_id, filter_id)
    return found[0] if found else None


async def update(
    db: Connection,
    account_id: int,
    changed: Filter,
    removed_keyword_ids: list[int],
) -> Filter | None:
    """Store a changed filter in one transaction and return it stored.

    ``changed`` has the filter's id; its keywords with an id are updated, those
    without one are added, and ``removed_keyword_ids`` are deleted. Returns
    None when the account has no filter with that id.
    """
    async with transaction(db) as connection:
        row = await connection.fetchrow(
            "UPDATE filters SET title = $3, contexts = $4, action = $5, expires_at = $6"
            " WHERE id = $1 AND account_id = $2 RETURNING id",
            changed.id,
            account_id,
            changed.title,
            sorted(changed.contexts),
            changed.action,
            changed.expires_at,
        )
        if row is None:
            return None
        await connection.execute(
            "DELETE FROM filter_keywords WHERE filter_id = $1 AND id = ANY($2::bigint[])",
            changed.id,
            removed_keyword_ids,
        )
        for item in changed.keywords:
            if item.id is None:
                await connection.execute(
                    "INSERT INTO filter_keywords (id, filter_id, keyword, whole_word)"
                    " VALUES ($1, $2, $3, $4)",
                    new_id(),
                    changed.id,
                    item.keyword,
                    item.whole_word,
                )
            else:
                await connection.execute(
                    "UPDATE filter_keywords SET keyword = $3, whole_word = $4"
                    " WHERE id = $1 AND filter_id = $2",
                    item.id,
                    changed.id,
                    item.keyword,
                    item.whole_word,
                )
    return await get(db, account_id, changed.id)  # type: ignore[arg-type]


async def keyword_owner(db: Connection, account_id: int, keyword_id: int) -> Filter | None:
    """Return the account's filter that has keyword ``keyword_id``, else None."""
    filter_id = await db.fetchval(
        "SELECT f.id FROM filter_keywords k JOIN filters f ON f.id = k.filter_id"
        " WHERE k.id = $1 AND f.account_id = $2",
        keyword_id,
        account_id,
    )
    return None if filter_id is None else await get(db, account_id, filter_id)


async def statuses_of(db: Connection, filter_ids: list[int]) -> list[asyncpg.Record]:
    """Return the status rows (id, filter_id, status_id) of the filters."""
    return list(
        await db.fetch(
            "SELECT * FROM filter_statuses WHERE filter_id = ANY($1::bigint[]) ORDER BY id",
            filter_ids,
        )
    )


async def add_status(db: Connection, filter_id: int, status_id: int) -> asyncpg.Record | None:
    """Add a status to a filter; return None when the filter has it already."""
    return await db.fetchrow(
        "INSERT INTO filter_statuses (id, filter_id, status_id) VALUES ($1, $2, $3)"
        " ON CONFLICT (filter_id, status_id) DO NOTHING RETURNING *",
        new_id(),
        filter_id,
        status_id,
    )


async def status_entry(db: Connection, account_id: int, entry_id: int) -> asyncpg.Record | None:
    """Return a filter status row of one of the account's filters, else None."""
    return await db.fetchrow(
        "SELECT fs.* FROM filter_statuses fs JOIN filters f ON f.id = fs.filter_id"
        " WHERE fs.id = $1 AND f.account_id = $2",
        entry_id,
        account_id,
    )


async def delete_status_entry(db: Connection, entry_id: int) -> None:
    await db.execute("DELETE FROM filter_statuses WHERE id = $1", entry_id)
