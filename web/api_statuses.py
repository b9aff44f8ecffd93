"""The client API of status edits, history and source, pins, polls, scheduled
statuses and the Idempotency-Key of status creation, as in Mastodon 4.3."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from quart import Blueprint, Response, current_app, g, request

from federation.errors import FederationError
from federation.sanitize import plain_text
from outbox.actions import ActionError, Actions, NewStatus
from outbox.polls import NewPoll, PollActions, PollError
from outbox.status_edits import EditActions, StatusEdit
from storage import accounts, polls, scheduled, status_history, statuses
from web.api import (
    _flag,
    _int_param,
    _json,
    _link_header,
    _new_status,
    _page,
    _params,
    _rejected,
    _status_param,
    _token_account,
    authenticated,
)
from web.app import parse_id, runtime_of
from web.presenters import (
    StatusPresenter,
    account_json,
    iso_millis,
    media_json,
    poll_json,
    status_json,
)

log = logging.getLogger(__name__)

blueprint = Blueprint("api_statuses", __name__)

# A scheduled status must be at least this far in the future, as in Mastodon.
MIN_SCHEDULE_DELAY = timedelta(minutes=5)
# Scheduled statuses an account may have in all and on one day (UTC), as
# Mastodon allows.
MAX_SCHEDULED = 300
MAX_SCHEDULED_PER_DAY = 25
# Maximum length of an Idempotency-Key, in characters. A longer key gets 400.
MAX_IDEMPOTENCY_KEY = 200
POLL_FORM_KEY = re.compile(r"^poll\[(options|expires_in|multiple|hide_totals)\](\[\])?$")


async def _action_error(error: ActionError) -> Response:
    return _rejected(error.status, error.message)


async def _federation_error(error: FederationError) -> Response:
    return _rejected(error.status, error.message)


async def _poll_error(error: PollError) -> Response:
    return _rejected(error.status, error.message)


blueprint.register_error_handler(ActionError, _action_error)
blueprint.register_error_handler(FederationError, _federation_error)
blueprint.register_error_handler(PollError, _poll_error)


# Request parameters


def poll_param(params: dict[str, Any]) -> NewPoll | None:
    """Read ``poll`` as a JSON object or as the form keys ``poll[options][]``,
    ``poll[expires_in]``, ``poll[multiple]`` and ``poll[hide_totals]``.

    Returns None without a poll. Raises PollError(422) for a malformed or
    out-of-limits poll.
    """
    value = params.get("poll")
    if value in (None, ""):
        value = {}
        for key, item in params.items():
            match = POLL_FORM_KEY.match(key)
            if match:
                value[match.group(1)] = item
        if not value:
            return None
    if not isinstance(value, dict):
        raise PollError(422, "Validation failed: poll must be an object")
    options = value.get("options")
    if isinstance(options, str):
        options = [options]
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        raise PollError(422, "Validation failed: poll[options] must be a list of strings")
    expires_in = value.get("expires_in")
    if isinstance(expires_in, str) and expires_in.isascii() and expires_in.isdigit():
        expires_in = int(expires_in)
    if not isinstance(expires_in, int) or isinstance(expires_in, bool):
        raise PollError(422, "Validation failed: poll[expires_in] must be a number of seconds")
    poll = NewPoll(
        options=[option.strip() for option in options],
        expires_in=expires_in,
        multiple=_flag(value.get("multiple", False)),
        hide_totals=_flag(value.get("hide_totals", False)),
    )
    poll.check()
    return poll


def _scheduled_at(params: dict[str, Any]) -> datetime | None:
    """Return ``scheduled_at``; raise ActionError(422) unless it is an ISO 8601
    time at least five minutes ahead."""
    value = params.get("scheduled_at")
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ActionError(422, "Validation failed: scheduled_at must be an ISO 8601 time")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ActionError(
            422, f"Validation failed: scheduled_at is not an ISO 8601 time: {value[:40]!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment < datetime.now(UTC) + MIN_SCHEDULE_DELAY:
        raise ActionError(
            422, "Validation failed: scheduled_at must be at least 5 minutes in the future"
        )
    return moment


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        return None
    if len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise FederationError(
            400, f"Idempotency-Key must be at most {MAX_IDEMPOTENCY_KEY} printable characters"
        )
    return key


def _stored_params(new: NewStatus) -> dict[str, Any]:
    """Return the parameters of a scheduled status as stored in its row."""
    poll = None
    if new.poll is not None:
        poll = {
            "options": new.poll.options,
            "expires_in": new.poll.expires_in,
            "multiple": new.poll.multiple,
            "hide_totals": new.poll.hide_totals,
        }
    return {
        "text": new.text,
        "visibility": new.visibility,
        "spoiler_text": new.spoiler_text,
        "sensitive": new.sensitive,
        "language": new.language,
        "in_reply_to_id": new.in_reply_to_id,
        "group_id": new.group_id,
        "media_ids": new.media_ids,
        "poll": poll,
    }


def new_status_of(stored: dict[str, Any]) -> NewStatus:
    """Return the NewStatus of a scheduled status's stored parameters."""
    poll = stored.get("poll")
    return NewStatus(
        text=stored["text"],
        visibility=stored["visibility"],
        spoiler_text=stored["spoiler_text"],
        sensitive=stored["sensitive"],
        language=stored["language"],
        in_reply_to_id=stored["in_reply_to_id"],
        group_id=stored["group_id"],
        media_ids=list(stored["media_ids"]),
        poll=NewPoll(**poll) if poll else None,
    )


