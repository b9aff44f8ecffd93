"""Event pages: upcoming events, an event with RSVP, and the organiser's
edit, cancel and delete forms, with links to the iCalendar feeds.

Input goes through ``EventActions`` exactly as from the client API, so the
same checks name the field at fault.
"""

from __future__ import annotations

import logging
from typing import Any

from quart import current_app, g, redirect, request

from actors.event import JOIN_MODES
from outbox.events import EventActions, EventError, NewEvent
from storage import events as event_store
from storage import groups
from web.api_events import events_json
from web.app import parse_id, runtime_of
from web.presenters import accounts_json
from web.ui import blueprint
from web.ui.accounts import time_zones
from web.ui.confirm import ask_first, confirmation_page, is_confirmed
from web.ui.i18n import _
from web.ui.session import FormError, back_to, current_viewer, render, signed_in
from web.ui.views import visible_status

log = logging.getLogger(__name__)

LIST_SIZE = 40
EDITABLE = ("name", "description", "starts_at", "ends_at", "timezone", "online_url", "capacity", "join_mode")


async def _visible_event(event_id: str, viewer: Any) -> Any:
    """Return the event whose status ``viewer`` may see; 404 otherwise."""
    runtime = runtime_of(current_app)
    status = await visible_status(runtime, event_id, viewer)
    event = await event_store.by_status_id(runtime.pool, status["id"])
    if event is None:
        raise FormError(404, _("This event does not exist or is not shared with you."))
    return event


def _input_from_form(form: Any) -> dict[str, Any]:
    """Return the client API's event fields from the form's values.

    Raises EventError (422) for coordinates that are not numbers or come
    without their pair; ``NewEvent`` checks their ranges.
    """
    values: dict[str, Any] = {name: form.get(name, "").strip() for name in EDITABLE}
    values["online_url"] = values["online_url"] or None
    values["capacity"] = values["capacity"] or None
    values["place"] = _place_from_form(form)
    if "visibility" in form:
        values["visibility"] = form.get("visibility")
    if "group_id" in form:
        values["group_id"] = form.get("group_id") or None
    return values


def _place_from_form(form: Any) -> dict[str, Any] | None:
    place: dict[str, Any] = {}
    name = form.get("place", "").strip()
    if name:
        place["name"] = name
    coordinates = {key: form.get(key, "").strip() for key in ("latitude", "longitude")}
    filled = [key for key, text in coordinates.items() if text]
    if len(filled) == 1:
        missing = "longitude" if filled == ["latitude"] else "latitude"
        raise EventError(422, f"place.{missing}", "is missing; give both latitude and longitude")
    for key, text in coordinates.items():
        if not text:
            continue
        try:
            place[key] = float(text.replace(",", "."))
        except ValueError:
            raise EventError(422, f"place.{key}", f"must be a number, not {text[:30]!r}") from None
    return place or None


def _with_unshown_place_fields(event: Any, place: dict[str, Any] | None) -> dict[str, Any] | None:
    """Keep the address parts a client app set, which the form does not show."""
    address = {
        key: value
        for key, value in (event_store.place_of(event) or {}).items()
        if key not in ("name", "latitude", "longitude")
    }
    if not address:
        return place
    return {**address, **(place or {})}


def _form_values(entity: dict[str, Any]) -> dict[str, Any]:
    place = entity["place"] if isinstance(entity["place"], dict) else {}
    return {
        "name": entity["name"],
        "description": entity["description_text"],
        "starts_at": entity["starts_at"][:16],
        "ends_at": (entity["ends_at"] or "")[:16],
        "timezone": entity["timezone"],
        "online_url": entity["online_url"] or "",
        "capacity": entity["capacity"] or "",
        "join_mode": entity["join_mode"],
        "place": place.get("name", ""),
        "latitude": _coordinate_text(place.get("latitude")),
        "longitude": _coordinate_text(place.get("longitude")),
    }


def _coordinate_text(value: Any) -> str:
    return "" if value is None else f"{value:g}"


async def _event_form(status: int = 200, **context: Any) -> Any:
    # A group is chosen when the event is published, so only that form lists them.
    joined = []
    if not context.get("editing"):
        joined = await groups.joined_by(runtime_of(current_app).pool, g.viewer["id"])
    return await render(
        "event_form.html",
        status=status,
        zones=time_zones(),
        join_modes=JOIN_MODES,
        groups=joined,
        **context,
    )


@blueprint.get("/events")
async def event_list() -> Any:
    runtime = runtime_of(current_app)
    viewer = await current_viewer()
    query = request.args.get("q", "").strip()[:100]
    rows = await event_store.upcoming(
        runtime.pool, query=query or None, local_only=False, limit=LIST_SIZE, offset=0
    )
    return await render(
        "events.html", events=await events_json(runtime, list(rows), viewer), query=query
    )


@blueprint.get("/events/new")
@signed_in
async def new_event() -> Any:
    zone = g.viewer["time_zone"] or runtime_of(current_app).settings.instance.time_zone
    return await _event_form(values={"timezone": zone, "join_mode": "free", "visibility": "public"}, action="/events")


@blueprint.post("/events")
@signed_in
async def create_event() -> Any:
    runtime = runtime_of(current_app)
    form = await request.form
    try:
        new = NewEvent(**_input_from_form(form))
        event = await EventActions(runtime).create_event(g.viewer, new)
    except EventError as error:
        log.info("event by account %s rejected: %s", g.viewer["id"], error.message)
        return await _event_form(status=422, values=dict(form), action="/events", error=error.message)
    log.info("event %s created by account %s from the web interface", event["status_id"], g.viewer["id"])
    return redirect(f"/events/{event['status_id']}", 303)


