"""Mastodon's streaming API: ``/api/v1/streaming`` over WebSocket and server-sent events.

A WebSocket at ``/api/v1/streaming`` carries several streams: the client
sends ``{"type": "subscribe", "stream": "hashtag", "tag": "maths"}`` and
gets messages ``{"stream": [...], "event": "update", "payload": "<JSON>"}``,
whose payload is itself JSON text. Each HTTP path below it is one stream of
server-sent events (``event: update`` and ``data: <JSON>`` lines), with a
comment line as heartbeat. The events are those of web.stream_hub.

Tokens come from the Authorization header, the ``access_token`` query
parameter, or for browsers, which cannot set headers on a WebSocket, the
Sec-WebSocket-Protocol header.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from quart import Blueprint, Response, current_app, request, websocket

from storage import lists, oauth
from web.app import error_response, log_text, parse_id, runtime_of
from web.forwarded import client_address, limit_key
from web.oauth_scopes import grants_any
from web.stream_hub import (
    CHANNELS,
    HASHTAG_CHANNELS,
    PUBLIC_CHANNELS,
    Channel,
    ConnectionLimit,
    StreamHub,
    Subscriber,
)

log = logging.getLogger(__name__)

blueprint = Blueprint("streaming", __name__)

# Maximum length of a bearer token that is looked up, as in web.api. Issued
# tokens have 43 characters.
MAX_TOKEN_LENGTH = 512
# Maximum length of a WebSocket message from a client, in characters. A
# subscribe message with a long hashtag needs a few hundred.
MAX_CLIENT_MESSAGE = 4096
# Streams one WebSocket may subscribe to at once.
MAX_SUBSCRIPTIONS = 64
MAX_TAG_LENGTH = 256
# Seconds a new connection waits for the hub's LISTEN connection, so that
# no event committed after the stream opened is missed.
LISTEN_WAIT = 5.0
# WebSocket close codes (RFC 6455, section 7.4.1).
CLOSE_POLICY = 1008
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_GOING_AWAY = 1001

# The SSE paths and the stream each one opens.
SSE_PATHS = {
    "user": "user",
    "user/notification": "user:notification",
    "public": "public",
    "public/local": "public:local",
    "public/remote": "public:remote",
    "hashtag": "hashtag",
    "hashtag/local": "hashtag:local",
    "list": "list",
    "direct": "direct",
}


class StreamError(Exception):
    """A stream request that cannot be served: the status and the message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def hub_of(app: Any) -> StreamHub:
    """Return the process's hub, creating it on first use."""
    hub = app.extensions.get("pedagogue_streams")
    if hub is None:
        hub = StreamHub(runtime_of(app))
        app.extensions["pedagogue_streams"] = hub
    return hub


@blueprint.after_app_serving
async def _stop_hub() -> None:
    hub = current_app.extensions.get("pedagogue_streams")
    if hub is not None:
        await hub.stop()


@blueprint.get("/api/v1/streaming/health")
async def health() -> Response:
    return Response("OK", mimetype="text/plain")


# Access


async def _token_row(token: str | None) -> Any:
    """Return the live token with its account, None without a token.

    Raises StreamError(401) for a token that is unknown, revoked or expired.
    """
    if not token:
        return None
    if len(token) > MAX_TOKEN_LENGTH:
        raise StreamError(401, "The access token is invalid")
    row = await oauth.token_with_account(runtime_of(current_app).pool, token)
    if row is None:
        raise StreamError(401, "The access token is invalid")
    return row


def bearer_token(headers: Any, args: Any) -> str | None:
    """Return the token of the Authorization header or the access_token parameter."""
    scheme, _, value = headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return args.get("access_token") or None


def required_scope(name: str) -> str:
    """Return the scope a token needs for a stream, ``read`` granting both."""
    return "read:notifications" if name == "user:notification" else "read:statuses"


def check_access(name: str, token: Any) -> None:
    """Raise StreamError unless ``token`` (None: no token) may open stream ``name``."""
    settings = runtime_of(current_app).settings.streaming
    public = name in PUBLIC_CHANNELS or name in HASHTAG_CHANNELS
    if token is None:
        if not public:
            raise StreamError(401, "This stream requires an access token")
        if settings.public_requires_token:
            raise StreamError(401, "This instance requires an access token for streams")
        return
    needed = required_scope(name)
    if not grants_any(token["token_scopes"].split(), (needed,)):
        raise StreamError(403, f"The access token lacks the {needed} scope")
    if not public and token["token_account_id"] is None:
        raise StreamError(401, "This stream requires a user's access token")


