"""Lesson plan pages: a plan with its adaptations and revisions, composing,
editing and adapting a plan, and the teacher's collections.

The routes call the same validation (``parse_fields``), actions
(``PlanActions``) and presenters (``plan_json``) as the client API.
"""

from __future__ import annotations

import logging
from typing import Any

from quart import current_app, g, redirect, request

from actors.lesson_plan import (
    LICENSES,
    PLAN_VISIBILITIES,
    InvalidPlan,
    parse_fields,
    parse_visibility,
)
from federation.errors import FederationError
from outbox.lesson_plans import PlanActions, check_collection_fits, fields_of
from storage import lesson_plans as plans
from web.api_lesson_plans import (
    COLLECTION_VISIBILITIES,
    _collection_name,
    _original,
    plan_json,
    plans_json,
)
from web.app import parse_id, runtime_of
from web.ui import blueprint
from web.ui.confirm import ask_first, confirmation_page, is_confirmed
from web.ui.i18n import _, ngettext
from web.ui.session import FormError, back_to, current_viewer, render, signed_in

log = logging.getLogger(__name__)

LIST_FIELDS = ("subjects", "grade_levels", "objectives", "materials")
TEXT_FIELDS = ("title", "summary", "body", "age_range", "duration_minutes", "license")


async def _visible_plan(plan_id: str, viewer: Any) -> Any:
    """Return the plan ``viewer`` may read; 404 for a hidden or missing one."""
    number = parse_id(plan_id)
    plan = None
    if number is not None:
        plan = await plans.visible_by_id(
            runtime_of(current_app).pool, number, viewer["id"] if viewer else None
        )
    if plan is None:
        raise FederationError(404, _("This lesson plan does not exist or is not shared with you."))
    return plan


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _params_from_form(form: Any) -> dict[str, Any]:
    """Turn the plan form into the client API's parameters.

    Lists are typed one item a line; a standard is ``FRAMEWORK CODE``.
    """
    params: dict[str, Any] = {name: form.get(name, "").strip() for name in TEXT_FIELDS}
    for name in LIST_FIELDS:
        params[name] = _lines(form.get(name, ""))
    alignments = []
    for line in _lines(form.get("alignments", "")):
        framework, _sep, code = line.partition(" ")
        alignments.append({"framework": framework, "code": code.strip()})
    params["alignments"] = alignments
    if not params["duration_minutes"]:
        params["duration_minutes"] = None
    if not params["age_range"]:
        params["age_range"] = None
    params["visibility"] = form.get("visibility", "")
    params["adapted_from"] = form.get("adapted_from", "").strip()
    return params


def _form_values(entity: dict[str, Any] | None) -> dict[str, Any]:
    """Return what the plan form shows for an existing plan (or an empty one)."""
    if entity is None:
        return {"visibility": "public", "license": ""}
    return {
        "title": entity["title"],
        "summary": entity["summary"] or "",
        "body": entity["body_markdown"] or "",
        "subjects": "\n".join(entity["subjects"]),
        "grade_levels": "\n".join(entity["grade_levels"]),
        "objectives": "\n".join(entity["objectives"]),
        "materials": "\n".join(entity["materials"]),
        "alignments": "\n".join(
            f"{item['framework']} {item['code']}" for item in entity["alignments"]
        ),
        "age_range": entity["age_range"] or "",
        "duration_minutes": entity["duration_minutes"] or "",
        "license": entity["license"]["key"] if entity["license"] else "",
        "visibility": entity["visibility"],
    }


MAX_UPLOADS = 16


async def _attachment_ids(runtime: Any, existing: list[int]) -> list[int] | None:
    """Store the files uploaded with the form; return the plan's attachment ids.

    ``existing`` are the ids the plan keeps (those not ticked for removal).
    Returns None when nothing changes, so an edit leaves the attachments alone.
    """
    files = await request.files
    uploads = [item for item in files.getlist("attachments") if item.filename]
    if len(existing) + len(uploads) > MAX_UPLOADS:
        raise InvalidPlan("attachments", ngettext("at most %(num)s file", "at most %(num)s files", MAX_UPLOADS))
    stored = []
    for upload in uploads:
        row = await PlanActions(runtime).store_upload(g.viewer, upload.filename or "attachment", upload.read())
        stored.append(row["id"])
    return [*existing, *stored]


async def _plan_form(status: int = 200, **context: Any) -> Any:
    return await render(
        "plan_form.html",
        status=status,
        licenses=list(LICENSES.values()),
        visibilities=PLAN_VISIBILITIES,
        **context,
    )


@blueprint.get("/plans/new")
@signed_in
async def new_plan() -> Any:
    runtime = runtime_of(current_app)
    original = None
    values = _form_values(None)
    values["license"] = await PlanActions(runtime).default_license(g.viewer) or ""
    adapt = request.args.get("adapt")
    if adapt:
        plan = await _visible_plan(adapt, g.viewer)
        original = await plan_json(runtime, plan, g.viewer["id"])
        values = {**_form_values(original), "visibility": "public"}
        values["title"] = _("%(title)s (adapted)", title=original["title"])[:200]
        values["adapted_from"] = original["id"]
    return await _plan_form(values=values, original=original, action="/plans")


