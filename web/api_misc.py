"""Mastodon client API endpoints around reading: markers, direct
conversations, bookmarks and favourites lists, preferences, trends, custom
emojis, and single notifications (get, dismiss, clear, unread count)."""

from __future__ import annotations

import logging
from typing import Any

from quart import Blueprint, Response, current_app, g, request

from federation.errors import FederationError
from outbox.actions import ActionError
from storage import bookmarks, conversations, markers
from web.api import (
    _action_error,
    _federation_error,
    _int_param,
    _json,
    _link_header,
    _page,
    _params,
    _status_param,
    authenticated,
    row_id,
)
from web.app import parse_id, runtime_of
from web.presenters import (
    StatusPresenter,
    accounts_json,
    iso_millis,
    notifications_json,
    status_json,
)

log = logging.getLogger(__name__)

blueprint = Blueprint("api_misc", __name__)
blueprint.register_error_handler(ActionError, _action_error)
blueprint.register_error_handler(FederationError, _federation_error)

# Default and maximum of the limit parameter of unread_count.
DEFAULT_UNREAD_LIMIT = 100
MAX_UNREAD_LIMIT = 1000


# Markers


def _marker_json(row: Any) -> dict[str, Any]:
    return {
        "last_read_id": str(row["last_read_id"]),
        "version": row["version"],
        "updated_at": iso_millis(row["updated_at"]),
    }


@blueprint.get("/api/v1/markers")
@authenticated(scope="read:statuses")
async def get_markers() -> Response:
    names = request.args.getlist("timeline[]") or request.args.getlist("timeline")
    requested = [name for name in names if name in markers.TIMELINES]
    rows = await markers.of_account(
        runtime_of(current_app).pool, g.account["id"], requested
    )
    return _json({row["timeline"]: _marker_json(row) for row in rows})


@blueprint.post("/api/v1/markers")
@authenticated(scope="write:statuses")
async def save_markers() -> Response:
    params = await _params()
    changes = {}
    for timeline in markers.TIMELINES:
        value = params.get(timeline)
        if isinstance(value, dict):
            value = value.get("last_read_id")
        else:
            # Form bodies send home[last_read_id]=...
            value = params.get(f"{timeline}[last_read_id]")
        if value in (None, ""):
            continue
        number = row_id(value)
        if number is None:
            raise ActionError(
                422,
                f"Validation failed: {timeline}[last_read_id] must be an id,"
                f" not {str(value)[:40]!r}",
            )
        changes[timeline] = number
    runtime = runtime_of(current_app)
    saved = {}
    for timeline, last_read_id in changes.items():
        row = await markers.save(runtime.pool, g.account["id"], timeline, last_read_id)
        saved[timeline] = _marker_json(row)
    return _json(saved)


# Conversations


async def _conversations_json(runtime: Any, rows: list[Any]) -> list[dict[str, Any]]:
    """Return Conversation entities, rendering all last statuses in one batch."""
    last_ids = [row["last_status_id"] for row in rows]
    status_rows = await runtime.pool.fetch(
        "SELECT * FROM statuses WHERE id = ANY($1::bigint[])", last_ids
    )
    rendered = await StatusPresenter(runtime, g.account).render(list(status_rows))
    by_id = {int(item["id"]): item for item in rendered}
    people = await conversations.participants(
        runtime.pool,
        g.account["id"],
        {row["root_id"]: list(row["status_ids"]) for row in rows},
    )
    # One statistics query for the accounts of every conversation on the page.
    every = {row["id"]: row for group in people.values() for row in group}
    rendered_accounts = dict(
        zip(
            every,
            await accounts_json(runtime, [_account_row(row) for row in every.values()]),
        )
    )
    return [
        {
            "id": str(row["root_id"]),
            "unread": row["unread"],
            "accounts": [
                rendered_accounts[person["id"]] for person in people[row["root_id"]]
            ],
            "last_status": by_id.get(row["last_status_id"]),
        }
        for row in rows
    ]


def _account_row(row: Any) -> dict[str, Any]:
    """Return a participant row without its ``root_id``, as an accounts row."""
    return {key: value for key, value in dict(row).items() if key != "root_id"}


