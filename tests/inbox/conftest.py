"""Inbox test harness: a fake peer server on loopback and a runtime that reaches it.

The peer is an aiohttp server on 127.0.0.1 with a certificate for its own host
names, so fixture ids keep the ``https://`` scheme they have on real servers.
REMOTE_HOST becomes ``remote.test:PORT``. The runtime maps ``remote.test`` and
``elsewhere.test`` to 127.0.0.1 through ``federation.host_map`` and trusts the
peer's test CA through ``federation.ca_file``, so its fetches go through the
real guarded, signed client. Requests reach the inbox through the real Quart
app, signed with ``federation.httpsig.sign_request``.
"""

from __future__ import annotations

import json
import ssl
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
from aiohttp import web

from actors.keys import generate_key_pair
from federation import httpsig
from inbox.worker import InboxWorker
from outbox.actions import Actions, NewStatus
from pedagogue.accounts import create_teacher
from pedagogue.config import load_settings
from pedagogue.runtime import Runtime
from tests.fixtures import content_type, list_fixtures, load_fixture
from tests.support.pki import TestPki, make_pki

LOCAL_HOST = "school-a.test"
LOCAL_URL = f"https://{LOCAL_HOST}"
REMOTE_NAME = "remote.test"
# A second peer host on the same server, for signers that live elsewhere.
OTHER_NAME = "elsewhere.test"
# The placeholder ids the fixtures use for alice's note and for her Follow.
FIXTURE_NOTE = f"{LOCAL_URL}/users/alice/statuses/1001"
FIXTURE_FOLLOW = f"{LOCAL_URL}/activities/follow-1"
ALICE_TEXT = "Trying exit tickets with Year 7 this week. How do you sort the answers?"
# Embedded object types that the peer also serves at their ids.
SERVED_OBJECT_TYPES = ("Note", "Page", "Article", "Video", "Question")
# Enough for the longest chain of flows a test delivers; a loop past this
# means the worker keeps finding work it never finishes.
MAX_PROCESSED = 50


@dataclass
class PeerKeys:
    """RSA key pairs for remote actors: the one in the fixtures and spares."""

    private_pem: str
    public_pem: str
    spare_private_pem: str
    spare_public_pem: str

    @cached_property
    def private_key(self) -> Any:
        return httpsig.load_private_key(self.private_pem)

    @cached_property
    def spare_private_key(self) -> Any:
        return httpsig.load_private_key(self.spare_private_pem)


@pytest.fixture(scope="session")
def peer_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return make_pki(tmp_path_factory.mktemp("peer-pki"), [REMOTE_NAME, OTHER_NAME])


@pytest.fixture(scope="session")
def peer_keys() -> PeerKeys:
    private_pem, public_pem = generate_key_pair()
    spare_private, spare_public = generate_key_pair()
    return PeerKeys(private_pem, public_pem, spare_private, spare_public)


@dataclass
class FakePeer:
    """A loopback HTTPS server that serves remote documents and counts requests."""

    pki: TestPki
    documents: dict[str, tuple[int, Any]] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def host(self) -> str:
        return f"{REMOTE_NAME}:{self.port}"

    @property
    def other_host(self) -> str:
        return f"{OTHER_NAME}:{self.port}"

    def url(self, path: str, *, other: bool = False) -> str:
        return f"https://{self.other_host if other else self.host}{path}"

    def serve(self, url: str, document: Any, status: int = 200) -> None:
        """Serve ``document`` as activity+json at ``url``."""
        self.documents[url] = (status, document)

    def gone(self, url: str) -> None:
        """Serve a Tombstone with status 410 at ``url``, as for a deleted object."""
        self.serve(url, {"id": url, "type": "Tombstone"}, 410)

    def requests_to(self, url: str) -> int:
        return self.hits[url]

    @property
    def total_requests(self) -> int:
        return sum(self.hits.values())

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("GET", "/{path:.*}", self._answer)
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
        self.hits[url] += 1
        status, document = self.documents.get(url, (404, {"error": "not found"}))
        return web.Response(
            status=status,
            body=json.dumps(document).encode(),
            content_type="application/activity+json",
        )


