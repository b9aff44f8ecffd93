"""Queries on local and remote accounts and their public keys."""

from datetime import timedelta
from typing import Any

import asyncpg

from actors.person import RemoteActor
from storage import mentorship
from storage.ids import new_id

Connection = asyncpg.Connection | asyncpg.Pool


async def create_local(
    db: Connection,
    *,
    username: str,
    actor_id: str,
    key_id: str,
    private_key_pem: str,
    public_key_pem: str,
    display_name: str = "",
    password_hash: str | None = None,
    actor_type: str = "Person",
    urls: dict[str, str],
) -> asyncpg.Record:
    """Insert a local account and its key; raise UniqueViolationError if taken."""
    account_id = new_id()
    async with _transaction(db) as connection:
        row = await connection.fetchrow(
            "INSERT INTO accounts (id, username, actor_id, actor_type, display_name,"
            " inbox_url, shared_inbox_url, outbox_url, followers_url, following_url,"
            " url, private_key_pem, password_hash)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
            " RETURNING *",
            account_id,
            username,
            actor_id,
            actor_type,
            display_name,
            urls["inbox"],
            urls["shared_inbox"],
            urls.get("outbox"),
            urls.get("followers"),
            urls.get("following"),
            urls.get("url"),
            private_key_pem,
            password_hash,
        )
        await connection.execute(
            "INSERT INTO account_keys (key_id, account_id, public_key_pem)"
            " VALUES ($1, $2, $3)",
            key_id,
            account_id,
            public_key_pem,
        )
    return row


class _transaction:
    """Run a block in a transaction on a connection, or on one taken from a pool."""

    def __init__(self, db: Connection) -> None:
        self._db = db
        self._acquired: Any = None
        self._transaction: Any = None

    async def __aenter__(self) -> asyncpg.Connection:
        if isinstance(self._db, asyncpg.Pool):
            self._acquired = self._db.acquire()
            connection = await self._acquired.__aenter__()
        else:
            connection = self._db
        self._transaction = connection.transaction()
        await self._transaction.__aenter__()
        return connection

    async def __aexit__(self, *exc: Any) -> None:
        try:
            await self._transaction.__aexit__(*exc)
        finally:
            if self._acquired is not None:
                await self._acquired.__aexit__(*exc)


transaction = _transaction


async def by_id(db: Connection, account_id: int) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM accounts WHERE id = $1", account_id)


async def by_actor_id(db: Connection, actor_id: str) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM accounts WHERE actor_id = $1", actor_id)


async def local_by_username(db: Connection, username: str) -> asyncpg.Record | None:
    """Find a local account by username, ignoring case."""
    return await db.fetchrow(
        "SELECT * FROM accounts WHERE domain IS NULL AND lower(username) = lower($1)"
        " AND deleted_at IS NULL",
        username,
    )


async def by_handle(
    db: Connection, username: str, domain: str | None
) -> asyncpg.Record | None:
    """Find an account by username and domain (None for local), ignoring case."""
    if domain is None:
        return await local_by_username(db, username)
    return await db.fetchrow(
        "SELECT * FROM accounts WHERE lower(username) = lower($1)"
        " AND lower(domain) = lower($2) AND deleted_at IS NULL",
        username,
        domain,
    )


async def public_key(db: Connection, key_id: str) -> asyncpg.Record | None:
    """Return the key's PEM with its owner's actor id, or None when unknown."""
    return await db.fetchrow(
        "SELECT k.public_key_pem, a.actor_id, a.id AS account_id, a.domain"
        " FROM account_keys k JOIN accounts a ON a.id = k.account_id"
        " WHERE k.key_id = $1",
        key_id,
    )