# Creation


async def create_status_response() -> Response:
    """Serve ``POST /api/v1/statuses`` for ``web.api.create_status``.

    With ``scheduled_at`` the status is stored for later and a
    ScheduledStatus is returned. The same ``Idempotency-Key`` from the same
    account within an hour returns what the first request created.
    """
    runtime = runtime_of(current_app)
    params = await _params()
    new = _new_status(params, g.account)
    new.poll = poll_param(params)
    if new.poll is not None and new.media_ids:
        raise ActionError(422, "Validation failed: a status cannot have both media and a poll")
    scheduled_at = _scheduled_at(params)
    if new.in_reply_to_id is not None:
        await _status_param(str(new.in_reply_to_id), g.account)
    key = _idempotency_key()
    if key is not None:
        earlier = await scheduled.claim_key(runtime.pool, g.account["id"], key)
        if earlier is not None:
            return await _earlier_result(runtime, earlier)
    try:
        if scheduled_at is not None:
            row = await _schedule(runtime, new, scheduled_at)
            if key is not None:
                await scheduled.settle_key(
                    runtime.pool, g.account["id"], key, scheduled_status_id=row["id"]
                )
            return _json(await scheduled_json(runtime, row))
        status = await Actions(runtime).post_status(g.account, new)
    except BaseException:
        if key is not None:
            await scheduled.release_key(runtime.pool, g.account["id"], key)
        raise
    if key is not None:
        await scheduled.settle_key(runtime.pool, g.account["id"], key, status_id=status["id"])
    return _json(await status_json(runtime, status, g.account))


async def _earlier_result(runtime: Any, earlier: Any) -> Response:
    if earlier["status_id"] is not None:
        status = await statuses.by_id(runtime.pool, earlier["status_id"])
        if status is not None:
            return _json(await status_json(runtime, status, g.account))
    if earlier["scheduled_status_id"] is not None:
        row = await scheduled.by_id(runtime.pool, g.account["id"], earlier["scheduled_status_id"])
        if row is not None:
            return _json(await scheduled_json(runtime, row))
    if earlier["status_id"] is None and earlier["scheduled_status_id"] is None:
        return _rejected(409, "A request with this Idempotency-Key is still in progress")
    # The first result was deleted since, so nothing is left to return.
    return _rejected(404, "Record not found")