@dataclass
class InboxHarness:
    """One local instance, one fake peer playing ``server``, and alice with a note."""

    server: str
    runtime: Runtime
    peer: FakePeer
    keys: PeerKeys
    client: Any
    alice: asyncpg.Record
    alice_note: asyncpg.Record
    # actor id -> key id, from the fixture actor documents the peer serves.
    key_ids: dict[str, str] = field(default_factory=dict)
    alice_follow_uri: str | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        return self.runtime.pool

    def fixture(self, flow: str, server: str | None = None) -> dict[str, Any]:
        """Load a fixture with the hosts filled in and alice's real ids put in."""
        document = load_fixture(
            server or self.server,
            flow,
            remote_host=self.peer.host,
            local_host=LOCAL_HOST,
            public_key_pem=self.keys.public_pem,
        )
        text = json.dumps(document).replace(FIXTURE_NOTE, self.alice_note["uri"])
        if self.alice_follow_uri is not None:
            text = text.replace(FIXTURE_FOLLOW, self.alice_follow_uri)
        result: dict[str, Any] = json.loads(text)
        return result

    def actor_id(self, flow: str = "actor") -> str:
        return str(self.fixture(flow)["id"])

    async def post(
        self,
        document: dict[str, Any] | bytes,
        *,
        path: str = "/inbox",
        scheme: str = httpsig.CAVAGE,
        key_id: str | None = None,
        private_key: Any = None,
        content_type: str | None = None,
        now: float | None = None,
        signed_body: bytes | None = None,
        signed: bool = True,
    ) -> Any:
        """POST an activity to a local inbox, signed by its actor's fixture key.

        ``signed_body`` signs other bytes than the ones sent (a digest mismatch).
        """
        body = (
            document if isinstance(document, bytes) else json.dumps(document).encode()
        )
        if key_id is None and isinstance(document, dict):
            key_id = self.key_ids.get(document.get("actor", ""))
        headers = {"Content-Type": content_type or self.content_type}
        if signed:
            assert key_id is not None, "no key id for this activity's actor"
            headers |= httpsig.sign_request(
                "POST",
                f"{LOCAL_URL}{path}",
                headers,
                signed_body if signed_body is not None else body,
                private_key or self.keys.private_key,
                key_id,
                scheme=scheme,
                now=now,
            )
        return await self.client.post(path, data=body, headers=headers)

    @property
    def content_type(self) -> str:
        return content_type(self.server)

    async def process(self) -> int:
        """Run the inbox worker until the queue has nothing due; return the count."""
        worker = InboxWorker(self.runtime)
        processed = 0
        while claimed := await worker.process_batch():
            processed += claimed
            assert processed < MAX_PROCESSED, "inbox worker did not drain the queue"
        return processed

    async def deliver(self, document: dict[str, Any] | str, **options: Any) -> Any:
        """POST a fixture flow (or a document) to the shared inbox and process it."""
        if isinstance(document, str):
            document = self.fixture(document)
        response = await self.post(document, **options)
        assert response.status_code == 202, await response.get_data(as_text=True)
        await self.process()
        return response

    async def queue_row(self, activity_id: str) -> asyncpg.Record | None:
        return await self.pool.fetchrow(
            "SELECT * FROM inbox_queue WHERE activity_id = $1", activity_id
        )

    async def queue_count(self) -> int:
        return int(await self.pool.fetchval("SELECT count(*) FROM inbox_queue"))

    async def account(self, actor_id: str) -> asyncpg.Record | None:
        return await self.pool.fetchrow(
            "SELECT * FROM accounts WHERE actor_id = $1", actor_id
        )

    async def status(self, uri: str) -> asyncpg.Record | None:
        return await self.pool.fetchrow("SELECT * FROM statuses WHERE uri = $1", uri)

    async def refresh_note(self) -> asyncpg.Record:
        row = await self.status(self.alice_note["uri"])
        assert row is not None
        return row

    async def follow_remote(self, actor_id: str | None = None) -> asyncpg.Record:
        """Make alice follow a remote actor, as the client API would."""
        target = await self.runtime.resolver.actor(actor_id or self.actor_id())
        follow = await Actions(self.runtime).follow(self.alice, target)
        self.alice_follow_uri = follow["uri"]
        return follow

    def add_actor(self, username: str, *, other_host: bool = False) -> str:
        """Serve one more Person on the peer, with the fixture key; return its id."""
        actor_id = self.peer.url(f"/users/{username}", other=other_host)
        self._serve_actor(
            {
                "@context": ["https://www.w3.org/ns/activitystreams"],
                "id": actor_id,
                "type": "Person",
                "preferredUsername": username,
                "inbox": f"{actor_id}/inbox",
                "followers": f"{actor_id}/followers",
                "publicKey": {
                    "id": f"{actor_id}#main-key",
                    "owner": actor_id,
                    "publicKeyPem": self.keys.public_pem,
                },
            }
        )
        return actor_id

    def serve_remote_documents(self) -> None:
        """Serve this server's actors, their keys and its remote objects."""
        for server, flow in list_fixtures():
            if server != self.server or flow == "webfinger":
                continue
            document = self.fixture(flow)
            if flow == "actor" or flow.startswith("actor_"):
                self._serve_actor(document)
            else:
                self._serve_embedded_object(document)

    def _serve_actor(self, document: dict[str, Any]) -> None:
        self.peer.serve(document["id"], document)
        keys = document["publicKey"]
        for key in keys if isinstance(keys, list) else [keys]:
            self.key_ids[document["id"]] = key["id"]
            if "#" not in key["id"]:
                # GoToSocial serves its key id as a stub of the actor that
                # holds only the key; the full actor is at the key's owner.
                stub = {
                    "@context": document["@context"],
                    "id": document["id"],
                    "type": document["type"],
                    "preferredUsername": document["preferredUsername"],
                    "publicKey": key,
                }
                self.peer.serve(key["id"], stub)

    def _serve_embedded_object(self, activity: dict[str, Any]) -> None:
        # Objects that servers embed in Create and Announce are also served at
        # their ids, so a fetch from the origin finds them.
        obj = activity.get("object")
        if not isinstance(obj, dict) or obj.get("type") not in SERVED_OBJECT_TYPES:
            return
        if urlsplit(obj["id"]).netloc != self.peer.host:
            return
        self.peer.serve(obj["id"], {"@context": activity["@context"], **obj})


