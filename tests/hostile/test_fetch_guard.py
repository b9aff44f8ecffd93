"""The address guard of outgoing requests against DNS rebinding, and the JSON-LD
document loader against any URL that is not bundled.

The rebinding resolver answers 127.0.0.1 first and 0.0.0.0 afterwards. Linux
connects 0.0.0.0 to the local host, so a guard that let the second answer
through would reach the test's own server, and its request count shows it.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from federation import jsonld
from federation.fetch import BlockedAddress, Fetcher, FetchPolicy


class RebindingResolver(AbstractResolver):
    """Answer one address on the first lookup and another on every later one."""

    def __init__(self, first: str, later: str) -> None:
        self.answers = [first, later]
        self.lookups = 0

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        address = self.answers[min(self.lookups, 1)]
        self.lookups += 1
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        return None


class CountingServer:
    def __init__(self) -> None:
        self.requests = 0
        self.port = 0


@pytest.fixture
async def server() -> AsyncIterator[CountingServer]:
    counting = CountingServer()

    async def answer(request: web.Request) -> web.Response:
        counting.requests += 1
        return web.json_response({"id": "x"})

    app = web.Application()
    app.router.add_get("/{path:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    counting.port = runner.addresses[0][1]
    yield counting
    await runner.cleanup()


def rebinding_fetcher() -> tuple[Fetcher, RebindingResolver]:
    lookup = RebindingResolver("127.0.0.1", "0.0.0.0")
    policy = FetchPolicy(allow_http=True, allow_private=True)
    return Fetcher(policy, lookup=lookup), lookup


async def test_rebinding_first_answer_connected(server: CountingServer) -> None:
    fetcher, lookup = rebinding_fetcher()
    try:
        response = await fetcher.request("GET", f"http://rebind.test:{server.port}/a")
    finally:
        await fetcher.close()

    assert response.status == 200
    assert lookup.lookups == 1
    assert server.requests == 1


async def test_rebinding_second_answer_blocked(server: CountingServer) -> None:
    fetcher, lookup = rebinding_fetcher()
    try:
        await fetcher.request("GET", f"http://rebind.test:{server.port}/a")
        with pytest.raises(BlockedAddress):
            # Another host name needs a new lookup, which now answers 0.0.0.0.
            await fetcher.request("GET", f"http://rebind-2.test:{server.port}/b")
    finally:
        await fetcher.close()

    assert lookup.lookups == 2
    assert server.requests == 1


async def test_unspecified_address_literal_blocked(server: CountingServer) -> None:
    fetcher = Fetcher(FetchPolicy(allow_http=True, allow_private=True))
    try:
        with pytest.raises(BlockedAddress):
            await fetcher.request("GET", f"http://0.0.0.0:{server.port}/a")
    finally:
        await fetcher.close()

    assert server.requests == 0


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.test/context.jsonld",
        "http://127.0.0.1/context.jsonld",
        "https://www.w3.org/ns/activitystreams-extra",
        "file:///etc/passwd",
    ],
)
def test_document_loader_rejects_unbundled_url(url: str) -> None:
    with pytest.raises(jsonld.ContextNotBundled):
        jsonld.load_document(url)


def test_expand_with_unbundled_context_rejected() -> None:
    document = {"@context": "http://127.0.0.1:9/context", "id": "https://a.test/1"}

    with pytest.raises(jsonld.ContextNotBundled):
        jsonld.expand(document)