async def channel_for(name: str, params: Any, token: Any) -> Channel:
    """Return the channel of stream ``name`` with its parameter from ``params``.

    Raises StreamError(404) for an unknown stream, 400 for a missing or
    invalid hashtag or list id, and 401/403 as check_access does.
    """
    if name not in CHANNELS:
        raise StreamError(404, f"Unknown stream type {log_text(name, 60)!r}")
    media = _flag(params.get("only_media"))
    if media and name in ("public", "public:local", "public:remote"):
        name += ":media"
    check_access(name, token)
    if name in HASHTAG_CHANNELS:
        tag = str(params.get("tag") or "").lstrip("#").strip().lower()
        if not tag:
            raise StreamError(400, "No tag for stream provided")
        if len(tag) > MAX_TAG_LENGTH:
            raise StreamError(400, f"The tag is over {MAX_TAG_LENGTH} characters")
        return Channel(name, tag)
    if name == "list":
        return Channel(name, str(await _list_id(params, token)))
    return Channel(name)


async def _list_id(params: Any, token: Any) -> int:
    """Return the id of a list of the token's account; raise StreamError if none."""
    list_id = parse_id(str(params.get("list") or ""))
    if list_id is None:
        raise StreamError(400, "The list parameter must be a list id")
    pool = runtime_of(current_app).pool
    if await lists.get(pool, token["token_account_id"], list_id) is None:
        raise StreamError(404, "List not found")
    return list_id


def _flag(value: Any) -> bool:
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")


def _limit_key(token: Any, peer: Any, forwarded: list[str]) -> str:
    if token is not None and token["token_account_id"] is not None:
        return f"account:{token['token_account_id']}"
    trusted = runtime_of(current_app).settings.server.trusted_proxies
    peer_host = peer[0] if peer else None
    return "address:" + limit_key(client_address(peer_host, forwarded, trusted))


def _subscriber(token: Any, key: str) -> Subscriber:
    settings = runtime_of(current_app).settings.streaming
    account = (
        token if token is not None and token["token_account_id"] is not None else None
    )
    return Subscriber(
        account=account,
        token_id=None if token is None else token["token_id"],
        limit_key=key,
        queue_size=settings.queue_size,
    )


async def _open(subscriber: Subscriber) -> StreamHub:
    """Register the subscriber and wait for the LISTEN connection.

    Raises StreamError(429) when the account or address is at its limit.
    """
    hub = hub_of(current_app)
    try:
        hub.open(subscriber)
    except ConnectionLimit:
        raise StreamError(
            429, "Too many streaming connections are open for this account or address"
        ) from None
    if not await hub.wait_listening(LISTEN_WAIT):
        log.warning(
            "stream opened for %s before the event connection", subscriber.limit_key
        )
    return hub


def _rejected(method: str, error: StreamError) -> Response:
    log.info(
        "rejected %s %s: %s %s",
        method,
        log_text(request.path if method != "WEBSOCKET" else websocket.path),
        error.status,
        error.message,
    )
    return error_response(error.status, error.message)


# Server-sent events