MakeHarness = Callable[..., Awaitable[InboxHarness]]


@pytest.fixture
async def make_harness(
    database: str, peer_pki: TestPki, peer_keys: PeerKeys
) -> AsyncIterator[MakeHarness]:
    """Build the harness for one peer server, with settings overrides by section."""
    started: list[tuple[Runtime, FakePeer]] = []

    async def make(
        server: str = "mastodon", settings: dict[str, dict[str, Any]] | None = None
    ) -> InboxHarness:
        from web.app import create_app

        peer = FakePeer(peer_pki)
        await peer.start()
        overrides: dict[str, dict[str, Any]] = {
            "instance": {"url": LOCAL_URL},
            "federation": {
                "host_map": {REMOTE_NAME: "127.0.0.1", OTHER_NAME: "127.0.0.1"},
                "ca_file": str(Path(peer_pki.ca_file)),
            },
        }
        for section, values in (settings or {}).items():
            overrides[section] = {**overrides.get(section, {}), **values}
        loaded = load_settings(None, overrides=overrides, environ={})
        runtime = Runtime(loaded, database)
        await runtime.start()
        started.append((runtime, peer))
        alice = await create_teacher(
            runtime.pool, loaded, username="alice", password=None, display_name="Alice"
        )
        note = await Actions(runtime).post_status(alice, NewStatus(ALICE_TEXT))
        harness = InboxHarness(
            server=server,
            runtime=runtime,
            peer=peer,
            keys=peer_keys,
            client=create_app(runtime).test_client(),
            alice=alice,
            alice_note=note,
        )
        harness.serve_remote_documents()
        return harness

    yield make
    for runtime, peer in started:
        await runtime.stop()
        await peer.stop()


@pytest.fixture
async def harness(make_harness: MakeHarness) -> InboxHarness:
    """The harness with a Mastodon peer, for tests that need no other server."""
    return await make_harness("mastodon")
