"""Events in Pedagogue's client API (``/api/pedagogue/v1/events``) and their
iCalendar feeds (``/ical/...``), documented in ``web/openapi/events.yaml``.

Errors are ``{"error": message}``; invalid input adds ``"field"``, the name of
the field at fault.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import icalendar
from quart import Blueprint, Response, current_app, g, jsonify, request

from actors.event import local_iso, render_place
from federation.errors import FederationError
from federation.sanitize import plain_text
from outbox.actions import ActionError
from outbox.events import (
    EVENT_INPUT_FIELDS,
    EventActions,
    EventError,
    NewEvent,
    check_fields,
)
from storage import accounts, statuses
from storage import events as event_store
from web.api import _can_see, _int_param, _params, _token_account, authenticated
from web.app import error_response, parse_id, runtime_of
from web.presenters import account_json, accounts_json, iso_millis, web_url

log = logging.getLogger(__name__)

blueprint = Blueprint("api_events", __name__)

PREFIX = "/api/pedagogue/v1/events"
DEFAULT_LIMIT = 20
MAX_LIMIT = 40
MAX_QUERY = 200
# HTML boundaries that end a line of an event description.
_LINE_BREAK = re.compile(r"<br\s*/?>|</p\s*>|</li\s*>", re.IGNORECASE)
# How long an iCalendar feed keeps past events.
FEED_PAST_DAYS = 30
FEED_LIMIT = 500


def _rejected(status: int, message: str, field: str | None = None) -> Response:
    account = g.get("account")
    log.info(
        "rejected %s %s from account %s: %s %s",
        request.method,
        request.path,
        account["id"] if account is not None else None,
        status,
        message,
    )
    response = error_response(status, message)
    if field is not None:
        document = {"error": message, "field": field}
        response = jsonify(document)
        response.status_code = status
    return response


async def _event_error(error: EventError) -> Response:
    return _rejected(error.status, error.message, error.field)


async def _action_error(error: ActionError) -> Response:
    if isinstance(error, EventError):
        return await _event_error(error)
    return _rejected(error.status, error.message)


async def _federation_error(error: FederationError) -> Response:
    return _rejected(error.status, error.message)


blueprint.register_error_handler(ActionError, _action_error)
blueprint.register_error_handler(FederationError, _federation_error)


# Presenting


async def events_json(runtime: Any, rows: list[Any], viewer: Any | None) -> list[dict]:
    """Return Event entities for event rows, with one query per table."""
    if not rows:
        return []
    ids = [row["status_id"] for row in rows]
    status_rows = {
        row["id"]: row
        for row in await runtime.pool.fetch(
            "SELECT * FROM statuses WHERE id = ANY($1::bigint[])", ids
        )
    }

    account_ids = {row["account_id"] for row in rows}
    account_ids |= {row["group_account_id"] for row in rows if row["group_account_id"]}
    account_rows = list(
        await runtime.pool.fetch(
            "SELECT * FROM accounts WHERE id = ANY($1::bigint[])", list(account_ids)
        )
    )
    rendered = dict(
        zip(
            [row["id"] for row in account_rows],
            await accounts_json(runtime, account_rows),
        )
    )

    counts = await event_store.participant_counts(runtime.pool, ids)

    mine: dict[int, Any] = {}
    if viewer is not None:
        for row in await runtime.pool.fetch(
            "SELECT * FROM event_participants WHERE account_id = $1"
            " AND event_id = ANY($2::bigint[])",
            viewer["id"],
            ids,
        ):
            mine[row["event_id"]] = row

    return [
        _event(
            row,
            status_rows[row["status_id"]],
            rendered,
            counts,
            mine.get(row["status_id"]),
        )
        for row in rows
    ]


def participant_count(event: Any, counts: dict[int, int]) -> int:
    """Return the accepted participants: counted here for local events, as the
    organiser's server last reported for remote ones."""
    counted = counts.get(event["status_id"], 0)
    if event["local"] or event["remote_participant_count"] is None:
        return counted
    return max(int(event["remote_participant_count"]), counted)


