"""The Mastodon client API for local actions, with bearer tokens.

Every write endpoint reads form-encoded bodies (Mastodon.py) and JSON bodies
(toot and most apps) alike.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from quart import Blueprint, Response, current_app, g, jsonify, request

from federation.errors import FederationError
from federation.webfinger import parse_acct
from outbox.actions import ActionError, Actions, NewStatus
from pedagogue import MASTODON_COMPAT_VERSION, __version__
from storage import accounts, statuses
from web.app import error_response, runtime_of
from web.presenters import StatusPresenter, account_json, full_account_json, status_json

log = logging.getLogger(__name__)

blueprint = Blueprint("api", __name__)

DEFAULT_LIMIT = 20
MAX_LIMIT = 40


def hash_token(token: str) -> bytes:
    """Return the stored form of a bearer token (SHA-256; tokens are random)."""
    return hashlib.sha256(token.encode()).digest()


def authenticated(handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Require a valid bearer token and put its account in ``g.account``."""

    @wraps(handler)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        account = await _token_account()
        if account is None:
            return error_response(401, "The access token is invalid")
        g.account = account
        return await handler(*args, **kwargs)

    return wrapper


async def _token_account() -> Any:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    runtime = runtime_of(current_app)
    return await runtime.pool.fetchrow(
        "SELECT a.* FROM tokens t JOIN accounts a ON a.id = t.account_id"
        " WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND a.deleted_at IS NULL",
        hash_token(token.strip()),
    )


async def _params() -> dict[str, Any]:
    """Merge query, form and JSON parameters; arrays arrive as ``name[]``."""
    merged: dict[str, Any] = dict(request.args)
    if request.mimetype == "application/json":
        data = await request.get_json(silent=True)
        if data is None and await request.get_data():
            raise FederationError(400, "request body is not valid JSON")
        if isinstance(data, dict):
            merged.update(data)
    else:
        form = await request.form
        for key in form:
            values = form.getlist(key)
            merged[key] = values if key.endswith("[]") else values[-1]
    return merged


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _int_param(params: dict[str, Any], name: str) -> int | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise FederationError(400, f"{name} must be a number")


def _limit(params: dict[str, Any]) -> int:
    limit = _int_param(params, "limit") or DEFAULT_LIMIT
    return max(1, min(limit, MAX_LIMIT))


def _link_header(ids: list[int], params: dict[str, Any]) -> str | None:
    """Build Mastodon's Link header: ``next`` with max_id, ``prev`` with min_id."""
    if not ids:
        return None
    base = request.base_url
    keep = {k: v for k, v in params.items() if k not in ("max_id", "min_id", "since_id") and isinstance(v, str)}
    next_url = f"{base}?{urlencode({**keep, 'max_id': min(ids)})}"
    prev_url = f"{base}?{urlencode({**keep, 'min_id': max(ids)})}"
    return f'<{next_url}>; rel="next", <{prev_url}>; rel="prev"'


def _json(document: Any, status: int = 200, link: str | None = None) -> Response:
    response = jsonify(document)
    response.status_code = status
    if link:
        response.headers["Link"] = link
    return response


def _action_error(error: ActionError) -> Response:
    return error_response(error.status, error.message)


blueprint.register_error_handler(ActionError, _action_error)


# Instance


def _instance_v1(runtime: Any) -> dict[str, Any]:
    settings = runtime.settings
    return {
        "uri": settings.domain,
        "title": settings.instance.name,
        "short_description": settings.instance.description,
        "description": settings.instance.description,
        "email": settings.instance.contact_email,
        "version": f"{MASTODON_COMPAT_VERSION} (compatible; Pedagogue {__version__})",
        "urls": {"streaming_api": ""},
        "stats": {"user_count": 0, "status_count": 0, "domain_count": 0},
        "thumbnail": None,
        "languages": ["en"],
        "registrations": settings.instance.open_registrations,
        "approval_required": not settings.instance.open_registrations,
        "invites_enabled": True,
        "configuration": _configuration(),
        "contact_account": None,
        "rules": [],
    }