@blueprint.post("/plans")
@signed_in
async def create_plan() -> Any:
    runtime = runtime_of(current_app)
    form = await request.form
    values = dict(form)
    original = None
    try:
        params = _params_from_form(form)
        fields = parse_fields(params)
        visibility = parse_visibility(params["visibility"])
        if params["adapted_from"]:
            original = await _original(params["adapted_from"], g.viewer)
        attachment_ids = await _attachment_ids(runtime, [])
        plan = await PlanActions(runtime).create(
            g.viewer,
            fields,
            attachment_ids=attachment_ids or None,
            original=original,
            visibility=visibility,
        )
    except InvalidPlan as error:
        log.info("plan by account %s rejected: %s", g.viewer["id"], error)
        entity = await plan_json(runtime, original, g.viewer["id"]) if original else None
        return await _plan_form(
            status=422, values=values, original=entity, action="/plans",
            error=_("%(field)s: %(problem)s", field=error.field, problem=error.message),
        )
    log.info("plan %s created by account %s from the web interface", plan["status_id"], g.viewer["id"])
    return _redirect(plan)


def _redirect(plan: Any) -> Any:
    return redirect(f"/plans/{plan['status_id']}", 303)


@blueprint.get("/plans/<plan_id>")
async def plan_page(plan_id: str) -> Any:
    runtime = runtime_of(current_app)
    viewer = await current_viewer()
    plan = await _visible_plan(plan_id, viewer)
    viewer_id = viewer["id"] if viewer else None
    entity = await plan_json(runtime, plan, viewer_id)
    adaptations = list(await plans.adaptations_of(runtime.pool, plan["uri"], viewer_id))
    own = viewer is not None and plan["account_id"] == viewer["id"]
    chain = []
    for item in entity["attribution"]:
        known = await plans.visible_by_uri(runtime.pool, item["uri"], viewer_id)
        href = f"/plans/{known['status_id']}" if known is not None else item["uri"]
        chain.append({**item, "href": href})
    revisions = list(await plans.revisions(runtime.pool, plan["status_id"])) if own else []
    collections = list(await plans.collections_of(runtime.pool, viewer["id"])) if viewer else []
    return await render(
        "plan.html",
        plan=entity,
        adaptations=adaptations,
        chain=chain,
        revisions=revisions,
        own=own,
        collections=collections,
        alternate=plan["uri"] if plan["local"] else None,
    )


@blueprint.get("/plans/<plan_id>/edit")
@signed_in
async def edit_plan_form(plan_id: str) -> Any:
    runtime = runtime_of(current_app)
    plan = await _own_plan(plan_id)
    entity = await plan_json(runtime, plan, g.viewer["id"])
    return await _plan_form(values=_form_values(entity), editing=entity, action=f"/plans/{plan_id}/edit")


async def _own_plan(plan_id: str) -> Any:
    plan = await _visible_plan(plan_id, g.viewer)
    if plan["account_id"] != g.viewer["id"]:
        raise FormError(403, _("Only the author can change this lesson plan."))
    return plan


@blueprint.post("/plans/<plan_id>/edit")
@signed_in
async def edit_plan(plan_id: str) -> Any:
    runtime = runtime_of(current_app)
    plan = await _own_plan(plan_id)
    form = await request.form
    try:
        params = _params_from_form(form)
        params.pop("visibility")
        params.pop("adapted_from")
        fields = parse_fields(params, partial_of=fields_of(plan))
        current = [item["id"] for item in await plans.attachments_of(runtime.pool, [plan["status_id"]])]
        removed = {parse_id(value) for value in form.getlist("remove_attachment")}
        kept = [number for number in current if number not in removed]
        attachment_ids = await _attachment_ids(runtime, kept)
        if attachment_ids == current:
            attachment_ids = None
        updated = await PlanActions(runtime).update(g.viewer, plan, fields, attachment_ids)
    except InvalidPlan as error:
        entity = await plan_json(runtime, plan, g.viewer["id"])
        return await _plan_form(
            status=422, values=dict(form), editing=entity, action=f"/plans/{plan_id}/edit",
            error=_("%(field)s: %(problem)s", field=error.field, problem=error.message),
        )
    log.info("plan %s edited by account %s from the web interface", plan["status_id"], g.viewer["id"])
    return _redirect(updated)


@blueprint.post("/plans/<plan_id>/save")
@signed_in
async def save_plan(plan_id: str) -> Any:
    """Add the plan to one of the viewer's collections, or to a new one."""
    runtime = runtime_of(current_app)
    plan = await _visible_plan(plan_id, g.viewer)
    form = await request.form
    actions = PlanActions(runtime)
    if form.get("new_collection", "").strip():
        collection = await _new_collection(actions, form, plan)
    else:
        number = parse_id(form.get("collection_id", ""))
        collection = await plans.collection(runtime.pool, number) if number is not None else None
        if collection is None or collection["account_id"] != g.viewer["id"]:
            raise FormError(404, _("Choose one of your collections or name a new one."))
    try:
        await actions.add_to_collection(g.viewer, collection, plan)
    except InvalidPlan as error:
        raise FormError(422, error.message) from None
    log.info("plan %s saved to collection %s by account %s", plan["status_id"], collection["id"], g.viewer["id"])
    return back_to(f"/plans/{plan['status_id']}")