def _event(
    event: Any, status: Any, rendered: dict[int, Any], counts: dict[int, int], mine: Any
) -> dict[str, Any]:
    count = participant_count(event, counts)
    capacity = event["capacity"]
    group = (
        rendered.get(event["group_account_id"]) if event["group_account_id"] else None
    )
    place = event_store.place_of(event)
    return {
        "id": str(event["status_id"]),
        "uri": event["uri"],
        "url": web_url(status["url"], event["uri"]),
        "name": event["name"],
        "description": status["content"],
        "starts_at": local_iso(event["starts_at"], event["timezone"]),
        "ends_at": local_iso(event["ends_at"], event["timezone"]),
        "timezone": event["timezone"],
        "online_url": event["online_url"],
        "place": render_place(place) if place else None,
        "capacity": capacity,
        "remaining_capacity": max(capacity - count, 0) if capacity else None,
        "participants_count": count,
        "join_mode": event["join_mode"],
        "registration_open": event["registration_open"],
        "status": event["status"],
        "visibility": status["visibility"],
        "local": event["local"],
        "organiser": rendered[event["account_id"]],
        "group": group,
        "group_uri": event["group_uri"],
        "created_at": iso_millis(status["created_at"]),
        "participation": _participation(mine) if mine is not None else None,
    }


def _participation(row: Any) -> dict[str, Any]:
    return {
        "state": row["state"],
        "message": row["message"],
        "created_at": iso_millis(row["created_at"]),
    }


async def _event_param(event_id: str, viewer: Any | None) -> Any:
    """Return the event with that id, when ``viewer`` may see its status.

    Raises FederationError 404 otherwise, as for an unknown id.
    """
    number = parse_id(event_id)
    if number is None:
        raise FederationError(404, "Record not found")
    pool = runtime_of(current_app).pool
    event = await event_store.by_status_id(pool, number)
    status = await statuses.by_id(pool, number) if event is not None else None
    if status is None or not await _can_see(status, viewer):
        raise FederationError(404, "Record not found")
    return event


def _json(document: Any, status: int = 200, link: str | None = None) -> Response:
    response = jsonify(document)
    response.status_code = status
    if link is not None:
        response.headers["Link"] = link
    return response


def _page_params(params: dict[str, Any]) -> tuple[int, int]:
    """Return (limit, offset) from the query, within bounds."""
    limit = max(1, min(_count(params, "limit") or DEFAULT_LIMIT, MAX_LIMIT))
    offset = max(0, _count(params, "offset") or 0)
    return limit, offset


def _count(params: dict[str, Any], name: str) -> int | None:
    try:
        return _int_param(params, name)
    except FederationError:
        value = str(params.get(name))[:40]
        raise EventError(422, name, f"must be a whole number, not {value!r}") from None


def _next_link(
    params: dict[str, Any], limit: int, offset: int, count: int
) -> str | None:
    """Return a Link header with rel="next" when the page was full."""
    if count < limit:
        return None
    query = urlencode({**params, "limit": limit, "offset": offset + limit})
    return f'<{request.base_url}?{query}>; rel="next"'


# Endpoints


def _new_event(params: dict[str, Any]) -> NewEvent:
    """Return the client input of a new event.

    Raises EventError (422) for a body field that is not an event field, as an
    edit does. Query parameters are not checked, because clients may send
    their own there.
    """
    check_fields(name for name in params if name not in request.args)
    values = {name: params[name] for name in EVENT_INPUT_FIELDS if name in params}
    return NewEvent(**values)


@blueprint.post(PREFIX)
@authenticated(scope="write:statuses")
async def create_event() -> Response:
    runtime = runtime_of(current_app)
    event = await EventActions(runtime).create_event(
        g.account, _new_event(await _params())
    )
    return _json((await events_json(runtime, [event], g.account))[0])


@blueprint.get(PREFIX)
@authenticated(scope="read:statuses", optional=True)
async def list_events() -> Response:
    """Upcoming public events, soonest first; ``q`` searches their names."""
    runtime = runtime_of(current_app)
    viewer = await _token_account()
    params = dict(request.args)
    query = params.get("q") or None
    if query is not None and len(query) > MAX_QUERY:
        raise EventError(422, "q", f"is over {MAX_QUERY} characters")
    limit, offset = _page_params(params)
    rows = await event_store.upcoming(
        runtime.pool,
        query=query,
        local_only=str(params.get("local", "")).lower() in ("1", "true"),
        limit=limit,
        offset=offset,
    )
    return _json(await events_json(runtime, list(rows), viewer))


@blueprint.get(f"{PREFIX}/search")
@authenticated(scope="read:statuses", optional=True)
async def search_events() -> Response:
    """Public events whose name matches ``q``, past ones included, paginated
    with ``limit`` and ``offset`` and a Link header to the next page."""
    runtime = runtime_of(current_app)
    viewer = await _token_account()
    params = dict(request.args)
    query = (params.get("q") or "").strip()
    if not query:
        raise EventError(422, "q", "can't be blank")
    if len(query) > MAX_QUERY:
        raise EventError(422, "q", f"is over {MAX_QUERY} characters")
    limit, offset = _page_params(params)
    found = await search_json(runtime, query, viewer, limit=limit, offset=offset)
    return _json(found, link=_next_link(params, limit, offset, len(found)))


