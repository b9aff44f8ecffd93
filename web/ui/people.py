"""Profiles of local and remote teachers, following, follow lists and requests,
and notifications."""

from __future__ import annotations

import logging
from typing import Any

from quart import current_app, g, redirect, request

from federation.errors import FederationError
from federation.sanitize import sanitize_html
from inbox import remote_outbox
from outbox.actions import Actions
from storage import accounts
from web import reading
from web.app import log_text, parse_id, runtime_of
from web.presenters import accounts_json, full_account_json, relationships_json
from web.ui import blueprint
from web.ui.groups import group_page_path
from web.ui.i18n import _
from web.ui.session import FormError, back_to, current_viewer, render, signed_in
from web.ui.views import (
    page_from_args,
    pagination,
    render_notifications,
    render_statuses,
)

log = logging.getLogger(__name__)

MAX_HANDLE_LENGTH = 300
# Seconds a remote profile page waits for its outbox fetch. After that the page
# shows the posts stored so far, and the fetch goes on in the background.
OUTBOX_WAIT = 2.0


async def account_for_path(name: str, viewer: Any) -> Any:
    """Return the account of ``/@name`` or ``/@name@domain``; raise 404 if unknown.

    Remote profiles are shown to signed-in teachers only, so visitors cannot use
    this instance to browse other servers.
    """
    runtime = runtime_of(current_app)
    if "\x00" in name or len(name) > MAX_HANDLE_LENGTH:
        raise FederationError(404, _("No such account."))
    username, _separator, domain = name.partition("@")
    if domain.lower() == runtime.settings.domain:
        domain = ""
    if domain and viewer is None:
        raise FederationError(404, _("Sign in to see profiles on other servers."))
    row = await accounts.by_handle(runtime.pool, username, domain.lower() or None)
    if row is None or row["actor_type"] == "Application" or row["deleted_at"] is not None:
        raise FederationError(
            404, _("No account @%(handle)s is known here.", handle=name[:100])
        )
    if row["domain"] is None and row["suspended_at"] is not None:
        # 410 Gone (RFC 9110, section 15.5.11), the status the actor document
        # returns too: the account exists but shows nothing while suspended.
        log.info("profile of suspended account %s requested", row["id"])
        raise FederationError(410, _("This account is suspended."))
    return row


async def profile_page(row: Any, viewer: Any) -> Any:
    """Render a profile with the posts ``viewer`` may read (None: a visitor)."""
    runtime = runtime_of(current_app)
    page = page_from_args()
    account = await full_account_json(runtime, row)
    if row["domain"] is not None:
        account["note"] = sanitize_html(account["note"] or "")
        for item in account["fields"]:
            item["value"] = sanitize_html(item["value"] or "")
    relationship = None
    if viewer is not None and viewer["id"] != row["id"]:
        relationship = (await relationships_json(runtime, viewer, [row["id"]]))[0]
    if row["domain"] is not None and page.max_id is None:
        await remote_outbox.refresh_in_background(runtime, row, OUTBOX_WAIT)
    rows = await reading.account_rows(runtime.pool, row["id"], page, viewer=viewer)
    plans = await _plans_by(runtime, row, viewer)
    return await render(
        "profile.html",
        account=account,
        display_name=account["display_name"] or account["username"],
        account_row=row,
        relationship=relationship,
        statuses=await render_statuses(runtime, viewer, rows),
        pages=pagination([r["id"] for r in rows], page),
        plans=plans,
        alternate=row["actor_id"] if row["domain"] is None else None,
    )


PROFILE_PLANS = 10


async def _plans_by(runtime: Any, row: Any, viewer: Any) -> list[Any]:
    """Return the teacher's newest plans that ``viewer`` may read."""
    from storage import lesson_plans

    if viewer is not None:
        return list(await lesson_plans.by_author(runtime.pool, row["id"], PROFILE_PLANS, viewer["id"]))
    # Without a reader, by_author returns every plan, so visitors get the
    # public ones only.
    found = await lesson_plans.by_author(runtime.pool, row["id"], PROFILE_PLANS * 3)
    return [plan for plan in found if plan["visibility"] == "public"][:PROFILE_PLANS]


# Following


async def _target(account_id: str) -> Any:
    number = parse_id(account_id)
    row = None if number is None else await accounts.by_id(runtime_of(current_app).pool, number)
    if row is None or row["deleted_at"] is not None or row["actor_type"] == "Application":
        raise FederationError(404, _("No such account."))
    return row


@blueprint.post("/accounts/<account_id>/follow")
@signed_in
async def follow(account_id: str) -> Any:
    target = await _target(account_id)
    await Actions(runtime_of(current_app)).follow(g.viewer, target)
    return back_to(profile_path(target))


@blueprint.post("/accounts/<account_id>/unfollow")
@signed_in
async def unfollow(account_id: str) -> Any:
    target = await _target(account_id)
    await Actions(runtime_of(current_app)).unfollow(g.viewer, target)
    return back_to(profile_path(target))


