"""Queries on followed hashtags and standard codes."""

import asyncpg

Connection = asyncpg.Connection | asyncpg.Pool

KINDS = ("hashtag", "standard")


async def follow(db: Connection, account_id: int, kind: str, name: str) -> None:
    await db.execute(
        "INSERT INTO tag_follows (account_id, kind, name) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING",
        account_id,
        kind,
        name,
    )


async def unfollow(db: Connection, account_id: int, kind: str, name: str) -> None:
    await db.execute(
        "DELETE FROM tag_follows WHERE account_id = $1 AND kind = $2 AND name = $3",
        account_id,
        kind,
        name,
    )


async def is_following(db: Connection, account_id: int, kind: str, name: str) -> bool:
    return bool(
        await db.fetchval(
            "SELECT 1 FROM tag_follows WHERE account_id = $1 AND kind = $2"
            " AND name = $3",
            account_id,
            kind,
            name,
        )
    )


async def followed(db: Connection, account_id: int, kind: str) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM tag_follows WHERE account_id = $1 AND kind = $2"
        " ORDER BY created_at DESC, name LIMIT 500",
        account_id,
        kind,
    )


async def hashtag_follower_ids(db: Connection, status_id: int) -> list[int]:
    """Return the local accounts that follow one of a status's hashtags."""
    rows = await db.fetch(
        "SELECT DISTINCT f.account_id FROM status_tags t JOIN tag_follows f"
        " ON f.kind = 'hashtag' AND f.name = t.name WHERE t.status_id = $1",
        status_id,
    )
    return [row["account_id"] for row in rows]


async def standard_follower_ids(db: Connection, codes: list[str]) -> list[int]:
    """Return the local accounts that follow one of the standard codes."""
    if not codes:
        return []
    rows = await db.fetch(
        "SELECT DISTINCT account_id FROM tag_follows WHERE kind = 'standard'"
        " AND name = ANY($1::text[])",
        codes,
    )
    return [row["account_id"] for row in rows]


async def status_tag_names(db: Connection, status_id: int) -> list[str]:
    """Return the hashtags of a status, in name order."""
    rows = await db.fetch(
        "SELECT name FROM status_tags WHERE status_id = $1 ORDER BY name", status_id
    )
    return [row["name"] for row in rows]


async def replace_status_tags(
    db: asyncpg.Connection, status_id: int, names: list[str]
) -> None:
    """Set the hashtags of an edited status to ``names``."""
    await db.execute(
        "DELETE FROM status_tags WHERE status_id = $1 AND NOT (name = ANY($2::text[]))",
        status_id,
        names,
    )
    await db.executemany(
        "INSERT INTO status_tags (status_id, name) VALUES ($1, $2)"
        " ON CONFLICT DO NOTHING",
        [(status_id, name) for name in dict.fromkeys(names)],
    )
