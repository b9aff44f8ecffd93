"""Browser sessions, password reset links and failed sign-ins of the web interface.

Session tokens and reset tokens are random and only their SHA-256 digests are
stored, so reading the tables does not give anyone a usable cookie or link.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from storage.accounts import transaction
from storage.ids import new_id

Connection = asyncpg.Connection | asyncpg.Pool


def token_digest(token: str) -> bytes:
    """Return the stored form of a session, reset or invite token."""
    return hashlib.sha256(token.encode()).digest()


async def create_session(
    db: Connection,
    account_id: int,
    *,
    lifetime: timedelta,
    user_agent: str,
    address: str,
) -> tuple[str, asyncpg.Record]:
    """Insert a session and return its cookie token with the row."""
    token = secrets.token_urlsafe(32)
    row = await db.fetchrow(
        "INSERT INTO web_sessions (id, account_id, token_hash, csrf_token,"
        " user_agent, address, expires_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, now() + $7::interval) RETURNING *",
        new_id(),
        account_id,
        token_digest(token),
        secrets.token_urlsafe(32),
        user_agent[:300],
        address[:100],
        lifetime,
    )
    return token, row


async def session_by_token(db: Connection, token: str) -> asyncpg.Record | None:
    """Return the live session of a cookie token joined with its account.

    Columns of the session are prefixed ``session_``; the rest are the
    account's. Expired sessions, suspended and deleted accounts give None.
    """
    return await db.fetchrow(
        "SELECT s.id AS session_id, s.csrf_token AS session_csrf_token,"
        " s.last_seen_at AS session_last_seen_at, a.*"
        " FROM web_sessions s JOIN accounts a ON a.id = s.account_id"
        " WHERE s.token_hash = $1 AND s.expires_at > now()"
        " AND a.deleted_at IS NULL AND a.suspended_at IS NULL",
        token_digest(token),
    )


async def touch_session(db: Connection, session_id: int) -> None:
    await db.execute(
        "UPDATE web_sessions SET last_seen_at = now() WHERE id = $1", session_id
    )


async def delete_session(db: Connection, session_id: int) -> None:
    await db.execute("DELETE FROM web_sessions WHERE id = $1", session_id)


async def delete_other_sessions(db: Connection, account_id: int, keep_id: int | None) -> int:
    """Delete every session of an account except ``keep_id``; return how many."""
    result = await db.execute(
        "DELETE FROM web_sessions WHERE account_id = $1"
        " AND id <> coalesce($2::bigint, 0)",
        account_id,
        keep_id,
    )
    return int(result.split()[-1])


async def delete_expired(db: Connection) -> None:
    await db.execute("DELETE FROM web_sessions WHERE expires_at <= now()")


# Failed sign-ins

# Failures from a browser with a known-device cookie are stored with the
# device's key in place of the client address. No address starts with it.
DEVICE_PREFIX = "device:"


def device_key(nonce: str) -> str:
    """Return the address column value of a known device's failures."""
    return DEVICE_PREFIX + nonce


async def record_failure(db: Connection, username: str, address: str) -> None:
    """Record a failed sign-in for ``username`` (lower-cased) from ``address``."""
    await db.execute(
        "INSERT INTO sign_in_failures (username, address) VALUES ($1, $2)",
        username.lower()[:100],
        address[:100],
    )


@dataclass(frozen=True)
class FailureCounts:
    """Recent failed sign-ins for one username and client address."""

    pair: int
    address: int
    account: int


