"""OAuth 2 for Mastodon client apps: app registration, tokens and revocation.

``POST /api/v1/apps`` registers a client (RFC 6749, section 2), ``POST
/oauth/token`` issues access tokens for authorization codes with PKCE (RFC
7636), client credentials and, where the instance allows it, passwords, and
``POST /oauth/revoke`` revokes them (RFC 7009). The consent page of
``/oauth/authorize`` is in ``web.ui.oauth_consent``.

Bodies may be form-encoded or JSON: Mastodon.py sends forms and toot JSON.
Errors of the token and revocation endpoints have the shape of RFC 6749,
section 5.2: ``{"error": code, "error_description": text}``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus, urlsplit

from quart import Blueprint, Response, current_app, jsonify, request

from federation.errors import FederationError
from outbox.actions import ActionError
from pedagogue.cli import USERNAME
from pedagogue.passwords import check_password
from storage import accounts, oauth, sessions
from web.api import _params, _token_row
from web.app import error_response, log_text, runtime_of
from web.forwarded import limit_key
from web.oauth_scopes import DEFAULT_SCOPES, parse_scopes, unknown_scopes, within
from web.rate_limit import TokenBuckets, retry_after_header

log = logging.getLogger(__name__)

blueprint = Blueprint("oauth", __name__)

# The redirect URI of the out-of-band flow: the consent page shows the code
# for the teacher to copy into the app.
OOB_REDIRECT_URI = "urn:ietf:wg:oauth:2.0:oob"
# Mastodon 4.3 limits app names to 60 characters.
MAX_APP_NAME_LENGTH = 60
MAX_URI_LENGTH = 2000
MAX_REDIRECT_URIS = 20
# Schemes that would run code in the browser when the consent page redirects.
FORBIDDEN_REDIRECT_SCHEMES = frozenset({"javascript", "data", "vbscript", "file"})
URI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
# RFC 7636, section 4.1: 43 to 128 characters of the unreserved set.
CODE_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
GRANT_TYPES = ("authorization_code", "client_credentials", "password")
# Maximum password length checked, because argon2's cost grows with the input.
MAX_PASSWORD_LENGTH = 1000
# Compared against for an unknown username, so that a failed password grant
# takes as long whether or not the account exists.
_DUMMY_HASH: str | None = None


class OAuthError(Exception):
    """An RFC 6749 error response: the code, a description and the status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


async def _oauth_error(error: OAuthError) -> Response:
    log.info(
        "rejected %s %s: %s: %s",
        request.method,
        log_text(request.path),
        error.error,
        log_text(error.description),
    )
    response = jsonify({"error": error.error, "error_description": error.description})
    response.status_code = error.status
    response.headers["Cache-Control"] = "no-store"
    if error.error == "invalid_client" and request.headers.get("Authorization"):
        # RFC 6749, section 5.2: a client that tried HTTP authentication gets
        # 401 with the scheme it used.
        response.headers["WWW-Authenticate"] = 'Basic realm="oauth"'
    return response


async def _request_error(error: FederationError | ActionError) -> Response:
    """Shape a malformed body as invalid_request on /oauth/, else as Mastodon does."""
    message = error.message
    if request.path.startswith("/oauth/"):
        return await _oauth_error(OAuthError("invalid_request", message))
    log.info(
        "rejected %s %s: %s", request.method, log_text(request.path), log_text(message)
    )
    return error_response(error.status, message)


blueprint.register_error_handler(OAuthError, _oauth_error)
blueprint.register_error_handler(FederationError, _request_error)
blueprint.register_error_handler(ActionError, _request_error)


# Apps


