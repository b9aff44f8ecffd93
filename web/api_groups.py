"""Client API for groups in Pedagogue's namespace, ``/api/pedagogue/v1/groups``.

Documented in ``web/openapi/groups.yaml``. A group's id is its account id, so
the same group is also ``/api/v1/accounts/<id>`` (with ``group: true``) in the
Mastodon API. Errors are ``{"error": message}`` with the status code.
"""

from __future__ import annotations

import logging
from typing import Any

from quart import Blueprint, Response, current_app, g, jsonify, request

from actors.group import GroupInput, InvalidGroup, moderators_url, render_moderators
from federation.errors import FederationError
from federation.sanitize import plain_text
from federation.webfinger import parse_acct
from inbox.handlers.group import refresh_moderators
from outbox.actions import ActionError
from outbox.groups import GroupActions
from storage import accounts, groups, social
from web.api import (
    _account_page,
    _flag,
    _link_header,
    _page,
    _params,
    _token_account,
    authenticated,
)
from web.api_mentorship import count_param, flag_param, input_error_response
from web.app import error_response, log_text, parse_id, runtime_of
from web.json import activity_json
from web.presenters import StatusPresenter, accounts_json, acct, web_url

log = logging.getLogger(__name__)

blueprint = Blueprint("api_groups", __name__)

PREFIX = "/api/pedagogue/v1/groups"
SEARCH_LIMIT = 20


def _rejected(status: int, message: str) -> Response:
    account = g.get("account")
    log.info(
        "rejected %s %s from account %s: %s %s",
        request.method,
        log_text(request.path),
        account["id"] if account is not None else None,
        status,
        message,
    )
    return error_response(status, message)


async def _action_error(error: ActionError) -> Response:
    return input_error_response(error)


async def _federation_error(error: FederationError) -> Response:
    return _rejected(error.status, error.message)


async def _invalid_group(error: InvalidGroup) -> Response:
    response = _rejected(422, f"Validation failed: {error}")
    if error.field is not None:
        response = jsonify(
            {"error": f"Validation failed: {error}", "field": error.field}
        )
        response.status_code = 422
    return response


blueprint.register_error_handler(ActionError, _action_error)
blueprint.register_error_handler(FederationError, _federation_error)
blueprint.register_error_handler(InvalidGroup, _invalid_group)


# Rendering


async def group_json(runtime: Any, account: Any) -> dict[str, Any]:
    """Return the Group entity of a local or remote group account."""
    return (await groups_json(runtime, [account]))[0]


async def groups_json(runtime: Any, rows: list[Any]) -> list[dict[str, Any]]:
    """Return Group entities for group accounts, with four queries in all."""
    local_ids = [row["id"] for row in rows if row["domain"] is None]
    profiles = {
        row["account_id"]: row
        for row in await groups.profiles_of(runtime.pool, local_ids)
    }
    counts = await groups.member_counts(runtime.pool, local_ids)
    remote_ids = [row["id"] for row in rows if row["domain"] is not None]
    moderators: dict[int, list[dict[str, Any]]] = {}
    moderator_rows = [
        *await groups.moderators_of(runtime.pool, local_ids),
        *await groups.remote_moderators_of(runtime.pool, remote_ids),
    ]
    for row in moderator_rows:
        moderators.setdefault(row["group_id"], []).append(
            {"id": str(row["id"]), "acct": acct(row), "role": row["role"]}
        )
    return [
        _group_entity(runtime, row, profiles.get(row["id"]), counts, moderators)
        for row in rows
    ]


