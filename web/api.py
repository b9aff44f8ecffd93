"""The Mastodon client API for local actions, with bearer tokens.

Every write endpoint reads form-encoded bodies (Mastodon.py) and JSON bodies
(most other apps) alike. Errors are ``{"error": message}`` with the status
code, as Mastodon sends them. The entity shapes live in ``web.presenters``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from quart import Blueprint, Response, current_app, g, jsonify, request

from federation import strict_json
from federation.errors import FederationError
from federation.webfinger import parse_acct
from outbox.actions import ActionError, Actions, NewStatus
from storage import accounts, oauth, statuses
from web import reading
from web.app import MAX_ROW_ID, error_response, log_text, parse_id, runtime_of
from web.oauth_scopes import grants_any
from web.presenters import (
    StatusPresenter,
    accounts_json,
    credential_account_json,
    full_account_json,
    instance_v1_json,
    instance_v2_json,
    notifications_json,
    relationships_json,
    status_json,
)
from web.rate_limit import retry_after_header
from web.reading import Page, newest_first

log = logging.getLogger(__name__)

blueprint = Blueprint("api", __name__)

DEFAULT_LIMIT = 20
MAX_LIMIT = 40
# Mastodon 4.3 pages lists of accounts by 40 by default and at most 80.
DEFAULT_ACCOUNT_LIMIT = 40
MAX_ACCOUNT_LIMIT = 80
CURSORS = ("max_id", "min_id", "since_id")
# Deepest nesting of arrays and objects accepted in a JSON request body. No
# client API document nests more than a few levels.
MAX_JSON_DEPTH = 32
# Longest bearer token looked up. Issued tokens have 43 characters.
MAX_TOKEN_LENGTH = 512


def hash_token(token: str) -> bytes:
    """Return the stored form of a bearer token (SHA-256; tokens are random)."""
    return hashlib.sha256(token.encode()).digest()


# The scopes an endpoint accepts: one scope, alternatives of which any one
# suffices, or a function of the request that returns either.
Scope = str | tuple[str, ...] | Callable[[], "str | tuple[str, ...]"]


def authenticated(
    handler: Callable[..., Awaitable[Any]] | None = None,
    *,
    scope: Scope | None = None,
    optional: bool = False,
) -> Any:
    """Require a valid bearer token with ``scope`` and put its account in ``g.account``.

    Used bare (``@authenticated``) it checks no scope. Returns 401 with
    ``WWW-Authenticate`` (RFC 6750, section 3) when the token is missing,
    unknown, revoked or expired, and 403 when it lacks the scope. An app-only
    token (client credentials) gets 422, as from Mastodon 4.3's
    ``require_user!``. With ``optional``, a request without a token and one
    with an app-only token go through with ``g.account`` None, and the
    handler's ``_token_account()`` reads the checked token.
    """

    def decorate(
        view: Callable[..., Awaitable[Any]],
    ) -> Callable[..., Awaitable[Any]]:
        @wraps(view)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            rejected = await _check_token(scope, optional)
            if rejected is not None:
                return rejected
            if g.account is not None:
                limited = _write_rate_limited(g.account)
                if limited is not None:
                    return limited
            return await view(*args, **kwargs)

        return wrapper

    if handler is not None:
        return decorate(handler)
    return decorate


def required_scopes(scope: Scope) -> tuple[str, ...]:
    """Return the scopes of which a request needs one, resolving a function."""
    if callable(scope):
        scope = scope()
    return (scope,) if isinstance(scope, str) else scope


def scope_by_method(read: str, write: str) -> Callable[[], str]:
    """Return a scope function: ``read`` for GET and HEAD, ``write`` otherwise."""
    return lambda: read if request.method in ("GET", "HEAD") else write


def scope_by_path(parameter: str, scopes: dict[str, str], default: str) -> Callable[[], str]:
    """Return a scope function that picks by a path parameter, such as ``<action>``."""
    return lambda: scopes.get((request.view_args or {}).get(parameter, ""), default)


def admin_scope() -> str:
    """Return the admin scope of ``/api/v1/admin/<subject>/...`` for the method.

    GET needs ``admin:read:<subject>`` and other methods ``admin:write:<subject>``,
    each also granted by ``admin:read`` or ``admin:write``.
    """
    subject = request.path.split("/")[4]
    access = "read" if request.method in ("GET", "HEAD") else "write"
    return f"admin:{access}:{subject}"


async def _check_token(scope: Scope | None, optional: bool) -> Response | None:
    """Check the request's token; return the rejection, or None to go on."""
    header = request.headers.get("Authorization", "")
    if optional and not header:
        g.account = None
        g.token = None
        return None
    token = await _token_row()
    if token is None:
        log.info(
            "rejected %s %s: missing or invalid token",
            request.method,
            log_text(request.path),
        )
        response = error_response(401, "The access token is invalid")
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response
    if scope is not None:
        needed = required_scopes(scope)
        if not grants_any(token["token_scopes"].split(), needed):
            log.info(
                "rejected %s %s: token %s lacks scope %s",
                request.method,
                log_text(request.path),
                token["token_id"],
                " or ".join(needed),
            )
            response = error_response(403, "This action is outside the authorized scopes")
            response.headers["WWW-Authenticate"] = (
                f'Bearer error="insufficient_scope", scope="{" ".join(needed)}"'
            )
            return response
    if token["token_account_id"] is None and not optional:
        log.info(
            "rejected %s %s: app token %s has no account",
            request.method,
            log_text(request.path),
            token["token_id"],
        )
        return error_response(422, "This method requires an authenticated user")
    return None