def _configuration() -> dict[str, Any]:
    return {
        "accounts": {"max_featured_tags": 0},
        "statuses": {
            "max_characters": 5000,
            "max_media_attachments": 4,
            "characters_reserved_per_url": 23,
        },
        "media_attachments": {
            "supported_mime_types": [],
            "image_size_limit": 0,
            "video_size_limit": 0,
        },
        "polls": {"max_options": 4, "max_characters_per_option": 50,
                  "min_expiration": 300, "max_expiration": 2629746},
    }


@blueprint.get("/api/v1/instance")
async def instance_v1() -> Response:
    runtime = runtime_of(current_app)
    document = _instance_v1(runtime)
    document["stats"] = {
        "user_count": await accounts.count_local_users(runtime.pool),
        "status_count": await statuses.count_local(runtime.pool),
        "domain_count": await runtime.pool.fetchval(
            "SELECT count(DISTINCT domain) FROM accounts WHERE domain IS NOT NULL"
        ),
    }
    return _json(document)


@blueprint.get("/api/v2/instance")
async def instance_v2() -> Response:
    runtime = runtime_of(current_app)
    settings = runtime.settings
    users = await accounts.count_local_users(runtime.pool)
    return _json(
        {
            "domain": settings.domain,
            "title": settings.instance.name,
            "version": f"{MASTODON_COMPAT_VERSION} (compatible; Pedagogue {__version__})",
            "source_url": "",
            "description": settings.instance.description,
            "usage": {"users": {"active_month": users}},
            "thumbnail": {"url": f"{settings.base_url}/static/header.png"},
            "languages": ["en"],
            "configuration": {**_configuration(), "urls": {"streaming": ""},
                              "translation": {"enabled": False}},
            "registrations": {"enabled": settings.instance.open_registrations,
                              "approval_required": True, "message": None},
            "contact": {"email": settings.instance.contact_email, "account": None},
            "rules": [],
        }
    )


# Accounts


async def _account_param(account_id: str) -> Any:
    if not account_id.isdigit():
        raise FederationError(404, "Record not found")
    row = await accounts.by_id(runtime_of(current_app).pool, int(account_id))
    if row is None or row["deleted_at"] is not None or row["actor_type"] == "Application":
        raise FederationError(404, "Record not found")
    return row


@blueprint.get("/api/v1/accounts/verify_credentials")
@authenticated
async def verify_credentials() -> Response:
    runtime = runtime_of(current_app)
    document = await full_account_json(runtime, g.account)
    document["source"] = {
        "note": "",
        "fields": [],
        "privacy": "public",
        "sensitive": False,
        "language": None,
        "follow_requests_count": await runtime.pool.fetchval(
            "SELECT count(*) FROM follows WHERE target_account_id = $1 AND NOT accepted", g.account["id"]
        ),
    }
    return _json(document)


@blueprint.get("/api/v1/accounts/lookup")
async def lookup_account() -> Response:
    runtime = runtime_of(current_app)
    handle = request.args.get("acct", "").strip().lstrip("@")
    if not handle:
        raise FederationError(400, "acct parameter missing")
    if "@" in handle:
        username, domain = parse_acct(handle)
        domain = None if domain == runtime.settings.domain else domain
    else:
        username, domain = handle, None
    row = await accounts.by_handle(runtime.pool, username, domain)
    if row is None or row["actor_type"] == "Application":
        raise FederationError(404, "Record not found")
    return _json(await full_account_json(runtime, row))


@blueprint.get("/api/v1/accounts/relationships")
@authenticated
async def relationships() -> Response:
    params = dict(request.args)
    ids = request.args.getlist("id[]") or request.args.getlist("id")
    del params
    runtime = runtime_of(current_app)
    result = []
    for value in ids:
        if value.isdigit():
            result.append(await _relationship(runtime, g.account, int(value)))
    return _json(result)


