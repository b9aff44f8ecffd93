"""OAuth 2 client apps, authorization codes and access tokens.

Client secrets, codes and tokens are random (32 bytes from ``secrets``), and
only their SHA-256 digests are stored, so a copy of the tables gives nobody a
usable credential. The clear values exist only in the response that creates
them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from storage.ids import new_id

Connection = asyncpg.Connection | asyncpg.Pool

# RFC 6749, section 4.1.2, recommends a code lifetime of at most 10 minutes.
CODE_LIFETIME = timedelta(minutes=10)
# last_used_at of a token is written at most this often, so that a busy client
# does not turn every API read into a write.
LAST_USED_INTERVAL = timedelta(minutes=5)


def digest(secret: str) -> bytes:
    """Return the stored form of a client secret, code or token: its SHA-256."""
    return hashlib.sha256(secret.encode()).digest()


def new_secret() -> str:
    """Return a new random credential of 32 bytes, URL-safe base64 encoded."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class NewApp:
    """The fields of ``POST /api/v1/apps`` after validation."""

    name: str
    website: str | None
    redirect_uris: list[str]
    scopes: list[str]


async def create_app(db: Connection, app: NewApp) -> tuple[asyncpg.Record, str]:
    """Insert an app and return its row with the client secret in clear."""
    client_secret = new_secret()
    row = await db.fetchrow(
        "INSERT INTO oauth_apps (id, name, website, redirect_uris, scopes,"
        " client_id, client_secret_hash) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " RETURNING *",
        new_id(),
        app.name,
        app.website,
        app.redirect_uris,
        " ".join(app.scopes),
        new_secret(),
        digest(client_secret),
    )
    return row, client_secret


async def app_by_client_id(db: Connection, client_id: str) -> asyncpg.Record | None:
    """Return the app registered under ``client_id``, or None."""
    return await db.fetchrow("SELECT * FROM oauth_apps WHERE client_id = $1", client_id)


async def authenticate_app(
    db: Connection, client_id: str, client_secret: str
) -> asyncpg.Record | None:
    """Return the app when ``client_secret`` is its secret, else None."""
    app = await app_by_client_id(db, client_id)
    if app is None:
        return None
    if not hmac.compare_digest(app["client_secret_hash"], digest(client_secret)):
        return None
    return app


@dataclass(frozen=True)
class NewCode:
    """An authorization the account granted on the consent page."""

    app_id: int
    account_id: int
    redirect_uri: str
    redirect_uri_given: bool
    scopes: list[str]
    code_challenge: str | None
    code_challenge_method: str | None


async def create_code(db: Connection, grant: NewCode) -> str:
    """Insert an authorization code and return it in clear."""
    code = new_secret()
    await db.execute(
        "INSERT INTO oauth_codes (code_hash, app_id, account_id, redirect_uri,"
        " redirect_uri_given, scopes, code_challenge, code_challenge_method,"
        " expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + $9::interval)",
        digest(code),
        grant.app_id,
        grant.account_id,
        grant.redirect_uri,
        grant.redirect_uri_given,
        " ".join(grant.scopes),
        grant.code_challenge,
        grant.code_challenge_method,
        CODE_LIFETIME,
    )
    return code


async def claim_code(
    connection: asyncpg.Connection, code: str
) -> tuple[asyncpg.Record | None, bool]:
    """Mark a code used and return ``(row, first_use)``, with row None if unknown.

    The update is atomic, so of two concurrent requests with one code only
    one gets ``first_use`` true. An expired code is returned too, and the caller
    rejects it.
    """
    row = await connection.fetchrow(
        "UPDATE oauth_codes SET used_at = now()"
        " WHERE code_hash = $1 AND used_at IS NULL RETURNING *",
        digest(code),
    )
    if row is not None:
        return row, True
    row = await connection.fetchrow(
        "SELECT * FROM oauth_codes WHERE code_hash = $1", digest(code)
    )
    return row, False


async def revoke_code_token(db: Connection, code_hash: bytes) -> int | None:
    """Revoke the token issued for a code, when the code is used a second time.

    Returns the revoked token's id, or None when there was none to revoke.
    """
    return await db.fetchval(
        "UPDATE tokens SET revoked_at = now() WHERE revoked_at IS NULL AND id ="
        " (SELECT token_id FROM oauth_codes WHERE code_hash = $1) RETURNING id",
        code_hash,
    )


