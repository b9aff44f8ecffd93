"""Mastodon's lists: ``/api/v1/lists``, their member accounts, list timelines
and the lists an account is in.

A list contains accounts its owner follows (a pending follow request
counts). Unfollowing an account takes it out of the owner's lists.
"""

from __future__ import annotations

import logging
from typing import Any

from quart import Blueprint, Response, current_app, g, request

from federation.errors import FederationError
from outbox.actions import ActionError
from storage import lists
from web.api import (
    _account_page,
    _account_param,
    _action_error,
    _federation_error,
    _flag,
    _int_param,
    _json,
    _link_header,
    _page,
    _params,
    _status_page,
    authenticated,
    row_id,
)
from web.app import parse_id, runtime_of
from web.presenters import accounts_json

log = logging.getLogger(__name__)

blueprint = Blueprint("api_lists", __name__)
blueprint.register_error_handler(ActionError, _action_error)
blueprint.register_error_handler(FederationError, _federation_error)

MAX_TITLE_CHARACTERS = 200


def list_json(row: Any) -> dict[str, Any]:
    """Return Mastodon's List entity."""
    return {
        "id": str(row["id"]),
        "title": row["title"],
        "replies_policy": row["replies_policy"],
        "exclusive": row["exclusive"],
    }


async def _own_list(list_id: str) -> Any:
    number = parse_id(list_id)
    row = None
    if number is not None:
        row = await lists.get(runtime_of(current_app).pool, g.account["id"], number)
    if row is None:
        raise FederationError(404, "Record not found")
    return row


def _list_fields(params: dict[str, Any], current: Any | None) -> tuple[str, str, bool]:
    """Return (title, replies_policy, exclusive) of a create or update request.

    Fields missing from an update keep their values. Raises ActionError(422)
    for a blank or long title and an unknown replies policy.
    """
    title = params.get("title", current["title"] if current else None)
    if not isinstance(title, str) or not title.strip():
        raise ActionError(422, "Validation failed: Title can't be blank")
    title = title.strip()
    if len(title) > MAX_TITLE_CHARACTERS:
        raise ActionError(
            422, f"Validation failed: Title is over {MAX_TITLE_CHARACTERS} characters"
        )
    policy = params.get("replies_policy") or (
        current["replies_policy"] if current else "list"
    )
    if policy not in lists.REPLIES_POLICIES:
        raise ActionError(
            422,
            f"Validation failed: replies_policy must be followed, list or none,"
            f" not {str(policy)[:20]!r}",
        )
    exclusive = params.get("exclusive")
    if exclusive in (None, ""):
        return title, policy, bool(current["exclusive"]) if current else False
    return title, policy, _flag(exclusive)


def _account_ids(params: dict[str, Any]) -> list[int]:
    """Return ``account_ids[]``; raise ActionError(422) when missing or not ids."""
    value = params.get("account_ids[]", params.get("account_ids"))
    if isinstance(value, list):
        values = value
    elif value is None:
        values = []
    else:
        values = [value]
    if not values:
        raise ActionError(422, "Validation failed: account_ids is missing")
    ids = []
    for item in values:
        number = row_id(item)
        if number is None:
            raise FederationError(404, "Record not found")
        ids.append(number)
    return list(dict.fromkeys(ids))


@blueprint.get("/api/v1/lists")
@authenticated(scope="read:lists")
async def all_lists() -> Response:
    rows = await lists.of_account(runtime_of(current_app).pool, g.account["id"])
    return _json([list_json(row) for row in rows])


@blueprint.post("/api/v1/lists")
@authenticated(scope="write:lists")
async def create_list() -> Response:
    title, policy, exclusive = _list_fields(await _params(), None)
    try:
        row = await lists.create(
            runtime_of(current_app).pool, g.account["id"], title, policy, exclusive
        )
    except lists.ListError as error:
        raise ActionError(error.status, error.message) from None
    log.info("list %s created by account %s", row["id"], g.account["id"])
    return _json(list_json(row))


@blueprint.get("/api/v1/lists/<list_id>")
@authenticated(scope="read:lists")
async def get_list(list_id: str) -> Response:
    return _json(list_json(await _own_list(list_id)))


@blueprint.put("/api/v1/lists/<list_id>")
@authenticated(scope="write:lists")
async def update_list(list_id: str) -> Response:
    current = await _own_list(list_id)
    title, policy, exclusive = _list_fields(await _params(), current)
    row = await lists.update(
        runtime_of(current_app).pool, current["id"], title, policy, exclusive
    )
    if row is None:
        raise FederationError(404, "Record not found")
    return _json(list_json(row))


@blueprint.delete("/api/v1/lists/<list_id>")
@authenticated(scope="write:lists")
async def delete_list(list_id: str) -> Response:
    row = await _own_list(list_id)
    await lists.delete(runtime_of(current_app).pool, row["id"])
    log.info("list %s deleted by account %s", row["id"], g.account["id"])
    return _json({})


@blueprint.get("/api/v1/lists/<list_id>/accounts")
@authenticated(scope="read:lists")
async def list_members(list_id: str) -> Response:
    runtime = runtime_of(current_app)
    row = await _own_list(list_id)
    params = dict(request.args)
    page = _account_page(params)
    link = None
    if _int_param(params, "limit") == 0:
        # Mastodon returns every member for limit=0.
        members = await lists.members(runtime.pool, row["id"], None, None, None)
    else:
        members = await lists.members(
            runtime.pool,
            row["id"],
            page.max_id,
            page.after_id,
            page.limit,
            page.ascending,
        )
        members = sorted(members, key=lambda m: m["list_account_id"], reverse=True)
        link = _link_header([member["list_account_id"] for member in members], page)
    rows = [
        {k: v for k, v in dict(m).items() if k != "list_account_id"} for m in members
    ]
    return _json(await accounts_json(runtime, rows), link=link)


@blueprint.post("/api/v1/lists/<list_id>/accounts")
@authenticated(scope="write:lists")
async def add_members(list_id: str) -> Response:
    row = await _own_list(list_id)
    ids = _account_ids(await _params())
    try:
        await lists.add_members(
            runtime_of(current_app).pool, g.account["id"], row["id"], ids
        )
    except lists.ListError as error:
        raise (
            FederationError(404, error.message)
            if error.status == 404
            else ActionError(error.status, error.message)
        ) from None
    return _json({})


@blueprint.delete("/api/v1/lists/<list_id>/accounts")
@authenticated(scope="write:lists")
async def remove_members(list_id: str) -> Response:
    row = await _own_list(list_id)
    ids = _account_ids(await _params())
    await lists.remove_members(runtime_of(current_app).pool, row["id"], ids)
    return _json({})


@blueprint.get("/api/v1/timelines/list/<list_id>")
@authenticated(scope="read:lists")
async def list_timeline(list_id: str) -> Response:
    runtime = runtime_of(current_app)
    row = await _own_list(list_id)
    page = _page(dict(request.args))
    async with runtime.pool.acquire() as db:
        rows = await lists.timeline(db, row, page)
        # List timelines use the filters of the home context, as in Mastodon.
        return await _status_page(runtime, g.account, rows, page, db, "home")


@blueprint.get("/api/v1/accounts/<account_id>/lists")
@authenticated(scope="read:lists")
async def lists_of_account(account_id: str) -> Response:
    target = await _account_param(account_id)
    rows = await lists.containing(
        runtime_of(current_app).pool, g.account["id"], target["id"]
    )
    return _json([list_json(row) for row in rows])