async def _relationship(runtime: Any, viewer: Any, target_id: int) -> dict[str, Any]:
    row = await runtime.pool.fetchrow(
        "SELECT"
        " (SELECT accepted FROM follows WHERE account_id = $1 AND target_account_id = $2) AS mine,"
        " (SELECT accepted FROM follows WHERE account_id = $2 AND target_account_id = $1) AS theirs,"
        " EXISTS (SELECT 1 FROM blocks WHERE account_id = $1 AND target_account_id = $2) AS blocking,"
        " EXISTS (SELECT 1 FROM blocks WHERE account_id = $2 AND target_account_id = $1) AS blocked_by",
        viewer["id"],
        target_id,
    )
    return {
        "id": str(target_id),
        "following": row["mine"] is True,
        "showing_reblogs": row["mine"] is True,
        "notifying": False,
        "languages": None,
        "followed_by": row["theirs"] is True,
        "blocking": row["blocking"],
        "blocked_by": row["blocked_by"],
        "muting": False,
        "muting_notifications": False,
        "requested": row["mine"] is False,
        "requested_by": row["theirs"] is False,
        "domain_blocking": False,
        "endorsed": False,
        "note": "",
    }


@blueprint.get("/api/v1/accounts/<account_id>")
async def get_account(account_id: str) -> Response:
    row = await _account_param(account_id)
    return _json(await full_account_json(runtime_of(current_app), row))


@blueprint.get("/api/v1/accounts/<account_id>/statuses")
async def account_statuses(account_id: str) -> Response:
    row = await _account_param(account_id)
    viewer = await _token_account()
    params = dict(request.args)
    rows = await runtime_of(current_app).pool.fetch(
        "SELECT * FROM statuses WHERE account_id = $1 AND deleted_at IS NULL"
        " AND visibility IN ('public', 'unlisted')"
        " AND ($2::bigint IS NULL OR id < $2) AND ($3::bigint IS NULL OR id > $3)"
        " ORDER BY id DESC LIMIT $4",
        row["id"],
        _int_param(params, "max_id"),
        _int_param(params, "since_id") or _int_param(params, "min_id"),
        _limit(params),
    )
    rendered = await StatusPresenter(runtime_of(current_app), viewer).render(list(rows))
    return _json(rendered, link=_link_header([r["id"] for r in rows], params))


@blueprint.post("/api/v1/accounts/<account_id>/follow")
@authenticated
async def follow(account_id: str) -> Response:
    target = await _account_param(account_id)
    runtime = runtime_of(current_app)
    await Actions(runtime).follow(g.account, target)
    return _json(await _relationship(runtime, g.account, target["id"]))


@blueprint.post("/api/v1/accounts/<account_id>/unfollow")
@authenticated
async def unfollow(account_id: str) -> Response:
    target = await _account_param(account_id)
    runtime = runtime_of(current_app)
    await Actions(runtime).unfollow(g.account, target)
    return _json(await _relationship(runtime, g.account, target["id"]))


@blueprint.get("/api/v1/follow_requests")
@authenticated
async def follow_requests() -> Response:
    runtime = runtime_of(current_app)
    rows = await runtime.pool.fetch(
        "SELECT a.* FROM follows f JOIN accounts a ON a.id = f.account_id"
        " WHERE f.target_account_id = $1 AND NOT f.accepted ORDER BY f.id DESC LIMIT $2",
        g.account["id"],
        _limit(dict(request.args)),
    )
    return _json([account_json(runtime, row) for row in rows])


@blueprint.post("/api/v1/follow_requests/<account_id>/<decision>")
@authenticated
async def answer_follow_request(account_id: str, decision: str) -> Response:
    if decision not in ("authorize", "reject"):
        raise FederationError(404, "Record not found")
    follower = await _account_param(account_id)
    runtime = runtime_of(current_app)
    await Actions(runtime).answer_follow_request(g.account, follower, decision == "authorize")
    return _json(await _relationship(runtime, g.account, follower["id"]))


