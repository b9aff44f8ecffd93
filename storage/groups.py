"""Queries on groups: their profiles, moderators, members and announced posts.

A group is an accounts row with actor_type 'Group'; its members are the
accounts whose follow of it is accepted.
"""

import asyncpg

from storage import accounts
from storage.ids import new_id

Connection = asyncpg.Connection | asyncpg.Pool

# Columns of a local group: the account with its profile.
_GROUP_COLUMNS = "a.*, p.description, p.rules, p.subjects, p.grade_levels, p.created_by"


async def insert_profile(
    connection: asyncpg.Connection,
    account_id: int,
    *,
    description: str,
    rules: str,
    subjects: list[str],
    grade_levels: list[str],
    created_by: int,
) -> None:
    """Insert the profile of a new local group."""
    await connection.execute(
        "INSERT INTO group_profiles (account_id, description, rules, subjects,"
        " grade_levels, created_by) VALUES ($1, $2, $3, $4, $5, $6)",
        account_id,
        description,
        rules,
        subjects,
        grade_levels,
        created_by,
    )


async def add_moderator(
    connection: Connection, group_id: int, account_id: int, role: str
) -> None:
    """Make a local account a moderator of a group, or change its role."""
    await connection.execute(
        "INSERT INTO group_moderators (group_id, account_id, role) VALUES ($1, $2, $3)"
        " ON CONFLICT (group_id, account_id) DO UPDATE SET role = EXCLUDED.role",
        group_id,
        account_id,
        role,
    )


async def local_group(db: Connection, account_id: int) -> asyncpg.Record | None:
    """Return a local group with its profile, or None when the id names none."""
    return await db.fetchrow(
        f"SELECT {_GROUP_COLUMNS} FROM accounts a"
        " JOIN group_profiles p ON p.account_id = a.id"
        " WHERE a.id = $1 AND a.deleted_at IS NULL",
        account_id,
    )


async def profiles_of(db: Connection, group_ids: list[int]) -> list[asyncpg.Record]:
    """Return the profiles of the local groups among ``group_ids``."""
    return list(
        await db.fetch(
            "SELECT * FROM group_profiles WHERE account_id = ANY($1::bigint[])",
            group_ids,
        )
    )


async def moderators_of(db: Connection, group_ids: list[int]) -> list[asyncpg.Record]:
    """Return the moderators of several groups with their accounts and
    ``group_id``, owners first."""
    return list(
        await db.fetch(
            "SELECT m.group_id, m.role, a.* FROM group_moderators m"
            " JOIN accounts a ON a.id = m.account_id"
            " WHERE m.group_id = ANY($1::bigint[])"
            " ORDER BY m.role = 'owner' DESC, m.created_at",
            group_ids,
        )
    )


async def member_counts(db: Connection, group_ids: list[int]) -> dict[int, int]:
    """Count the accepted followers of several groups."""
    rows = await db.fetch(
        "SELECT target_account_id, count(*) AS members FROM follows"
        " WHERE target_account_id = ANY($1::bigint[]) AND accepted"
        " GROUP BY target_account_id",
        group_ids,
    )
    return {row["target_account_id"]: row["members"] for row in rows}


async def local_groups_by_actor_ids(
    db: Connection, actor_ids: list[str]
) -> list[asyncpg.Record]:
    """Return the local groups among ``actor_ids``."""
    if not actor_ids:
        return []
    return list(
        await db.fetch(
            f"SELECT {_GROUP_COLUMNS} FROM accounts a"
            " JOIN group_profiles p ON p.account_id = a.id"
            " WHERE a.actor_id = ANY($1::text[]) AND a.deleted_at IS NULL",
            actor_ids[:100],
        )
    )


async def moderators(db: Connection, group_id: int) -> list[asyncpg.Record]:
    """Return the moderators of a group with their accounts, owners first."""
    return list(
        await db.fetch(
            "SELECT m.role, a.* FROM group_moderators m"
            " JOIN accounts a ON a.id = m.account_id"
            " WHERE m.group_id = $1 ORDER BY m.role = 'owner' DESC, m.created_at",
            group_id,
        )
    )


async def moderator_role(db: Connection, group_id: int, account_id: int) -> str | None:
    """Return 'owner' or 'moderator' for a moderator of the group, else None."""
    return await db.fetchval(
        "SELECT role FROM group_moderators WHERE group_id = $1 AND account_id = $2",
        group_id,
        account_id,
    )


async def directory(
    db: Connection,
    *,
    limit: int,
    max_id: int | None,
    subject: str | None,
    grade_level: str | None,
) -> list[asyncpg.Record]:
    """Return local groups, newest first, optionally with a subject or grade level."""
    return list(
        await db.fetch(
            f"SELECT {_GROUP_COLUMNS} FROM accounts a"
            " JOIN group_profiles p ON p.account_id = a.id"
            " WHERE a.deleted_at IS NULL AND ($1::bigint IS NULL OR a.id < $1)"
            " AND ($2::text IS NULL OR lower($2) = ANY(p.subjects))"
            " AND ($3::text IS NULL OR lower($3) = ANY(p.grade_levels))"
            " ORDER BY a.id DESC LIMIT $4",
            max_id,
            subject,
            grade_level,
            limit,
        )
    )