async def _token_row() -> Any:
    """Return the live token of the request joined with its account, or None.

    Cached per request in ``g.token``; sets ``g.account`` (None for an
    app-only token).
    """
    if "token" in g:
        return g.token
    g.token = None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    runtime = runtime_of(current_app)
    row = await oauth.token_with_account(runtime.pool, token)
    if row is None:
        return None
    last_used = row["token_last_used_at"]
    if last_used is None or datetime.now(UTC) - last_used > oauth.LAST_USED_INTERVAL:
        await oauth.touch_token(runtime.pool, row["token_id"])
    g.token = row
    # Rejection log lines name the token's account on endpoints that also
    # serve anonymous readers, not only on those that require a token.
    g.account = row if row["token_account_id"] is not None else None
    return row


def _write_rate_limited(account: Any) -> Response | None:
    """Return a 429 response when ``account`` is over its write rate limit."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    wait = runtime_of(current_app).api_write_rate.take(str(account["id"]))
    if wait is None:
        return None
    log.info(
        "rejected %s %s by account %s: write rate limit exhausted",
        request.method,
        log_text(request.path),
        account["id"],
    )
    response = error_response(429, "Too many requests, retry later")
    response.headers["Retry-After"] = retry_after_header(wait)
    return response


async def _token_account() -> Any:
    """Return the account of the request's bearer token, or None.

    None stands for no token, an invalid one and an app-only token alike, so
    a route that also serves anonymous readers treats them all as anonymous.
    """
    row = await _token_row()
    if row is None or row["token_account_id"] is None:
        return None
    return row


async def _params() -> dict[str, Any]:
    """Merge query, form and JSON parameters. Array parameters arrive as ``name[]``.

    Raises FederationError(400) for a body that is not UTF-8, a JSON body that
    does not parse, nests too deep or is not an object, and a string with an
    unpaired surrogate. Raises ActionError(422) for a string containing NUL.
    """
    merged: dict[str, Any] = dict(request.args)
    if request.mimetype == "application/json":
        merged.update(_json_object(await request.get_data()))
    elif request.mimetype == "application/x-www-form-urlencoded":
        merged.update(_form_pairs(await request.get_data()))
    else:
        form = await request.form
        for key in form:
            values = form.getlist(key)
            merged[key] = values if key.endswith("[]") else values[-1]
    _check_text(merged)
    return merged


def _json_object(body: bytes) -> dict[str, Any]:
    """Parse a JSON request body into an object; raise FederationError(400) if bad.

    RFC 8259 section 8.1 requires UTF-8, so another charset is rejected
    rather than guessed.
    """
    if not body:
        return {}
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise FederationError(400, "request body is not UTF-8") from None
    try:
        data = strict_json.loads(text)
    except strict_json.NonFiniteNumber as error:
        raise FederationError(
            400, f"request body is not valid JSON: {error.token} is not a finite number"
        ) from None
    except RecursionError:
        # The decoder recurses per nesting level, so a body of brackets reaches
        # the interpreter's limit well inside the size cap.
        raise FederationError(
            400, f"request body nests deeper than {MAX_JSON_DEPTH} levels"
        ) from None
    except ValueError:
        raise FederationError(400, "request body is not valid JSON") from None
    if data is None:
        # A JSON null carries no parameters, as an empty body carries none.
        return {}
    if not isinstance(data, dict):
        raise FederationError(400, "request body must be a JSON object")
    if _depth(data) > MAX_JSON_DEPTH:
        raise FederationError(
            400, f"request body nests deeper than {MAX_JSON_DEPTH} levels"
        )
    return data


def _depth(document: Any) -> int:
    deepest = 0
    pending = [(document, 1)]
    while pending:
        value, level = pending.pop()
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, list):
            deepest = max(deepest, level)
            if level <= MAX_JSON_DEPTH:
                pending.extend((item, level + 1) for item in value)
    return deepest


def _form_pairs(body: bytes) -> dict[str, Any]:
    """Parse a form-encoded body; raise FederationError(400) unless it is UTF-8."""
    try:
        pairs = parse_qsl(
            body.decode("ascii"),
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
        )
    except UnicodeDecodeError:
        raise FederationError(400, "form body is not UTF-8") from None
    merged: dict[str, Any] = {}
    for key, value in pairs:
        if key.endswith("[]"):
            merged.setdefault(key, []).append(value)
        else:
            merged[key] = value
    return merged


def _check_text(params: dict[str, Any]) -> None:
    """Reject text PostgreSQL cannot store: NUL (422) and unpaired surrogates (400)."""
    pending: list[tuple[str, Any]] = list(params.items())
    while pending:
        name, value = pending.pop()
        if isinstance(value, dict):
            pending.extend((name, item) for item in value)
            pending.extend((name, item) for item in value.values())
        elif isinstance(value, list):
            pending.extend((name, item) for item in value)
        elif isinstance(value, str):
            if "\x00" in value or "\x00" in name:
                raise ActionError(
                    422, f"Validation failed: {name[:40]} contains a NUL character"
                )
            try:
                value.encode("utf-8")
                name.encode("utf-8")
            except UnicodeEncodeError:
                raise FederationError(
                    400, f"{name[:40]!r} contains an unpaired UTF-16 surrogate"
                ) from None


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _int_param(params: dict[str, Any], name: str) -> int | None:
    """Return an id, cursor or count parameter as an int.

    Raises FederationError(400) unless the value is a JSON integer or a
    string of ASCII digits within bigint, so ``1.9`` is rejected, not truncated.
    """
    value = params.get(name)
    if value in (None, ""):
        return None
    number = _id_value(value)
    if number is None or number > MAX_ROW_ID:
        raise FederationError(
            400, f"{name} must be a number up to {MAX_ROW_ID}, not {str(value)[:40]!r}"
        )
    return number


def row_id(value: Any) -> int | None:
    """Return a row id sent as a JSON integer or a string of digits within
    bigint, else None. JSON clients send ids either way."""
    number = _id_value(value)
    return number if number is not None and number <= MAX_ROW_ID else None


def _id_value(value: Any) -> int | None:
    # bool is an int subclass, but ``true`` is no id.
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def _json(document: Any, status: int = 200, link: str | None = None) -> Response:
    response = jsonify(document)
    response.status_code = status
    if link:
        response.headers["Link"] = link
    return response


def _rejected(status: int, message: str) -> Response:
    account = g.get("account")
    log.info(
        "rejected %s %s from account %s: %s %s",
        request.method,
        log_text(request.path),
        account["id"] if account is not None else None,
        status,
        log_text(message),
    )
    return error_response(status, message)


async def _action_error(error: ActionError) -> Response:
    return _rejected(error.status, error.message)


async def _federation_error(error: FederationError) -> Response:
    return _rejected(error.status, error.message)


blueprint.register_error_handler(ActionError, _action_error)
blueprint.register_error_handler(FederationError, _federation_error)


# Pagination


def _page(
    params: dict[str, Any],
    default_limit: int = DEFAULT_LIMIT,
    max_limit: int = MAX_LIMIT,
) -> Page:
    min_id = _int_param(params, "min_id")
    limit = _int_param(params, "limit") or default_limit
    return Page(
        max_id=_int_param(params, "max_id"),
        after_id=min_id if min_id is not None else _int_param(params, "since_id"),
        ascending=min_id is not None,
        limit=max(1, min(limit, max_limit)),
    )


def _account_page(params: dict[str, Any]) -> Page:
    """Return the page request of a list of accounts, with its larger limits."""
    return _page(params, DEFAULT_ACCOUNT_LIMIT, MAX_ACCOUNT_LIMIT)


def _link_header(ids: list[int], page: Page) -> str | None:
    """Build Mastodon's Link header: ``next`` with max_id, ``prev`` with min_id.

    ``next`` is left out when the page came back short, so clients stop there.
    """
    if not ids:
        return None
    query = [(k, v) for k, v in request.args.items(multi=True) if k not in CURSORS]
    # The public URL, not the request's, because a TLS-terminating proxy in
    # front of the server would otherwise turn the links into plain http.
    base = runtime_of(current_app).settings.base_url + request.path
    links = []
    if len(ids) >= page.limit:
        links.append(
            f'<{base}?{urlencode([*query, ("max_id", min(ids))])}>; rel="next"'
        )
    links.append(f'<{base}?{urlencode([*query, ("min_id", max(ids))])}>; rel="prev"')
    return ", ".join(links)


async def _status_page(
    runtime: Any,
    viewer: Any,
    rows: list[Any],
    page: Page,
    db: Any | None = None,
    filter_context: str | None = None,
) -> Response:
    rows = newest_first(rows)
    rendered = await StatusPresenter(runtime, viewer, db, filter_context).render(rows)
    return _json(rendered, link=_link_header([row["id"] for row in rows], page))


# Instance


@blueprint.get("/api/v1/instance")
async def instance_v1() -> Response:
    runtime = runtime_of(current_app)
    stats = {
        "user_count": await accounts.count_local_users(runtime.pool),
        "status_count": await statuses.count_local(runtime.pool),
        "domain_count": await runtime.pool.fetchval(
            "SELECT count(DISTINCT domain) FROM accounts WHERE domain IS NOT NULL"
        ),
    }
    from web.api_moderation import rules_json

    contact = await _contact_account(runtime)
    document = instance_v1_json(runtime.settings, stats, contact)
    document["rules"] = await rules_json(runtime)
    return _json(document)


@blueprint.get("/api/v2/instance")
async def instance_v2() -> Response:
    runtime = runtime_of(current_app)
    users = await runtime.pool.fetchval(_ACTIVE_MONTH_QUERY)
    from web.api_moderation import rules_json

    contact = await _contact_account(runtime)
    document = instance_v2_json(runtime.settings, users, contact)
    document["rules"] = await rules_json(runtime)
    return _json(document)


# Local teachers active in the last 30 days: signed in to the web interface,
# used an API token or posted. A token's last use is written at most every few
# minutes, which is precise enough for a monthly count.
_ACTIVE_MONTH_QUERY = (
    "SELECT count(*) FROM accounts a WHERE a.domain IS NULL"
    " AND a.actor_type = 'Person' AND a.deleted_at IS NULL"
    " AND a.suspended_at IS NULL AND ("
    " EXISTS (SELECT 1 FROM web_sessions w WHERE w.account_id = a.id"
    "  AND w.last_seen_at > now() - interval '30 days')"
    " OR EXISTS (SELECT 1 FROM tokens t WHERE t.account_id = a.id"
    "  AND t.last_used_at > now() - interval '30 days')"
    " OR EXISTS (SELECT 1 FROM statuses s WHERE s.account_id = a.id"
    "  AND s.created_at > now() - interval '30 days'))"
)


async def _contact_account(runtime: Any) -> dict[str, Any] | None:
    """Return the Account entity of the first admin, whom Mastodon apps show
    as the instance's contact, or None on an instance without one."""
    row = await runtime.pool.fetchrow(
        "SELECT * FROM accounts WHERE domain IS NULL AND is_admin"
        " AND deleted_at IS NULL AND suspended_at IS NULL ORDER BY id LIMIT 1"
    )
    return None if row is None else await full_account_json(runtime, row)


