"""Queries on the posting defaults of local accounts."""

from __future__ import annotations

import asyncpg

Connection = asyncpg.Connection | asyncpg.Pool


async def save_posting_defaults(
    db: Connection,
    account_id: int,
    *,
    visibility: str,
    sensitive: bool,
    language: str | None,
) -> asyncpg.Record | None:
    """Store an account's default visibility, sensitive flag and language.

    Returns the updated account row, or None when no local account has that id.
    The table's CHECK constraints reject a visibility or language outside the
    allowed forms with asyncpg.CheckViolationError.
    """
    return await db.fetchrow(
        "UPDATE accounts SET default_visibility = $2, default_sensitive = $3,"
        " default_language = $4 WHERE id = $1 AND domain IS NULL RETURNING *",
        account_id,
        visibility,
        sensitive,
        language,
    )