# Search


@blueprint.get("/api/v2/search")
@authenticated
async def search() -> Response:
    runtime = runtime_of(current_app)
    query = request.args.get("q", "").strip()
    kind = request.args.get("type")
    resolve = _flag(request.args.get("resolve", "false"))
    result: dict[str, list[Any]] = {"accounts": [], "statuses": [], "hashtags": []}
    if not query:
        return _json(result)
    if kind in (None, "accounts"):
        result["accounts"] = await _search_accounts(runtime, query, resolve)
    if kind in (None, "statuses") and query.startswith(("https://", "http://")):
        row = await statuses.by_uri(runtime.pool, query)
        if row is not None and row["visibility"] in ("public", "unlisted") and row["deleted_at"] is None:
            result["statuses"] = [await status_json(runtime, row, g.account)]
    return _json(result)


async def _search_accounts(runtime: Any, query: str, resolve: bool) -> list[dict[str, Any]]:
    handle = query.lstrip("@")
    if "@" in handle:
        try:
            username, domain = parse_acct(handle)
        except FederationError:
            return []
        local = domain == runtime.settings.domain
        row = await accounts.by_handle(runtime.pool, username, None if local else domain)
        if row is None and resolve and not local:
            try:
                row = await runtime.resolver.actor_by_handle(username, domain)
            except FederationError as error:
                log.info("search could not resolve %s: %s (%s)", handle, error.message, error.cause)
                return []
        return [account_json(runtime, row)] if row is not None else []
    if query.startswith(("https://", "http://")):
        row = await accounts.by_actor_id(runtime.pool, query)
        if row is None and resolve and not runtime.urls.is_local(query):
            try:
                row = await runtime.resolver.actor(query)
            except FederationError as error:
                log.info("search could not resolve %s: %s", query, error.message)
                return []
        return [account_json(runtime, row)] if row is not None else []
    rows = await runtime.pool.fetch(
        "SELECT * FROM accounts WHERE deleted_at IS NULL AND actor_type <> 'Application'"
        " AND (username ILIKE $1 OR display_name ILIKE $1) ORDER BY domain NULLS FIRST LIMIT 10",
        f"%{query.replace('%', '').replace('_', '')}%",
    )
    return [account_json(runtime, row) for row in rows]


# Statuses


async def _status_param(status_id: str, viewer: Any | None) -> Any:
    if not status_id.isdigit():
        raise FederationError(404, "Record not found")
    row = await statuses.by_id(runtime_of(current_app).pool, int(status_id))
    if row is None or row["deleted_at"] is not None:
        raise FederationError(404, "Record not found")
    if not await _can_see(row, viewer):
        raise FederationError(404, "Record not found")
    return row


async def _can_see(row: Any, viewer: Any | None) -> bool:
    if row["visibility"] in ("public", "unlisted"):
        return True
    if viewer is None:
        return False
    if row["account_id"] == viewer["id"]:
        return True
    pool = runtime_of(current_app).pool
    mentioned = await pool.fetchval(
        "SELECT 1 FROM mentions WHERE status_id = $1 AND account_id = $2", row["id"], viewer["id"]
    )
    if mentioned:
        return True
    if row["visibility"] == "private":
        return bool(
            await pool.fetchval(
                "SELECT 1 FROM follows WHERE account_id = $1 AND target_account_id = $2 AND accepted",
                viewer["id"],
                row["account_id"],
            )
        )
    return False


