"""Queries on bookmarks, and the favourites and bookmarks lists of an account."""

from __future__ import annotations

import asyncpg

from storage.ids import new_id

Connection = asyncpg.Connection | asyncpg.Pool

# Largest bigint, the open upper cursor.
_NO_CURSOR = 9223372036854775807


async def add(db: Connection, account_id: int, status_id: int) -> None:
    """Bookmark a status; bookmarking it again changes nothing."""
    await db.execute(
        "INSERT INTO bookmarks (id, account_id, status_id) VALUES ($1, $2, $3)"
        " ON CONFLICT (account_id, status_id) DO NOTHING",
        new_id(),
        account_id,
        status_id,
    )


async def remove(db: Connection, account_id: int, status_id: int) -> None:
    await db.execute(
        "DELETE FROM bookmarks WHERE account_id = $1 AND status_id = $2",
        account_id,
        status_id,
    )


async def page_of(
    db: Connection, table: str, account_id: int, page: object
) -> list[asyncpg.Record]:
    """Return statuses an account bookmarked or favourited, with ``mark_id`` (the
    bookmark or favourite id the page is cut by), in the page's order.

    ``table`` is ``bookmarks`` or ``favourites``; ``page`` a ``web.reading.Page``.
    Statuses the account may no longer read are left out.
    """
    if table not in ("bookmarks", "favourites"):
        raise ValueError(f"no list of {table}")
    return list(
        await db.fetch(
            f"SELECT s.*, m.id AS mark_id FROM {table} m"
            " JOIN statuses s ON s.id = m.status_id"
            " WHERE m.account_id = $1 AND s.deleted_at IS NULL"
            f" AND m.id < coalesce($2::bigint, {_NO_CURSOR})"
            " AND m.id > coalesce($3::bigint, 0)"
            " AND status_visible(s, $1)"
            f" ORDER BY m.id {page.order} LIMIT $4",  # type: ignore[attr-defined]
            account_id,
            page.max_id,  # type: ignore[attr-defined]
            page.after_id,  # type: ignore[attr-defined]
            page.limit,  # type: ignore[attr-defined]
        )
    )
