"""Tests for the outgoing-request guard in federation.fetch.

Network tests talk only to servers started here on 127.0.0.1. Private, link-local
and metadata addresses are never requested: the classifier is_public_address is
tested directly for them.
"""

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from federation.errors import FederationError
from federation.fetch import (
    MAX_REDIRECTS,
    BlockedAddress,
    DisallowedUrl,
    Fetcher,
    FetchPolicy,
    is_public_address,
)

NOT_PUBLIC = [
    "127.0.0.1",
    "127.255.255.254",
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.1",
    "169.254.169.254",
    "169.254.0.1",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "239.255.255.250",
    "255.255.255.255",
    "::1",
    "::",
    "fc00::1",
    "fd00:ec2::254",
    "fe80::1",
    "fe80::1%eth0",
    "fec0::1",
    "ff02::1",
    "ff0e::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:0.0.0.0",
    "::127.0.0.1",
    "::ffff:0:127.0.0.1",
    "64:ff9b::7f00:1",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b:1::a00:1",
    "2002:7f00:1::",
    "2002:a9fe:a9fe::",
    "2001:db8::1",
]

PUBLIC = [
    "93.184.216.34",
    "1.1.1.1",
    "2606:4700::1111",
    "2a00:1450:4001:82a::200e",
    "::ffff:93.184.216.34",
    "64:ff9b::5db8:d822",
    "2002:5db8:d822::1",
]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_is_public_address_rejects_non_public(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_is_public_address_accepts_global_unicast(address: str) -> None:
    assert is_public_address(address)


def test_is_public_address_raises_for_host_name() -> None:
    with pytest.raises(ValueError):
        is_public_address("example.org")


# A loopback HTTP server whose routes the tests fill in.

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class LoopbackServer:
    port: int = 0
    hits: list[str] = field(default_factory=list)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture
async def serve() -> AsyncIterator[
    Callable[[dict[str, Handler]], Awaitable[LoopbackServer]]
]:
    runners: list[web.AppRunner] = []

    async def start(routes: dict[str, Handler]) -> LoopbackServer:
        server = LoopbackServer()

        @web.middleware
        async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
            server.hits.append(request.path)
            return await handler(request)

        app = web.Application(middlewares=[record])
        for path, handler in routes.items():
            app.router.add_route("*", path, handler)
        runner = web.AppRunner(app, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        server.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return server

    yield start
    for runner in runners:
        await runner.cleanup()


def text(body: str = "ok") -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=body)

    return handler


def redirect(location: Callable[[web.Request], str], status: int = 302) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": location(request)})

    return handler


@pytest.fixture
async def fetchers() -> AsyncIterator[Callable[..., Fetcher]]:
    made: list[Fetcher] = []

    def make(**options: object) -> Fetcher:
        settings: dict[str, object] = {
            "connect_timeout": 2.0,
            "read_timeout": 2.0,
            "total_timeout": 5.0,
            **options,
        }
        policy = FetchPolicy(**settings)  # type: ignore[arg-type]
        fetcher = Fetcher(policy)
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        await fetcher.close()


async def failure(call: Awaitable[object]) -> FederationError:
    with pytest.raises(FederationError) as caught:
        await call
    return caught.value


# Destination checks


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "0.0.0.0"]
)
async def test_loopback_literal_blocked_by_default(serve, fetchers, host: str) -> None:
    server = await serve({"/": text()})
    fetcher = fetchers(allow_http=True)
    error = await failure(fetcher.request("GET", server.url("/", host)))
    assert isinstance(error, BlockedAddress)
    assert error.status == 502
    assert server.hits == []


async def test_legacy_numeric_host_rejected(serve, fetchers) -> None:
    server = await serve({"/": text()})
    fetcher = fetchers(allow_http=True)
    error = await failure(fetcher.request("GET", server.url("/", "127.1")))
    assert error.status == 502
    assert server.hits == []


async def test_name_resolving_to_loopback_blocked(serve, fetchers) -> None:
    server = await serve({"/": text()})
    fetcher = fetchers(allow_http=True)
    error = await failure(fetcher.request("GET", server.url("/", "localhost")))
    assert isinstance(error, BlockedAddress)
    assert server.hits == []


async def test_loopback_allowed_when_configured(serve, fetchers) -> None:
    server = await serve({"/": text("hello")})
    fetcher = fetchers(allow_http=True, allow_private=True)
    response = await fetcher.request("GET", server.url("/"))
    assert response.status == 200
    assert response.body == b"hello"


async def test_mapped_host_reaches_its_address(serve, fetchers) -> None:
    server = await serve({"/": text("mapped")})
    fetcher = fetchers(allow_http=True, host_map={"peer.test": "127.0.0.1"})
    response = await fetcher.request("GET", server.url("/", "peer.test"))
    assert response.body == b"mapped"


async def test_plain_http_rejected_unless_allowed(serve, fetchers) -> None:
    server = await serve({"/": text()})
    fetcher = fetchers(host_map={"peer.test": "127.0.0.1"})
    error = await failure(fetcher.request("GET", server.url("/", "peer.test")))
    assert isinstance(error, DisallowedUrl)
    assert error.status == 400
    assert server.hits == []


@pytest.mark.parametrize(
    "url",
    [
        "ftp://peer.test/",
        "file:///etc/hostname",
        "http://user:secret@peer.test/",
        "http:///x",
    ],
)
def test_check_url_rejects_unusable_url(fetchers, url: str) -> None:
    fetcher = fetchers(allow_http=True, allow_private=True)
    with pytest.raises(DisallowedUrl) as caught:
        fetcher.check_url(url)
    assert caught.value.status == 400


# Redirects


