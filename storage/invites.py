"""Invite links and sign-up requests awaiting an admin's approval."""

from __future__ import annotations

import secrets
from datetime import timedelta

import asyncpg

from storage.ids import new_id
from storage.sessions import token_digest

Connection = asyncpg.Connection | asyncpg.Pool


async def create_invite(
    db: Connection,
    created_by: int | None,
    *,
    max_uses: int,
    lifetime: timedelta,
    note: str = "",
) -> tuple[str, asyncpg.Record]:
    """Insert an invite and return its code with the row; the code is not stored."""
    code = secrets.token_urlsafe(18)
    row = await db.fetchrow(
        "INSERT INTO invites (id, code_hash, created_by, note, max_uses, expires_at)"
        " VALUES ($1, $2, $3, $4, $5, now() + $6::interval) RETURNING *",
        new_id(),
        token_digest(code),
        created_by,
        note,
        max_uses,
        lifetime,
    )
    return code, row


async def live_invite(db: Connection, code: str) -> asyncpg.Record | None:
    """Return an invite that is unexpired, unrevoked and not used up, or None."""
    return await db.fetchrow(
        "SELECT * FROM invites WHERE code_hash = $1 AND revoked_at IS NULL"
        " AND expires_at > now() AND uses < max_uses",
        token_digest(code),
    )


async def use_invite(connection: asyncpg.Connection, code: str) -> asyncpg.Record | None:
    """Count one use of a live invite and return it, or None when it is not live.

    The conditional update makes the use count exact under concurrent sign-ups.
    """
    return await connection.fetchrow(
        "UPDATE invites SET uses = uses + 1 WHERE code_hash = $1"
        " AND revoked_at IS NULL AND expires_at > now() AND uses < max_uses"
        " RETURNING *",
        token_digest(code),
    )


async def list_invites(db: Connection, limit: int = 100) -> list[asyncpg.Record]:
    rows = await db.fetch(
        "SELECT i.*, a.username AS creator FROM invites i"
        " LEFT JOIN accounts a ON a.id = i.created_by"
        " ORDER BY i.id DESC LIMIT $1",
        limit,
    )
    return list(rows)


async def revoke_invite(db: Connection, invite_id: int) -> bool:
    result = await db.execute(
        "UPDATE invites SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL",
        invite_id,
    )
    return result.endswith(" 1")


# Sign-up requests


async def username_taken(db: Connection, username: str) -> bool:
    """Return True when a local account or a pending request has the username."""
    return bool(
        await db.fetchval(
            "SELECT EXISTS (SELECT 1 FROM accounts WHERE domain IS NULL"
            " AND lower(username) = lower($1))"
            " OR EXISTS (SELECT 1 FROM sign_up_requests"
            " WHERE lower(username) = lower($1))",
            username,
        )
    )


async def create_request(
    db: Connection,
    *,
    username: str,
    display_name: str,
    password_hash: str,
    reason: str,
    time_zone: str | None,
) -> asyncpg.Record:
    """Insert a sign-up request; raise UniqueViolationError if the name is pending."""
    return await db.fetchrow(
        "INSERT INTO sign_up_requests"
        " (id, username, display_name, password_hash, reason, time_zone)"
        " VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
        new_id(),
        username,
        display_name,
        password_hash,
        reason,
        time_zone,
    )


async def pending_requests(db: Connection, limit: int = 100) -> list[asyncpg.Record]:
    rows = await db.fetch(
        "SELECT * FROM sign_up_requests ORDER BY id LIMIT $1", limit
    )
    return list(rows)


async def take_request(connection: asyncpg.Connection, request_id: int) -> asyncpg.Record | None:
    """Delete a sign-up request and return it, or None when it is already handled."""
    return await connection.fetchrow(
        "DELETE FROM sign_up_requests WHERE id = $1 RETURNING *", request_id
    )