async def delete_expired_codes(db: Connection) -> None:
    """Delete codes that expired more than a day ago.

    Used codes are kept that long so that a replay still finds them and
    revokes the token issued for them.
    """
    await db.execute(
        "DELETE FROM oauth_codes WHERE expires_at < now() - interval '1 day'"
    )


async def create_token(
    db: Connection,
    *,
    account_id: int | None,
    app_id: int | None,
    scopes: list[str],
    code_hash: bytes | None = None,
) -> tuple[asyncpg.Record, str]:
    """Insert an access token and return its row with the token in clear.

    With ``code_hash``, the code's row records the token, for revocation on
    a replay of the code.
    """
    token = new_secret()
    row = await db.fetchrow(
        "INSERT INTO tokens (account_id, app_id, token_hash, scopes)"
        " VALUES ($1, $2, $3, $4) RETURNING *",
        account_id,
        app_id,
        digest(token),
        " ".join(scopes),
    )
    if code_hash is not None:
        await db.execute(
            "UPDATE oauth_codes SET token_id = $1 WHERE code_hash = $2",
            row["id"],
            code_hash,
        )
    return row, token


async def token_with_account(db: Connection, token: str) -> asyncpg.Record | None:
    """Return a live token joined with its account's columns, or None.

    Token columns are prefixed ``token_``; the rest are the account's and are
    NULL for an app-only token. Revoked and expired tokens and tokens of
    deleted or suspended accounts give None, so lifting a suspension makes
    the account's tokens work again.
    """
    return await db.fetchrow(
        "SELECT t.id AS token_id, t.scopes AS token_scopes, t.app_id AS token_app_id,"
        " t.account_id AS token_account_id, t.last_used_at AS token_last_used_at, a.*"
        " FROM tokens t LEFT JOIN accounts a ON a.id = t.account_id"
        " WHERE t.token_hash = $1 AND t.revoked_at IS NULL"
        " AND (t.expires_at IS NULL OR t.expires_at > now())"
        " AND (t.account_id IS NULL"
        " OR (a.deleted_at IS NULL AND a.suspended_at IS NULL))",
        digest(token),
    )


async def touch_token(db: Connection, token_id: int) -> None:
    """Record that a token was used now."""
    await db.execute("UPDATE tokens SET last_used_at = now() WHERE id = $1", token_id)


async def token_of_app(
    db: Connection, token: str, app_id: int
) -> tuple[asyncpg.Record | None, bool]:
    """Return ``(token row, issued to app_id)`` for a token in clear."""
    row = await db.fetchrow("SELECT * FROM tokens WHERE token_hash = $1", digest(token))
    return row, row is not None and row["app_id"] == app_id


async def revoke_token(db: Connection, token_id: int) -> bool:
    """Revoke a token; return False when it was revoked already."""
    revoked = await db.fetchval(
        "UPDATE tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL"
        " RETURNING id",
        token_id,
    )
    return revoked is not None


async def authorized_apps(db: Connection, account_id: int) -> list[asyncpg.Record]:
    """Return the live app tokens of an account with their app, newest first."""
    rows = await db.fetch(
        "SELECT t.id, t.scopes, t.created_at, t.last_used_at, p.name AS app_name,"
        " p.website AS app_website FROM tokens t JOIN oauth_apps p ON p.id = t.app_id"
        " WHERE t.account_id = $1 AND t.revoked_at IS NULL"
        " AND (t.expires_at IS NULL OR t.expires_at > now())"
        " ORDER BY t.created_at DESC, t.id DESC",
        account_id,
    )
    return list(rows)


async def revoke_account_token(db: Connection, account_id: int, token_id: int) -> bool:
    """Revoke one app token of an account; return False if it has none such."""
    revoked = await db.fetchval(
        "UPDATE tokens SET revoked_at = now() WHERE id = $1 AND account_id = $2"
        " AND app_id IS NOT NULL AND revoked_at IS NULL RETURNING id",
        token_id,
        account_id,
    )
    return revoked is not None