def _group_entity(
    runtime: Any,
    account: Any,
    profile: Any,
    counts: dict[int, int],
    moderators: dict[int, list[dict[str, Any]]],
) -> dict[str, Any]:
    domain = account["domain"] or runtime.settings.domain
    document: dict[str, Any] = {
        "id": str(account["id"]),
        "username": account["username"],
        "acct": acct(account),
        "handle": f"@{account['username']}@{domain}",
        "local": account["domain"] is None,
        "actor_id": account["actor_id"],
        "url": web_url(account["url"], account["actor_id"]),
        "display_name": account["display_name"] or account["username"],
        "description": plain_text(account["summary"] or ""),
        "rules": "",
        "subjects": [],
        "grade_levels": [],
        "approval_required": account["manually_approves_followers"],
        "members_count": None,
        "moderators": moderators.get(account["id"], []),
    }
    if profile is not None:
        document |= {
            "description": profile["description"],
            "rules": profile["rules"],
            "subjects": list(profile["subjects"]),
            "grade_levels": list(profile["grade_levels"]),
            "members_count": counts.get(account["id"], 0),
            "moderators": moderators.get(account["id"], []),
        }
    return document


async def _membership_json(runtime: Any, group: Any, account: Any) -> dict[str, Any]:
    follow = await social.follow_between(runtime.pool, account["id"], group["id"])
    role = await groups.moderator_role(runtime.pool, group["id"], account["id"])
    removed = False
    if group["domain"] is None:
        removed = await groups.is_removed_member(
            runtime.pool, group["id"], account["id"]
        )
    return {
        "group_id": str(group["id"]),
        "account_id": str(account["id"]),
        "member": follow is not None and follow["accepted"],
        "requested": follow is not None and not follow["accepted"],
        "removed": removed,
        "role": role,
    }


def _json(document: Any, link: str | None = None) -> Response:
    response = jsonify(document)
    if link:
        response.headers["Link"] = link
    return response


# Loading


async def _group_param(group_id: str) -> Any:
    """Return the group account named by a path id; 404 unless it is a group."""
    row = None
    number = parse_id(group_id)
    if number is not None:
        row = await accounts.by_id(runtime_of(current_app).pool, number)
    if row is None or row["actor_type"] != "Group" or row["deleted_at"] is not None:
        raise FederationError(
            404, f"Record not found: no group {log_text(group_id, 40)}"
        )
    return row


async def _local_group_param(group_id: str) -> Any:
    row = await _group_param(group_id)
    if row["domain"] is not None:
        raise FederationError(422, "this action needs a group on this instance")
    return row


async def _account_param(account_id: str) -> Any:
    row = None
    number = parse_id(account_id)
    if number is not None:
        row = await accounts.by_id(runtime_of(current_app).pool, number)
    if row is None:
        raise FederationError(
            404, f"Record not found: no account {log_text(account_id, 40)}"
        )
    return row


def _labels(params: dict[str, Any], name: str) -> list[Any]:
    value = params.get(f"{name}[]", params.get(name, []))
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise InvalidGroup(f"{name} must be a list of strings", name)
    return value


def _text(params: dict[str, Any], name: str) -> str:
    value = params.get(name, "")
    if not isinstance(value, str):
        raise InvalidGroup(f"{name} must be a string", name)
    return value


# Directory, search and lookup


@blueprint.get(PREFIX)
async def directory() -> Response:
    runtime = runtime_of(current_app)
    params = dict(request.args)
    page = _page(params)
    rows = await groups.directory(
        runtime.pool,
        limit=page.limit,
        max_id=page.max_id,
        subject=params.get("subject") or None,
        grade_level=params.get("grade_level") or None,
    )
    rendered = await groups_json(runtime, rows)
    return _json(rendered, link=_link_header([row["id"] for row in rows], page))


@blueprint.post(PREFIX)
@authenticated(scope="write:accounts")
async def create_group() -> Response:
    params = await _params()
    new = GroupInput(
        name=_text(params, "name").strip(),
        display_name=_text(params, "display_name"),
        description=_text(params, "description"),
        rules=_text(params, "rules"),
        subjects=_labels(params, "subjects"),
        grade_levels=_labels(params, "grade_levels"),
        approval_required=flag_param(params, "approval_required", False),
    )
    runtime = runtime_of(current_app)
    group = await GroupActions(runtime).create(g.account, new)
    return _json(await group_json(runtime, group))


