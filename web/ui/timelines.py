"""Timelines, composing, threads and the like, boost, reply and delete actions."""

from __future__ import annotations

import logging
from typing import Any

from quart import current_app, g, jsonify, render_template_string, request

from outbox.actions import ActionError, Actions
from storage import groups, statuses
from web import reading
from web.api import _new_status
from web.app import runtime_of
from web.ui import blueprint
from web.ui.confirm import ask_first, confirmation_page, excerpt, is_confirmed
from web.ui.i18n import _
from web.ui.muted_words import without_hidden
from web.ui.session import FormError, back_to, current_viewer, render, signed_in
from web.ui.views import (
    page_from_args,
    pagination,
    render_statuses,
    visible_status,
)

log = logging.getLogger(__name__)

# The levels of Mastodon's four that a reply may narrow to, most open first.
VISIBILITIES = ("public", "unlisted", "private", "direct")
# Every level the compose form offers; "local" and "group" are this instance's.
FORM_VISIBILITIES = ("public", "local", "unlisted", "private", "direct", "group")
STATUS_ACTIONS = ("favourite", "unfavourite", "reblog", "unreblog", "delete")
TIMELINES = {
    "home": "Home",
    "local": "Local",
    "federated": "Federated",
}
# The filter context of each timeline, as Mastodon names them.
FILTER_CONTEXTS = {"home": "home", "local": "public", "federated": "public"}


def compose_defaults(viewer: Any) -> dict[str, Any]:
    """Return the compose form's starting values from the viewer's posting defaults."""
    return {
        "visibility": viewer["default_visibility"],
        "sensitive": viewer["default_sensitive"],
        "spoiler_text": "",
        "status": "",
    }


async def with_group_choices(db: Any, viewer: Any, values: dict[str, Any]) -> dict[str, Any]:
    """Add ``group_choices``, the groups the viewer may post group-only to
    (accepted member or moderator), to compose form values."""
    values["group_choices"] = await groups.joined_by(db, viewer["id"])
    return values


async def home_page() -> Any:
    """Render the home timeline of the signed-in viewer (also served at ``/``)."""
    runtime = runtime_of(current_app)
    viewer = await current_viewer()
    page = page_from_args()
    # The page and everything rendered with it are read on one connection.
    async with runtime.pool.acquire() as db:
        rows = await reading.home_rows(db, viewer["id"], page)
        return await _timeline("home", rows, page, viewer, db)


@blueprint.get("/home")
@signed_in
async def home() -> Any:
    return await home_page()


@blueprint.get("/local")
@signed_in
async def local_timeline() -> Any:
    runtime = runtime_of(current_app)
    page = page_from_args()
    async with runtime.pool.acquire() as db:
        rows = await reading.public_rows(
            db, page, local=True, remote=False, viewer=g.viewer
        )
        return await _timeline("local", rows, page, g.viewer, db)


@blueprint.get("/federated")
@signed_in
async def federated_timeline() -> Any:
    runtime = runtime_of(current_app)
    page = page_from_args()
    async with runtime.pool.acquire() as db:
        rows = await reading.public_rows(
            db, page, local=False, remote=False, viewer=g.viewer
        )
        return await _timeline("federated", rows, page, g.viewer, db)


async def _timeline(kind: str, rows: list[Any], page: Any, viewer: Any, db: Any) -> Any:
    runtime = runtime_of(current_app)
    context = FILTER_CONTEXTS[kind]
    shown = await without_hidden(await render_statuses(runtime, viewer, rows, db), context)
    return await render(
        "timeline.html",
        timeline=kind,
        title=TIMELINES[kind],
        statuses=shown,
        filter_context=context,
        # Pages follow the rows read, so a page of hidden posts still links on.
        pages=pagination([row["id"] for row in rows], page),
        values=await with_group_choices(db, viewer, compose_defaults(viewer)),
    )


# Composing


