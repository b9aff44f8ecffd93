"""Profile and privacy settings: display name, bio, subjects, grade levels,
school, role, pronouns, profile fields, avatar and header, and whether
followers need approval.

Profile changes go through ``ProfileActions.update``, as the client API's
profile endpoints do, so followers get the same Update(Person).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from quart import current_app, g, redirect, request

from federation.sanitize import plain_text
from outbox.actions import ActionError
from outbox.profiles import MAX_FIELDS, ProfileActions, ProfileChange
from storage import accounts
from web.app import runtime_of
from web.ui import blueprint
from web.ui.session import render, signed_in

log = logging.getLogger(__name__)

TEXT_FIELDS = ("display_name", "note", "school", "role", "pronouns")


def _labels(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _profile_fields(viewer: Any) -> list[dict[str, str]]:
    """Return the viewer's profile fields as typed, padded to the maximum."""
    stored = viewer["fields"] or []
    if isinstance(stored, str):
        stored = json.loads(stored)
    rows = [
        {"name": item.get("name", ""), "value": item.get("source") or plain_text(item.get("value", ""))}
        for item in stored
    ]
    return rows + [{"name": "", "value": ""}] * (MAX_FIELDS - len(rows))


def _values(viewer: Any) -> dict[str, Any]:
    return {
        "display_name": viewer["display_name"] or "",
        "note": plain_text(viewer["summary"] or ""),
        "subjects": ", ".join(viewer["subjects"] or []),
        "grade_levels": ", ".join(viewer["grade_levels"] or []),
        "school": viewer["school"] or "",
        "role": viewer["teacher_role"] or "",
        "pronouns": viewer["pronouns"] or "",
        "fields": _profile_fields(viewer),
    }


async def _upload(files: Any, name: str) -> bytes | None:
    upload = files.get(name)
    if upload is None or not upload.filename:
        return None
    data = upload.read()
    return data or None


@blueprint.get("/settings/profile")
@signed_in
async def profile_settings() -> Any:
    return await render("profile_settings.html", values=_values(g.viewer), notice=request.args.get("done"))


@blueprint.post("/settings/profile")
@signed_in
async def save_profile() -> Any:
    runtime = runtime_of(current_app)
    form = await request.form
    files = await request.files
    pairs = [
        (form.get(f"field_name_{index}", ""), form.get(f"field_value_{index}", ""))
        for index in range(MAX_FIELDS)
    ]
    change = ProfileChange(
        display_name=form.get("display_name", ""),
        note=form.get("note", ""),
        fields=pairs,
        subjects=_labels(form.get("subjects", "")),
        grade_levels=_labels(form.get("grade_levels", "")),
        school=form.get("school", "").strip()[:200],
        teacher_role=form.get("role", "").strip()[:200],
        pronouns=form.get("pronouns", "").strip()[:200],
        avatar=await _upload(files, "avatar"),
        header=await _upload(files, "header"),
    )
    try:
        await ProfileActions(runtime).update(g.viewer, change)
    except ActionError as error:
        log.info("profile change by account %s rejected: %s", g.viewer["id"], error.message)
        values = {name: form.get(name, "") for name in (*TEXT_FIELDS, "subjects", "grade_levels")}
        values["fields"] = [{"name": name, "value": value} for name, value in pairs]
        return await render("profile_settings.html", status=422, values=values, error=error.message)
    return redirect("/settings/profile?done=profile", 303)


@blueprint.post("/settings/privacy")
@signed_in
async def save_privacy() -> Any:
    """Store whether followers need approval and tell followers' servers."""
    runtime = runtime_of(current_app)
    form = await request.form
    approve = form.get("approve_followers") == "on"
    async with accounts.transaction(runtime.pool) as connection:
        row = await connection.fetchrow(
            "UPDATE accounts SET manually_approves_followers = $2 WHERE id = $1 RETURNING *",
            g.viewer["id"],
            approve,
        )
        # The actor document carries manuallyApprovesFollowers, so followers'
        # servers get it in an Update, as for any other profile change.
        await ProfileActions(runtime).send_update(connection, row)
    log.info("account %s set follower approval to %s", g.viewer["id"], approve)
    return redirect("/settings/profile?done=privacy", 303)
