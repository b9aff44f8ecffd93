"""Tests for federation.signed: per-host choice between RFC 9421 and draft-cavage.

The peer is an HTTPS server on 127.0.0.1 that verifies each request with
federation.httpsig against the signer's public key and accepts only the
schemes a test allows.
"""

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from federation import httpsig
from federation.errors import FederationError
from federation.fetch import Fetcher, FetchPolicy
from federation.signed import SchemeMemory, SignedClient
from tests.support.pki import TestPki as Pki  # a Test* name would be collected

VECTORS = Path(__file__).parent / "vectors"
PRIVATE_KEY = httpsig.load_private_key(
    (VECTORS / "rfc9421-test-key-rsa.pem").read_bytes()
)
PUBLIC_KEY = httpsig.load_public_key(
    (VECTORS / "rfc9421-test-key-rsa.pub.pem").read_bytes()
)
KEY_ID = "https://school-a.test/users/alice#main-key"
BOTH = frozenset({httpsig.CAVAGE, httpsig.RFC9421})


@dataclass
class VerifyingPeer:
    """Answers ``status`` to requests signed with an accepted scheme that verify."""

    schemes: frozenset[str] = BOTH
    status: int = 200
    # The answer to a request whose scheme is not accepted or does not verify.
    rejection: int = 401
    document: dict[str, Any] = field(default_factory=lambda: {"type": "Note"})
    seen: list[tuple[str, str]] = field(default_factory=list)  # (method, scheme)
    port: int = 0

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"https://{self.host}{path}"

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        info = httpsig.parse_signature(request.method, request.path_qs, request.headers)
        self.seen.append((request.method, info.scheme))
        if info.scheme not in self.schemes:
            return web.json_response(
                {"error": "scheme not supported"}, status=self.rejection
            )
        try:
            httpsig.verify_request(
                request.method,
                request.path_qs,
                request.headers,
                body or None,
                PUBLIC_KEY,
            )
        except FederationError as error:
            return web.json_response({"error": error.message}, status=self.rejection)
        return web.json_response(self.document, status=self.status)