@blueprint.get("/compose")
@signed_in
async def compose_form() -> Any:
    runtime = runtime_of(current_app)
    reply_to = None
    values = compose_defaults(g.viewer)
    reply_id = request.args.get("in_reply_to")
    if reply_id:
        row = await visible_status(runtime, reply_id, g.viewer)
        reply_to = (await render_statuses(runtime, g.viewer, [row]))[0]
        values = _reply_defaults(reply_to, g.viewer)
    await with_group_choices(runtime.pool, g.viewer, values)
    return await render("compose.html", reply_to=reply_to, values=values)


def _reply_defaults(parent: dict[str, Any], viewer: Any) -> dict[str, Any]:
    """Return reply defaults: mention the author and the accounts it mentions,
    keep the parent's content warning, and take the visibility from
    ``_reply_visibility``."""
    handles = []
    for account in [parent["account"], *parent["mentions"]]:
        if account["acct"] != viewer["username"] and f"@{account['acct']}" not in handles:
            handles.append(f"@{account['acct']}")
    values = {
        "status": " ".join(handles) + " " if handles else "",
        "spoiler_text": parent["spoiler_text"],
        "visibility": _reply_visibility(parent, viewer["default_visibility"]),
        "sensitive": viewer["default_sensitive"],
        "in_reply_to_id": parent["id"],
    }
    if values["visibility"] == "group":
        values["group_id"] = parent["group_id"]
    return values


def _reply_visibility(parent: dict[str, Any], default: str) -> str:
    # A reply to a group-only status stays in the group, and a reply to a
    # local-only one stays local unless the default is followers or mentions.
    # Otherwise the reply takes the more private of the parent's level and
    # the viewer's default.
    if parent.get("group_id"):
        return "group"
    default = default if default in VISIBILITIES else "public"
    if parent.get("local_only"):
        return "local" if default in ("public", "unlisted") else default
    parent_visibility = parent["visibility"]
    if parent_visibility not in VISIBILITIES:
        parent_visibility = "public"
    # VISIBILITIES runs from the most open to the most private.
    return max(parent_visibility, default, key=VISIBILITIES.index)


@blueprint.post("/statuses")
@signed_in
async def create_status() -> Any:
    runtime = runtime_of(current_app)
    form = await request.form
    values = {
        "status": form.get("status", ""),
        "spoiler_text": form.get("spoiler_text", ""),
        "visibility": form.get("visibility", "public"),
        "sensitive": form.get("sensitive") == "on",
        "in_reply_to_id": form.get("in_reply_to_id", ""),
        # The form has no language field; the viewer's default applies.
        "language": g.viewer["default_language"] or "",
    }
    # The group list is always sent, but only a group-only post names a group.
    if values["visibility"] == "group":
        values["group_id"] = form.get("group_id", "")
    reply_to = None
    try:
        if values["visibility"] not in FORM_VISIBILITIES:
            raise ActionError(
                422,
                _("Unknown visibility %(value)s.", value=repr(values["visibility"][:20])),
            )
        new = _new_status(dict(values))
        if new.in_reply_to_id is not None:
            parent = await visible_status(runtime, str(new.in_reply_to_id), g.viewer)
            reply_to = (await render_statuses(runtime, g.viewer, [parent]))[0]
        status = await Actions(runtime).post_status(g.viewer, new)
    except ActionError as error:
        log.info("compose by account %s rejected: %s", g.viewer["id"], error.message)
        await with_group_choices(runtime.pool, g.viewer, values)
        return await render(
            "compose.html", status=422, error=error.message, values=values, reply_to=reply_to
        )
    log.info("status %s posted by account %s from the web interface", status["id"], g.viewer["id"])
    if new.in_reply_to_id is not None:
        return back_to(f"/statuses/{new.in_reply_to_id}")
    return back_to("/home")


@blueprint.get("/statuses/<status_id>/delete")
@signed_in
async def confirm_delete_status(status_id: str) -> Any:
    row = await visible_status(runtime_of(current_app), status_id, g.viewer)
    if row["account_id"] != g.viewer["id"]:
        raise FormError(403, _("Only the author can delete this post."))
    origin = request.args.get("next", "")
    return await confirmation_page(
        question=_("Delete this post?"),
        subject=excerpt(row["spoiler_text"] or row["source_text"] or row["content"]),
        detail=_("This cannot be undone."),
        button=_("Delete post"),
        cancel_path=f"/statuses/{row['id']}",
        done_path="/home" if not origin or _is_page_of(origin, row) else None,
    )