async def search(db: Connection, query: str, limit: int) -> list[asyncpg.Record]:
    """Return known groups, local and remote, whose name or handle contains ``query``.

    Local groups come first, then remote ones, each by name.
    """
    pattern = "%" + query.replace("\\", "").replace("%", "").replace("_", r"\_") + "%"
    return list(
        await db.fetch(
            "SELECT a.* FROM accounts a WHERE a.actor_type = 'Group'"
            " AND a.deleted_at IS NULL"
            " AND (a.username ILIKE $1 OR a.display_name ILIKE $1"
            " OR (a.username || '@' || coalesce(a.domain, '')) ILIKE $1)"
            " ORDER BY a.domain NULLS FIRST, lower(a.username) LIMIT $2",
            pattern,
            limit,
        )
    )


async def members(
    db: Connection,
    group_id: int,
    *,
    accepted: bool,
    limit: int,
    max_id: int | None,
    after_id: int | None = None,
    ascending: bool = False,
) -> list[asyncpg.Record]:
    """Return members (or pending requests) with their accounts; the follow id is
    ``follow_id``. Newest first, or with ``ascending`` the follows right above
    ``after_id``, oldest first."""
    order = "ASC" if ascending else "DESC"
    return list(
        await db.fetch(
            "SELECT f.id AS follow_id, a.* FROM follows f"
            " JOIN accounts a ON a.id = f.account_id"
            " WHERE f.target_account_id = $1 AND f.accepted = $2"
            " AND ($3::bigint IS NULL OR f.id < $3)"
            " AND ($5::bigint IS NULL OR f.id > $5)"
            f" ORDER BY f.id {order} LIMIT $4",
            group_id,
            accepted,
            max_id,
            limit,
            after_id,
        )
    )


async def is_member(db: Connection, group_id: int, account_id: int) -> bool:
    """Return True when the account's follow of the group is accepted."""
    return bool(
        await db.fetchval(
            "SELECT 1 FROM follows WHERE account_id = $1 AND target_account_id = $2"
            " AND accepted",
            account_id,
            group_id,
        )
    )


async def joined_by(db: Connection, account_id: int) -> list[asyncpg.Record]:
    """Return the groups the account is an accepted member or a moderator of,
    local and remote, by name."""
    return list(
        await db.fetch(
            "SELECT a.* FROM accounts a WHERE a.actor_type = 'Group'"
            " AND a.deleted_at IS NULL AND (EXISTS (SELECT 1 FROM follows f"
            " WHERE f.account_id = $1 AND f.target_account_id = a.id AND f.accepted)"
            " OR EXISTS (SELECT 1 FROM group_moderators m"
            " WHERE m.group_id = a.id AND m.account_id = $1))"
            " ORDER BY lower(coalesce(nullif(a.display_name, ''), a.username))",
            account_id,
        )
    )


async def record_post(
    connection: asyncpg.Connection,
    group_id: int,
    status_id: int,
    announce_status_id: int,
) -> bool:
    """Record that a group announced a status; return False if it already had."""
    inserted = await connection.fetchval(
        "INSERT INTO group_posts (group_id, status_id, announce_status_id)"
        " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING true",
        group_id,
        status_id,
        announce_status_id,
    )
    return bool(inserted)


async def post(db: Connection, group_id: int, status_id: int) -> asyncpg.Record | None:
    """Return the group's record of announcing a status, removed or not."""
    return await db.fetchrow(
        "SELECT * FROM group_posts WHERE group_id = $1 AND status_id = $2",
        group_id,
        status_id,
    )


async def mark_post_removed(
    connection: asyncpg.Connection, group_id: int, status_id: int, removed_by: int
) -> None:
    """Record that a moderator took an announced status out of the group."""
    await connection.execute(
        "UPDATE group_posts SET removed_at = now(), removed_by = $3"
        " WHERE group_id = $1 AND status_id = $2",
        group_id,
        status_id,
        removed_by,
    )


async def remove_moderator(
    connection: Connection, group_id: int, account_id: int
) -> bool:
    """Take a moderator's role away; return False when the account had none."""
    removed = await connection.fetchval(
        "DELETE FROM group_moderators WHERE group_id = $1 AND account_id = $2"
        " RETURNING true",
        group_id,
        account_id,
    )
    return bool(removed)


async def owner_count(db: Connection, group_id: int) -> int:
    return await db.fetchval(
        "SELECT count(*) FROM group_moderators WHERE group_id = $1 AND role = 'owner'",
        group_id,
    )


# Removed members


async def record_removed_member(
    connection: Connection, group_id: int, account_id: int, removed_by: int
) -> None:
    """Record that a moderator removed an account, which keeps it out until readmitted."""
    await connection.execute(
        "INSERT INTO group_removed_members (group_id, account_id, removed_by)"
        " VALUES ($1, $2, $3) ON CONFLICT (group_id, account_id)"
        " DO UPDATE SET removed_by = EXCLUDED.removed_by, removed_at = now()",
        group_id,
        account_id,
        removed_by,
    )