# Accounts


async def _account_param(account_id: str) -> Any:
    number = parse_id(account_id)
    if number is None:
        raise FederationError(404, "Record not found")
    row = await accounts.by_id(runtime_of(current_app).pool, number)
    if (
        row is None
        or row["deleted_at"] is not None
        or row["actor_type"] == "Application"
    ):
        raise FederationError(404, "Record not found")
    return row


@blueprint.get("/api/v1/accounts/verify_credentials")
@authenticated(scope=("profile", "read:accounts"))
async def verify_credentials() -> Response:
    return _json(await credential_account_json(runtime_of(current_app), g.account))


@blueprint.get("/api/v1/accounts/lookup")
@authenticated(scope="read:accounts", optional=True)
async def lookup_account() -> Response:
    runtime = runtime_of(current_app)
    acct_value = request.args.get("acct", "").strip()
    if not acct_value:
        raise FederationError(400, "acct parameter is missing")
    if "\x00" in acct_value:
        raise FederationError(400, "acct parameter contains a NUL character")
    handle = acct_value.lstrip("@")
    if not handle:
        raise FederationError(
            400, f"acct must be user or user@domain, not {acct_value[:100]!r}"
        )
    domain: str | None = None
    username = handle
    if "@" in handle:
        try:
            username, domain = parse_acct(handle)
        except FederationError:
            raise FederationError(
                400, f"acct must be user or user@domain, not {handle[:100]!r}"
            ) from None
        if domain == runtime.settings.domain:
            domain = None
    row = await accounts.by_handle(runtime.pool, username, domain)
    if row is None or row["actor_type"] == "Application":
        raise FederationError(404, "Record not found")
    return _json(await full_account_json(runtime, row))