@blueprint.get(f"{PREFIX}/search")
async def search_groups() -> Response:
    """Find groups by name or handle; ``resolve=true`` looks up a remote handle."""
    runtime = runtime_of(current_app)
    query = request.args.get("q", "").strip()
    if not query:
        raise FederationError(400, "q is missing")
    limit = max(1, min(count_param(dict(request.args), "limit") or SEARCH_LIMIT, 40))
    rows: list[Any] = []
    handle = query.lstrip("@")
    if "@" in handle:
        found = await _group_by_handle(
            runtime, handle, _flag(request.args.get("resolve", ""))
        )
        rows = [found] if found is not None else []
    else:
        rows = await groups.search(runtime.pool, query, limit)
    return _json(await groups_json(runtime, rows))


@blueprint.get(f"{PREFIX}/lookup")
async def lookup_group() -> Response:
    """Return the group of an ``acct`` handle, fetching a remote one via WebFinger."""
    runtime = runtime_of(current_app)
    handle = request.args.get("acct", "").strip()
    if not handle:
        raise FederationError(400, "acct is missing")
    row = await _group_by_handle(runtime, handle.lstrip("@"), True)
    if row is None:
        raise FederationError(404, f"Record not found: no group {handle[:80]}")
    return _json(await group_json(runtime, row))


async def _group_by_handle(runtime: Any, handle: str, resolve: bool) -> Any:
    """Return the group of ``name@domain``, or of a bare ``name`` on this instance."""
    if "@" not in handle.lstrip("@"):
        username, domain = handle.lstrip("@"), runtime.settings.domain
    else:
        try:
            username, domain = parse_acct(handle)
        except FederationError:
            return None
    local = domain == runtime.settings.domain
    row = await accounts.by_handle(runtime.pool, username, None if local else domain)
    fetched = False
    if row is None and resolve and not local:
        try:
            row = await runtime.resolver.actor_by_handle(username, domain)
        except FederationError as error:
            log.info(
                "group @%s not resolved: %s (%s)",
                log_text(handle),
                error.message,
                error.cause,
            )
            return None
        fetched = True
    if row is None or row["actor_type"] != "Group" or row["deleted_at"] is not None:
        return None
    if fetched:
        # A group seen for the first time: its moderators come from its
        # attributedTo collection; later changes arrive as Updates.
        await refresh_moderators(runtime, runtime.pool, row)
    return row


# One group


@blueprint.get(f"{PREFIX}/<group_id>")
async def get_group(group_id: str) -> Response:
    runtime = runtime_of(current_app)
    return _json(await group_json(runtime, await _group_param(group_id)))


@blueprint.get(f"{PREFIX}/<group_id>/statuses")
@authenticated(scope="read:statuses", optional=True)
async def group_statuses(group_id: str) -> Response:
    """List the group's announces of members' posts, newest first, as Mastodon boosts."""
    runtime = runtime_of(current_app)
    group = await _group_param(group_id)
    page = _page(dict(request.args))
    viewer = await _token_account()
    rows = await group_post_rows(runtime.pool, group["id"], page.max_id, page.limit, viewer)
    rendered = await StatusPresenter(runtime, viewer).render(list(rows))
    return _json(rendered, link=_link_header([row["id"] for row in rows], page))


async def group_post_rows(
    db: Any,
    group_id: int,
    max_id: int | None,
    limit: int,
    viewer: Any | None = None,
) -> list[Any]:
    """Return the group's live public or unlisted announces that ``viewer``
    (None: a visitor) may read, newest first (the web interface lists them too).

    Posts by suspended accounts are left out, and so are the posts of an
    account that blocks the viewer or that the viewer blocks.
    """
    return list(
        await db.fetch(
            "SELECT r.* FROM statuses r JOIN statuses s ON s.id = r.reblog_of_id"
            " JOIN accounts author ON author.id = s.account_id"
            " WHERE r.account_id = $1 AND r.deleted_at IS NULL AND s.deleted_at IS NULL"
            " AND r.visibility IN ('public', 'unlisted')"
            " AND author.suspended_at IS NULL AND status_visible(r, $4)"
            " AND ($2::bigint IS NULL OR r.id < $2) ORDER BY r.id DESC LIMIT $3",
            group_id,
            max_id,
            limit,
            None if viewer is None else viewer["id"],
        )
    )


