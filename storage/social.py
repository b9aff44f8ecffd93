"""Follows, favourites, blocks, home feeds and notifications."""

import asyncpg

from storage.ids import new_id

Connection = asyncpg.Connection | asyncpg.Pool


async def upsert_follow(
    db: Connection, account_id: int, target_id: int, uri: str | None, accepted: bool
) -> asyncpg.Record:
    """Create or refresh a follow; an accepted follow stays accepted."""
    return await db.fetchrow(
        "INSERT INTO follows (id, account_id, target_account_id, uri, accepted)"
        " VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (account_id, target_account_id) DO UPDATE"
        " SET uri = coalesce(EXCLUDED.uri, follows.uri),"
        " accepted = follows.accepted OR EXCLUDED.accepted"
        " RETURNING *",
        new_id(),
        account_id,
        target_id,
        uri,
        accepted,
    )


async def follow_between(db: Connection, account_id: int, target_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT * FROM follows WHERE account_id = $1 AND target_account_id = $2",
        account_id,
        target_id,
    )


async def follow_by_uri(db: Connection, uri: str) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM follows WHERE uri = $1", uri)


async def accept_follow(db: Connection, follow_id: int) -> None:
    await db.execute("UPDATE follows SET accepted = true WHERE id = $1", follow_id)


async def delete_follow(db: Connection, account_id: int, target_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        "DELETE FROM follows WHERE account_id = $1 AND target_account_id = $2 RETURNING *",
        account_id,
        target_id,
    )


async def follower_inboxes(db: Connection, account_id: int) -> list[str]:
    """Return one inbox per remote follower host: the shared inbox when known."""
    rows = await db.fetch(
        "SELECT DISTINCT coalesce(a.shared_inbox_url, a.inbox_url) AS inbox"
        " FROM follows f JOIN accounts a ON a.id = f.account_id"
        " WHERE f.target_account_id = $1 AND f.accepted AND a.domain IS NOT NULL"
        " AND a.deleted_at IS NULL",
        account_id,
    )
    return [row["inbox"] for row in rows if row["inbox"]]


async def local_follower_ids(db: Connection, account_id: int) -> list[int]:
    rows = await db.fetch(
        "SELECT f.account_id FROM follows f JOIN accounts a ON a.id = f.account_id"
        " WHERE f.target_account_id = $1 AND f.accepted AND a.domain IS NULL",
        account_id,
    )
    return [row["account_id"] for row in rows]


async def add_to_home_feeds(db: Connection, status_id: int, account_ids: list[int]) -> None:
    if account_ids:
        await db.execute(
            "INSERT INTO home_feed (account_id, status_id)"
            " SELECT unnest($1::bigint[]), $2 ON CONFLICT DO NOTHING",
            list(set(account_ids)),
            status_id,
        )


async def distribute_status(
    db: Connection,
    status_id: int,
    from_account_id: int,
    *,
    readers: list[int],
    followers_of: int | None,
    notified: list[int],
    kind: str = "mention",
) -> None:
    """Add a status to home feeds and notify accounts of it, in one round trip.

    The feeds are those of ``readers`` and, unless ``followers_of`` is None, of
    that account's accepted local followers. ``notified`` get a ``kind``
    notification from ``from_account_id``, which never notifies itself. A row
    already stored is skipped.
    """
    notified = [account for account in set(notified) if account != from_account_id]
    await db.execute(
        "WITH feed AS ("
        " INSERT INTO home_feed (account_id, status_id)"
        " SELECT r.account_id, $1::bigint FROM unnest($2::bigint[]) AS r(account_id)"
        " UNION"
        " SELECT f.account_id, $1::bigint"
        " FROM follows f JOIN accounts a ON a.id = f.account_id"
        " WHERE f.target_account_id = $3::bigint AND f.accepted AND a.domain IS NULL"
        " ON CONFLICT DO NOTHING)"
        " INSERT INTO notifications (id, account_id, type, from_account_id, status_id)"
        " SELECT n.id, n.account_id, $7::text, $4::bigint, $1::bigint"
        " FROM unnest($5::bigint[], $6::bigint[]) AS n(account_id, id)"
        " ON CONFLICT DO NOTHING",
        status_id,
        list(set(readers)),
        followers_of,
        from_account_id,
        notified,
        [new_id() for _ in notified],
        kind,
    )


async def notify(
    db: Connection,
    account_id: int,
    kind: str,
    from_account_id: int,
    status_id: int | None = None,
) -> None:
    """Add a notification for a local account; a repeat of the same one is skipped."""
    if account_id == from_account_id:
        return
    await db.execute(
        "INSERT INTO notifications (id, account_id, type, from_account_id, status_id)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        new_id(),
        account_id,
        kind,
        from_account_id,
        status_id,
    )


async def remove_notification(
    db: Connection, account_id: int, kind: str, from_account_id: int, status_id: int | None
) -> None:
    await db.execute(
        "DELETE FROM notifications WHERE account_id = $1 AND type = $2"
        " AND from_account_id = $3"
        " AND coalesce(status_id, 0) = coalesce($4::bigint, 0)",
        account_id,
        kind,
        from_account_id,
        status_id,
    )


async def add_favourite(
    db: Connection, account_id: int, status_id: int, uri: str | None
) -> asyncpg.Record | None:
    """Insert a favourite; return None when it already existed."""
    return await db.fetchrow(
        "INSERT INTO favourites (id, account_id, status_id, uri) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT DO NOTHING RETURNING *",
        new_id(),
        account_id,
        status_id,
        uri,
    )


async def remove_favourite(db: Connection, account_id: int, status_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        "DELETE FROM favourites WHERE account_id = $1 AND status_id = $2 RETURNING *",
        account_id,
        status_id,
    )


async def favourite_by_uri(db: Connection, uri: str) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM favourites WHERE uri = $1", uri)


async def add_block(db: Connection, account_id: int, target_id: int, uri: str | None) -> None:
    await db.execute(
        "INSERT INTO blocks (id, account_id, target_account_id, uri)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        new_id(),
        account_id,
        target_id,
        uri,
    )


async def remove_block(db: Connection, account_id: int, target_id: int) -> None:
    await db.execute(
        "DELETE FROM blocks WHERE account_id = $1 AND target_account_id = $2",
        account_id,
        target_id,
    )


async def is_blocked(db: Connection, blocker_id: int, target_id: int) -> bool:
    return bool(
        await db.fetchval(
            "SELECT 1 FROM blocks WHERE account_id = $1 AND target_account_id = $2",
            blocker_id,
            target_id,
        )
    )