@blueprint.get("/api/v1/accounts/relationships")
@authenticated(scope="read:follows")
async def relationships() -> Response:
    values = request.args.getlist("id[]") or request.args.getlist("id")
    ids = [number for value in values if (number := parse_id(value)) is not None]
    return _json(await relationships_json(runtime_of(current_app), g.account, ids))


async def _relationship(runtime: Any, viewer: Any, target_id: int) -> dict[str, Any]:
    return (await relationships_json(runtime, viewer, [target_id]))[0]


@blueprint.get("/api/v1/accounts/<account_id>")
@authenticated(scope="read:accounts", optional=True)
async def get_account(account_id: str) -> Response:
    row = await _account_param(account_id)
    return _json(await full_account_json(runtime_of(current_app), row))


@blueprint.get("/api/v1/accounts/<account_id>/statuses")
@authenticated(scope="read:statuses", optional=True)
async def account_statuses(account_id: str) -> Response:
    row = await _account_param(account_id)
    runtime = runtime_of(current_app)
    viewer = await _token_account()
    params = dict(request.args)
    page = _page(params)
    if _flag(params.get("pinned", "false")):
        from web.api_statuses import pinned_page

        # Pinned statuses come as one unpaged list, as from Mastodon.
        if page.max_id is not None or page.after_id is not None:
            return _json([])
        return _json(await pinned_page(runtime, row["id"], viewer))
    only_media = _flag(params.get("only_media", "false"))
    tagged = (params.get("tagged") or "").lstrip("#").strip().lower() or None
    if only_media or tagged:
        rows = await _filtered_account_rows(runtime, row["id"], page, viewer, only_media, tagged, params)
    else:
        rows = await reading.account_rows(
            runtime.pool,
            row["id"],
            page,
            exclude_replies=_flag(params.get("exclude_replies", "false")),
            exclude_reblogs=_flag(params.get("exclude_reblogs", "false")),
            viewer=viewer,
        )
    return await _status_page(runtime, viewer, list(rows), page, None, "account")