async def recent_failures(
    db: Connection,
    username: str,
    address: str,
    window: timedelta,
    account_window: timedelta,
) -> FailureCounts:
    """Count failed sign-ins of the username from the address and from the
    address for any username within ``window``, and of the username from any
    address within ``account_window``.

    ``address`` may be a ``device_key``; the pair count is then the failures
    of that known device. Failures of known devices are not in the account
    count.
    """
    row = await db.fetchrow(
        "SELECT"
        " (SELECT count(*) FROM sign_in_failures WHERE username = $1"
        "  AND address = $2 AND failed_at > now() - $3::interval) AS pair,"
        " (SELECT count(*) FROM sign_in_failures WHERE address = $2"
        "  AND failed_at > now() - $3::interval) AS address,"
        " (SELECT count(*) FROM sign_in_failures WHERE username = $1"
        f"  AND address NOT LIKE '{DEVICE_PREFIX}%'"
        "  AND failed_at > now() - $4::interval) AS account",
        username.lower()[:100],
        address[:100],
        window,
        account_window,
    )
    return FailureCounts(row["pair"], row["address"], row["account"])


async def seconds_until_allowed(
    db: Connection,
    *,
    username: str | None,
    address: str | None,
    window: timedelta,
    limit: int,
) -> float:
    """Return the seconds until fewer than ``limit`` failures remain in ``window``.

    Counts the failures of ``username``, of ``address`` or of both, as the
    limit in question does. A None argument matches any value, except that
    a None ``address`` leaves out the failures of known devices, as the
    account count does.
    """
    seconds = await db.fetchval(
        "SELECT extract(epoch FROM failed_at + $3::interval - now())"
        " FROM sign_in_failures"
        " WHERE ($1::text IS NULL OR username = $1)"
        " AND ($2::text IS NULL OR address = $2)"
        f" AND ($2::text IS NOT NULL OR address NOT LIKE '{DEVICE_PREFIX}%')"
        " AND failed_at > now() - $3::interval"
        " ORDER BY failed_at DESC OFFSET $4 - 1 LIMIT 1",
        username.lower()[:100] if username is not None else None,
        address[:100] if address is not None else None,
        window,
        limit,
    )
    return max(0.0, float(seconds)) if seconds is not None else 0.0


async def clear_failures(db: Connection, username: str, address: str | None = None) -> None:
    """Forget the failures of a username, only those from ``address`` if given.

    After a sign-in only the signing-in address is forgiven, so that the
    owner signing in does not reset the count of someone guessing elsewhere.
    """
    await db.execute(
        "DELETE FROM sign_in_failures WHERE username = $1"
        " AND ($2::text IS NULL OR address = $2)",
        username.lower()[:100],
        address[:100] if address is not None else None,
    )


async def prune_failures(db: Connection, window: timedelta) -> None:
    """Delete failures older than ``window``, which no limit counts any more."""
    await db.execute(
        "DELETE FROM sign_in_failures WHERE failed_at <= now() - $1::interval", window
    )


# Password reset links


async def create_reset(db: Connection, account_id: int, lifetime: timedelta) -> str:
    """Insert a password reset token and return it; older unused ones stop working."""
    token = secrets.token_urlsafe(32)
    async with transaction(db) as connection:
        await connection.execute(
            "UPDATE password_resets SET used_at = now()"
            " WHERE account_id = $1 AND used_at IS NULL",
            account_id,
        )
        await connection.execute(
            "INSERT INTO password_resets (token_hash, account_id, expires_at)"
            " VALUES ($1, $2, now() + $3::interval)",
            token_digest(token),
            account_id,
            lifetime,
        )
    return token


async def reset_account(db: Connection, token: str) -> asyncpg.Record | None:
    """Return the account of an unused, unexpired reset token, or None."""
    return await db.fetchrow(
        "SELECT a.* FROM password_resets r JOIN accounts a ON a.id = r.account_id"
        " WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > now()"
        " AND a.deleted_at IS NULL",
        token_digest(token),
    )


async def use_reset(connection: asyncpg.Connection, token: str) -> int | None:
    """Mark a reset token used and return its account id, or None if it is not live.

    The update is conditional, so two requests racing with one link cannot both
    set a password.
    """
    return await connection.fetchval(
        "UPDATE password_resets SET used_at = now()"
        " WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()"
        " RETURNING account_id",
        token_digest(token),
    )


async def set_password(db: Connection, account_id: int, password_hash: str) -> None:
    await db.execute(
        "UPDATE accounts SET password_hash = $2 WHERE id = $1", account_id, password_hash
    )

