"""Fake remote instances for delivery tests: HTTPS inboxes on 127.0.0.1.

Each FakePeer verifies every request's signature with federation.httpsig against
the sender's public key from our database, records each request, and responds
with the status a scenario sets.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiohttp import web

from actors.person import RemoteActor
from federation import httpsig
from federation.errors import FederationError
from outbox.actions import Actions, NewStatus
from pedagogue.accounts import create_teacher
from pedagogue.runtime import Runtime
from storage import accounts, social
from tests.support.pki import TestPki


@dataclass
class Attempt:
    """One request as the peer received it."""

    path: str
    scheme: str | None  # httpsig.CAVAGE or httpsig.RFC9421; None when unsigned
    verified: bool
    activity_id: str | None
    status: int  # the response status the peer sent


@dataclass
class FakePeer:
    """An instance on 127.0.0.1:port whose inboxes accept or refuse deliveries."""

    pool: asyncpg.Pool
    pki: TestPki
    # Signature schemes this peer understands; a request signed otherwise gets 401.
    schemes: frozenset[str] = frozenset({httpsig.CAVAGE, httpsig.RFC9421})
    # The response status for a request whose signature verified.
    status: int = 202
    # Seconds to wait before responding, so that concurrent deliveries overlap.
    delay: float = 0.0
    attempts: list[Attempt] = field(default_factory=list)
    port: int = 0
    # When set, verified requests wait for this event before the response.
    hold: asyncio.Event | None = None
    _runner: web.AppRunner | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"https://{self.host}{path}"

    @property
    def delivered(self) -> list[Attempt]:
        """Requests that verified and got a 2xx response."""
        return [a for a in self.attempts if a.verified and 200 <= a.status < 300]

    def deliveries_per_inbox(self) -> Counter[tuple[str | None, str]]:
        return Counter((a.activity_id, a.path) for a in self.delivered)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{path:.*}", self._inbox)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.pki.cert_file, self.pki.key_file)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=context)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self.hold is not None:
            self.hold.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _inbox(self, request: web.Request) -> web.Response:
        body = await request.read()
        activity_id = _activity_id(body)
        scheme, error = await self._verify(request, body)
        if error is not None:
            self.attempts.append(Attempt(request.path, scheme, False, activity_id, 401))
            return web.json_response({"error": error}, status=401)
        attempt = Attempt(request.path, scheme, True, activity_id, self.status)
        self.attempts.append(attempt)
        if self.hold is not None:
            await self.hold.wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.json_response({}, status=attempt.status)

    async def _verify(
        self, request: web.Request, body: bytes
    ) -> tuple[str | None, str | None]:
        try:
            info = httpsig.parse_signature(
                request.method, request.path_qs, request.headers
            )
        except FederationError as error:
            return None, error.message
        if info.scheme not in self.schemes:
            return info.scheme, f"{info.scheme} signatures are not supported here"
        key = await accounts.public_key(self.pool, info.key_id)
        if key is None:
            return info.scheme, f"unknown key {info.key_id}"
        try:
            httpsig.verify_request(
                request.method,
                request.path_qs,
                request.headers,
                body,
                httpsig.load_public_key(key["public_key_pem"]),
            )
        except FederationError as error:
            return info.scheme, error.message
        return info.scheme, None


def _activity_id(body: bytes) -> str | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return document.get("id") if isinstance(document, dict) else None


async def add_remote_follower(
    pool: asyncpg.Pool, teacher: Any, peer: FakePeer, username: str, *, shared: bool
) -> asyncpg.Record:
    """Store a remote account on ``peer`` whose follow of ``teacher`` is accepted."""
    actor_id = peer.url(f"/users/{username}")
    actor = RemoteActor(
        actor_id=actor_id,
        actor_type="Person",
        username=username,
        domain=peer.host,
        display_name=username,
        summary="",
        inbox_url=f"{actor_id}/inbox",
        shared_inbox_url=peer.url("/inbox") if shared else None,
        outbox_url=None,
        followers_url=None,
        following_url=None,
        url=None,
        icon_url=None,
        manually_approves_followers=False,
    )
    follower = await accounts.upsert_remote(pool, actor)
    await social.upsert_follow(
        pool, follower["id"], teacher["id"], f"{actor_id}#follow", True
    )
    return follower


async def new_teacher(runtime: Runtime, username: str = "alice") -> Any:
    return await create_teacher(
        runtime.pool, runtime.settings, username=username, password=None
    )


async def post(runtime: Runtime, teacher: Any, text: str) -> str:
    """Publish a public status; return the id of its Create activity."""
    status = await Actions(runtime).post_status(teacher, NewStatus(text=text))
    return await runtime.pool.fetchval(
        "SELECT activity_uri FROM statuses WHERE id = $1", status["id"]
    )