async def _filtered_account_rows(
    runtime: Any,
    account_id: int,
    page: Page,
    viewer: Any,
    only_media: bool,
    tagged: str | None,
    params: dict[str, Any],
) -> list[Any]:
    """Return a page of an account's own posts with media or with a hashtag.

    Boosts never match either filter, as in Mastodon.
    """
    order = "ASC" if page.ascending else "DESC"
    return list(
        await runtime.pool.fetch(
            "SELECT s.* FROM statuses s WHERE s.account_id = $1 AND s.deleted_at IS NULL"
            " AND s.reblog_of_id IS NULL"
            " AND s.visibility <> 'direct' AND status_visible(s, $2::bigint)"
            " AND ($3::bigint IS NULL OR s.id < $3) AND ($4::bigint IS NULL OR s.id > $4)"
            " AND (NOT $5::boolean OR EXISTS (SELECT 1 FROM media_attachments m"
            "  WHERE m.status_id = s.id))"
            " AND ($6::text IS NULL OR EXISTS (SELECT 1 FROM status_tags t"
            "  WHERE t.status_id = s.id AND t.name = $6))"
            " AND (NOT $7::boolean OR s.in_reply_to_id IS NULL"
            "  OR s.in_reply_to_account_id = s.account_id)"
            f" ORDER BY s.id {order} LIMIT $8",
            account_id,
            viewer["id"] if viewer is not None else None,
            page.max_id,
            page.after_id,
            only_media,
            tagged,
            _flag(params.get("exclude_replies", "false")),
            page.limit,
        )
    )


@blueprint.post("/api/v1/accounts/<account_id>/follow")
@authenticated(scope="write:follows")
async def follow(account_id: str) -> Response:
    from web.api_accounts import follow_options

    target = await _account_param(account_id)
    runtime = runtime_of(current_app)
    params = await _params()
    await Actions(runtime).follow(g.account, target)
    await follow_options(runtime, g.account, target, params)
    return _json(await _relationship(runtime, g.account, target["id"]))


@blueprint.post("/api/v1/accounts/<account_id>/unfollow")
@authenticated(scope="write:follows")
async def unfollow(account_id: str) -> Response:
    target = await _account_param(account_id)
    runtime = runtime_of(current_app)
    await Actions(runtime).unfollow(g.account, target)
    return _json(await _relationship(runtime, g.account, target["id"]))


@blueprint.get("/api/v1/follow_requests")
@authenticated(scope="read:follows")
async def follow_requests() -> Response:
    runtime = runtime_of(current_app)
    page = _account_page(dict(request.args))
    rows = await runtime.pool.fetch(
        "SELECT a.*, f.id AS follow_id FROM follows f JOIN accounts a ON a.id = f.account_id"
        " WHERE f.target_account_id = $1 AND NOT f.accepted AND a.deleted_at IS NULL"
        " AND ($2::bigint IS NULL OR f.id < $2) AND ($3::bigint IS NULL OR f.id > $3)"
        f" ORDER BY f.id {page.order} LIMIT $4",
        g.account["id"],
        page.max_id,
        page.after_id,
        page.limit,
    )
    rows = sorted(rows, key=lambda r: r["follow_id"], reverse=True)
    link = _link_header([r["follow_id"] for r in rows], page)
    return _json(await accounts_json(runtime, list(rows)), link=link)


@blueprint.post("/api/v1/follow_requests/<account_id>/<decision>")
@authenticated(scope="write:follows")
async def answer_follow_request(account_id: str, decision: str) -> Response:
    if decision not in ("authorize", "reject"):
        raise FederationError(404, "Record not found")
    follower = await _account_param(account_id)
    runtime = runtime_of(current_app)
    await Actions(runtime).answer_follow_request(
        g.account, follower, decision == "authorize"
    )
    return _json(await _relationship(runtime, g.account, follower["id"]))


# Search


@blueprint.get("/api/v2/search")
@authenticated(scope="read:search")
async def search() -> Response:
    runtime = runtime_of(current_app)
    query = request.args.get("q", "").strip()
    if "\x00" in query:
        raise FederationError(400, "q contains a NUL character")
    kind = request.args.get("type") or None
    resolve = _flag(request.args.get("resolve", "false"))
    # Pedagogue adds "events": public events whose name matches, in the shape
    # of /api/pedagogue/v1/events; Mastodon's own keys keep their shape.
    result: dict[str, list[Any]] = {
        "accounts": [],
        "statuses": [],
        "hashtags": [],
        "events": [],
    }
    if kind not in (None, "accounts", "statuses", "hashtags", "events"):
        raise FederationError(
            400, f"type must be accounts, statuses, hashtags or events, not {kind!r}"
        )
    if not query:
        return _json(result)
    is_url = query.startswith(("https://", "http://"))
    if kind in (None, "accounts"):
        limit, offset = _search_window(dict(request.args), DEFAULT_LIMIT, MAX_LIMIT)
        rows = await _search_accounts(runtime, query, resolve, limit, offset)
        result["accounts"] = await accounts_json(runtime, rows)
    if kind in (None, "statuses", "events") and is_url:
        # A URL that named an actor names no post, plan or event, so it is not
        # fetched a second time as one.
        fetch = resolve and not result["accounts"]
        row = await _status_by_url(runtime, query, fetch)
        if (
            row is not None
            and row["deleted_at"] is None
            and await _can_see(row, g.account)
        ):
            if kind in (None, "statuses"):
                result["statuses"] = [await status_json(runtime, row, g.account)]
            if kind in (None, "events") and row["object_type"] == "Event":
                result["events"] = await _event_by_status(runtime, row)
    if kind in (None, "events") and not is_url:
        from web.api_events import search_json

        params = dict(request.args)
        result["events"] = await search_json(
            runtime,
            query,
            g.account,
            limit=_int_param(params, "limit") or DEFAULT_LIMIT,
            offset=_int_param(params, "offset") or 0,
        )
    return _json(result)


