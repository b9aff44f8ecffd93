"""Group pages: the directory, a group with its rules, moderators and posts,
joining and leaving, posting to a group, and the moderators' tools.

A post reaches a group by mentioning it: the same status action as the
client API, after which ``GroupActions.announce_addressed`` shares it with
the members.
"""

from __future__ import annotations

import logging
from typing import Any

from quart import current_app, g, redirect, request

from actors.group import GroupInput, InvalidGroup
from federation.errors import FederationError
from inbox.handlers.group import refresh_moderators
from outbox.groups import GroupActions
from storage import accounts, groups, statuses
from web import reading
from web.api_groups import _membership_json, group_json, group_post_rows, groups_json
from web.app import log_text, parse_id, runtime_of
from web.presenters import accounts_json
from web.ui import blueprint
from web.ui.i18n import _
from web.ui.session import FormError, back_to, current_viewer, render, signed_in
from web.ui.views import PAGE_SIZE, page_from_args, pagination, render_statuses

log = logging.getLogger(__name__)

MEMBER_LIST_SIZE = 200
MEMBER_DECISIONS = ("authorize", "reject")


async def _group(group_id: str) -> Any:
    """Return the live group account of a path id; 404 otherwise."""
    number = parse_id(group_id)
    row = await accounts.by_id(runtime_of(current_app).pool, number) if number is not None else None
    if row is None or row["actor_type"] != "Group" or row["deleted_at"] is not None:
        raise FederationError(404, _("This group does not exist."))
    return row


async def _local_group(group_id: str) -> Any:
    row = await _group(group_id)
    if row["domain"] is not None:
        raise FormError(422, _("Only a group on this server can be moderated here."))
    return row


async def _account(account_id: str) -> Any:
    number = parse_id(account_id)
    row = await accounts.by_id(runtime_of(current_app).pool, number) if number is not None else None
    if row is None:
        raise FederationError(404, _("This account does not exist."))
    return row


def _labels(text: str) -> list[str]:
    return [item.strip() for item in text.replace("\n", ",").split(",") if item.strip()]


@blueprint.get("/groups")
async def group_directory() -> Any:
    return await _directory_page()


async def _directory_page(status: int = 200, handle: str = "", find_error: str = "") -> Any:
    runtime = runtime_of(current_app)
    page = page_from_args()
    subject = request.args.get("subject", "").strip()[:100]
    grade = request.args.get("grade_level", "").strip()[:40]
    rows = await groups.directory(
        runtime.pool,
        limit=PAGE_SIZE,
        max_id=page.max_id,
        subject=subject or None,
        grade_level=grade or None,
    )
    return await render(
        "groups.html",
        groups=await groups_json(runtime, list(rows)),
        pages=pagination([row["id"] for row in rows], page),
        subject=subject,
        grade_level=grade,
        values={},
        status=status,
        handle=handle,
        find_error=find_error,
    )


MAX_HANDLE_LENGTH = 300


@blueprint.post("/groups/find")
@signed_in
async def find_group() -> Any:
    """Open the group page of ``@name@domain``, fetching an unknown remote group
    through WebFinger, so that teachers can join groups on other servers."""
    runtime = runtime_of(current_app)
    form = await request.form
    handle = form.get("handle", "").strip()
    cleaned = handle.lstrip("@")
    if "@" not in cleaned:
        cleaned = f"{cleaned}@{runtime.settings.domain}"
    group = None
    if handle and len(handle) <= MAX_HANDLE_LENGTH:
        group = await reading.account_by_handle(runtime, cleaned, resolve=True)
    if group is None or group["actor_type"] != "Group" or group["deleted_at"] is not None:
        log.info("group lookup %s by account %s: no group found", log_text(handle, 100), g.viewer["id"])
        return await _directory_page(
            status=404,
            handle=handle,
            find_error=_(
                "No group %(handle)s could be found. Type a handle such as"
                " @science@school.example.",
                handle=handle[:100],
            ),
        )
    return redirect(await group_page_path(runtime, group), 303)


async def group_page_path(runtime: Any, group: Any) -> str:
    """Return the path of a group's page, first storing the moderators of a
    remote group found for the first time.

    Remote moderators are otherwise stored only when the group announces a
    change of moderators, so the page would list none.
    NOTE: a remote group's member count and rules stay unknown, because
    the Group actor document carries neither.
    """
    if group["domain"] is not None and not await groups.remote_moderators_of(
        runtime.pool, [group["id"]]
    ):
        await refresh_moderators(runtime, runtime.pool, group)
    return f"/groups/{group['id']}"


