"""An ASGI layer that accepts inbox POSTs before Quart's request machinery.

Accepting an activity needs only the request's path, headers and body, so this
layer handles POSTs to the shared inbox, the instance actor's inbox and each
local actor's inbox itself. Every other request, including other methods and
other spellings of those paths, goes to the Quart application untouched. The
layer skips Quart's request context, routing and response objects, which cost
more CPU time per POST than verifying and storing the activity.

The answers match those of the Quart views for these paths in web.activitypub,
which share their core: 202 with an empty body, or the status and
``{"error": message}`` body of web.app.error_response, with the same log lines.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import InternalServerError, RequestTimeout

from federation.errors import FederationError
from web.activitypub import accept_activity, body_too_large, find_local_account
from web.app import log_text

if TYPE_CHECKING:
    from pedagogue.runtime import Runtime

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The headers Quart sends with a 202, so that a client sees the same response
# from either path.
_ACCEPTED_HEADERS = [
    (b"content-type", b"text/html; charset=utf-8"),
    (b"content-length", b"0"),
]


class _BodyTooLarge(Exception):
    pass


class _Disconnected(Exception):
    pass


def _header_fields(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Return the header fields keyed by lower-case name, one value per name.

    The fields are folded as federation.digest.fold_headers folds them, from
    the Latin-1 bytes that ASGI servers hand over, as Quart decodes them.
    """
    fields: dict[str, str] = {}
    for raw_name, raw_value in raw:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1").strip()
        fields[name] = f"{fields[name]}, {value}" if name in fields else value
    return fields


def inbox_owner(path: str) -> tuple[bool, str | None]:
    """Match ``path`` against the inbox routes.

    Returns (False, None) for any other path, (True, None) for the shared or
    instance inbox and (True, username) for a local actor's inbox.
    """
    if path in ("/inbox", "/actor/inbox"):
        return True, None
    parts = path.split("/")
    # "/users/<username>/inbox" splits into "", "users", username, "inbox".
    if len(parts) == 4 and parts[1] == "users" and parts[2] and parts[3] == "inbox":
        return True, parts[2]
    return False, None


class InboxEndpoint:
    """Serve inbox POSTs directly and hand everything else to ``app``."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime
        self.max_body = runtime.settings.server.max_body_bytes
        self.body_timeout = runtime.settings.server.request_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            matched, username = inbox_owner(scope["path"])
            if matched:
                await self._serve(scope, receive, send, username)
                return
        await self.app(scope, receive, send)

    async def _serve(
        self, scope: Scope, receive: Receive, send: Send, username: str | None
    ) -> None:
        extra: dict[str, str] = {}
        try:
            status, message, extra = await self._accept(scope, receive, username)
        except _Disconnected:
            log.debug("client left before sending the body of %s", scope["path"])
            return
        except Exception:  # a JSON 500, as Quart returns for unhandled errors
            log.exception(
                "inbox POST to %s from %s failed",
                log_text(scope["path"]),
                _client(scope),
            )
            status, message = 500, InternalServerError.description
        await _respond(send, status, message, extra)

    async def _accept(
        self, scope: Scope, receive: Receive, username: str | None
    ) -> tuple[int, str | None, dict[str, str]]:
        headers = _header_fields(scope["headers"])
        target = _target(scope)
        remote = _client(scope)
        recipient = None
        if scope["path"] == "/actor/inbox":
            recipient = self.runtime.urls.instance_actor
        elif username is not None:
            try:
                account = await find_local_account(self.runtime.pool, username)
            except FederationError as error:
                return error.status, error.message, {}
            recipient = account["actor_id"]
        try:
            async with asyncio.timeout(self.body_timeout):
                body = await self._read_body(receive, headers)
        except _BodyTooLarge:
            return 413, body_too_large(remote, target, headers, self.max_body), {}
        except TimeoutError:
            return 408, RequestTimeout.description, {}
        return await accept_activity(
            self.runtime, target, headers, body, recipient, remote
        )

    async def _read_body(self, receive: Receive, headers: dict[str, str]) -> bytes:
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            raise _BodyTooLarge
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise _BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _respond(
    send: Send, status: int, message: str | None, extra: dict[str, str]
) -> None:
    if message is None:
        headers, body = _ACCEPTED_HEADERS, b""
    else:
        # The bytes of Quart's jsonify with compact output: ASCII-only JSON
        # and a final newline.
        body = (json.dumps({"error": message}, separators=(",", ":")) + "\n").encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        headers += [
            (name.lower().encode(), value.encode()) for name, value in extra.items()
        ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _target(scope: Scope) -> str:
    # The request line's path and query, as an RFC 9421 @request-target.
    raw_path = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string") or b""
    target = raw_path.decode("latin-1")
    return f"{target}?{query.decode('latin-1')}" if query else target


def _client(scope: Scope) -> str | None:
    client = scope.get("client")
    return client[0] if client else None