@blueprint.get("/api/v1/accounts/search")
@authenticated(scope="read:accounts")
async def search_accounts() -> Response:
    """Find accounts, groups among them, as ``/api/v2/search`` with
    ``type=accounts`` does; Mastodon.py's ``account_search`` calls this."""
    runtime = runtime_of(current_app)
    query = request.args.get("q", "").strip()
    if not query:
        raise FederationError(400, "q parameter is missing")
    if "\x00" in query:
        raise FederationError(400, "q contains a NUL character")
    resolve = _flag(request.args.get("resolve", "false"))
    limit, offset = _search_window(
        dict(request.args), DEFAULT_ACCOUNT_LIMIT, MAX_ACCOUNT_LIMIT
    )
    rows = await _search_accounts(runtime, query, resolve, limit, offset)
    return _json(await accounts_json(runtime, rows))


def _search_window(
    params: dict[str, Any], default_limit: int, max_limit: int
) -> tuple[int, int]:
    """Return the ``limit`` and ``offset`` of a search, with the limit clamped.

    Search results have no ids to page by, so clients page with ``offset``.
    """
    limit = max(1, min(_int_param(params, "limit") or default_limit, max_limit))
    offset = max(0, _int_param(params, "offset") or 0)
    return limit, offset


async def _status_by_url(runtime: Any, url: str, resolve: bool) -> Any:
    """Return the stored status of a post, lesson plan or event URL; with
    ``resolve``, fetch and store a remote one that is not stored yet."""
    row = await statuses.by_uri(runtime.pool, url)
    if row is not None or not resolve or runtime.urls.is_local(url):
        return row
    try:
        return await runtime.resolver.fetch_object(url, g.account)
    except FederationError as error:
        log.info(
            "search by account %s could not resolve object %s: %s (%s)",
            g.account["id"],
            log_text(url),
            log_text(error.message),
            log_text(str(error.cause)),
        )
        return None


async def _event_by_status(runtime: Any, status: Any) -> list[dict[str, Any]]:
    from storage import events as event_store
    from web.api_events import events_json

    event = await event_store.by_status_id(runtime.pool, status["id"])
    if event is None:
        return []
    return await events_json(runtime, [event], g.account)


async def _search_accounts(
    runtime: Any, query: str, resolve: bool, limit: int, offset: int
) -> list[Any]:
    handle = query.lstrip("@")
    # A profile URL such as https://host/@user contains an "@" too, so URLs are
    # checked before handles.
    if query.startswith(("https://", "http://")):
        row = await _account_by_url(runtime, query, resolve)
    elif "@" in handle:
        row = await _account_by_handle(runtime, handle, resolve)
    else:
        rows = await runtime.pool.fetch(
            "SELECT * FROM accounts WHERE deleted_at IS NULL"
            " AND actor_type <> 'Application'"
            " AND (username ILIKE $1 OR display_name ILIKE $1)"
            # The id breaks ties, so that pages of the same query never overlap.
            " ORDER BY domain NULLS FIRST, id LIMIT $2 OFFSET $3",
            f"%{query.replace('%', '').replace('_', '')}%",
            limit,
            offset,
        )
        return list(rows)
    if (
        row is None
        or row["deleted_at"] is not None
        or row["actor_type"] == "Application"
        or offset > 0
    ):
        return []
    return [row]


async def _account_by_handle(runtime: Any, handle: str, resolve: bool) -> Any:
    return await reading.account_by_handle(runtime, handle, resolve)


async def _account_by_url(runtime: Any, url: str, resolve: bool) -> Any:
    if runtime.urls.is_local(url):
        return await _local_account_by_url(runtime, url)
    row = await accounts.by_actor_id(runtime.pool, url)
    # NOTE: a remote profile page URL that differs from the actor id is found
    # only with resolve=true, because accounts.url has no index to look it up.
    if row is not None or not resolve:
        return row
    try:
        return await runtime.resolver.actor(url)
    except FederationError as error:
        log.info(
            "search could not resolve %s: %s (%s)",
            log_text(url),
            log_text(error.message),
            log_text(error.cause),
        )
        return None


async def _local_account_by_url(runtime: Any, url: str) -> Any:
    """Find the local account of a profile URL (``/@user``) or actor id (``/users/user``)."""
    path = urlsplit(url).path.rstrip("/")
    for prefix in ("/users/", "/@"):
        name = path[len(prefix) :] if path.startswith(prefix) else ""
        if name and "/" not in name:
            return await accounts.local_by_username(runtime.pool, name)
    return None


# Statuses


async def _status_param(status_id: str, viewer: Any | None) -> Any:
    number = parse_id(status_id)
    if number is None:
        raise FederationError(404, "Record not found")
    row = await statuses.by_id(runtime_of(current_app).pool, number)
    if row is None or row["deleted_at"] is not None:
        raise FederationError(404, "Record not found")
    if not await _can_see(row, viewer):
        raise FederationError(404, "Record not found")
    return row


async def _can_see(row: Any, viewer: Any | None) -> bool:
    return await reading.can_see(runtime_of(current_app).pool, row, viewer)