@blueprint.post("/api/v1/apps")
async def create_app() -> Response:
    params = await _params()
    limited = _registration_limited()
    if limited is not None:
        return limited
    try:
        new = _new_app(params)
    except ValueError as error:
        log.info("rejected app registration: %s", log_text(str(error)))
        return error_response(422, f"Validation failed: {error}")
    runtime = runtime_of(current_app)
    app, client_secret = await oauth.create_app(runtime.pool, new)
    log.info("registered app %s (%s)", app["id"], log_text(app["name"], 100))
    document = application_json(app)
    document["client_id"] = app["client_id"]
    document["client_secret"] = client_secret
    # The secret does not expire (RFC 7591, section 3.2.1).
    document["client_secret_expires_at"] = 0
    return jsonify(document)


@blueprint.get("/api/v1/apps/verify_credentials")
async def verify_app_credentials() -> Response:
    token = await _token_row()
    if token is None:
        response = error_response(401, "The access token is invalid")
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response
    app_id = token["token_app_id"]
    app = None
    if app_id is not None:
        app = await runtime_of(current_app).pool.fetchrow(
            "SELECT * FROM oauth_apps WHERE id = $1", app_id
        )
    if app is None:
        # Tokens of `pedagogue token create` belong to no registered app.
        return error_response(404, "This token was not issued to an app")
    return jsonify(application_json(app))


def application_json(app: Any) -> dict[str, Any]:
    """Return Mastodon's Application entity, without client credentials."""
    return {
        "id": str(app["id"]),
        "name": app["name"],
        "website": app["website"],
        "scopes": app["scopes"].split(),
        # Mastodon 4.3 keeps the newline-joined form for older clients.
        "redirect_uri": "\n".join(app["redirect_uris"]),
        "redirect_uris": list(app["redirect_uris"]),
    }


def _registration_limited() -> Response | None:
    """Return 429 when the client address registers apps faster than allowed."""
    from web.ui.session import client_address

    settings = runtime_of(current_app).settings.web
    buckets = current_app.extensions.setdefault(
        "oauth_app_registrations",
        TokenBuckets(settings.api_write_rate, settings.api_write_burst),
    )
    address = client_address()
    wait = buckets.take(limit_key(address))
    if wait is None:
        return None
    log.info("rejected app registration from %s: rate limit exhausted", address)
    response = error_response(429, "Too many requests, retry later")
    response.headers["Retry-After"] = retry_after_header(wait)
    return response