async def _schedule(runtime: Any, new: NewStatus, scheduled_at: datetime) -> Any:
    count = await runtime.pool.fetchval(
        "SELECT count(*) FROM scheduled_statuses WHERE account_id = $1", g.account["id"]
    )
    if count >= MAX_SCHEDULED:
        raise ActionError(
            422, f"Validation failed: you can schedule at most {MAX_SCHEDULED} statuses"
        )
    same_day = await runtime.pool.fetchval(
        "SELECT count(*) FROM scheduled_statuses WHERE account_id = $1"
        " AND (scheduled_at AT TIME ZONE 'UTC')::date = ($2::timestamptz AT TIME ZONE 'UTC')::date",
        g.account["id"],
        scheduled_at,
    )
    if same_day >= MAX_SCHEDULED_PER_DAY:
        raise ActionError(
            422,
            f"Validation failed: you can schedule at most {MAX_SCHEDULED_PER_DAY}"
            " statuses on one day",
        )
    if new.media_ids:
        owned = await runtime.pool.fetchval(
            "SELECT count(*) FROM media_attachments WHERE id = ANY($1::bigint[])"
            " AND account_id = $2 AND status_id IS NULL",
            new.media_ids,
            g.account["id"],
        )
        if owned != len(new.media_ids):
            raise ActionError(
                422, "Validation failed: media_ids must be unattached uploads of yours"
            )
    row = await scheduled.insert(runtime.pool, g.account["id"], scheduled_at, _stored_params(new))
    log.info(
        "account %s scheduled status %s for %s",
        g.account["id"],
        row["id"],
        scheduled_at.isoformat(),
    )
    return row


# Scheduled statuses


async def scheduled_json(runtime: Any, row: Any) -> dict[str, Any]:
    """Return the ScheduledStatus entity."""
    stored = row["params"]
    media = []
    if stored["media_ids"]:
        media = await runtime.pool.fetch(
            "SELECT * FROM media_attachments WHERE id = ANY($1::bigint[])"
            " ORDER BY array_position($1::bigint[], id)",
            stored["media_ids"],
        )
    return {
        "id": str(row["id"]),
        "scheduled_at": iso_millis(row["scheduled_at"]),
        "params": {
            "text": stored["text"],
            "poll": stored["poll"],
            "media_ids": [str(media_id) for media_id in stored["media_ids"]] or None,
            "sensitive": stored["sensitive"],
            "spoiler_text": stored["spoiler_text"] or None,
            "visibility": stored["visibility"],
            "scheduled_at": None,
            "in_reply_to_id": (
                str(stored["in_reply_to_id"]) if stored["in_reply_to_id"] else None
            ),
            "language": stored["language"],
            "application_id": None,
            "idempotency": None,
            "with_rate_limit": False,
        },
        "media_attachments": [media_json(item) for item in media],
    }


async def _scheduled_param(scheduled_id: str) -> Any:
    number = parse_id(scheduled_id)
    row = None
    if number is not None:
        row = await scheduled.by_id(runtime_of(current_app).pool, g.account["id"], number)
    if row is None:
        raise FederationError(404, "Record not found")
    return row


@blueprint.get("/api/v1/scheduled_statuses")
@authenticated(scope="read:statuses")
async def list_scheduled() -> Response:
    runtime = runtime_of(current_app)
    page = _page(dict(request.args))
    rows = await scheduled.of_account(
        runtime.pool,
        g.account["id"],
        max_id=page.max_id,
        after_id=page.after_id,
        ascending=page.ascending,
        limit=page.limit,
    )
    rows = sorted(rows, key=lambda row: row["id"], reverse=True)
    documents = [await scheduled_json(runtime, row) for row in rows]
    return _json(documents, link=_link_header([row["id"] for row in rows], page))


@blueprint.get("/api/v1/scheduled_statuses/<scheduled_id>")
@authenticated(scope="read:statuses")
async def get_scheduled(scheduled_id: str) -> Response:
    row = await _scheduled_param(scheduled_id)
    return _json(await scheduled_json(runtime_of(current_app), row))


@blueprint.put("/api/v1/scheduled_statuses/<scheduled_id>")
@authenticated(scope="write:statuses")
async def reschedule(scheduled_id: str) -> Response:
    runtime = runtime_of(current_app)
    row = await _scheduled_param(scheduled_id)
    moment = _scheduled_at(await _params())
    if moment is None:
        raise ActionError(422, "Validation failed: scheduled_at is missing")
    row = await scheduled.reschedule(runtime.pool, g.account["id"], row["id"], moment)
    if row is None:
        raise FederationError(404, "Record not found")
    return _json(await scheduled_json(runtime, row))