def _new_status(params: dict[str, Any], account: Any | None = None) -> NewStatus:
    """Build the NewStatus of ``POST /api/v1/statuses``.

    Visibility, language and, for a status with media, the sensitive flag
    default to the account's posting defaults. Raises ActionError(422) for a
    missing or mistyped field and FederationError(400) for an
    ``in_reply_to_id`` that is not a number.
    """
    from web.api_media import media_ids_param

    media_ids = media_ids_param(params)
    text = params.get("status")
    if media_ids and text in (None, ""):
        text = ""
    elif text is None or (isinstance(text, str) and not text.strip()):
        raise ActionError(422, "Validation failed: Text can't be blank")
    if not isinstance(text, str):
        raise ActionError(422, "Validation failed: status must be a string")
    spoiler_text = params.get("spoiler_text") or ""
    if not isinstance(spoiler_text, str):
        raise ActionError(422, "Validation failed: spoiler_text must be a string")
    defaults = _posting_defaults(account)
    language = params.get("language") or defaults["default_language"]
    if language is not None and (not isinstance(language, str) or len(language) > 16):
        raise ActionError(
            422, f"Validation failed: invalid language {str(language)[:40]!r}"
        )
    sensitive = params.get("sensitive")
    if sensitive in (None, ""):
        sensitive = bool(media_ids) and defaults["default_sensitive"]
    visibility = _visibility_param(params, defaults["default_visibility"])
    return NewStatus(
        text=text,
        visibility=visibility,
        spoiler_text=spoiler_text,
        sensitive=_flag(sensitive),
        language=language,
        in_reply_to_id=_reply_to_id(params),
        group_id=_group_id(params),
        media_ids=media_ids,
    )


def _visibility_param(params: dict[str, Any], default: str) -> str:
    """Return the visibility of a new status.

    Clients written for glitch-soc and Hometown send ``local_only: true`` for
    a post that stays on this instance, which is visibility ``local`` here.
    Raises ActionError(422) when local_only comes with a visibility that
    names other readers (private, direct, group).
    """
    requested = params.get("visibility")
    visibility = str(requested or default)
    if params.get("local_only") in (None, "") or not _flag(params["local_only"]):
        return visibility
    if not requested or visibility in ("public", "unlisted", "local"):
        return "local"
    raise ActionError(
        422,
        f"Validation failed: local_only cannot be combined with visibility"
        f" {visibility[:20]!r}; use public, unlisted or local",
    )


def _posting_defaults(account: Any | None) -> Any:
    if account is None:
        return {
            "default_visibility": "public",
            "default_language": None,
            "default_sensitive": False,
        }
    return account


def _group_id(params: dict[str, Any]) -> int | None:
    """Return ``group_id``, the group of a ``visibility=group`` status.

    Raises ActionError(422) for a value that is not an account id.
    """
    value = params.get("group_id")
    if value in (None, ""):
        return None
    number = _id_value(value)
    if number is None or number > MAX_ROW_ID:
        raise ActionError(
            422, f"Validation failed: group_id must be a group's id, not {str(value)[:40]!r}"
        )
    return number


def _reply_to_id(params: dict[str, Any]) -> int | None:
    """Return ``in_reply_to_id``; raise FederationError(400) for a non-integer.

    An integer beyond bigint is well formed but names no status, so it raises
    FederationError(404) as an unknown id does.
    """
    value = params.get("in_reply_to_id")
    if value in (None, ""):
        return None
    number = _id_value(value)
    if number is None:
        raise FederationError(
            400, f"in_reply_to_id must be a status id, not {str(value)[:40]!r}"
        )
    if number > MAX_ROW_ID:
        raise FederationError(404, "Record not found")
    return number


@blueprint.post("/api/v1/statuses")
@authenticated(scope="write:statuses")
async def create_status() -> Response:
    # Imported here because web.api_statuses builds on this module.
    from web.api_statuses import create_status_response

    return await create_status_response()


@blueprint.get("/api/v1/statuses/<status_id>")
@authenticated(scope="read:statuses", optional=True)
async def get_status(status_id: str) -> Response:
    viewer = await _token_account()
    row = await _status_param(status_id, viewer)
    return _json(await status_json(runtime_of(current_app), row, viewer))


@blueprint.delete("/api/v1/statuses/<status_id>")
@authenticated(scope="write:statuses")
async def delete_status(status_id: str) -> Response:
    runtime = runtime_of(current_app)
    row = await _status_param(status_id, g.account)
    if row["account_id"] != g.account["id"]:
        return _rejected(403, "This action is not allowed")
    document = await status_json(runtime, row, g.account)
    # Mastodon returns the source text of a deleted status so a client can
    # offer to redraft it.
    document["text"] = row["source_text"]
    await Actions(runtime).delete_status(g.account, row)
    return _json(document)


@blueprint.get("/api/v1/statuses/<status_id>/context")
@authenticated(scope="read:statuses", optional=True)
async def status_context(status_id: str) -> Response:
    viewer = await _token_account()
    row = await _status_param(status_id, viewer)
    runtime = runtime_of(current_app)
    ancestors, descendants = await reading.thread_context(runtime.pool, row, viewer)
    return _json(
        {
            "ancestors": await StatusPresenter(runtime, viewer, None, "thread").render(
                ancestors
            ),
            "descendants": await StatusPresenter(
                runtime, viewer, None, "thread"
            ).render(descendants),
        }
    )