async def is_removed_member(db: Connection, group_id: int, account_id: int) -> bool:
    return bool(
        await db.fetchval(
            "SELECT 1 FROM group_removed_members WHERE group_id = $1"
            " AND account_id = $2",
            group_id,
            account_id,
        )
    )


async def readmit(connection: Connection, group_id: int, account_id: int) -> bool:
    """Let a removed account join again; return False when it was not removed."""
    deleted = await connection.fetchval(
        "DELETE FROM group_removed_members WHERE group_id = $1 AND account_id = $2"
        " RETURNING true",
        group_id,
        account_id,
    )
    return bool(deleted)


async def removed_members(
    db: Connection,
    group_id: int,
    *,
    limit: int,
    max_id: int | None,
    after_id: int | None = None,
    ascending: bool = False,
) -> list[asyncpg.Record]:
    """Return removed accounts, paged by account id: highest first, or with
    ``ascending`` the ids right above ``after_id``, lowest first."""
    order = "ASC" if ascending else "DESC"
    return list(
        await db.fetch(
            "SELECT a.* FROM group_removed_members r"
            " JOIN accounts a ON a.id = r.account_id"
            " WHERE r.group_id = $1 AND ($2::bigint IS NULL OR a.id < $2)"
            " AND ($4::bigint IS NULL OR a.id > $4)"
            f" ORDER BY a.id {order} LIMIT $3",
            group_id,
            max_id,
            limit,
            after_id,
        )
    )


# Join request notifications


async def notify_join_request(
    connection: Connection, group_id: int, requester_id: int
) -> int:
    """Notify each moderator of a local group of a join request; return the count."""
    moderator_ids = [
        row["account_id"]
        for row in await connection.fetch(
            "SELECT account_id FROM group_moderators WHERE group_id = $1"
            " AND account_id <> $2",
            group_id,
            requester_id,
        )
    ]
    rows = await connection.fetch(
        "INSERT INTO notifications (id, account_id, type, from_account_id, group_id)"
        " SELECT n.id, n.account_id, 'group_join_request', $3, $4"
        " FROM unnest($1::bigint[], $2::bigint[]) AS n(id, account_id)"
        " ON CONFLICT DO NOTHING RETURNING id",
        [new_id() for _ in moderator_ids],
        moderator_ids,
        requester_id,
        group_id,
    )
    return len(rows)


async def clear_join_request(
    connection: Connection, group_id: int, requester_id: int
) -> None:
    """Delete the moderators' notifications of a request that was decided or withdrawn."""
    await connection.execute(
        "DELETE FROM notifications WHERE type = 'group_join_request'"
        " AND group_id = $1 AND from_account_id = $2",
        group_id,
        requester_id,
    )


# Moderators of remote groups


async def replace_remote_moderators(
    db: Connection, group_id: int, account_ids: list[int]
) -> None:
    """Store the moderators of a remote group, in its collection's order."""
    async with accounts.transaction(db) as connection:
        await connection.execute(
            "DELETE FROM remote_group_moderators WHERE group_id = $1", group_id
        )
        await connection.execute(
            "INSERT INTO remote_group_moderators (group_id, account_id, position)"
            " SELECT $1, account_id, position"
            " FROM unnest($2::bigint[]) WITH ORDINALITY AS m(account_id, position)"
            " ON CONFLICT DO NOTHING",
            group_id,
            account_ids,
        )


async def remote_moderators_of(
    db: Connection, group_ids: list[int]
) -> list[asyncpg.Record]:
    """Return the stored moderators of remote groups with ``group_id``, in order."""
    return list(
        await db.fetch(
            "SELECT m.group_id, 'moderator' AS role, a.* FROM remote_group_moderators m"
            " JOIN accounts a ON a.id = m.account_id"
            " WHERE m.group_id = ANY($1::bigint[]) ORDER BY m.group_id, m.position",
            group_ids,
        )
    )


async def is_remote_moderator(db: Connection, group_id: int, account_id: int) -> bool:
    return bool(
        await db.fetchval(
            "SELECT 1 FROM remote_group_moderators WHERE group_id = $1"
            " AND account_id = $2",
            group_id,
            account_id,
        )
    )


async def live_announce_of(
    db: Connection, group_id: int, status_id: int
) -> asyncpg.Record | None:
    """Return a group's boost of a status that is not deleted, if any."""
    return await db.fetchrow(
        "SELECT * FROM statuses WHERE account_id = $1 AND reblog_of_id = $2"
        " AND deleted_at IS NULL",
        group_id,
        status_id,
    )


async def notify_post_rejected(
    connection: Connection, author_id: int, group_id: int, status_id: int | None
) -> None:
    """Notify a local author that a group rejected their post."""
    await connection.execute(
        "INSERT INTO notifications (id, account_id, type, from_account_id, status_id,"
        " group_id) VALUES ($1, $2, 'group_post_rejected', $3, $4, $3)"
        " ON CONFLICT DO NOTHING",
        new_id(),
        author_id,
        group_id,
        status_id,
    )
