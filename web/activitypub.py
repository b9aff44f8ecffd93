"""ActivityPub endpoints: actors, objects, collections and inboxes."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from quart import Blueprint, Response, current_app, redirect, request
from werkzeug.exceptions import RequestEntityTooLarge

from actors.group import add_group_fields
from actors.note import render_tombstone, with_context
from actors.person import render_instance_actor, render_person
from actors.vocabulary import AS_CONTEXT, first_id, has_type, ids_of
from federation import httpsig
from federation.errors import FederationError
from inbox.receive import InboxReceiver, InboxRejection
from outbox.mentorship import published_offer
from storage import accounts, statuses
from web.app import error_response, log_text, parse_id, runtime_of
from web.json import activity_json
from web.rate_limit import retry_after_header
from web.reading import can_see, replies_rows
from web.signed_fetch import (
    request_signer,
    require_signed_fetch,
    restrict_actor,
    wants_activity_json,
)

log = logging.getLogger(__name__)

blueprint = Blueprint("activitypub", __name__)
blueprint.before_app_request(require_signed_fetch)

PAGE_SIZE = 20


async def _local_account(username: str) -> Any:
    return await find_local_account(runtime_of(current_app).pool, username)


async def _published_account(username: str) -> Any:
    """Return the local account whose actor and collections are served.

    Raises FederationError(404) for an unknown account and 410 for a
    suspended one (see _withhold_suspended).
    """
    account = await _local_account(username)
    _withhold_suspended(account)
    return account


def _withhold_suspended(account: Any) -> None:
    """Raise FederationError(410) when ``account`` is suspended.

    The actor document, outbox, follow collections and objects of a suspended
    account are withheld until the suspension is lifted, while its inbox
    still accepts deliveries.
    """
    if account["suspended_at"] is None:
        return
    # NOTE: a peer may treat 410 Gone on an actor as a deletion and drop its
    # follows, so lifting the suspension does not restore them there.
    log.info(
        "ActivityPub document of suspended account %s requested", account["actor_id"]
    )
    raise FederationError(410, f"account {account['username']} is suspended")


async def find_local_account(pool: Any, username: str) -> Any:
    """Return the local account named ``username``; raise FederationError(404)
    when there is none or it is the instance actor."""
    # PostgreSQL text cannot hold NUL, and no username contains one.
    if "\x00" in username:
        raise FederationError(404, "no such account on this instance")
    account = await accounts.local_by_username(pool, username)
    if account is None or account["actor_type"] == "Application":
        raise FederationError(404, f"no account {username[:100]} on this instance")
    return account


@blueprint.get("/users/<username>")
async def actor(username: str) -> Response:
    account = await _local_account(username)
    runtime = runtime_of(current_app)
    if not wants_activity_json():
        return redirect(runtime.urls.profile(account["username"]))
    _withhold_suspended(account)
    key = await accounts.local_key(runtime.pool, account["id"])
    document = render_person(
        account,
        key["public_key_pem"],
        runtime.urls,
        mentoring=await published_offer(runtime.pool, account["id"]),
    )
    if account["actor_type"] == "Group":
        add_group_fields(document, runtime.urls, account["username"])
    return activity_json(await restrict_actor(document))


@blueprint.get("/actor")
async def instance_actor() -> Response:
    runtime = runtime_of(current_app)
    key = await accounts.local_key(runtime.pool, runtime.instance_account["id"])
    return activity_json(render_instance_actor(key["public_key_pem"], runtime.urls, runtime.settings.domain))


@blueprint.get("/users/<username>/statuses/<status_id>")
async def status_object(username: str, status_id: str) -> Response:
    runtime = runtime_of(current_app)
    account = await _published_account(username)
    number = parse_id(status_id)
    if number is None:
        raise FederationError(404, "status not found")
    status = await statuses.by_id(runtime.pool, number)
    if status is None or status["account_id"] != account["id"] or status["reblog_of_id"]:
        raise FederationError(404, "status not found")
    if not wants_activity_json():
        # A browser goes to the page, which applies the session's rights.
        return redirect(status["url"] or runtime.urls.status_page(username, number))
    if not await _fetchable(runtime, status):
        raise FederationError(404, "status not found")
    if status["deleted_at"] is not None:
        response = activity_json(render_tombstone(status["uri"], status["deleted_at"]))
        response.status_code = 410
        return response
    from web.presenters import note_of

    if status["object_type"] == "Event":
        from outbox.events import event_document

        return activity_json(await event_document(runtime, status, account))
    return activity_json(with_context(await note_of(runtime, status, account)))


@blueprint.get("/users/<username>/statuses/<status_id>/replies")
async def replies_collection(username: str, status_id: str) -> Response:
    """Serve the replies to a status that the signer of the GET may read, as
    an OrderedCollection whose pages run oldest first (``min_id`` cursor)."""
    runtime = runtime_of(current_app)
    account = await _published_account(username)
    number = parse_id(status_id)
    status = None if number is None else await statuses.by_id(runtime.pool, number)
    if (
        status is None
        or status["account_id"] != account["id"]
        or status["reblog_of_id"]
        or status["deleted_at"] is not None
        or not await _fetchable(runtime, status)
    ):
        raise FederationError(404, "status not found")
    collection_id = f"{status['uri']}/replies"
    signer = await request_signer()
    if "page" not in request.args:
        return activity_json(
            _collection(collection_id, None, f"{collection_id}?page=true")
        )
    after_id = _cursor("min_id")
    rows = await replies_rows(runtime.pool, status["id"], signer, PAGE_SIZE, after_id)
    # Local-only replies are never listed to another server.
    items = [row["uri"] for row in rows if row["visibility"] != "local"]
    next_url = None
    if len(rows) == PAGE_SIZE:
        next_url = f"{collection_id}?page=true&min_id={rows[-1]['id']}"
    return activity_json(_page(collection_id, _page_url(collection_id), items, next_url))


@blueprint.get("/activities/<activity_id>")
async def activity(activity_id: str) -> Response:
    runtime = runtime_of(current_app)
    number = parse_id(activity_id)
    if number is None:
        raise FederationError(404, "activity not found")
    row = await runtime.pool.fetchrow(
        "SELECT account_id, type, object_uri, uri, body, public FROM activities"
        " WHERE id = $1",
        number,
    )
    if row is None or not await _activity_fetchable(runtime, row):
        raise FederationError(404, "activity not found")
    return activity_json(row["body"])


async def _fetchable(runtime: Any, status: Any) -> bool:
    """Return True when the signer of this GET (None if unsigned) may fetch
    the local status: public and unlisted ones to all, local-only ones to no
    other server, the rest to the actors they are addressed to."""
    if status["visibility"] == "local":
        return False
    return await can_see(runtime.pool, status, await request_signer())


async def _activity_fetchable(runtime: Any, row: Any) -> bool:
    """Return True when the signer of this GET may fetch the activity ``row``.

    A Create or Update of a status, and an Announce (whose boost row has the
    activity's uri), follow the status's visibility for the signer; other
    activities follow ``_servable``.
    """
    status = None
    if row["type"] in ("Create", "Update") and row["object_uri"]:
        status = await statuses.by_uri(runtime.pool, row["object_uri"])
    elif row["type"] == "Announce":
        status = await statuses.by_uri(runtime.pool, row["uri"])
    if status is not None and status["account_id"] == row["account_id"]:
        return await _fetchable(runtime, status)
    if not _servable(row):
        return False
    if row["public"]:
        return True
    return await _non_public_fetchable(runtime, row)


async def _non_public_fetchable(runtime: Any, row: Any) -> bool:
    """Return True when the signer of this GET may fetch a non-public activity.

    A Follow or its Accept names who follows whom, so it is served only to a
    signed GET from an actor it is addressed to. A Like, or the Undo of one,
    shows no more than the list of likes of the liked status, so it is served
    to whoever may fetch that status (a group's members verify forwarded likes
    this way).
    """
    body = row["body"]
    signer = await request_signer()
    if signer is not None and signer["actor_id"] in _addressees(body):
        return True
    liked_uri = _liked_uri(body)
    if liked_uri is None:
        return False
    liked = await statuses.by_uri(runtime.pool, liked_uri)
    return liked is not None and await _fetchable(runtime, liked)


def _addressees(body: dict[str, Any]) -> set[str]:
    """Return the actor ids an activity is addressed to, with the actor of
    an embedded activity (the follower of an accepted Follow)."""
    found: set[str] = set()
    for key in ("to", "cc", "bto", "bcc", "audience"):
        found.update(ids_of(body.get(key)))
    inner = body.get("object")
    if isinstance(inner, dict):
        found.update(ids_of(inner.get("actor")))
    return found


def _liked_uri(body: dict[str, Any]) -> str | None:
    if has_type(body, "Undo") and isinstance(body.get("object"), dict):
        body = body["object"]
    if not has_type(body, "Like"):
        return None
    return first_id(body.get("object"))


def _servable(row: Any) -> bool:
    # Activities embedding a non-public status, and blocks, are never served
    # without their status; other non-public activities go to the actors they
    # are addressed to (``_non_public_fetchable``).
    if row["public"]:
        return True
    # Add and Remove of a followers-only plan collection name its plans.
    hidden = ("Create", "Update", "Announce", "Block", "Offer", "Add", "Remove")
    if row["type"] in hidden:
        return False
    body = row["body"]
    # A mentorship Offer and its answers carry the mentee's private message.
    if isinstance(body.get("object"), dict) and body["object"].get("type") == "Offer":
        return False
    undone = body.get("object") if row["type"] == "Undo" else None
    return not (isinstance(undone, dict) and undone.get("type") == "Block")


def _collection(
    collection_id: str, total: int | None, first: str | None
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "@context": AS_CONTEXT,
        "id": collection_id,
        "type": "OrderedCollection",
    }
    # Left out where counting would need the reader's rights on every item.
    if total is not None:
        document["totalItems"] = total
    if first:
        document["first"] = first
    return document


def _page(collection_id: str, page_url: str, items: list[Any], next_url: str | None) -> dict:
    document: dict[str, Any] = {
        "@context": AS_CONTEXT,
        "id": page_url,
        "type": "OrderedCollectionPage",
        "partOf": collection_id,
        "orderedItems": items,
    }
    if next_url:
        document["next"] = next_url
    return document


def _page_url(collection_id: str) -> str:
    # Built from the public URL, not the Host the request came in on.
    query = request.query_string.decode("latin-1")
    return f"{collection_id}?{query}"


def _max_id() -> int | None:
    return _cursor("max_id")


def _cursor(name: str) -> int | None:
    value = request.args.get(name)
    if value is None:
        return None
    number = parse_id(value)
    if number is None:
        raise FederationError(400, f"{name} must be a number")
    return number


@blueprint.get("/users/<username>/outbox")
async def outbox(username: str) -> Response:
    runtime = runtime_of(current_app)
    account = await _published_account(username)
    collection_id = runtime.urls.outbox(account["username"])
    if "page" not in request.args:
        total = await runtime.pool.fetchval(
            "SELECT count(*) FROM activities WHERE account_id = $1 AND public"
            " AND type IN ('Create', 'Announce')",
            account["id"],
        )
        return activity_json(_collection(collection_id, total, f"{collection_id}?page=true"))
    rows = await runtime.pool.fetch(
        "SELECT a.id, a.body FROM activities a"
        " LEFT JOIN statuses s ON s.activity_uri = a.uri"
        " WHERE a.account_id = $1 AND a.public AND a.type IN ('Create', 'Announce')"
        " AND (s.id IS NULL OR s.deleted_at IS NULL)"
        " AND ($2::bigint IS NULL OR a.id < $2) ORDER BY a.id DESC LIMIT $3",
        account["id"],
        _max_id(),
        PAGE_SIZE,
    )
    items = [row["body"] for row in rows]
    for item in items:
        item.pop("@context", None)
    next_url = f"{collection_id}?page=true&max_id={rows[-1]['id']}" if len(rows) == PAGE_SIZE else None
    return activity_json(_page(collection_id, _page_url(collection_id), items, next_url))


async def _follow_collection(username: str, followers: bool) -> Response:
    runtime = runtime_of(current_app)
    account = await _published_account(username)
    urls = runtime.urls
    collection_id = urls.followers(account["username"]) if followers else urls.following(account["username"])
    mine, other = ("target_account_id", "account_id") if followers else ("account_id", "target_account_id")
    if "page" not in request.args:
        total = await runtime.pool.fetchval(
            f"SELECT count(*) FROM follows WHERE {mine} = $1 AND accepted", account["id"]
        )
        return activity_json(_collection(collection_id, total, f"{collection_id}?page=true"))
    rows = await runtime.pool.fetch(
        f"SELECT f.id, a.actor_id FROM follows f JOIN accounts a ON a.id = f.{other}"
        f" WHERE f.{mine} = $1 AND f.accepted AND ($2::bigint IS NULL OR f.id < $2)"
        " ORDER BY f.id DESC LIMIT $3",
        account["id"],
        _max_id(),
        PAGE_SIZE,
    )
    next_url = f"{collection_id}?page=true&max_id={rows[-1]['id']}" if len(rows) == PAGE_SIZE else None
    items = [row["actor_id"] for row in rows]
    return activity_json(_page(collection_id, _page_url(collection_id), items, next_url))


@blueprint.get("/users/<username>/followers")
async def followers(username: str) -> Response:
    return await _follow_collection(username, followers=True)


@blueprint.get("/users/<username>/following")
async def following(username: str) -> Response:
    return await _follow_collection(username, followers=False)


def _target() -> str:
    raw_path = request.scope.get("raw_path") or request.path.encode()
    query = request.scope.get("query_string") or b""
    target = raw_path.decode("latin-1")
    return f"{target}?{query.decode('latin-1')}" if query else target


async def _receive(recipient: str | None) -> Response:
    # web.asgi.InboxEndpoint handles POSTs to these exact paths before Quart
    # routes them, so this view serves only the other spellings that Quart's
    # routing accepts, and an app served without that layer.
    runtime = runtime_of(current_app)
    remote = request.remote_addr
    try:
        body = await request.get_data(cache=False)
    except RequestEntityTooLarge:
        limit = request.max_content_length or runtime.settings.server.max_body_bytes
        message = body_too_large(remote, _target(), request.headers, limit)
        return error_response(413, message)
    status, message, headers = await accept_activity(
        runtime, _target(), request.headers, body, recipient, remote
    )
    if message is not None:
        response = error_response(status, message)
        response.headers.update(headers)
        return response
    return Response("", status=202)


async def accept_activity(
    runtime: Any,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
    recipient: str | None,
    remote: str | None,
) -> tuple[int, str | None, dict[str, str]]:
    """Verify and store one inbox POST; return its status, error message and
    extra response headers.

    The message is None for an accepted (202) POST. A rejection is logged
    here with the activity and key ids, and nothing of it is stored. A 429
    carries Retry-After in the headers.
    """
    try:
        await InboxReceiver(runtime).receive("POST", target, headers, body, recipient)
    except InboxRejection as error:
        log.warning(
            "inbox rejected %s from %s (key %s): %s [%s]",
            log_text(error.activity_id or "unknown activity"), remote,
            log_text(error.key_id or "none"), log_text(error.message),
            log_text(error.cause),
        )
        extra = {}
        if error.retry_after is not None:
            extra["Retry-After"] = retry_after_header(error.retry_after)
        return error.status, error.message, extra
    return 202, None, {}


def body_too_large(
    remote: str | None, target: str, headers: Mapping[str, str], limit: int
) -> str:
    """Log an inbox POST whose body is over ``limit`` bytes; return the message."""
    message = f"request body is over the limit of {limit} bytes"
    log.warning(
        "inbox rejected unknown activity from %s (key %s): %s",
        remote, log_text(_key_id_for_log(target, headers)), message,
    )
    return message


def _key_id_for_log(target: str, headers: Mapping[str, str]) -> str:
    # Parsed, not scanned: draft-cavage spells the parameter keyId, RFC 9421 keyid.
    try:
        signature = httpsig.parse_signature("POST", target, headers)
    except FederationError:
        return "none"
    return signature.key_id


@blueprint.post("/inbox")
async def shared_inbox() -> Response:
    return await _receive(None)


@blueprint.post("/users/<username>/inbox")
async def personal_inbox(username: str) -> Response:
    account = await _local_account(username)
    return await _receive(account["actor_id"])


@blueprint.post("/actor/inbox")
async def instance_inbox() -> Response:
    return await _receive(runtime_of(current_app).urls.instance_actor)