@blueprint.get(f"{PREFIX}/<group_id>/moderators")
async def group_moderators(group_id: str) -> Response:
    """List a group's moderators: a local group's owners first, a remote
    group's in the order of its moderators collection."""
    runtime = runtime_of(current_app)
    group = await _group_param(group_id)
    if group["domain"] is None:
        rows = await groups.moderators(runtime.pool, group["id"])
    else:
        rows = await groups.remote_moderators_of(runtime.pool, [group["id"]])
    return _json(await accounts_json(runtime, list(rows)))


# Membership


@blueprint.get(f"{PREFIX}/<group_id>/membership")
@authenticated(scope="read:follows")
async def membership(group_id: str) -> Response:
    """Return the caller's membership: member, pending request, and moderator role."""
    runtime = runtime_of(current_app)
    group = await _group_param(group_id)
    return _json(await _membership_json(runtime, group, g.account))


@blueprint.post(f"{PREFIX}/<group_id>/join")
@authenticated(scope="write:follows")
async def join(group_id: str) -> Response:
    """Follow the group: a member at once, or a pending request when it needs approval."""
    runtime = runtime_of(current_app)
    group = await _group_param(group_id)
    await GroupActions(runtime).join(g.account, group)
    if group["domain"] is not None and not await groups.remote_moderators_of(
        runtime.pool, [group["id"]]
    ):
        await refresh_moderators(runtime, runtime.pool, group)
    return _json(await _membership_json(runtime, group, g.account))


@blueprint.post(f"{PREFIX}/<group_id>/leave")
@authenticated(scope="write:follows")
async def leave(group_id: str) -> Response:
    runtime = runtime_of(current_app)
    group = await _group_param(group_id)
    await GroupActions(runtime).leave(g.account, group)
    return _json(await _membership_json(runtime, group, g.account))


@blueprint.get(f"{PREFIX}/<group_id>/members")
async def members(group_id: str) -> Response:
    return await _member_page(group_id, accepted=True)


@blueprint.get(f"{PREFIX}/<group_id>/requests")
@authenticated(scope="read:follows")
async def requests(group_id: str) -> Response:
    """List pending join requests; moderators only."""
    group = await _local_group_param(group_id)
    await GroupActions(runtime_of(current_app)).require_moderator(group, g.account)
    return await _member_page(group_id, accepted=False)


async def _member_page(group_id: str, *, accepted: bool) -> Response:
    runtime = runtime_of(current_app)
    group = await _local_group_param(group_id)
    page = _account_page(dict(request.args))
    rows = await groups.members(
        runtime.pool,
        group["id"],
        accepted=accepted,
        limit=page.limit,
        max_id=page.max_id,
        after_id=page.after_id,
        ascending=page.ascending,
    )
    rows = sorted(rows, key=lambda row: row["follow_id"], reverse=True)
    link = _link_header([row["follow_id"] for row in rows], page)
    return _json(await accounts_json(runtime, rows), link=link)


@blueprint.post(f"{PREFIX}/<group_id>/requests/<account_id>/<decision>")
@authenticated(scope="write:follows")
async def answer_request(group_id: str, account_id: str, decision: str) -> Response:
    """Authorize or reject a join request; moderators only."""
    if decision not in ("authorize", "reject"):
        raise FederationError(
            404,
            f"Record not found: no action {log_text(decision, 20)!r};"
            " the actions are authorize and reject",
        )
    runtime = runtime_of(current_app)
    group = await _local_group_param(group_id)
    follower = await _account_param(account_id)
    await GroupActions(runtime).answer_join_request(
        g.account, group, follower, decision == "authorize"
    )
    return _json(await _membership_json(runtime, group, follower))