async def search_json(
    runtime: Any, query: str, viewer: Any | None, *, limit: int, offset: int
) -> list[dict[str, Any]]:
    """Return the Event entities of public events whose name matches ``query``.

    Mastodon's ``/api/v2/search`` lists them under ``events`` too.
    """
    limit = max(1, min(limit, MAX_LIMIT))
    rows = await event_store.search(
        runtime.pool, query[:MAX_QUERY], limit=limit, offset=max(0, offset)
    )
    return await events_json(runtime, list(rows), viewer)


@blueprint.get(f"{PREFIX}/<event_id>")
@authenticated(scope="read:statuses", optional=True)
async def get_event(event_id: str) -> Response:
    runtime = runtime_of(current_app)
    viewer = await _token_account()
    event = await _event_param(event_id, viewer)
    return _json((await events_json(runtime, [event], viewer))[0])


@blueprint.patch(f"{PREFIX}/<event_id>")
@authenticated(scope="write:statuses")
async def update_event(event_id: str) -> Response:
    """Change the fields given in the body; the others keep their values."""
    runtime = runtime_of(current_app)
    event = await _event_param(event_id, g.account)
    params = await _params()
    changes = {
        name: value for name, value in params.items() if name not in request.args
    }
    if not changes:
        raise ActionError(422, "the body names no field to change")
    event = await EventActions(runtime).update_event(g.account, event, changes)
    return _json((await events_json(runtime, [event], g.account))[0])


@blueprint.post(f"{PREFIX}/<event_id>/cancel")
@authenticated(scope="write:statuses")
async def cancel_event(event_id: str) -> Response:
    runtime = runtime_of(current_app)
    event = await _event_param(event_id, g.account)
    event = await EventActions(runtime).cancel_event(g.account, event)
    return _json((await events_json(runtime, [event], g.account))[0])


@blueprint.delete(f"{PREFIX}/<event_id>")
@authenticated(scope="write:statuses")
async def delete_event(event_id: str) -> Response:
    """Delete the event; the response is the event as it was."""
    runtime = runtime_of(current_app)
    event = await _event_param(event_id, g.account)
    document = (await events_json(runtime, [event], g.account))[0]
    await EventActions(runtime).delete_event(g.account, event)
    return _json(document)


@blueprint.post(f"{PREFIX}/<event_id>/join")
@authenticated(scope="write:statuses")
async def join_event(event_id: str) -> Response:
    runtime = runtime_of(current_app)
    event = await _event_param(event_id, g.account)
    params = await _params()
    row = await EventActions(runtime).join(
        g.account, event, params.get("message") or ""
    )
    return _json(_participation(row))


@blueprint.post(f"{PREFIX}/<event_id>/leave")
@authenticated(scope="write:statuses")
async def leave_event(event_id: str) -> Response:
    runtime = runtime_of(current_app)
    event = await _event_param(event_id, g.account)
    await EventActions(runtime).leave(g.account, event)
    event = await _event_param(event_id, g.account)
    return _json((await events_json(runtime, [event], g.account))[0])


@blueprint.get(f"{PREFIX}/<event_id>/participants")
@authenticated(scope="read:statuses")
async def list_participants(event_id: str) -> Response:
    runtime = runtime_of(current_app)
    event = await _event_param(event_id, g.account)
    if event["account_id"] != g.account["id"]:
        raise ActionError(403, "only the organiser sees the participants")
    rows = await event_store.participants(runtime.pool, event["status_id"])
    return _json(
        [
            {
                "account": account_json(runtime, row),
                "state": row["state"],
                "message": row["message"],
                "created_at": iso_millis(row["joined_at"]),
            }
            for row in rows
        ]
    )


@blueprint.post(f"{PREFIX}/<event_id>/participants/<account_id>/<decision>")
@authenticated(scope="write:statuses")
async def answer_participant(event_id: str, account_id: str, decision: str) -> Response:
    runtime = runtime_of(current_app)
    joiner_id = parse_id(account_id)
    if decision not in ("authorize", "reject") or joiner_id is None:
        raise FederationError(404, "Record not found")
    event = await _event_param(event_id, g.account)
    state = await EventActions(runtime).answer(
        g.account, event, joiner_id, decision == "authorize"
    )
    row = await event_store.participant(runtime.pool, event["status_id"], joiner_id)
    return _json(_participation(row) if row is not None else {"state": state})


# iCalendar feeds (RFC 5545)