async def upsert_remote(db: Connection, actor: RemoteActor) -> asyncpg.Record:
    """Insert or refresh a remote account and replace its keys, atomically."""
    async with _transaction(db) as connection:
        # A handle on a domain belongs to one actor at a time. When another
        # actor id holds it (a server reinstalled, a name reused), the stale
        # row gives the handle up; it gets its own back when it is refreshed.
        await connection.execute(
            "UPDATE accounts SET username = username || '~' || id"
            " WHERE lower(username) = lower($1) AND lower(domain) = lower($2)"
            " AND actor_id <> $3",
            actor.username,
            actor.domain,
            actor.actor_id,
        )
        row = await connection.fetchrow(
            "INSERT INTO accounts (id, username, domain, actor_id, actor_type,"
            " display_name, summary, inbox_url, shared_inbox_url, outbox_url,"
            " followers_url, following_url, url, icon_url,"
            " manually_approves_followers, fetched_at, fields, header_url, subjects,"
            " grade_levels, school, teacher_role, pronouns)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,"
            " $15, now(), $16, $17, $18, $19, $20, $21, $22)"
            " ON CONFLICT (actor_id) DO UPDATE SET username = EXCLUDED.username,"
            " actor_type = EXCLUDED.actor_type, display_name = EXCLUDED.display_name,"
            " summary = EXCLUDED.summary, inbox_url = EXCLUDED.inbox_url,"
            " shared_inbox_url = EXCLUDED.shared_inbox_url,"
            " outbox_url = EXCLUDED.outbox_url,"
            " followers_url = EXCLUDED.followers_url,"
            " following_url = EXCLUDED.following_url, url = EXCLUDED.url,"
            " icon_url = EXCLUDED.icon_url,"
            " manually_approves_followers = EXCLUDED.manually_approves_followers,"
            " fetched_at = now(), deleted_at = NULL, fields = EXCLUDED.fields,"
            " header_url = EXCLUDED.header_url, subjects = EXCLUDED.subjects,"
            " grade_levels = EXCLUDED.grade_levels, school = EXCLUDED.school,"
            " teacher_role = EXCLUDED.teacher_role, pronouns = EXCLUDED.pronouns"
            " WHERE accounts.domain IS NOT NULL"
            " RETURNING *",
            new_id(),
            actor.username,
            actor.domain,
            actor.actor_id,
            actor.actor_type,
            actor.display_name,
            actor.summary,
            actor.inbox_url,
            actor.shared_inbox_url,
            actor.outbox_url,
            actor.followers_url,
            actor.following_url,
            actor.url,
            actor.icon_url,
            actor.manually_approves_followers,
            actor.fields,
            actor.header_url,
            actor.subjects,
            actor.grade_levels,
            actor.school,
            actor.teacher_role,
            actor.pronouns,
        )
        if row is None:
            raise ValueError(f"{actor.actor_id} names a local account")
        await connection.execute(
            "DELETE FROM account_keys WHERE account_id = $1", row["id"]
        )
        for key_id, pem in actor.keys:
            # A key id claimed by another account is reassigned only to the
            # actor it names, because keys fetched from the owner's server win.
            await connection.execute(
                "INSERT INTO account_keys (key_id, account_id, public_key_pem)"
                " VALUES ($1, $2, $3) ON CONFLICT (key_id) DO UPDATE"
                " SET account_id = EXCLUDED.account_id,"
                " public_key_pem = EXCLUDED.public_key_pem",
                key_id,
                row["id"],
                pem,
            )
        await mentorship.save_remote_offer(connection, row["id"], actor.mentoring)
    return row


async def local_key(db: Connection, account_id: int) -> asyncpg.Record | None:
    """Return the key id and public PEM of a local account."""
    return await db.fetchrow(
        "SELECT key_id, public_key_pem FROM account_keys WHERE account_id = $1"
        " ORDER BY created_at LIMIT 1",
        account_id,
    )


async def mark_deleted(db: Connection, account_id: int) -> None:
    await db.execute(
        "UPDATE accounts SET deleted_at = now() WHERE id = $1", account_id
    )


async def count_local_users(db: Connection) -> int:
    return await db.fetchval(
        "SELECT count(*) FROM accounts WHERE domain IS NULL AND actor_type = 'Person'"
        " AND deleted_at IS NULL"
    )


async def claim_outbox_fetch(
    db: Connection, account_id: int, interval: timedelta
) -> bool:
    """Record that a remote account's outbox is being fetched now.

    Returns False, and records nothing, when it was fetched less than
    ``interval`` ago or the account is local. The check and the write are one
    UPDATE, so concurrent page views start one fetch between them.
    """
    claimed = await db.fetchval(
        "UPDATE accounts SET outbox_fetched_at = now()"
        " WHERE id = $1 AND domain IS NOT NULL AND deleted_at IS NULL"
        " AND (outbox_fetched_at IS NULL OR outbox_fetched_at < now() - $2::interval)"
        " RETURNING id",
        account_id,
        interval,
    )
    return claimed is not None