@blueprint.delete("/api/v1/scheduled_statuses/<scheduled_id>")
@authenticated(scope="write:statuses")
async def cancel_scheduled(scheduled_id: str) -> Response:
    row = await _scheduled_param(scheduled_id)
    await scheduled.delete(runtime_of(current_app).pool, g.account["id"], row["id"])
    return _json({})


# Edits, history and source


@blueprint.put("/api/v1/statuses/<status_id>")
@authenticated(scope="write:statuses")
async def edit_status(status_id: str) -> Response:
    from web.api_media import media_ids_param

    runtime = runtime_of(current_app)
    row = await _status_param(status_id, g.account)
    if row["account_id"] != g.account["id"]:
        return _rejected(403, "This action is not allowed")
    params = await _params()
    media_ids = media_ids_param(params)
    text = params.get("status")
    if text is None and media_ids:
        text = ""
    if not isinstance(text, str):
        raise ActionError(422, "Validation failed: status must be a string")
    spoiler_text = params.get("spoiler_text") or ""
    if not isinstance(spoiler_text, str):
        raise ActionError(422, "Validation failed: spoiler_text must be a string")
    language = params.get("language") or None
    if language is not None and (not isinstance(language, str) or len(language) > 16):
        raise ActionError(422, f"Validation failed: invalid language {str(language)[:40]!r}")
    edit = StatusEdit(
        text=text,
        spoiler_text=spoiler_text,
        sensitive=_flag(params.get("sensitive", False)),
        language=language,
        media_ids=media_ids,
        poll=poll_param(params),
    )
    updated = await EditActions(runtime).edit_status(g.account, row, edit)
    return _json(await status_json(runtime, updated, g.account))


@blueprint.get("/api/v1/statuses/<status_id>/history")
@authenticated(scope="read:statuses", optional=True)
async def status_history_list(status_id: str) -> Response:
    runtime = runtime_of(current_app)
    viewer = await _token_account()
    row = await _status_param(status_id, viewer)
    author = await accounts.by_id(runtime.pool, row["account_id"])
    author_json = account_json(runtime, author, None)
    versions = []
    for version in await status_history.versions(runtime.pool, row["id"]):
        media = []
        if version["media_ids"]:
            media = await runtime.pool.fetch(
                "SELECT * FROM media_attachments WHERE id = ANY($1::bigint[])"
                " ORDER BY array_position($1::bigint[], id)",
                list(version["media_ids"]),
            )
        options = version["poll_options"]
        versions.append(
            {
                "content": version["content"],
                "spoiler_text": version["spoiler_text"],
                "sensitive": version["sensitive"],
                "created_at": iso_millis(version["created_at"]),
                "account": author_json,
                "poll": {"options": [{"title": t} for t in options]} if options else None,
                "media_attachments": [media_json(item) for item in media],
                "emojis": [],
            }
        )
    current = await status_json(runtime, row, viewer)
    poll = current["poll"]
    versions.append(
        {
            "content": current["content"],
            "spoiler_text": current["spoiler_text"],
            "sensitive": current["sensitive"],
            "created_at": current["edited_at"] or current["created_at"],
            "account": current["account"],
            "poll": {"options": [{"title": o["title"]} for o in poll["options"]]}
            if poll
            else None,
            "media_attachments": current["media_attachments"],
            "emojis": [],
        }
    )
    return _json(versions)


@blueprint.get("/api/v1/statuses/<status_id>/source")
@authenticated(scope="read:statuses")
async def status_source(status_id: str) -> Response:
    row = await _status_param(status_id, g.account)
    text = row["source_text"]
    if text is None:
        text = plain_text(row["content"])
    return _json({"id": str(row["id"]), "text": text, "spoiler_text": row["spoiler_text"]})


# Pins


