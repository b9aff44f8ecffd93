"""Pedagogue's client API for mentorship: mentoring offers, the mentor
directory, requests and their answers, and the pair's private thread."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from quart import Blueprint, Response, current_app, g, jsonify, request

from actors.pedagogue import context_document
from federation.errors import FederationError
from outbox.actions import ActionError
from outbox.mentorship import MAX_CAPACITY, MentorOffer, MentorshipActions
from outbox.profiles import InputError, parse_grade_levels
from storage import accounts, mentorship
from web.api import _int_param, _params, _rejected, _token_account, authenticated
from web.app import parse_id, runtime_of
from web.presenters import StatusPresenter, accounts_json, iso_millis

log = logging.getLogger(__name__)

blueprint = Blueprint("api_mentorship", __name__)

PREFIX = "/api/pedagogue/v1"
MAX_ITEMS = 20
MAX_ITEM_LENGTH = 100
MAX_MESSAGE = 5000
MAX_NOTE = 1000
DIRECTORY_LIMIT = 40
# Deep offsets make PostgreSQL read and drop every row before the page.
MAX_DIRECTORY_OFFSET = 10_000


async def _action_error(error: ActionError) -> Response:
    return input_error_response(error)


def input_error_response(error: ActionError) -> Response:
    """Return the error response of an action, with ``field`` when it names one."""
    response = _rejected(error.status, error.message)
    if isinstance(error, InputError):
        response = jsonify({"error": error.message, "field": error.field})
        response.status_code = error.status
    return response


async def _federation_error(error: FederationError) -> Response:
    return _rejected(error.status, error.message)


blueprint.register_error_handler(ActionError, _action_error)
blueprint.register_error_handler(FederationError, _federation_error)


def list_param(params: dict[str, Any], name: str) -> list[str]:
    """Read a list of short strings given as JSON array, ``name[]`` form fields
    or one comma-separated string. Raises InputError (422) naming the field."""
    value = params.get(f"{name}[]", params.get(name, []))
    if isinstance(value, str):
        value = [item for item in value.split(",")]
    if not isinstance(value, list):
        raise InputError(422, name, f"{name} must be a list of strings")
    items = []
    for item in value:
        if not isinstance(item, str):
            raise InputError(422, name, f"{name} must be a list of strings")
        if "\x00" in item:
            raise InputError(422, name, f"{name} items must not contain NUL characters")
        if len(item.strip()) > MAX_ITEM_LENGTH:
            raise InputError(
                422, name, f"{name} items must be at most {MAX_ITEM_LENGTH} characters"
            )
        if item.strip():
            items.append(item.strip())
    if len(items) > MAX_ITEMS:
        raise InputError(422, name, f"{name} may have at most {MAX_ITEMS} items")
    return list(dict.fromkeys(items))


def text_param(params: dict[str, Any], name: str, limit: int) -> str:
    """Read an optional string of at most ``limit`` characters, trimmed.

    Raises InputError (422) naming the field. PostgreSQL text cannot store a
    NUL character, so one is rejected here rather than failing the query.
    """
    value = params.get(name) or ""
    if not isinstance(value, str):
        raise InputError(422, name, f"{name} must be a string")
    if "\x00" in value:
        raise InputError(422, name, f"{name} must not contain NUL characters")
    if len(value) > limit:
        raise InputError(422, name, f"{name} must be at most {limit} characters")
    return value.strip()


def count_param(params: dict[str, Any], name: str) -> int | None:
    """Read a limit or offset: a whole number, or None when absent.

    Raises InputError (422) naming the parameter for anything else.
    """
    try:
        return _int_param(params, name)
    except FederationError:
        raise InputError(
            422,
            name,
            f"{name} must be a whole number, not {str(params.get(name))[:40]!r}",
        ) from None


def flag_param(params: dict[str, Any], name: str, default: bool) -> bool:
    """Read a true/false parameter. Raises InputError (422) for any other value,
    so a typing mistake does not silently mean false."""
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise InputError(
        422, name, f"{name} must be true or false, not {str(value)[:40]!r}"
    )


def capacity_param(params: dict[str, Any]) -> int:
    """Read the mentoring capacity, a whole number from 0 to MAX_CAPACITY.

    Raises InputError (422) when it is missing, fractional, non-finite or out
    of range.
    """
    value = params.get("capacity")
    if value is None or value == "":
        raise InputError(422, "capacity", "capacity is missing")
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        number = int(value.strip())
    if number is None or not 0 <= number <= MAX_CAPACITY:
        raise InputError(
            422,
            "capacity",
            f"capacity must be a whole number from 0 to {MAX_CAPACITY},"
            f" not {str(value)[:40]!r}",
        )
    return number


def _json(document: Any, status: int = 200) -> Response:
    response = jsonify(document)
    response.status_code = status
    return response


def _mentor_json(profile: Any) -> dict[str, Any]:
    return {
        "open": profile["open"],
        "subjects": list(profile["subjects"]),
        "grade_levels": list(profile["grade_levels"]),
        "capacity": profile["capacity"],
        "note": profile["note"],
    }


async def _mentorships_json(runtime: Any, viewer: Any, rows: list[Any]) -> list[dict]:
    ids = {row["mentor_id"] for row in rows} | {row["mentee_id"] for row in rows}
    account_rows = await runtime.pool.fetch(
        "SELECT * FROM accounts WHERE id = ANY($1::bigint[])", list(ids)
    )
    rendered = await accounts_json(runtime, list(account_rows))
    by_id = {int(item["id"]): item for item in rendered}
    return [
        {
            "id": str(row["id"]),
            "uri": row["uri"],
            "state": row["state"],
            "role": "mentor" if row["mentor_id"] == viewer["id"] else "mentee",
            "mentor": by_id[row["mentor_id"]],
            "mentee": by_id[row["mentee_id"]],
            "message": row["message"],
            "subjects": list(row["subjects"]),
            "created_at": iso_millis(row["created_at"]),
            "answered_at": iso_millis(row["answered_at"]),
        }
        for row in rows
    ]


# Mentoring offers and the directory


@blueprint.get(f"{PREFIX}/mentoring")
@authenticated(scope="read:accounts")
async def get_mentoring() -> Response:
    runtime = runtime_of(current_app)
    profile = await mentorship.mentor_profile(runtime.pool, g.account["id"])
    if profile is None:
        return _json(
            {
                "open": False,
                "subjects": [],
                "grade_levels": [],
                "capacity": 0,
                "note": "",
            }
        )
    return _json(_mentor_json(profile))


@blueprint.put(f"{PREFIX}/mentoring")
@authenticated(scope="write:accounts")
async def put_mentoring() -> Response:
    params = await _params()
    offer = MentorOffer(
        open=flag_param(params, "open", True),
        subjects=list_param(params, "subjects"),
        grade_levels=parse_grade_levels(list_param(params, "grade_levels")),
        capacity=capacity_param(params),
        note=text_param(params, "note", MAX_NOTE),
    )
    profile = await MentorshipActions(runtime_of(current_app)).open_mentoring(
        g.account, offer
    )
    return _json(_mentor_json(profile))


def _directory_scope(params: dict[str, Any]) -> bool | None:
    """Read ``local``: true lists local teachers only, false remote ones only,
    absent lists both. Raises InputError (422) for any other value."""
    value = params.get("local")
    if value in (None, ""):
        return None
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise InputError(
        422, "local", f"local must be true or false, not {str(value)[:40]!r}"
    )


def _directory_link(params: dict[str, Any], offset: int, limit: int, full: bool) -> str:
    """Return the Link header of a directory page: ``next`` when the page is
    full, ``prev`` unless it is the first."""
    links = []
    base = runtime_of(current_app).urls.base + request.path
    if full:
        query = urlencode({**params, "offset": offset + limit, "limit": limit})
        links.append(f'<{base}?{query}>; rel="next"')
    if offset > 0:
        query = urlencode({**params, "offset": max(0, offset - limit), "limit": limit})
        links.append(f'<{base}?{query}>; rel="prev"')
    return ", ".join(links)


@blueprint.get(f"{PREFIX}/mentors")
@authenticated(scope="read:accounts", optional=True)
async def mentor_directory() -> Response:
    """List local and remote teachers open to mentoring with a free place.

    Remote teachers are those whose actor documents this instance stores and
    which publish an open mentoring offer.
    """
    runtime = runtime_of(current_app)
    params = dict(request.args)
    limit = max(
        1, min(count_param(params, "limit") or DIRECTORY_LIMIT, DIRECTORY_LIMIT)
    )
    offset = count_param(params, "offset") or 0
    if offset > MAX_DIRECTORY_OFFSET:
        raise InputError(
            422,
            "offset",
            f"offset must be at most {MAX_DIRECTORY_OFFSET}, not {offset}",
        )
    subject = text_param(params, "subject", MAX_ITEM_LENGTH) or None
    grade_level = text_param(params, "grade_level", MAX_ITEM_LENGTH) or None
    viewer = await _token_account()
    rows = await mentorship.directory(
        runtime.pool,
        subject=subject,
        grade_level=grade_level,
        local=_directory_scope(params),
        viewer_id=viewer["id"] if viewer is not None else None,
        limit=limit,
        offset=offset,
    )
    rendered = await accounts_json(runtime, list(rows))
    response = _json(
        [
            {
                "account": account,
                "subjects": list(row["mentor_subjects"]),
                "grade_levels": list(row["mentor_grade_levels"]),
                "capacity": row["capacity"],
                "free_places": max(0, row["free_places"]),
                "note": row["mentor_note"],
            }
            for row, account in zip(rows, rendered)
        ]
    )
    link_params = {
        key: value for key, value in params.items() if key not in ("offset", "limit")
    }
    link = _directory_link(link_params, offset, limit, len(rows) == limit)
    if link:
        response.headers["Link"] = link
    return response


# Requests


async def _account_param(value: Any, name: str) -> Any:
    # A JSON number is accepted as well as the string form of the API's ids.
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    account_id = parse_id(value)
    if account_id is None:
        raise InputError(
            422, name, f"{name} must be an account id, not {str(value)[:40]!r}"
        )
    row = await accounts.by_id(runtime_of(current_app).pool, account_id)
    if row is None or row["deleted_at"] is not None or row["actor_type"] != "Person":
        raise FederationError(404, f"{name}: account not found")
    return row


@blueprint.post(f"{PREFIX}/mentorships")
@authenticated(scope="write:follows")
async def create_mentorship() -> Response:
    runtime = runtime_of(current_app)
    params = await _params()
    if params.get("mentor_id") in (None, ""):
        raise InputError(422, "mentor_id", "mentor_id is missing")
    mentor = await _account_param(params.get("mentor_id"), "mentor_id")
    row = await MentorshipActions(runtime).offer(
        g.account,
        mentor,
        text_param(params, "message", MAX_MESSAGE),
        list_param(params, "subjects"),
    )
    return _json((await _mentorships_json(runtime, g.account, [row]))[0])


@blueprint.get(f"{PREFIX}/mentorships")
@authenticated(scope="read:follows")
async def list_mentorships() -> Response:
    runtime = runtime_of(current_app)
    state = request.args.get("state") or None
    if state not in (None, "pending", "accepted", "rejected", "withdrawn"):
        raise InputError(
            422,
            "state",
            f"state must be pending, accepted, rejected or withdrawn, not {state!r}",
        )
    rows = await mentorship.list_for(runtime.pool, g.account["id"], state)
    return _json(await _mentorships_json(runtime, g.account, list(rows)))


async def _own_mentorship(mentorship_id: str) -> Any:
    """Return the mentorship if the viewer is its mentor or mentee; 404 otherwise,
    so that others cannot learn that it exists."""
    row = None
    row_id = parse_id(mentorship_id)
    if row_id is not None:
        row = await mentorship.by_id(runtime_of(current_app).pool, row_id)
    if row is None or g.account["id"] not in (row["mentor_id"], row["mentee_id"]):
        raise FederationError(404, "mentorship not found")
    return row


@blueprint.get(f"{PREFIX}/mentorships/<mentorship_id>")
@authenticated(scope="read:follows")
async def get_mentorship(mentorship_id: str) -> Response:
    row = await _own_mentorship(mentorship_id)
    runtime = runtime_of(current_app)
    return _json((await _mentorships_json(runtime, g.account, [row]))[0])


@blueprint.post(f"{PREFIX}/mentorships/<mentorship_id>/<action>")
@authenticated(scope="write:follows")
async def mentorship_action(mentorship_id: str, action: str) -> Response:
    if action not in ("accept", "reject", "withdraw"):
        raise FederationError(404, f"unknown mentorship action {action!r}")
    row = await _own_mentorship(mentorship_id)
    runtime = runtime_of(current_app)
    actions = MentorshipActions(runtime)
    if action == "withdraw":
        row = await actions.withdraw(g.account, row)
    else:
        row = await actions.answer(g.account, row, action == "accept")
    return _json((await _mentorships_json(runtime, g.account, [row]))[0])


@blueprint.get(f"{PREFIX}/mentorships/<mentorship_id>/thread")
@authenticated(scope="read:statuses")
async def mentorship_thread(mentorship_id: str) -> Response:
    row = await _own_mentorship(mentorship_id)
    runtime = runtime_of(current_app)
    statuses = await mentorship.thread(runtime.pool, row, 200)
    return _json(await StatusPresenter(runtime, g.account).render(list(statuses)))


# The JSON-LD context of Pedagogue's terms


@blueprint.get("/ns/pedagogue.jsonld")
async def pedagogue_context() -> Response:
    response = jsonify(context_document())
    response.headers["Content-Type"] = "application/ld+json"
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