@blueprint.post("/api/v1/statuses")
@authenticated
async def create_status() -> Response:
    params = await _params()
    runtime = runtime_of(current_app)
    text = params.get("status")
    if not isinstance(text, str):
        return error_response(422, "Validation failed: Text can't be blank")
    visibility = params.get("visibility") or "public"
    reply_to = _int_param(params, "in_reply_to_id")
    if reply_to is not None:
        await _status_param(str(reply_to), g.account)
    new = NewStatus(
        text=text,
        visibility=str(visibility),
        spoiler_text=str(params.get("spoiler_text") or ""),
        sensitive=_flag(params.get("sensitive", False)),
        language=(str(params["language"])[:16] if params.get("language") else None),
        in_reply_to_id=reply_to,
    )
    status = await Actions(runtime).post_status(g.account, new)
    return _json(await status_json(runtime, status, g.account))


@blueprint.get("/api/v1/statuses/<status_id>")
async def get_status(status_id: str) -> Response:
    viewer = await _token_account()
    row = await _status_param(status_id, viewer)
    return _json(await status_json(runtime_of(current_app), row, viewer))


@blueprint.delete("/api/v1/statuses/<status_id>")
@authenticated
async def delete_status(status_id: str) -> Response:
    runtime = runtime_of(current_app)
    row = await _status_param(status_id, g.account)
    if row["account_id"] != g.account["id"]:
        return error_response(403, "This action is not allowed")
    document = await status_json(runtime, row, g.account)
    document["text"] = row["source_text"]
    await Actions(runtime).delete_status(g.account, row)
    return _json(document)


@blueprint.get("/api/v1/statuses/<status_id>/context")
async def status_context(status_id: str) -> Response:
    viewer = await _token_account()
    row = await _status_param(status_id, viewer)
    runtime = runtime_of(current_app)
    ancestors_rows = await runtime.pool.fetch(
        "WITH RECURSIVE up AS (SELECT s.*, 0 AS depth FROM statuses s WHERE s.id = $1"
        " UNION ALL SELECT p.*, up.depth + 1 FROM statuses p JOIN up ON p.id = up.in_reply_to_id"
        " WHERE up.depth < 40) SELECT * FROM up WHERE id <> $1 AND deleted_at IS NULL ORDER BY id",
        row["id"],
    )
    descendant_rows = await runtime.pool.fetch(
        "WITH RECURSIVE down AS (SELECT s.*, 0 AS depth FROM statuses s WHERE s.in_reply_to_id = $1"
        " UNION ALL SELECT c.*, down.depth + 1 FROM statuses c JOIN down ON c.in_reply_to_id = down.id"
        " WHERE down.depth < 40) SELECT * FROM down WHERE deleted_at IS NULL ORDER BY id LIMIT 200",
        row["id"],
    )
    visible_up = [r for r in ancestors_rows if await _can_see(r, viewer)]
    visible_down = [r for r in descendant_rows if await _can_see(r, viewer)]
    presenter = StatusPresenter(runtime, viewer)
    return _json(
        {
            "ancestors": await presenter.render(_plain(visible_up)),
            "descendants": await StatusPresenter(runtime, viewer).render(_plain(visible_down)),
        }
    )


def _plain(rows: list[Any]) -> list[dict[str, Any]]:
    return [{key: value for key, value in dict(row).items() if key != "depth"} for row in rows]


async def _status_action(status_id: str, action: str) -> Response:
    runtime = runtime_of(current_app)
    row = await _status_param(status_id, g.account)
    actions = Actions(runtime)
    if action == "favourite":
        await actions.favourite(g.account, row)
    elif action == "unfavourite":
        await actions.unfavourite(g.account, row)
    elif action == "reblog":
        reblog = await actions.reblog(g.account, row)
        row = await statuses.by_id(runtime.pool, row["id"])
        return _json(await status_json(runtime, reblog, g.account))
    elif action == "unreblog":
        await actions.unreblog(g.account, row)
    row = await statuses.by_id(runtime.pool, row["id"])
    return _json(await status_json(runtime, row, g.account))


@blueprint.post("/api/v1/statuses/<status_id>/<action>")
@authenticated
async def status_action(status_id: str, action: str) -> Response:
    if action not in ("favourite", "unfavourite", "reblog", "unreblog"):
        raise FederationError(404, "Record not found")
    return await _status_action(status_id, action)