@blueprint.get("/ical/instance.ics")
async def instance_feed() -> Response:
    runtime = runtime_of(current_app)
    rows = await event_store.upcoming(
        runtime.pool, local_only=True, since_days=FEED_PAST_DAYS, limit=FEED_LIMIT
    )
    return await _feed(runtime, runtime.settings.instance.name, list(rows))


@blueprint.get("/ical/users/<username>.ics")
async def user_feed(username: str) -> Response:
    runtime = runtime_of(current_app)
    account = await accounts.local_by_username(runtime.pool, username)
    if account is None or account["actor_type"] not in ("Person", "Service"):
        raise FederationError(404, f"no teacher {username} on this instance")
    rows = await event_store.upcoming(
        runtime.pool,
        account_id=account["id"],
        since_days=FEED_PAST_DAYS,
        limit=FEED_LIMIT,
    )
    title = (
        f"{account['display_name'] or account['username']} ({runtime.settings.domain})"
    )
    return await _feed(runtime, title, list(rows))


@blueprint.get("/ical/groups/<name>.ics")
async def group_feed(name: str) -> Response:
    runtime = runtime_of(current_app)
    group = await accounts.local_by_username(runtime.pool, name)
    if group is None or group["actor_type"] != "Group":
        raise FederationError(404, f"no group {name} on this instance")
    rows = await event_store.upcoming(
        runtime.pool,
        group_account_id=group["id"],
        since_days=FEED_PAST_DAYS,
        limit=FEED_LIMIT,
    )
    title = f"{group['display_name'] or group['username']} ({runtime.settings.domain})"
    return await _feed(runtime, title, list(rows))


async def _feed(runtime: Any, title: str, rows: list[Any]) -> Response:
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Pedagogue//Events//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", title)
    status_rows = {
        row["id"]: row
        for row in await runtime.pool.fetch(
            "SELECT id, url, content, source_text, created_at, edited_at"
            " FROM statuses"
            " WHERE id = ANY($1::bigint[])",
            [row["status_id"] for row in rows],
        )
    }
    now = datetime.now(UTC)
    for event in rows:
        calendar.add_component(_vevent(event, status_rows[event["status_id"]], now))
    # RFC 5545 section 3.6.5: each TZID used needs its VTIMEZONE, and its
    # transitions must reach the last event, or clients apply a wrong offset.
    first = min((event["starts_at"] for event in rows), default=now)
    last = max((event["ends_at"] for event in rows), default=now)
    calendar.add_missing_timezones(
        first_date=min(first, now).date().replace(month=1, day=1),
        last_date=max(last, now).date().replace(month=12, day=31) + timedelta(days=1),
    )
    return Response(
        calendar.to_ical(),
        status=200,
        content_type="text/calendar; charset=utf-8",
    )


def _vevent(event: Any, status: Any, now: datetime) -> icalendar.Event:
    from actors.event import zone_of

    zone = zone_of(event["timezone"]) or UTC
    item = icalendar.Event()
    item.add("uid", event["uri"])
    item.add("dtstamp", now)
    item.add("created", status["created_at"])
    item.add("summary", event["name"])
    description = _description_text(event, status)
    if description:
        item.add("description", description)
    item.add("dtstart", event["starts_at"].astimezone(zone))
    item.add("dtend", event["ends_at"].astimezone(zone))
    item.add("status", event["status"])
    # RFC 5545 section 3.8.7.4: calendar clients replace their copy of an
    # event when its SEQUENCE grows.
    item.add("sequence", event["sequence"])
    if event["updated_at"] is not None:
        item.add("last-modified", event["updated_at"])
    item.add("url", web_url(status["url"], event["uri"]))
    place = event_store.place_of(event)
    location = _place_text(place) if place else None
    if location or event["online_url"]:
        item.add("location", location or event["online_url"])
    if event["online_url"]:
        # RFC 7986 section 5.11: a conference link.
        item.add("conference", event["online_url"], parameters={"VALUE": "URI"})
    return item


def _description_text(event: Any, status: Any) -> str:
    """Return an event's description as plain text with its line breaks.

    A local event has the text its organiser typed. A remote one has HTML,
    whose paragraphs and line breaks become newlines.
    """
    if event["local"] and status["source_text"] is not None:
        return str(status["source_text"]).strip()
    lines = (plain_text(part) for part in _LINE_BREAK.split(status["content"] or ""))
    return "\n".join(line for line in lines if line)


def _place_text(place: dict[str, Any]) -> str:
    keys = (
        "name",
        "streetAddress",
        "postalCode",
        "addressLocality",
        "addressRegion",
        "addressCountry",
    )
    return ", ".join(str(place[key]) for key in keys if place.get(key))