def _is_page_of(path: str | None, row: Any) -> bool:
    """Return True when ``path`` is the post's own page, which is gone once it is deleted."""
    return (path or "").split("#")[0].split("?")[0] == f"/statuses/{row['id']}"


@blueprint.post("/statuses/<status_id>/<action>")
@signed_in
async def status_action(status_id: str, action: str) -> Any:
    if action not in STATUS_ACTIONS:
        raise FormError(404, _("Unknown action."))
    runtime = runtime_of(current_app)
    row = await visible_status(runtime, status_id, g.viewer)
    actions = Actions(runtime)
    if action == "delete":
        if not await is_confirmed():
            return ask_first()
        await actions.delete_status(g.viewer, row)
        if _is_page_of(g.get("ui_next"), row):
            g.ui_next = None
        return back_to("/home")
    if row["reblog_of_id"] is not None:
        # As in the client API, these act on the boosted status.
        row = await visible_status(runtime, str(row["reblog_of_id"]), g.viewer)
    if action == "favourite":
        await actions.favourite(g.viewer, row)
    elif action == "unfavourite":
        await actions.unfavourite(g.viewer, row)
    elif action == "reblog":
        await actions.reblog(g.viewer, row)
    else:
        await actions.unreblog(g.viewer, row)
    if request.accept_mimetypes.best == "application/json":
        return await _action_state(runtime, row)
    # Back on the page the form was on, scrolled to the post.
    anchor = f"#status-{row['id']}"
    if g.get("ui_next"):
        g.ui_next = g.ui_next.split("#", 1)[0] + anchor
    return back_to(f"/statuses/{row['id']}{anchor}")


async def _action_state(runtime: Any, row: Any) -> Any:
    """Return the like and boost state of a status after an action, as JSON
    for ``ui.js``, with the button labels, form actions and counts to show."""
    # Read again: the row from before the action has the old counts.
    fresh = await statuses.by_id(runtime.pool, row["id"])
    [shown] = await render_statuses(runtime, g.viewer, [fresh])
    counts = await render_template_string(
        '{% import "macros.html" as m %}{{ m.status_counts(shown) }}', shown=shown
    )
    base = f"/statuses/{row['id']}"
    liked = shown["favourited"]
    boosted = shown["reblogged"]
    return jsonify(
        {
            "id": str(row["id"]),
            "counts": counts,
            "favourite": {
                "pressed": liked,
                "label": _("Liked") if liked else _("Like"),
                "action": f"{base}/unfavourite" if liked else f"{base}/favourite",
            },
            "reblog": {
                "pressed": boosted,
                "label": _("Boosted") if boosted else _("Boost"),
                "action": f"{base}/unreblog" if boosted else f"{base}/reblog",
            },
        }
    )


# Threads


@blueprint.get("/statuses/<status_id>")
async def thread(status_id: str) -> Any:
    runtime = runtime_of(current_app)
    viewer = await current_viewer()
    row = await visible_status(runtime, status_id, viewer)
    return await thread_page(row, viewer)


async def thread_page(row: Any, viewer: Any) -> Any:
    """Render a status with its visible ancestors and replies."""
    runtime = runtime_of(current_app)
    if row["reblog_of_id"] is not None:
        original = await statuses.by_id(runtime.pool, row["reblog_of_id"])
        if original is not None and original["deleted_at"] is None:
            row = original
    ancestors, descendants = await reading.thread_context(runtime.pool, row, viewer)
    rendered = await render_statuses(runtime, viewer, [*ancestors, row, *descendants])
    focus = rendered[len(ancestors)]
    values = _reply_defaults(focus, viewer) if viewer is not None else {}
    return await render(
        "thread.html",
        filter_context="thread",
        ancestors=rendered[: len(ancestors)],
        post=focus,
        descendants=rendered[len(ancestors) + 1 :],
        values=values,
        author_name=focus["account"]["display_name"] or focus["account"]["username"],
        alternate=row["uri"] if row["local"] else None,
    )