async def _conversation(conversation_id: str) -> Any:
    number = parse_id(conversation_id)
    row = None
    if number is not None:
        row = await conversations.one(
            runtime_of(current_app).pool, g.account["id"], number
        )
    if row is None:
        raise FederationError(404, "Record not found")
    return row


@blueprint.get("/api/v1/conversations")
@authenticated(scope="read:statuses")
async def list_conversations() -> Response:
    runtime = runtime_of(current_app)
    page = _page(dict(request.args))
    rows = await conversations.page_of(runtime.pool, g.account["id"], page)
    rows = sorted(rows, key=lambda row: row["last_status_id"], reverse=True)
    link = _link_header([row["last_status_id"] for row in rows], page)
    return _json(await _conversations_json(runtime, rows), link=link)


@blueprint.post("/api/v1/conversations/<conversation_id>/read")
@authenticated(scope="write:conversations")
async def read_conversation(conversation_id: str) -> Response:
    runtime = runtime_of(current_app)
    row = await _conversation(conversation_id)
    await conversations.mark_read(
        runtime.pool, g.account["id"], row["root_id"], row["last_status_id"]
    )
    row = await _conversation(conversation_id)
    return _json((await _conversations_json(runtime, [row]))[0])


@blueprint.delete("/api/v1/conversations/<conversation_id>")
@authenticated(scope="write:conversations")
async def remove_conversation(conversation_id: str) -> Response:
    row = await _conversation(conversation_id)
    await conversations.hide(
        runtime_of(current_app).pool,
        g.account["id"],
        row["root_id"],
        row["last_status_id"],
    )
    log.info("conversation %s removed by account %s", row["root_id"], g.account["id"])
    return _json({})


# Bookmarks and favourites


@blueprint.post("/api/v1/statuses/<status_id>/bookmark")
@authenticated(scope="write:bookmarks")
async def bookmark(status_id: str) -> Response:
    runtime = runtime_of(current_app)
    row = await _status_param(status_id, g.account)
    if row["reblog_of_id"] is not None:
        # As with favourites, a boost is bookmarked as the boosted status.
        row = await _status_param(str(row["reblog_of_id"]), g.account)
    await bookmarks.add(runtime.pool, g.account["id"], row["id"])
    return _json(await status_json(runtime, row, g.account))


@blueprint.post("/api/v1/statuses/<status_id>/unbookmark")
@authenticated(scope="write:bookmarks")
async def unbookmark(status_id: str) -> Response:
    runtime = runtime_of(current_app)
    row = await _status_param(status_id, g.account)
    if row["reblog_of_id"] is not None:
        row = await _status_param(str(row["reblog_of_id"]), g.account)
    await bookmarks.remove(runtime.pool, g.account["id"], row["id"])
    return _json(await status_json(runtime, row, g.account))


async def _marked_page(table: str) -> Response:
    runtime = runtime_of(current_app)
    page = _page(dict(request.args))
    rows = await bookmarks.page_of(runtime.pool, table, g.account["id"], page)
    rows = sorted(rows, key=lambda row: row["mark_id"], reverse=True)
    link = _link_header([row["mark_id"] for row in rows], page)
    statuses = [{k: v for k, v in dict(row).items() if k != "mark_id"} for row in rows]
    rendered = await StatusPresenter(runtime, g.account).render(statuses)
    return _json(rendered, link=link)


@blueprint.get("/api/v1/bookmarks")
@authenticated(scope="read:bookmarks")
async def list_bookmarks() -> Response:
    return await _marked_page("bookmarks")


@blueprint.get("/api/v1/favourites")
@authenticated(scope="read:favourites")
async def list_favourites() -> Response:
    return await _marked_page("favourites")


# Preferences, trends and custom emojis


@blueprint.get("/api/v1/preferences")
@authenticated(scope="read:accounts")
async def preferences() -> Response:
    account = g.account
    return _json(
        {
            "posting:default:visibility": account["default_visibility"],
            "posting:default:sensitive": account["default_sensitive"],
            "posting:default:language": account["default_language"],
            # NOTE: media and spoiler display settings are not stored, so
            # these are Mastodon's defaults.
            "reading:expand:media": "default",
            "reading:expand:spoilers": False,
        }
    )