@blueprint.delete(f"{PREFIX}/<group_id>/members/<account_id>")
@authenticated(scope="write:accounts")
async def remove_member(group_id: str, account_id: str) -> Response:
    """Remove a member (moderators only); a remote member gets Reject(Follow),
    and the account cannot rejoin until a moderator readmits it."""
    runtime = runtime_of(current_app)
    group = await _local_group_param(group_id)
    member = await _account_param(account_id)
    await GroupActions(runtime).remove_member(g.account, group, member)
    return _json(await _membership_json(runtime, group, member))


@blueprint.post(f"{PREFIX}/<group_id>/moderators")
@authenticated(scope="write:accounts")
async def add_moderator(group_id: str) -> Response:
    """Make a local member a moderator or owner; owners only."""
    runtime = runtime_of(current_app)
    group = await _local_group_param(group_id)
    params = await _params()
    account = await _account_param(str(params.get("account_id", "")))
    role = str(params.get("role", "moderator"))
    await GroupActions(runtime).add_moderator(g.account, group, account, role)
    return _json(await group_json(runtime, group))


@blueprint.delete(f"{PREFIX}/<group_id>/moderators/<account_id>")
@authenticated(scope="write:accounts")
async def remove_moderator(group_id: str, account_id: str) -> Response:
    """Take a moderator's role away; owners only. Members get an Update."""
    runtime = runtime_of(current_app)
    group = await _local_group_param(group_id)
    account = await _account_param(account_id)
    await GroupActions(runtime).remove_moderator(g.account, group, account)
    return _json(await group_json(runtime, group))


@blueprint.get(f"{PREFIX}/<group_id>/removed")
@authenticated(scope="read:accounts")
async def removed_members(group_id: str) -> Response:
    """List the accounts moderators removed; moderators only."""
    runtime = runtime_of(current_app)
    group = await _local_group_param(group_id)
    await GroupActions(runtime).require_moderator(group, g.account)
    page = _account_page(dict(request.args))
    rows = await groups.removed_members(
        runtime.pool,
        group["id"],
        limit=page.limit,
        max_id=page.max_id,
        after_id=page.after_id,
        ascending=page.ascending,
    )
    rows = sorted(rows, key=lambda row: row["id"], reverse=True)
    link = _link_header([row["id"] for row in rows], page)
    return _json(await accounts_json(runtime, rows), link=link)


@blueprint.delete(f"{PREFIX}/<group_id>/removed/<account_id>")
@authenticated(scope="write:accounts")
async def readmit(group_id: str, account_id: str) -> Response:
    """Let a removed account join again; moderators only."""
    runtime = runtime_of(current_app)
    group = await _local_group_param(group_id)
    account = await _account_param(account_id)
    await GroupActions(runtime).readmit(g.account, group, account)
    return _json(await _membership_json(runtime, group, account))


@blueprint.delete(f"{PREFIX}/<group_id>/statuses/<status_id>")
@authenticated(scope="write:statuses")
async def remove_post(group_id: str, status_id: str) -> Response:
    """Take a post out of the group (moderators only); members get Undo(Announce)
    and the group's Announce of the moderator's Delete."""
    runtime = runtime_of(current_app)
    group = await _local_group_param(group_id)
    status = None
    number = parse_id(status_id)
    if number is not None:
        status = await runtime.pool.fetchrow(
            "SELECT * FROM statuses WHERE id = $1", number
        )
    if status is None:
        raise FederationError(
            404, f"Record not found: no status {log_text(status_id, 40)}"
        )
    await GroupActions(runtime).remove_post(g.account, group, status)
    return _json({})


# ActivityPub: the moderators collection that a group's attributedTo names


@blueprint.get("/users/<username>/moderators")
async def moderators_collection(username: str) -> Response:
    runtime = runtime_of(current_app)
    # PostgreSQL text cannot contain NUL, and no username does.
    group = None
    if "\x00" not in username:
        group = await accounts.local_by_username(runtime.pool, username)
    if group is None or group["actor_type"] != "Group":
        raise FederationError(404, f"no group {username[:40]!r} on this instance")
    rows = await groups.moderators(runtime.pool, group["id"])
    collection_id = moderators_url(runtime.urls, group["username"])
    return activity_json(
        render_moderators(collection_id, [r["actor_id"] for r in rows])
    )
