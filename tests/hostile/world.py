"""A live instance and a hostile peer, for tests that attack the instance.

The instance is a real ``pedagogue run`` process over HTTPS on loopback. The
peer is an aiohttp HTTPS server on 127.0.0.1 that serves actor and object
documents for the hosts ``peer.test`` and ``other.test``; the instance reaches
both through ``federation.host_map``. Activities go to the instance's inbox
signed with the peer actors' real keys.
"""

from __future__ import annotations

import json
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

from actors.keys import generate_key_pair
from federation import httpsig
from tests.e2e.peers import post_raw, signed_headers
from tests.support.live import LiveInstance, Teacher, eventually
from tests.support.pki import TestPki

LOCAL_DOMAIN = "school-a.test"
PEER_NAME = "peer.test"
OTHER_NAME = "other.test"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
# The instance processes one activity in milliseconds; this bounds a wait
# for the queue to drain when a handler hangs on a fetch.
DRAIN_TIMEOUT = 30.0


@dataclass
class PeerActor:
    """A remote actor served by the peer, with its private key."""

    actor_id: str
    key_id: str
    private_key: Any
    document: dict[str, Any]


@dataclass
class HostilePeer:
    """A loopback HTTPS server that serves whatever documents a test puts in."""

    pki: TestPki
    documents: dict[str, tuple[int, Any]] = field(default_factory=dict)
    port: int = 0
    _runner: web.AppRunner | None = None

    def url(self, path: str, *, host: str = PEER_NAME) -> str:
        return f"https://{host}:{self.port}{path}"

    def serve(self, url: str, document: Any, status: int = 200) -> None:
        self.documents[url] = (status, document)

    def add_actor(
        self, username: str, *, host: str = PEER_NAME, **fields: Any
    ) -> PeerActor:
        """Serve a Person with a fresh RSA key; ``fields`` override its document."""
        private_pem, public_pem = generate_key_pair()
        actor_id = self.url(f"/users/{username}", host=host)
        document = {
            "@context": [AS_CONTEXT, "https://w3id.org/security/v1"],
            "id": actor_id,
            "type": "Person",
            "preferredUsername": username,
            "name": username.title(),
            "inbox": f"{actor_id}/inbox",
            "outbox": f"{actor_id}/outbox",
            "followers": f"{actor_id}/followers",
            "publicKey": {
                "id": f"{actor_id}#main-key",
                "owner": actor_id,
                "publicKeyPem": public_pem,
            },
            **fields,
        }
        self.serve(actor_id, document)
        return PeerActor(
            actor_id,
            f"{actor_id}#main-key",
            httpsig.load_private_key(private_pem),
            document,
        )

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("GET", "/{path:.*}", self._answer)
        app.router.add_route("POST", "/{path:.*}", self._accept)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.pki.cert_file, self.pki.key_file)
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _answer(self, request: web.Request) -> web.Response:
        url = f"https://{request.host}{request.path_qs}"
        status, document = self.documents.get(url, (404, {"error": "not found"}))
        return web.Response(
            status=status,
            body=json.dumps(document).encode(),
            content_type="application/activity+json",
        )

    async def _accept(self, request: web.Request) -> web.Response:
        # Deliveries from the instance (Accept of a Follow and the like).
        await request.read()
        return web.Response(status=202)


@dataclass
class HostileWorld:
    """The live instance, the peer, a local teacher and an HTTPS session."""

    instance: LiveInstance
    peer: HostilePeer
    session: aiohttp.ClientSession
    teacher: Teacher

    @property
    def inbox_url(self) -> str:
        return f"{self.instance.url}/inbox"

    async def post(
        self, activity: dict[str, Any] | bytes, actor: PeerActor
    ) -> tuple[int, Any]:
        """POST an activity (or raw bytes) to the shared inbox, signed by ``actor``."""
        body = (
            activity if isinstance(activity, bytes) else json.dumps(activity).encode()
        )
        headers = signed_headers(
            self.inbox_url, body, key_id=actor.key_id, private_key=actor.private_key
        )
        return await post_raw(self.session, self.inbox_url, body, headers)

    async def post_with_headers(
        self, activity: dict[str, Any], actor: PeerActor
    ) -> tuple[int, Any, dict[str, str]]:
        """POST like ``post``; return (status, body text, response headers)."""
        body = json.dumps(activity).encode()
        headers = signed_headers(
            self.inbox_url, body, key_id=actor.key_id, private_key=actor.private_key
        )
        async with self.session.post(
            self.inbox_url, data=body, headers=headers
        ) as response:
            return response.status, await response.text(), dict(response.headers)

    async def get(self, path: str, accept: str = "text/html") -> tuple[int, str]:
        async with self.session.get(
            f"{self.instance.url}{path}", headers={"Accept": accept}
        ) as response:
            return response.status, await response.text()

    async def api(self, path: str) -> Any:
        return await self.teacher.get(path)

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        connection = await self.instance.db()
        try:
            return await connection.fetch(query, *args)
        finally:
            await connection.close()

    async def fetchval(self, query: str, *args: Any) -> Any:
        connection = await self.instance.db()
        try:
            return await connection.fetchval(query, *args)
        finally:
            await connection.close()

    async def drain(self) -> None:
        """Wait until the inbox worker has taken every activity that is due."""

        async def drained() -> bool:
            due = await self.fetchval(
                "SELECT count(*) FROM inbox_queue"
                " WHERE state = 'queued' AND next_attempt_at <= now()"
            )
            return due == 0

        assert await eventually(drained, timeout=DRAIN_TIMEOUT), "inbox did not drain"

    async def queue_state(self, activity_id: str) -> str | None:
        """Return the inbox queue state of an activity once it is processed."""
        await self.drain()
        return await self.fetchval(
            "SELECT state FROM inbox_queue WHERE activity_id = $1", activity_id
        )


def note(actor: PeerActor, number: int | str, **fields: Any) -> dict[str, Any]:
    """Return a public Note by ``actor``, its id unique per test run."""
    object_id = f"{actor.actor_id}/notes/{number}-{time.monotonic_ns()}"
    return {
        "id": object_id,
        "type": "Note",
        "attributedTo": actor.actor_id,
        "content": "<p>plain</p>",
        "published": "2024-05-01T10:00:00Z",
        "to": [PUBLIC],
        "cc": [f"{actor.actor_id}/followers"],
        **fields,
    }


def wrap(kind: str, actor: PeerActor, obj: Any, **fields: Any) -> dict[str, Any]:
    """Return an activity of ``kind`` by ``actor`` around ``obj``."""
    suffix = obj["id"].rsplit("/", 1)[-1] if isinstance(obj, dict) else "x"
    unique = f"{kind.lower()}-{suffix}-{time.monotonic_ns()}"
    return {
        "@context": AS_CONTEXT,
        "id": f"{actor.actor_id}/activities/{unique}",
        "type": kind,
        "actor": actor.actor_id,
        "object": obj,
        "to": [PUBLIC],
        **fields,
    }