@pytest.fixture
async def start_peer(
    pki: Pki,
) -> AsyncIterator[Callable[..., Awaitable[VerifyingPeer]]]:
    runners: list[web.AppRunner] = []

    async def start(**options: Any) -> VerifyingPeer:
        peer = VerifyingPeer(**options)
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", peer.handle)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(pki.cert_file, pki.key_file)
        runner = web.AppRunner(app, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        runners.append(runner)
        peer.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return peer

    yield start
    for runner in runners:
        await runner.cleanup()


@dataclass
class Client:
    signed: SignedClient
    stored: list[tuple[str, str]]

    async def post(self, url: str) -> int:
        response = await self.signed.request(
            "POST",
            url,
            key_id=KEY_ID,
            private_key=PRIVATE_KEY,
            body=b'{"type":"Create"}',
            headers={"Content-Type": "application/activity+json"},
        )
        return response.status


@pytest.fixture
async def make_client(pki: Pki) -> AsyncIterator[Callable[..., Client]]:
    fetchers: list[Fetcher] = []

    def make(known: dict[str, str] | None = None) -> Client:
        fetcher = Fetcher(
            FetchPolicy(allow_private=True, ca_file=str(pki.ca_file), total_timeout=5.0)
        )
        fetchers.append(fetcher)
        memory = SchemeMemory(known)
        stored: list[tuple[str, str]] = []

        async def store(host: str, scheme: str) -> None:
            stored.append((host, scheme))

        memory.listener = store
        return Client(SignedClient(fetcher, memory), stored)

    yield make
    for fetcher in fetchers:
        await fetcher.close()


def schemes(peer: VerifyingPeer) -> list[str]:
    return [scheme for _, scheme in peer.seen]


async def test_unknown_host_signed_rfc9421_first(start_peer, make_client) -> None:
    peer = await start_peer()
    client = make_client()
    assert await client.post(peer.url("/inbox")) == 200
    assert schemes(peer) == [httpsig.RFC9421]


async def test_rfc9421_success_remembered(start_peer, make_client) -> None:
    peer = await start_peer()
    client = make_client()
    await client.post(peer.url("/inbox"))
    assert client.signed.schemes.get(peer.host) == httpsig.RFC9421
    assert client.stored == [(peer.host, httpsig.RFC9421)]


async def test_cavage_fallback_after_401(start_peer, make_client) -> None:
    peer = await start_peer(schemes=frozenset({httpsig.CAVAGE}))
    client = make_client()
    assert await client.post(peer.url("/inbox")) == 200
    assert schemes(peer) == [httpsig.RFC9421, httpsig.CAVAGE]
    assert client.stored == [(peer.host, httpsig.CAVAGE)]


async def test_cavage_fallback_after_400(start_peer, make_client) -> None:
    peer = await start_peer(schemes=frozenset({httpsig.CAVAGE}), rejection=400)
    client = make_client()
    assert await client.post(peer.url("/inbox")) == 200
    assert schemes(peer) == [httpsig.RFC9421, httpsig.CAVAGE]
    assert client.signed.schemes.get(peer.host) == httpsig.CAVAGE


async def test_remembered_cavage_sent_first(start_peer, make_client) -> None:
    peer = await start_peer(schemes=frozenset({httpsig.CAVAGE}))
    client = make_client()
    await client.post(peer.url("/inbox"))
    await client.post(peer.url("/users/bob/inbox"))
    assert schemes(peer) == [httpsig.RFC9421, httpsig.CAVAGE, httpsig.CAVAGE]
    assert len(client.stored) == 1


async def test_known_scheme_loaded_at_start_used(start_peer, make_client) -> None:
    peer = await start_peer(schemes=frozenset({httpsig.CAVAGE}))
    client = make_client({peer.host: httpsig.CAVAGE})
    assert await client.post(peer.url("/inbox")) == 200
    assert schemes(peer) == [httpsig.CAVAGE]
    assert client.stored == []


async def test_remembered_rfc9421_falls_back_on_401(start_peer, make_client) -> None:
    # RFC 9421 may have been remembered from a 2xx to a GET whose signature
    # the host never checked, so a 401 to it still earns a cavage retry.
    peer = await start_peer(schemes=frozenset({httpsig.CAVAGE}))
    client = make_client({peer.host: httpsig.RFC9421})
    assert await client.post(peer.url("/inbox")) == 200
    assert schemes(peer) == [httpsig.RFC9421, httpsig.CAVAGE]
    assert client.stored == [(peer.host, httpsig.CAVAGE)]


async def test_remembered_cavage_not_retried_with_rfc9421(
    start_peer, make_client
) -> None:
    peer = await start_peer(schemes=frozenset({httpsig.RFC9421}))
    client = make_client({peer.host: httpsig.CAVAGE})
    assert await client.post(peer.url("/inbox")) == 401
    assert schemes(peer) == [httpsig.CAVAGE]
    assert client.stored == []


async def test_other_rejection_not_retried(start_peer, make_client) -> None:
    peer = await start_peer(status=403)
    client = make_client()
    assert await client.post(peer.url("/inbox")) == 403
    assert schemes(peer) == [httpsig.RFC9421]
    assert client.signed.schemes.get(peer.host) is None


async def test_both_schemes_rejected_nothing_remembered(
    start_peer, make_client
) -> None:
    peer = await start_peer(schemes=frozenset())
    client = make_client()
    assert await client.post(peer.url("/inbox")) == 401
    assert schemes(peer) == [httpsig.RFC9421, httpsig.CAVAGE]
    assert client.signed.schemes.get(peer.host) is None
    assert client.stored == []


async def test_signed_get_json_returns_document(start_peer, make_client) -> None:
    peer = await start_peer(document={"type": "Person", "id": "x"})
    client = make_client()
    document = await client.signed.get_json(
        peer.url("/users/bob"), key_id=KEY_ID, private_key=PRIVATE_KEY
    )
    assert document == {"type": "Person", "id": "x"}
    assert peer.seen == [("GET", httpsig.RFC9421)]


@pytest.mark.parametrize(("status", "raised"), [(404, 404), (410, 410), (500, 502)])
async def test_signed_get_json_error_status(
    start_peer, make_client, status: int, raised: int
) -> None:
    peer = await start_peer(status=status)
    client = make_client()
    with pytest.raises(FederationError) as caught:
        await client.signed.get_json(
            peer.url("/users/bob"), key_id=KEY_ID, private_key=PRIVATE_KEY
        )
    assert caught.value.status == raised