@blueprint.get("/api/v1/statuses/<status_id>/favourited_by")
@authenticated(scope="read:accounts", optional=True)
async def favourited_by(status_id: str) -> Response:
    viewer = await _token_account()
    row = await _status_param(status_id, viewer)
    runtime = runtime_of(current_app)
    page = _account_page(dict(request.args))
    rows = await runtime.pool.fetch(
        "SELECT a.*, f.id AS favourite_id FROM favourites f"
        " JOIN accounts a ON a.id = f.account_id"
        " WHERE f.status_id = $1 AND a.deleted_at IS NULL"
        " AND ($2::bigint IS NULL OR f.id < $2) AND ($3::bigint IS NULL OR f.id > $3)"
        f" ORDER BY f.id {page.order} LIMIT $4",
        row["id"],
        page.max_id,
        page.after_id,
        page.limit,
    )
    rows = sorted(rows, key=lambda r: r["favourite_id"], reverse=True)
    link = _link_header([r["favourite_id"] for r in rows], page)
    return _json(await accounts_json(runtime, list(rows)), link=link)


@blueprint.get("/api/v1/statuses/<status_id>/reblogged_by")
@authenticated(scope="read:accounts", optional=True)
async def reblogged_by(status_id: str) -> Response:
    viewer = await _token_account()
    row = await _status_param(status_id, viewer)
    runtime = runtime_of(current_app)
    page = _account_page(dict(request.args))
    rows = await runtime.pool.fetch(
        "SELECT a.*, s.id AS reblog_id FROM statuses s"
        " JOIN accounts a ON a.id = s.account_id"
        " WHERE s.reblog_of_id = $1 AND s.deleted_at IS NULL AND a.deleted_at IS NULL"
        " AND ($2::bigint IS NULL OR s.id < $2) AND ($3::bigint IS NULL OR s.id > $3)"
        f" ORDER BY s.id {page.order} LIMIT $4",
        row["id"],
        page.max_id,
        page.after_id,
        page.limit,
    )
    rows = sorted(rows, key=lambda r: r["reblog_id"], reverse=True)
    link = _link_header([r["reblog_id"] for r in rows], page)
    return _json(await accounts_json(runtime, list(rows)), link=link)


STATUS_ACTIONS = ("favourite", "unfavourite", "reblog", "unreblog")
STATUS_ACTION_SCOPE = scope_by_path(
    "action",
    {"favourite": "write:favourites", "unfavourite": "write:favourites"},
    "write:statuses",
)


@blueprint.post("/api/v1/statuses/<status_id>/<action>")
@authenticated(scope=STATUS_ACTION_SCOPE)
async def status_action(status_id: str, action: str) -> Response:
    if action not in STATUS_ACTIONS:
        raise FederationError(404, "Record not found")
    runtime = runtime_of(current_app)
    row = await _status_param(status_id, g.account)
    if row["reblog_of_id"] is not None:
        # Mastodon applies these actions to the boosted status, not to the boost.
        row = await _status_param(str(row["reblog_of_id"]), g.account)
    actions = Actions(runtime)
    if action == "reblog":
        reblog = await actions.reblog(g.account, row)
        return _json(await status_json(runtime, reblog, g.account))
    if action == "favourite":
        await actions.favourite(g.account, row)
    elif action == "unfavourite":
        await actions.unfavourite(g.account, row)
    else:
        await actions.unreblog(g.account, row)
    row = await statuses.by_id(runtime.pool, row["id"])
    return _json(await status_json(runtime, row, g.account))


# Timelines and notifications


@blueprint.get("/api/v1/timelines/home")
@authenticated(scope="read:statuses")
async def home_timeline() -> Response:
    runtime = runtime_of(current_app)
    page = _page(dict(request.args))
    # The page and everything rendered with it are read on one connection.
    async with runtime.pool.acquire() as db:
        rows = await reading.home_rows(db, g.account["id"], page)
        return await _status_page(runtime, g.account, rows, page, db, "home")


@blueprint.get("/api/v1/timelines/public")
@authenticated(scope="read:statuses", optional=True)
async def public_timeline() -> Response:
    runtime = runtime_of(current_app)
    params = dict(request.args)
    page = _page(params)
    viewer = await _token_account()
    async with runtime.pool.acquire() as db:
        rows = await reading.public_rows(
            db,
            page,
            local=_flag(params.get("local", "false")),
            remote=_flag(params.get("remote", "false")),
            viewer=viewer,
        )
        return await _status_page(runtime, viewer, rows, page, db, "public")


@blueprint.get("/api/v1/notifications")
@authenticated(scope="read:notifications")
async def notifications() -> Response:
    runtime = runtime_of(current_app)
    page = _page(dict(request.args))
    types = request.args.getlist("types[]") or request.args.getlist("types") or None
    excluded = request.args.getlist("exclude_types[]") or request.args.getlist(
        "exclude_types"
    )
    from_account_id = _int_param(dict(request.args), "account_id")
    rows = await reading.notification_rows(
        runtime.pool, g.account["id"], page, types, excluded, from_account_id
    )
    rendered = await notifications_json(runtime, g.account, rows)
    return _json(rendered, link=_link_header([row["id"] for row in rows], page))