def _form_collection_name(value: str) -> str:
    """Check a collection name as the client API does, raising FormError (422)."""
    try:
        return _collection_name({"name": value})
    except InvalidPlan as error:
        raise FormError(
            422, _("%(field)s: %(problem)s", field=error.field, problem=error.message)
        ) from None


async def _new_collection(actions: PlanActions, form: Any, plan: Any) -> Any:
    """Create the collection named in the plan page's form, once the plan fits it.

    The check comes first so that a plan its readers could not open leaves no
    empty collection behind.
    """
    visibility = form.get("new_collection_visibility", "private")
    if visibility not in COLLECTION_VISIBILITIES:
        raise FormError(422, _("Unknown visibility %(value)s.", value=repr(visibility[:20])))
    name = _form_collection_name(form.get("new_collection", ""))
    try:
        check_collection_fits(g.viewer, visibility, plan)
    except InvalidPlan as error:
        raise FormError(422, error.message) from None
    collection = await actions.create_collection(g.viewer, name, visibility)
    if collection is None:
        raise FormError(422, _("You already have a collection named %(name)s.", name=name))
    return collection


@blueprint.get("/collections")
@signed_in
async def my_collections() -> Any:
    runtime = runtime_of(current_app)
    rows = await plans.collections_of(runtime.pool, g.viewer["id"])
    listed = []
    for row in rows:
        items = await plans.collection_items(runtime.pool, row["id"], g.viewer["id"])
        listed.append({"row": row, "plans": await plans_json(runtime, list(items), g.viewer["id"])})
    return await render("collections.html", collections=listed)


@blueprint.get("/plans/<plan_id>/delete")
@signed_in
async def confirm_delete_plan(plan_id: str) -> Any:
    plan = await _own_plan(plan_id)
    return await confirmation_page(
        question=_("Delete this lesson plan?"),
        subject=plan["title"],
        detail=_("This cannot be undone."),
        button=_("Delete plan"),
        cancel_path=f"/plans/{plan['status_id']}",
    )


@blueprint.post("/plans/<plan_id>/delete")
@signed_in
async def delete_plan(plan_id: str) -> Any:
    plan = await _own_plan(plan_id)
    if not await is_confirmed():
        return ask_first()
    await PlanActions(runtime_of(current_app)).delete(g.viewer, plan)
    log.info("plan %s deleted by account %s from the web interface", plan["status_id"], g.viewer["id"])
    return redirect(f"/@{g.viewer['username']}", 303)


async def _own_collection(collection_id: str) -> Any:
    number = parse_id(collection_id)
    row = await plans.collection(runtime_of(current_app).pool, number) if number is not None else None
    if row is None or row["account_id"] != g.viewer["id"] or not row["local"]:
        raise FormError(404, _("This collection does not exist."))
    return row


@blueprint.post("/collections/<collection_id>/remove/<plan_id>")
@signed_in
async def remove_from_collection(collection_id: str, plan_id: str) -> Any:
    collection = await _own_collection(collection_id)
    number = parse_id(plan_id)
    if number is None:
        raise FormError(404, _("This lesson plan does not exist or is not shared with you."))
    await PlanActions(runtime_of(current_app)).remove_from_collection(g.viewer, collection, number)
    log.info("plan %s removed from collection %s by account %s", number, collection["id"], g.viewer["id"])
    return redirect("/collections", 303)


@blueprint.post("/collections/<collection_id>/rename")
@signed_in
async def rename_collection(collection_id: str) -> Any:
    collection = await _own_collection(collection_id)
    form = await request.form
    name = _form_collection_name(form.get("name", ""))
    renamed = await PlanActions(runtime_of(current_app)).rename_collection(g.viewer, collection, name)
    if renamed is None:
        raise FormError(422, _("You already have a collection named %(name)s.", name=name))
    log.info("collection %s renamed by account %s", collection["id"], g.viewer["id"])
    return redirect("/collections", 303)


@blueprint.get("/collections/<collection_id>/delete")
@signed_in
async def confirm_delete_collection(collection_id: str) -> Any:
    collection = await _own_collection(collection_id)
    return await confirmation_page(
        question=_("Delete this collection?"),
        subject=collection["name"],
        detail=_("The plans in it stay."),
        button=_("Delete collection"),
        cancel_path="/collections",
        done_path="/collections",
    )


@blueprint.post("/collections/<collection_id>/delete")
@signed_in
async def delete_collection(collection_id: str) -> Any:
    collection = await _own_collection(collection_id)
    if not await is_confirmed():
        return ask_first()
    await PlanActions(runtime_of(current_app)).delete_collection(g.viewer, collection)
    log.info("collection %s deleted by account %s", collection["id"], g.viewer["id"])
    return redirect("/collections", 303)