@blueprint.get("/events/<event_id>")
async def event_page(event_id: str) -> Any:
    runtime = runtime_of(current_app)
    viewer = await current_viewer()
    event = await _visible_event(event_id, viewer)
    entity = (await events_json(runtime, [event], viewer))[0]
    organiser = await runtime.pool.fetchrow("SELECT * FROM accounts WHERE id = $1", event["account_id"])
    own = viewer is not None and event["account_id"] == viewer["id"]
    participants = []
    if own:
        rows = list(await event_store.participants(runtime.pool, event["status_id"]))
        rendered = await accounts_json(runtime, rows)
        participants = [
            {"account": account, "state": row["state"], "message": row["message"]}
            for row, account in zip(rows, rendered)
        ]
    return await render(
        "event.html",
        event=entity,
        own=own,
        participants=participants,
        organiser_name=organiser["username"] if organiser and organiser["domain"] is None else None,
        alternate=event["uri"] if event["local"] else None,
    )


@blueprint.get("/events/<event_id>/edit")
@signed_in
async def edit_event_form(event_id: str) -> Any:
    runtime = runtime_of(current_app)
    event = await _own_event(event_id)
    entity = (await events_json(runtime, [event], g.viewer))[0]
    status = await visible_status(runtime, event_id, g.viewer)
    # The form edits the text the organiser typed, not the rendered HTML.
    entity["description_text"] = status["source_text"] or ""
    return await _event_form(values=_form_values(entity), editing=entity, action=f"/events/{event_id}/edit")


async def _own_event(event_id: str) -> Any:
    event = await _visible_event(event_id, g.viewer)
    if event["account_id"] != g.viewer["id"]:
        raise FormError(403, _("Only the organiser can change this event."))
    return event


@blueprint.post("/events/<event_id>/edit")
@signed_in
async def edit_event(event_id: str) -> Any:
    runtime = runtime_of(current_app)
    event = await _own_event(event_id)
    form = await request.form
    try:
        changes = _input_from_form(form)
        changes.pop("visibility", None)
        changes.pop("group_id", None)
        changes["place"] = _with_unshown_place_fields(event, changes["place"])
        event = await EventActions(runtime).update_event(g.viewer, event, changes)
    except EventError as error:
        entity = (await events_json(runtime, [event], g.viewer))[0]
        return await _event_form(
            status=422, values=dict(form), editing=entity, action=f"/events/{event_id}/edit", error=error.message
        )
    log.info("event %s edited by account %s from the web interface", event["status_id"], g.viewer["id"])
    return redirect(f"/events/{event['status_id']}", 303)


@blueprint.post("/events/<event_id>/participants/<account_id>/<decision>")
@signed_in
async def answer_participant(event_id: str, account_id: str, decision: str) -> Any:
    """Let the organiser accept or decline a request to attend."""
    joiner_id = parse_id(account_id)
    if decision not in ("authorize", "reject") or joiner_id is None:
        raise FormError(404, _("Unknown action."))
    event = await _own_event(event_id)
    await EventActions(runtime_of(current_app)).answer(g.viewer, event, joiner_id, decision == "authorize")
    log.info("participant %s of event %s: %s by account %s", joiner_id, event["status_id"], decision, g.viewer["id"])
    return back_to(f"/events/{event['status_id']}")


@blueprint.get("/events/<event_id>/<action>")
@signed_in
async def confirm_event_action(event_id: str, action: str) -> Any:
    """Ask the organiser before cancelling or deleting an event."""
    if action not in ("cancel", "delete"):
        raise FormError(404, _("Unknown action."))
    event = await _own_event(event_id)
    if action == "cancel":
        return await confirmation_page(
            question=_("Cancel this event?"),
            subject=event["name"],
            detail=_("Participants are told, and the event stays listed as cancelled."),
            button=_("Cancel event"),
            cancel_path=f"/events/{event['status_id']}",
        )
    return await confirmation_page(
        question=_("Delete this event?"),
        subject=event["name"],
        detail=_("Participants are told. This cannot be undone."),
        button=_("Delete event"),
        cancel_path=f"/events/{event['status_id']}",
        done_path="/events",
    )


@blueprint.post("/events/<event_id>/delete")
@signed_in
async def delete_event(event_id: str) -> Any:
    event = await _own_event(event_id)
    if not await is_confirmed():
        return ask_first()
    await EventActions(runtime_of(current_app)).delete_event(g.viewer, event)
    log.info("event %s deleted by account %s from the web interface", event["status_id"], g.viewer["id"])
    return redirect("/events", 303)


@blueprint.post("/events/<event_id>/<action>")
@signed_in
async def event_action(event_id: str, action: str) -> Any:
    if action not in ("join", "leave", "cancel"):
        raise FormError(404, _("Unknown action."))
    runtime = runtime_of(current_app)
    event = await _visible_event(event_id, g.viewer)
    actions = EventActions(runtime)
    if action == "join":
        form = await request.form
        await actions.join(g.viewer, event, form.get("message", "")[:500])
    elif action == "leave":
        await actions.leave(g.viewer, event)
    elif not await is_confirmed():
        return ask_first()
    else:
        await actions.cancel_event(g.viewer, event)
    log.info("account %s chose %s for event %s", g.viewer["id"], action, event["status_id"])
    return back_to(f"/events/{event['status_id']}")