@blueprint.post("/groups")
@signed_in
async def create_group() -> Any:
    runtime = runtime_of(current_app)
    form = await request.form
    new = GroupInput(
        name=form.get("name", "").strip(),
        display_name=form.get("display_name", ""),
        description=form.get("description", ""),
        rules=form.get("rules", ""),
        subjects=_labels(form.get("subjects", "")),
        grade_levels=_labels(form.get("grade_levels", "")),
        approval_required=form.get("approval_required") == "on",
    )
    try:
        group = await GroupActions(runtime).create(g.viewer, new)
    except InvalidGroup as error:
        log.info("group by account %s rejected: %s", g.viewer["id"], error)
        return await render(
            "groups.html",
            status=422,
            groups=[],
            pages={},
            subject="",
            grade_level="",
            values=dict(form),
            error=str(error),
        )
    log.info("group %s created by account %s from the web interface", group["id"], g.viewer["id"])
    return redirect(f"/groups/{group['id']}", 303)


@blueprint.get("/groups/<group_id>")
async def group_page(group_id: str) -> Any:
    runtime = runtime_of(current_app)
    viewer = await current_viewer()
    group = await _group(group_id)
    page = page_from_args()
    rows = await group_post_rows(runtime.pool, group["id"], page.max_id, PAGE_SIZE, viewer)
    membership = await _membership_json(runtime, group, viewer) if viewer else None

    moderators = (
        await groups.moderators(runtime.pool, group["id"])
        if group["domain"] is None
        else await groups.remote_moderators_of(runtime.pool, [group["id"]])
    )

    # Member lists and join requests are for moderators of a local group.
    moderating = bool(membership and membership["role"]) and group["domain"] is None
    members: list[Any] = []
    requests: list[Any] = []
    if moderating:
        members = await accounts_json(
            runtime,
            await groups.members(
                runtime.pool, group["id"], accepted=True, limit=MEMBER_LIST_SIZE, max_id=None
            ),
        )
        requests = await accounts_json(
            runtime,
            await groups.members(
                runtime.pool, group["id"], accepted=False, limit=MEMBER_LIST_SIZE, max_id=None
            ),
        )

    entity = await group_json(runtime, group)
    return await render(
        "group.html",
        group=entity,
        membership=membership,
        moderators=await accounts_json(runtime, list(moderators)),
        roles={str(row["id"]): row["role"] for row in moderators},
        posts=await render_statuses(runtime, viewer, rows),
        pages=pagination([row["id"] for row in rows], page),
        moderating=moderating,
        members=members,
        requests=requests,
        values={"status": entity["handle"] + " ", "visibility": "public"},
        alternate=group["actor_id"] if group["domain"] is None else None,
    )


@blueprint.post("/groups/<group_id>/<action>")
@signed_in
async def membership_action(group_id: str, action: str) -> Any:
    if action not in ("join", "leave"):
        raise FormError(404, _("Unknown action."))
    runtime = runtime_of(current_app)
    group = await _group(group_id)
    actions = GroupActions(runtime)
    if action == "join":
        await actions.join(g.viewer, group)
    else:
        await actions.leave(g.viewer, group)
    log.info("account %s chose %s for group %s", g.viewer["id"], action, group["id"])
    return back_to(f"/groups/{group['id']}")


@blueprint.post("/groups/<group_id>/requests/<account_id>/<decision>")
@signed_in
async def answer_request(group_id: str, account_id: str, decision: str) -> Any:
    if decision not in MEMBER_DECISIONS:
        raise FormError(404, _("Unknown action."))
    group = await _local_group(group_id)
    follower = await _account(account_id)
    await GroupActions(runtime_of(current_app)).answer_join_request(
        g.viewer, group, follower, decision == "authorize"
    )
    log.info("join request of %s to group %s: %s by %s", follower["id"], group["id"], decision, g.viewer["id"])
    return back_to(f"/groups/{group['id']}")


@blueprint.post("/groups/<group_id>/members/<account_id>/remove")
@signed_in
async def remove_member(group_id: str, account_id: str) -> Any:
    group = await _local_group(group_id)
    member = await _account(account_id)
    await GroupActions(runtime_of(current_app)).remove_member(g.viewer, group, member)
    log.info("member %s removed from group %s by %s", member["id"], group["id"], g.viewer["id"])
    return back_to(f"/groups/{group['id']}")


@blueprint.post("/groups/<group_id>/posts/<status_id>/remove")
@signed_in
async def remove_post(group_id: str, status_id: str) -> Any:
    runtime = runtime_of(current_app)
    group = await _local_group(group_id)
    number = parse_id(status_id)
    status = await statuses.by_id(runtime.pool, number) if number is not None else None
    if status is None:
        raise FederationError(404, _("This post does not exist or was deleted."))
    await GroupActions(runtime).remove_post(g.viewer, group, status)
    log.info("post %s removed from group %s by %s", status["id"], group["id"], g.viewer["id"])
    return back_to(f"/groups/{group['id']}")