async def test_redirect_to_loopback_literal_rejected(serve, fetchers) -> None:
    server = await serve(
        {
            "/start": redirect(lambda request: server.url("/final")),
            "/final": text("private"),
        }
    )
    fetcher = fetchers(allow_http=True, host_map={"peer.test": "127.0.0.1"})
    error = await failure(fetcher.request("GET", server.url("/start", "peer.test")))
    assert isinstance(error, BlockedAddress)
    assert server.hits == ["/start"]


async def test_redirect_to_loopback_name_rejected(serve, fetchers) -> None:
    server = await serve(
        {
            "/start": redirect(lambda request: server.url("/final", "localhost")),
            "/final": text("private"),
        }
    )
    fetcher = fetchers(allow_http=True, host_map={"peer.test": "127.0.0.1"})
    error = await failure(fetcher.request("GET", server.url("/start", "peer.test")))
    assert isinstance(error, BlockedAddress)
    assert server.hits == ["/start"]


@pytest.mark.parametrize(
    "location",
    [
        "file:///etc/hostname",
        "ftp://peer.test/final",
        "gopher://peer.test/final",
        "http://user:secret@peer.test:{port}/final",
    ],
)
async def test_redirect_to_disallowed_url_rejected(
    serve, fetchers, location: str
) -> None:
    server = await serve(
        {
            "/start": redirect(lambda request: location.format(port=server.port)),
            "/final": text(),
        }
    )
    fetcher = fetchers(allow_http=True, host_map={"peer.test": "127.0.0.1"})
    error = await failure(fetcher.request("GET", server.url("/start", "peer.test")))
    assert isinstance(error, DisallowedUrl)
    assert error.status == 502
    assert server.hits == ["/start"]


async def test_relative_redirect_followed(serve, fetchers) -> None:
    server = await serve(
        {"/start": redirect(lambda request: "/final"), "/final": text("arrived")}
    )
    fetcher = fetchers(allow_http=True, host_map={"peer.test": "127.0.0.1"})
    response = await fetcher.request("GET", server.url("/start", "peer.test"))
    assert response.body == b"arrived"
    assert response.url == server.url("/final", "peer.test")


async def test_too_many_redirects_rejected(serve, fetchers) -> None:
    async def loop(request: web.Request) -> web.Response:
        step = int(request.match_info["step"]) + 1
        return web.Response(status=302, headers={"Location": f"/loop/{step}"})

    server = await serve({"/loop/{step}": loop})
    fetcher = fetchers(allow_http=True, host_map={"peer.test": "127.0.0.1"})
    error = await failure(fetcher.request("GET", server.url("/loop/0", "peer.test")))
    assert error.status == 502
    assert "too many redirects" in error.message
    assert len(server.hits) == MAX_REDIRECTS + 1


async def test_post_redirect_returned_not_followed(serve, fetchers) -> None:
    server = await serve(
        {"/inbox": redirect(lambda request: "/elsewhere", 307), "/elsewhere": text()}
    )
    fetcher = fetchers(allow_http=True, host_map={"peer.test": "127.0.0.1"})
    response = await fetcher.request(
        "POST", server.url("/inbox", "peer.test"), body=b"{}"
    )
    assert response.status == 307
    assert server.hits == ["/inbox"]


# Size cap and timeouts

CAP = 4096


async def test_body_at_cap_accepted(serve, fetchers) -> None:
    server = await serve({"/": text("x" * CAP)})
    fetcher = fetchers(allow_http=True, allow_private=True, max_response_bytes=CAP)
    response = await fetcher.request("GET", server.url("/"))
    assert len(response.body) == CAP


async def test_body_over_cap_with_length_rejected(serve, fetchers) -> None:
    server = await serve({"/": text("x" * (CAP + 1))})
    fetcher = fetchers(allow_http=True, allow_private=True, max_response_bytes=CAP)
    error = await failure(fetcher.request("GET", server.url("/")))
    assert error.status == 502
    assert "over" in error.message


async def test_chunked_body_over_cap_rejected(serve, fetchers) -> None:
    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(8):
            await response.write(b"y" * 1024)
        await response.write_eof()
        return response

    server = await serve({"/": chunked})
    fetcher = fetchers(allow_http=True, allow_private=True, max_response_bytes=CAP)
    error = await failure(fetcher.request("GET", server.url("/")))
    assert error.status == 502
    assert "over" in error.message


async def test_compressed_body_over_cap_rejected(serve, fetchers) -> None:
    # 64 KiB of zeros compress to well under the cap; the cap applies to the
    # decompressed bytes, so a compression bomb cannot slip through.
    async def bomb(request: web.Request) -> web.Response:
        packed = gzip.compress(b"\0" * 65536)
        assert len(packed) < CAP
        return web.Response(body=packed, headers={"Content-Encoding": "gzip"})

    server = await serve({"/": bomb})
    fetcher = fetchers(allow_http=True, allow_private=True, max_response_bytes=CAP)
    error = await failure(fetcher.request("GET", server.url("/")))
    assert error.status == 502


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A port that accepts connections and never writes a byte."""
    held: list[asyncio.StreamWriter] = []

    async def accept(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_silent_server_times_out(fetchers, silent_port: int) -> None:
    fetcher = fetchers(
        allow_http=True,
        allow_private=True,
        connect_timeout=1.0,
        read_timeout=0.3,
        total_timeout=2.0,
    )
    error = await failure(fetcher.request("GET", f"http://127.0.0.1:{silent_port}/"))
    assert error.status == 504
    assert "timed out" in error.message


async def test_closed_port_fails_with_502(fetchers) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    fetcher = fetchers(allow_http=True, allow_private=True)
    error = await failure(fetcher.request("GET", f"http://127.0.0.1:{port}/"))
    assert error.status == 502