def _new_app(params: dict[str, Any]) -> oauth.NewApp:
    """Validate the fields of an app registration; raise ValueError naming one."""
    name = params.get("client_name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError("client_name can't be blank")
    name = name.strip()
    if len(name) > MAX_APP_NAME_LENGTH:
        raise ValueError(
            f"client_name is too long (maximum is {MAX_APP_NAME_LENGTH} characters)"
        )
    website = params.get("website") or None
    if website is not None:
        if not isinstance(website, str) or len(website) > MAX_URI_LENGTH:
            raise ValueError("website must be an http or https URL")
        parts = urlsplit(website.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"website must be an http or https URL, not {website[:100]!r}"
            )
        website = website.strip()
    scopes = parse_scopes(_text(params.get("scopes"), "scopes") or DEFAULT_SCOPES)
    unknown = unknown_scopes(scopes)
    if unknown:
        raise ValueError(f"scopes contains unknown scopes: {' '.join(unknown)[:200]}")
    return oauth.NewApp(
        name=name,
        website=website,
        redirect_uris=_redirect_uris(params),
        scopes=scopes,
    )


def _text(value: Any, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    return value


def _redirect_uris(params: dict[str, Any]) -> list[str]:
    """Return the redirect URIs of a registration: newline-separated or a list."""
    value = params.get("redirect_uris", params.get("redirect_uris[]"))
    if isinstance(value, list):
        candidates = [_text(item, "redirect_uris") for item in value]
    else:
        candidates = _text(value, "redirect_uris").split("\n")
    uris = [uri.strip() for uri in candidates if uri.strip()]
    if not uris:
        raise ValueError("redirect_uris can't be blank")
    if len(uris) > MAX_REDIRECT_URIS:
        raise ValueError(f"redirect_uris contains over {MAX_REDIRECT_URIS} URIs")
    for uri in uris:
        problem = redirect_uri_problem(uri)
        if problem is not None:
            raise ValueError(f"redirect URI {uri[:100]!r} {problem}")
    return list(dict.fromkeys(uris))


def redirect_uri_problem(uri: str) -> str | None:
    """Return why ``uri`` cannot be a redirect URI, or None when it can.

    RFC 6749, section 3.1.2, requires an absolute URI without a fragment.
    Custom schemes are allowed because mobile apps receive the code through
    them.
    """
    if uri == OOB_REDIRECT_URI:
        return None
    if len(uri) > MAX_URI_LENGTH:
        return f"is over {MAX_URI_LENGTH} characters"
    if not uri.isprintable() or any(char.isspace() for char in uri):
        return "contains spaces or control characters"
    scheme, separator, rest = uri.partition(":")
    if not separator or not URI_SCHEME.fullmatch(scheme) or not rest:
        return "must be an absolute URI"
    if scheme.lower() in FORBIDDEN_REDIRECT_SCHEMES:
        return f"must not use the {scheme.lower()} scheme"
    parts = urlsplit(uri)
    if parts.fragment or "#" in uri:
        return "must not contain a fragment"
    if scheme.lower() in ("http", "https") and not parts.hostname:
        return "must name a host"
    return None


# Tokens


@blueprint.post("/oauth/token")
async def token() -> Response:
    params = await _params()
    grant_type = _param(params, "grant_type")
    if not grant_type:
        raise OAuthError("invalid_request", "grant_type is missing")
    if grant_type not in GRANT_TYPES:
        raise OAuthError(
            "unsupported_grant_type",
            f"grant_type must be authorization_code, client_credentials or"
            f" password, not {grant_type[:40]!r}",
        )
    app = await _authenticate_client(params)
    if grant_type == "authorization_code":
        return await _authorization_code_grant(app, params)
    if grant_type == "client_credentials":
        return await _client_credentials_grant(app, params)
    return await _password_grant(app, params)


def _param(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise OAuthError("invalid_request", f"{name} must be a string")
    return value


def _basic_credentials() -> tuple[str, str] | None:
    """Return the client id and secret of an HTTP Basic header (RFC 6749, section 2.3.1).

    Both are form-encoded before the Base64 step, so they are decoded here.
    """
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError(
            "invalid_client", "the Basic credentials are not valid Base64", 401
        ) from None
    client_id, separator, client_secret = decoded.partition(":")
    if not separator:
        raise OAuthError("invalid_client", "the Basic credentials lack a colon", 401)
    return unquote_plus(client_id), unquote_plus(client_secret)


async def _authenticate_client(params: dict[str, Any]) -> Any:
    """Return the app whose credentials the request carries; raise invalid_client."""
    basic = _basic_credentials()
    body_id = _param(params, "client_id")
    body_secret = _param(params, "client_secret")
    if basic is not None and body_secret:
        # RFC 6749, section 2.3: one authentication method per request.
        raise OAuthError(
            "invalid_request",
            "send client credentials in the body or in Basic, not both",
        )
    client_id, client_secret = basic if basic is not None else (body_id, body_secret)
    if not client_id or not client_secret:
        raise OAuthError(
            "invalid_client", "client_id and client_secret are required", 401
        )
    app = await oauth.authenticate_app(
        runtime_of(current_app).pool, client_id, client_secret
    )
    if app is None:
        log.info(
            "rejected client authentication for client_id %s", log_text(client_id, 80)
        )
        raise OAuthError("invalid_client", "unknown client or wrong client secret", 401)
    return app


def _requested_scopes(app: Any, params: dict[str, Any]) -> list[str]:
    """Return the scopes of a token request, within those of the app."""
    scopes = parse_scopes(_param(params, "scope") or DEFAULT_SCOPES)
    unknown = unknown_scopes(scopes)
    if unknown:
        raise OAuthError("invalid_scope", f"unknown scopes: {' '.join(unknown)[:200]}")
    if not within(scopes, app["scopes"].split()):
        raise OAuthError(
            "invalid_scope", f"the app may request only the scopes {app['scopes']}"
        )
    return scopes


def token_json(row: Any, access_token: str) -> Response:
    """Return the successful token response (RFC 6749, section 5.1)."""
    response = jsonify(
        {
            "access_token": access_token,
            "token_type": "Bearer",
            "scope": row["scopes"],
            "created_at": int(row["created_at"].timestamp()),
        }
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


async def _authorization_code_grant(app: Any, params: dict[str, Any]) -> Response:
    code = _param(params, "code")
    if not code:
        raise OAuthError("invalid_request", "code is missing")
    runtime = runtime_of(current_app)
    async with runtime.pool.acquire() as connection, connection.transaction():
        grant, first_use = await oauth.claim_code(connection, code)
        if grant is None or grant["app_id"] != app["id"]:
            raise OAuthError("invalid_grant", "the authorization code is unknown")
        if not first_use:
            revoked = await oauth.revoke_code_token(connection, grant["code_hash"])
            log.warning(
                "authorization code of app %s for account %s used again; revoked token %s",
                app["id"],
                grant["account_id"],
                revoked,
            )
    if not first_use:
        raise OAuthError("invalid_grant", "the authorization code was used already")
    _check_code(grant, params)
    row, access_token = await oauth.create_token(
        runtime.pool,
        account_id=grant["account_id"],
        app_id=app["id"],
        scopes=grant["scopes"].split(),
        code_hash=grant["code_hash"],
    )
    log.info(
        "issued token %s to app %s for account %s by authorization code",
        row["id"],
        app["id"],
        grant["account_id"],
    )
    return token_json(row, access_token)


def _check_code(grant: Any, params: dict[str, Any]) -> None:
    """Check expiry, redirect URI and PKCE verifier of a claimed code."""
    if grant["expires_at"] <= datetime.now(UTC):
        raise OAuthError("invalid_grant", "the authorization code has expired")
    redirect_uri = _param(params, "redirect_uri")
    if (redirect_uri or grant["redirect_uri_given"]) and redirect_uri != grant[
        "redirect_uri"
    ]:
        raise OAuthError(
            "invalid_grant",
            "redirect_uri does not match the one of the authorization request",
        )
    verifier = _param(params, "code_verifier")
    challenge = grant["code_challenge"]
    if challenge is None:
        if verifier:
            # OAuth 2.1 (draft-ietf-oauth-v2-1, section 4.1.3): a verifier
            # without a challenge may be a downgrade attack.
            raise OAuthError(
                "invalid_grant",
                "code_verifier sent for a code issued without a code_challenge",
            )
        return
    if not verifier:
        raise OAuthError("invalid_grant", "code_verifier is missing")
    if not CODE_VERIFIER.fullmatch(verifier):
        raise OAuthError(
            "invalid_grant", "code_verifier must be 43 to 128 unreserved characters"
        )
    if not hmac.compare_digest(
        pkce_challenge(verifier, grant["code_challenge_method"]), challenge
    ):
        raise OAuthError(
            "invalid_grant", "code_verifier does not match the code_challenge"
        )


def pkce_challenge(verifier: str, method: str) -> str:
    """Return the code challenge of ``verifier`` for ``S256`` or ``plain`` (RFC 7636, section 4.2)."""
    if method == "plain":
        return verifier
    hashed = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(hashed).rstrip(b"=").decode("ascii")


async def _client_credentials_grant(app: Any, params: dict[str, Any]) -> Response:
    scopes = _requested_scopes(app, params)
    row, access_token = await oauth.create_token(
        runtime_of(current_app).pool, account_id=None, app_id=app["id"], scopes=scopes
    )
    log.info(
        "issued app token %s to app %s by client credentials", row["id"], app["id"]
    )
    return token_json(row, access_token)


async def _password_grant(app: Any, params: dict[str, Any]) -> Response:
    runtime = runtime_of(current_app)
    if not runtime.settings.web.allow_password_grant:
        raise OAuthError(
            "unsupported_grant_type",
            "this instance does not accept the password grant; sign in through"
            " /oauth/authorize instead",
        )
    scopes = _requested_scopes(app, params)
    username = _param(params, "username").strip().lstrip("@")
    password = _param(params, "password")
    if not username or not password:
        raise OAuthError("invalid_request", "username and password are required")
    suffix = "@" + runtime.settings.domain
    if username.lower().endswith(suffix):
        username = username[: -len(suffix)]
    account = await _check_password(runtime, app, username, password)
    row, access_token = await oauth.create_token(
        runtime.pool, account_id=account["id"], app_id=app["id"], scopes=scopes
    )
    log.info(
        "issued token %s to app %s for account %s by password",
        row["id"],
        app["id"],
        account["id"],
    )
    return token_json(row, access_token)


async def _check_password(runtime: Any, app: Any, username: str, password: str) -> Any:
    """Return the account when the password is right; raise OAuthError otherwise.

    Failures count towards the sign-in rate limits of the web interface, so
    the password grant gives a guesser no more attempts than the sign-in page.
    """
    from web.ui.accounts import _reached_limits
    from web.ui.session import client_address

    address = client_address()
    limit_address = limit_key(address)
    web = runtime.settings.web
    counts = await sessions.recent_failures(
        runtime.pool,
        username,
        limit_address,
        timedelta(seconds=web.sign_in_window),
        timedelta(seconds=web.sign_in_account_window),
    )
    if _reached_limits(web, counts):
        log.warning(
            "password grant for %s from %s by app %s rate limited",
            log_text(username, 100),
            address,
            app["id"],
        )
        raise OAuthError(
            "invalid_grant", "too many failed sign-ins, try again later", 429
        )
    account = None
    if USERNAME.fullmatch(username) and len(password) <= MAX_PASSWORD_LENGTH:
        account = await accounts.local_by_username(runtime.pool, username)
    stored = account["password_hash"] if account is not None else None
    valid = await asyncio.to_thread(check_password, stored or _dummy_hash(), password)
    if not (valid and stored is not None and account["actor_type"] == "Person"):
        await sessions.record_failure(runtime.pool, username, limit_address)
        log.info(
            "password grant failed for %s from %s by app %s",
            log_text(username, 100),
            address,
            app["id"],
        )
        raise OAuthError("invalid_grant", "the username or password is wrong")
    if account["suspended_at"] is not None or account["deleted_at"] is not None:
        log.info(
            "password grant for suspended account %s by app %s",
            account["id"],
            app["id"],
        )
        raise OAuthError("invalid_grant", "this account is suspended")
    await sessions.clear_failures(runtime.pool, username, limit_address)
    return account


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        from pedagogue.passwords import hash_password

        _DUMMY_HASH = hash_password("pedagogue-dummy-password")
    return _DUMMY_HASH


# Revocation


@blueprint.post("/oauth/revoke")
async def revoke() -> Response:
    params = await _params()
    app = await _authenticate_client(params)
    value = _param(params, "token")
    if not value:
        raise OAuthError("invalid_request", "token is missing")
    runtime = runtime_of(current_app)
    row, issued_to_app = await oauth.token_of_app(runtime.pool, value, app["id"])
    # RFC 7009, section 2.2: an unknown or already revoked token is no error.
    if row is not None and not issued_to_app:
        raise OAuthError(
            "unauthorized_client", "the token was not issued to this client", 403
        )
    if row is not None and await oauth.revoke_token(runtime.pool, row["id"]):
        log.info(
            "app %s revoked token %s of account %s",
            app["id"],
            row["id"],
            row["account_id"],
        )
    response = jsonify({})
    response.headers["Cache-Control"] = "no-store"
    return response
