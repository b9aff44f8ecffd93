"""Profile, privacy and posting settings: display name, bio, subjects, grade
levels, school, role, pronouns, profile fields, avatar and header, whether
followers need approval, and the defaults of new posts.

Profile changes go through ``ProfileActions.update``, as the client API's
profile endpoints do, so followers get the same Update(Person).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from quart import current_app, g, redirect, request

from actors.visibility import VISIBILITIES
from federation.sanitize import plain_text
from outbox.actions import ActionError
from outbox.profiles import MAX_FIELDS, ProfileActions, ProfileChange
from storage import accounts, preferences
from web.app import runtime_of
from web.ui import blueprint
from web.ui.i18n import _
from web.ui.session import render, safe_next, signed_in

log = logging.getLogger(__name__)

TEXT_FIELDS = ("display_name", "note", "school", "role", "pronouns")
# An ISO 639-1 or 639-3 code, as the accounts table's CHECK constraint accepts.
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")


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


@blueprint.get("/settings/privacy")
@signed_in
async def privacy_settings() -> Any:
    values = {
        "visibility": g.viewer["default_visibility"],
        "sensitive": g.viewer["default_sensitive"],
        "language": g.viewer["default_language"] or "",
    }
    return await render("privacy_settings.html", values=values, notice=request.args.get("done"))


@blueprint.post("/settings/posting")
@signed_in
async def save_posting_defaults() -> Any:
    """Store the default visibility, sensitive flag and language of new posts."""
    runtime = runtime_of(current_app)
    form = await request.form
    values = {
        "visibility": form.get("default_visibility", ""),
        "sensitive": form.get("default_sensitive") == "on",
        "language": form.get("default_language", "").strip().lower(),
    }
    error = None
    if values["visibility"] not in VISIBILITIES:
        error = _("Choose who can see new posts.")
    elif values["language"] and not LANGUAGE_CODE.fullmatch(values["language"]):
        error = _("Enter a language as a two or three letter ISO 639 code, such as en.")
    if error is not None:
        log.info("posting defaults of account %s rejected: %s", g.viewer["id"], error)
        return await render("privacy_settings.html", status=422, values=values, error=error)
    await preferences.save_posting_defaults(
        runtime.pool,
        g.viewer["id"],
        visibility=values["visibility"],
        sensitive=values["sensitive"],
        language=values["language"] or None,
    )
    log.info(
        "account %s set default visibility %s, sensitive %s, language %s",
        g.viewer["id"],
        values["visibility"],
        values["sensitive"],
        values["language"] or None,
    )
    return redirect("/settings/privacy?done=posting", 303)


@blueprint.post("/settings/privacy")
@signed_in
async def save_privacy() -> Any:
    """Store whether followers need approval and tell followers' servers.

    The form is on the profile page and on the privacy page, and the redirect
    goes back to the page it came from.
    """
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
    origin = safe_next(form.get("next"), "/settings/profile").split("?")[0]
    if origin not in ("/settings/profile", "/settings/privacy"):
        origin = "/settings/profile"
    return redirect(f"{origin}?done=privacy", 303)