# Timelines and notifications


@blueprint.get("/api/v1/timelines/home")
@authenticated
async def home_timeline() -> Response:
    runtime = runtime_of(current_app)
    params = dict(request.args)
    min_id = _int_param(params, "min_id")
    order = "ASC" if min_id is not None else "DESC"
    rows = await runtime.pool.fetch(
        "SELECT s.* FROM home_feed h JOIN statuses s ON s.id = h.status_id"
        " WHERE h.account_id = $1 AND s.deleted_at IS NULL"
        " AND ($2::bigint IS NULL OR h.status_id < $2)"
        " AND ($3::bigint IS NULL OR h.status_id > $3)"
        f" ORDER BY h.status_id {order} LIMIT $4",
        g.account["id"],
        _int_param(params, "max_id"),
        min_id if min_id is not None else _int_param(params, "since_id"),
        _limit(params),
    )
    rows = sorted(rows, key=lambda r: r["id"], reverse=True)
    rendered = await StatusPresenter(runtime, g.account).render(rows)
    return _json(rendered, link=_link_header([r["id"] for r in rows], params))


@blueprint.get("/api/v1/timelines/public")
async def public_timeline() -> Response:
    runtime = runtime_of(current_app)
    params = dict(request.args)
    viewer = await _token_account()
    local_only = _flag(params.get("local", "false"))
    remote_only = _flag(params.get("remote", "false"))
    rows = await runtime.pool.fetch(
        "SELECT * FROM statuses WHERE visibility = 'public' AND deleted_at IS NULL"
        " AND reblog_of_id IS NULL"
        " AND ($1::bigint IS NULL OR id < $1) AND ($2::bigint IS NULL OR id > $2)"
        " AND (NOT $3 OR local) AND (NOT $4 OR NOT local)"
        " ORDER BY id DESC LIMIT $5",
        _int_param(params, "max_id"),
        _int_param(params, "since_id") or _int_param(params, "min_id"),
        local_only,
        remote_only,
        _limit(params),
    )
    rendered = await StatusPresenter(runtime, viewer).render(list(rows))
    return _json(rendered, link=_link_header([r["id"] for r in rows], params))


@blueprint.get("/api/v1/notifications")
@authenticated
async def notifications() -> Response:
    runtime = runtime_of(current_app)
    params = dict(request.args)
    types = request.args.getlist("types[]") or None
    rows = await runtime.pool.fetch(
        "SELECT * FROM notifications WHERE account_id = $1"
        " AND ($2::bigint IS NULL OR id < $2) AND ($3::bigint IS NULL OR id > $3)"
        " AND ($4::text[] IS NULL OR type = ANY($4)) ORDER BY id DESC LIMIT $5",
        g.account["id"],
        _int_param(params, "max_id"),
        _int_param(params, "since_id") or _int_param(params, "min_id"),
        types,
        _limit(params),
    )
    status_rows = await runtime.pool.fetch(
        "SELECT * FROM statuses WHERE id = ANY($1::bigint[])",
        [row["status_id"] for row in rows if row["status_id"]],
    )
    rendered = await StatusPresenter(runtime, g.account).render(list(status_rows))
    by_id = {int(item["id"]): item for item in rendered}
    senders = {
        row["id"]: row
        for row in await runtime.pool.fetch(
            "SELECT * FROM accounts WHERE id = ANY($1::bigint[])", [row["from_account_id"] for row in rows]
        )
    }
    from web.presenters import iso_millis

    result = [
        {
            "id": str(row["id"]),
            "type": row["type"],
            "created_at": iso_millis(row["created_at"]),
            "account": account_json(runtime, senders[row["from_account_id"]]),
            "status": by_id.get(row["status_id"]) if row["status_id"] else None,
        }
        for row in rows
    ]
    return _json(result, link=_link_header([r["id"] for r in rows], params))