@blueprint.get("/api/v1/streaming")
@blueprint.get("/api/v1/streaming/<path:kind>")
async def server_sent_events(kind: str | None = None) -> Response:
    """Open one stream of server-sent events (the W3C EventSource format)."""
    if kind is None:
        name = request.args.get("stream", "")
    elif kind.strip("/") in SSE_PATHS:
        name = SSE_PATHS[kind.strip("/")]
    else:
        return _rejected("GET", StreamError(404, "Unknown stream type"))
    try:
        token = await _token_row(bearer_token(request.headers, request.args))
        channel = await channel_for(name, request.args, token)
        key = _limit_key(
            token,
            request.scope.get("client"),
            request.headers.getlist("X-Forwarded-For"),
        )
        subscriber = _subscriber(token, key)
        subscriber.channels.add(channel)
        hub = await _open(subscriber)
    except StreamError as error:
        return _rejected("GET", error)
    log.info("stream %s opened for %s", channel.name, subscriber.limit_key)
    heartbeat = hub.settings.heartbeat_seconds
    response = Response(
        EventStream(hub, subscriber, heartbeat),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
    # A stream stays open for as long as the client reads it.
    response.timeout = None
    return response


class EventStream:
    """The body of a server-sent event response.

    Quart closes the body when the response ends. Closing unregisters the
    connection from the hub even when the client left before the first
    line, when the generator below never started and so never ran its
    ``finally``.
    """

    def __init__(
        self, hub: StreamHub, subscriber: Subscriber, heartbeat: float
    ) -> None:
        self.hub = hub
        self.subscriber = subscriber
        self.lines = _event_lines(hub, subscriber, heartbeat)

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> bytes:
        return await self.lines.__anext__()

    async def aclose(self) -> None:
        try:
            await self.lines.aclose()
        finally:
            self.hub.close(self.subscriber)


async def _event_lines(
    hub: StreamHub, subscriber: Subscriber, heartbeat: float
) -> AsyncIterator[bytes]:
    try:
        # A first comment line shows the client that the stream is open.
        yield b":)\n"
        while subscriber.closed_reason is None:
            message = await subscriber.next_message(heartbeat)
            if subscriber.closed_reason is not None:
                break
            if message is None:
                yield b":thump\n"
                continue
            _channel, event, payload = message
            # Mastodon writes "undefined" for events without a payload.
            data = payload if payload is not None else "undefined"
            yield f"event: {event}\ndata: {data}\n\n".encode()
    finally:
        log.info(
            "stream closed for %s: %s",
            subscriber.limit_key,
            subscriber.closed_reason or "client went away",
        )
        hub.close(subscriber)


# WebSocket


@blueprint.websocket("/api/v1/streaming")
async def websocket_stream() -> Any:
    """Serve a WebSocket that multiplexes streams (Mastodon's protocol)."""
    protocol = websocket.headers.get("Sec-WebSocket-Protocol", "").strip() or None
    try:
        token_text = bearer_token(websocket.headers, websocket.args) or protocol
        token = await _token_row(token_text)
        key = _limit_key(
            token,
            websocket.scope.get("client"),
            websocket.headers.getlist("X-Forwarded-For"),
        )
        subscriber = _subscriber(token, key)
        first = websocket.args.get("stream")
        if first:
            subscriber.channels.add(await channel_for(first, websocket.args, token))
        hub = await _open(subscriber)
    except StreamError as error:
        return _rejected("WEBSOCKET", error)
    try:
        # A browser that sent its token as the subprotocol expects it echoed
        # (RFC 6455, section 4.2.2).
        await websocket.accept(subprotocol=protocol if protocol == token_text else None)
        log.info("WebSocket stream opened for %s", subscriber.limit_key)
        await _serve_websocket(hub, subscriber, token)
    finally:
        log.info(
            "WebSocket stream closed for %s: %s",
            subscriber.limit_key,
            subscriber.closed_reason or "client went away",
        )
        hub.close(subscriber)
    return None


async def _serve_websocket(hub: StreamHub, subscriber: Subscriber, token: Any) -> None:
    receiving = asyncio.create_task(_receive_commands(subscriber, token))
    try:
        while subscriber.closed_reason is None and not receiving.done():
            message = await subscriber.next_message(hub.settings.heartbeat_seconds)
            if message is None or subscriber.closed_reason is not None:
                continue
            channel, event, payload = message
            document: dict[str, Any] = {"stream": channel.stream(), "event": event}
            if payload is not None:
                document["payload"] = payload
            await websocket.send(json.dumps(document, separators=(",", ":")))
        reason = subscriber.closed_reason
        if reason is not None:
            code = (
                CLOSE_TRY_AGAIN_LATER if reason.startswith("too slow") else CLOSE_POLICY
            )
            if reason == "server shutting down":
                code = CLOSE_GOING_AWAY
            await websocket.close(code, reason)
    finally:
        receiving.cancel()
        await asyncio.gather(receiving, return_exceptions=True)


async def _receive_commands(subscriber: Subscriber, token: Any) -> None:
    """Apply the client's subscribe and unsubscribe messages until it disconnects."""
    while True:
        raw = await websocket.receive()
        reply = await apply_command(subscriber, token, raw)
        if reply is not None:
            await websocket.send(json.dumps(reply, separators=(",", ":")))


async def apply_command(
    subscriber: Subscriber, token: Any, raw: str | bytes
) -> dict[str, Any] | None:
    """Apply one client message; return the error message to send, or None."""
    if isinstance(raw, bytes) or len(raw) > MAX_CLIENT_MESSAGE:
        return {
            "error": f"Messages must be JSON text of at most {MAX_CLIENT_MESSAGE} characters",
            "status": 400,
        }
    try:
        command = json.loads(raw)
    except ValueError:
        return {"error": "The message is not valid JSON", "status": 400}
    if not isinstance(command, dict) or command.get("type") not in (
        "subscribe",
        "unsubscribe",
    ):
        return {
            "error": "The message type must be subscribe or unsubscribe",
            "status": 400,
        }

    name = command.get("stream")
    if not isinstance(name, str):
        return {"error": "The stream must be a string", "status": 400}
    params = {
        key: str(value)
        for key, value in command.items()
        if isinstance(value, (str, int))
    }
    try:
        channel = await channel_for(name, params, token)
    except StreamError as error:
        return {"error": error.message, "status": error.status, "stream": [name]}

    if command["type"] == "unsubscribe":
        subscriber.channels.discard(channel)
        return None
    if (
        channel not in subscriber.channels
        and len(subscriber.channels) >= MAX_SUBSCRIPTIONS
    ):
        return {
            "error": f"A connection subscribes to at most {MAX_SUBSCRIPTIONS} streams",
            "status": 400,
        }
    subscriber.channels.add(channel)
    return None