@blueprint.get("/api/v1/trends")
@blueprint.get("/api/v1/trends/tags")
@blueprint.get("/api/v1/trends/statuses")
@blueprint.get("/api/v1/trends/links")
async def trends() -> Response:
    # NOTE: trends are not computed, so every list is empty, which Mastodon
    # also returns when an instance turns trends off.
    return _json([])


@blueprint.get("/api/v1/custom_emojis")
async def custom_emojis() -> Response:
    # The instance has no custom emojis.
    return _json([])


# Notifications


async def _own_notification(notification_id: str) -> Any:
    number = parse_id(notification_id)
    row = None
    if number is not None:
        row = await runtime_of(current_app).pool.fetchrow(
            "SELECT * FROM notifications n WHERE id = $1 AND account_id = $2"
            # The rules of the notification list: blocks, mutes and statuses
            # the account may no longer read.
            " AND NOT notification_hidden($2, n.from_account_id)"
            " AND (n.status_id IS NULL OR EXISTS (SELECT 1 FROM statuses s"
            " WHERE s.id = n.status_id AND status_visible(s, $2)))",
            number,
            g.account["id"],
        )
    if row is None:
        raise FederationError(404, "Record not found")
    return row


@blueprint.get("/api/v1/notifications/unread_count")
@authenticated(scope="read:notifications")
async def unread_count() -> Response:
    runtime = runtime_of(current_app)
    params = dict(request.args)
    limit = _int_param(params, "limit") or DEFAULT_UNREAD_LIMIT
    types = request.args.getlist("types[]") or request.args.getlist("types") or None
    excluded = request.args.getlist("exclude_types[]") or request.args.getlist(
        "exclude_types"
    )
    last_read = await markers.last_read(runtime.pool, g.account["id"], "notifications")
    count = await runtime.pool.fetchval(
        "SELECT count(*) FROM (SELECT 1 FROM notifications n"
        " WHERE n.account_id = $1 AND n.id > $2"
        " AND ($4::text[] IS NULL OR n.type = ANY($4)) AND NOT n.type = ANY($5::text[])"
        " AND NOT notification_hidden($1, n.from_account_id) LIMIT $3) AS unread",
        g.account["id"],
        last_read,
        min(limit, MAX_UNREAD_LIMIT),
        types,
        excluded,
    )
    return _json({"count": count})


@blueprint.post("/api/v1/notifications/clear")
@authenticated(scope="write:notifications")
async def clear_notifications() -> Response:
    await runtime_of(current_app).pool.execute(
        "DELETE FROM notifications WHERE account_id = $1", g.account["id"]
    )
    log.info("notifications cleared by account %s", g.account["id"])
    return _json({})


@blueprint.post("/api/v1/notifications/dismiss")
@authenticated(scope="write:notifications")
async def dismiss_notification_by_parameter() -> Response:
    params = await _params()
    number = row_id(params.get("id"))
    return await _dismiss("" if number is None else str(number))


@blueprint.post("/api/v1/notifications/<notification_id>/dismiss")
@authenticated(scope="write:notifications")
async def dismiss_notification(notification_id: str) -> Response:
    return await _dismiss(notification_id)


async def _dismiss(notification_id: str) -> Response:
    row = await _own_notification(notification_id)
    await runtime_of(current_app).pool.execute(
        "DELETE FROM notifications WHERE id = $1", row["id"]
    )
    return _json({})


@blueprint.get("/api/v1/notifications/<notification_id>")
@authenticated(scope="read:notifications")
async def get_notification(notification_id: str) -> Response:
    runtime = runtime_of(current_app)
    row = await _own_notification(notification_id)
    rendered = await notifications_json(runtime, g.account, [row])
    if not rendered:
        # Its status is gone or no longer readable.
        raise FederationError(404, "Record not found")
    return _json(rendered[0])