@blueprint.post("/api/v1/statuses/<status_id>/pin")
@authenticated(scope="write:accounts")
async def pin_status(status_id: str) -> Response:
    runtime = runtime_of(current_app)
    row = await _status_param(status_id, g.account)
    if row["account_id"] != g.account["id"] or row["reblog_of_id"] is not None:
        return _rejected(422, "Validation failed: you can pin only your own posts")
    if row["visibility"] == "direct":
        return _rejected(422, "Validation failed: direct posts cannot be pinned")
    async with accounts.transaction(runtime.pool) as connection:
        pinned = await status_history.pin(connection, g.account["id"], row["id"])
    if not pinned:
        return _rejected(
            422,
            "Validation failed: you have already pinned the maximum of"
            f" {status_history.MAX_PINS} posts",
        )
    log.info("account %s pinned status %s", g.account["id"], row["id"])
    return _json(await status_json(runtime, row, g.account))


@blueprint.post("/api/v1/statuses/<status_id>/unpin")
@authenticated(scope="write:accounts")
async def unpin_status(status_id: str) -> Response:
    runtime = runtime_of(current_app)
    row = await _status_param(status_id, g.account)
    await status_history.unpin(runtime.pool, g.account["id"], row["id"])
    return _json(await status_json(runtime, row, g.account))


async def pinned_page(runtime: Any, account_id: int, viewer: Any) -> list[dict[str, Any]]:
    """Return the pinned statuses of an account that ``viewer`` may read."""
    from web import reading

    rows = await status_history.pinned_statuses(runtime.pool, account_id)
    visible = [row for row in rows if await reading.can_see(runtime.pool, row, viewer)]
    return await StatusPresenter(runtime, viewer, None, "account").render(visible)


# Polls


async def _poll_and_status(poll_id: str, viewer: Any) -> tuple[Any, Any]:
    runtime = runtime_of(current_app)
    number = parse_id(poll_id)
    poll = await polls.by_id(runtime.pool, number) if number is not None else None
    if poll is None:
        raise FederationError(404, "Record not found")
    status = await _status_param(str(poll["status_id"]), viewer)
    return poll, status


@blueprint.get("/api/v1/polls/<poll_id>")
@authenticated(scope="read:statuses", optional=True)
async def get_poll(poll_id: str) -> Response:
    runtime = runtime_of(current_app)
    viewer = await _token_account()
    poll, status = await _poll_and_status(poll_id, viewer)
    own = {}
    if viewer is not None:
        own = await polls.choices_of(runtime.pool, viewer["id"], [poll["id"]])
    return _json(poll_json(poll, status, viewer, own))


@blueprint.post("/api/v1/polls/<poll_id>/votes")
@authenticated(scope="write:statuses")
async def vote(poll_id: str) -> Response:
    runtime = runtime_of(current_app)
    poll, status = await _poll_and_status(poll_id, g.account)
    params = await _params()
    values = params.get("choices[]", params.get("choices"))
    if values in (None, ""):
        values = []
    if not isinstance(values, list):
        values = [values]
    choices = []
    for value in values:
        number = _int_param({"choices": value}, "choices")
        if number is None:
            raise PollError(422, "Validation failed: choices must be option indexes")
        choices.append(number)
    poll = await PollActions(runtime).vote(g.account, status, poll, choices)
    own = await polls.choices_of(runtime.pool, g.account["id"], [poll["id"]])
    return _json(poll_json(poll, status, g.account, own))


# The featured collection of the actor document


@blueprint.get("/users/<username>/collections/featured")
async def featured_collection(username: str) -> Response:
    """Serve an account's pinned public and unlisted posts as an
    OrderedCollection of their Notes, as Mastodon publishes them."""
    from actors.vocabulary import CONTEXT
    from web.activitypub import _published_account
    from web.json import activity_json
    from web.presenters import note_of

    runtime = runtime_of(current_app)
    account = await _published_account(username)
    rows = await status_history.pinned_statuses(runtime.pool, account["id"])
    items = []
    for row in rows:
        if row["visibility"] in ("public", "unlisted"):
            items.append(await note_of(runtime, row, account))
    return activity_json(
        {
            "@context": CONTEXT,
            "id": f"{account['actor_id']}/collections/featured",
            "type": "OrderedCollection",
            "totalItems": len(items),
            "orderedItems": items,
        }
    )