def profile_path(row: Any) -> str:
    if row["domain"] is None:
        return f"/@{row['username']}"
    return f"/@{row['username']}@{row['domain']}"


@blueprint.get("/follow")
@signed_in
async def follow_form() -> Any:
    return await render("follow.html", handle=request.args.get("handle", ""))


@blueprint.post("/follow")
@signed_in
async def follow_handle() -> Any:
    """Find ``@name@domain`` (fetching it through WebFinger if unknown) and
    follow it; a group's handle leads to the group's page instead."""
    runtime = runtime_of(current_app)
    form = await request.form
    handle = form.get("handle", "").strip()
    cleaned = handle.lstrip("@")
    if "@" not in cleaned:
        cleaned = f"{cleaned}@{runtime.settings.domain}"
    if not handle or len(handle) > MAX_HANDLE_LENGTH:
        return await render(
            "follow.html", status=422, handle=handle,
            error=_("Type a handle such as @name@school.example."),
        )
    target = await reading.account_by_handle(runtime, cleaned, resolve=True)
    if target is None or target["actor_type"] == "Application" or target["deleted_at"] is not None:
        log.info("follow by handle %s from account %s: not found", log_text(handle, 100), g.viewer["id"])
        return await render(
            "follow.html", status=404, handle=handle,
            error=_(
                "No account %(handle)s could be found."
                " Check the spelling and the server name.",
                handle=handle[:100],
            ),
        )
    if target["actor_type"] == "Group":
        # Following a group makes the follower a member (FEP-1b12), which the
        # group page offers as a join with the group's own wording and state.
        log.info(
            "follow by handle %s from account %s: group %s, sent to its page",
            log_text(handle, 100),
            g.viewer["id"],
            target["id"],
        )
        return redirect(await group_page_path(runtime, target), 303)
    await Actions(runtime).follow(g.viewer, target)
    return redirect(profile_path(target), 303)


# Lists


async def _list_page(row: Any, title: str, query: str) -> Any:
    runtime = runtime_of(current_app)
    page = page_from_args()
    rows = await runtime.pool.fetch(query, row["id"], page.max_id, page.limit)
    entities = await accounts_json(runtime, list(rows))
    owner = await full_account_json(runtime, row)
    return await render(
        "accounts.html",
        title=title,
        owner=owner,
        display_name=owner["display_name"] or owner["username"],
        accounts=entities,
        pages=pagination([r["follow_id"] for r in rows], page) if not page.ascending else {},
    )


@blueprint.get("/@<name>/followers")
async def followers(name: str) -> Any:
    row = await account_for_path(name, await current_viewer())
    return await _list_page(
        row,
        "Followers",
        "SELECT a.*, f.id AS follow_id FROM follows f JOIN accounts a ON a.id = f.account_id"
        " WHERE f.target_account_id = $1 AND f.accepted AND a.deleted_at IS NULL"
        " AND f.id < coalesce($2::bigint, 9223372036854775807)"
        " ORDER BY f.id DESC LIMIT $3",
    )


@blueprint.get("/@<name>/following")
async def following(name: str) -> Any:
    row = await account_for_path(name, await current_viewer())
    return await _list_page(
        row,
        "Following",
        "SELECT a.*, f.id AS follow_id FROM follows f"
        " JOIN accounts a ON a.id = f.target_account_id"
        " WHERE f.account_id = $1 AND f.accepted AND a.deleted_at IS NULL"
        " AND f.id < coalesce($2::bigint, 9223372036854775807)"
        " ORDER BY f.id DESC LIMIT $3",
    )


@blueprint.get("/follow-requests")
@signed_in
async def follow_requests() -> Any:
    runtime = runtime_of(current_app)
    rows = await runtime.pool.fetch(
        "SELECT a.* FROM follows f JOIN accounts a ON a.id = f.account_id"
        " WHERE f.target_account_id = $1 AND NOT f.accepted AND a.deleted_at IS NULL"
        " ORDER BY f.id DESC LIMIT 100",
        g.viewer["id"],
    )
    return await render("follow_requests.html", accounts=await accounts_json(runtime, list(rows)))


@blueprint.post("/follow-requests/<account_id>/<decision>")
@signed_in
async def answer_follow_request(account_id: str, decision: str) -> Any:
    if decision not in ("authorize", "reject"):
        raise FormError(404, _("Unknown decision."))
    follower = await _target(account_id)
    await Actions(runtime_of(current_app)).answer_follow_request(
        g.viewer, follower, decision == "authorize"
    )
    return back_to("/follow-requests")


# Notifications


@blueprint.get("/notifications")
@signed_in
async def notifications() -> Any:
    runtime = runtime_of(current_app)
    page = page_from_args()
    rows = await reading.notification_rows(runtime.pool, g.viewer["id"], page)
    return await render(
        "notifications.html",
        notifications=await render_notifications(runtime, g.viewer, rows),
        pages=pagination([row["id"] for row in rows], page),
    )
