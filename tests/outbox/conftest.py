"""Fixtures for delivery tests: runtimes that may reach loopback peers, fake peers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from pedagogue.config import load_settings
from pedagogue.runtime import Runtime
from tests.outbox.peers import FakePeer
from tests.support.pki import TestPki

MakeRuntime = Callable[..., Awaitable[Runtime]]


@pytest.fixture
async def make_runtime(database: str, pki: TestPki) -> AsyncIterator[MakeRuntime]:
    """Build started runtimes on this test's database; each call is one process.

    The fake peers listen on 127.0.0.1 with the test CA, so the runtime allows
    private addresses and trusts that CA. Keyword arguments override
    [federation] settings.
    """
    started: list[Runtime] = []

    async def make(**federation: Any) -> Runtime:
        options = {
            "allow_private_addresses": True,
            "allow_http": True,
            "ca_file": str(pki.ca_file),
            "connect_timeout": 2.0,
            "read_timeout": 3.0,
            "request_timeout": 5.0,
            **federation,
        }
        settings = load_settings(
            None,
            overrides={
                "instance": {"url": "https://school-a.test"},
                "federation": options,
            },
            environ={},
        )
        runtime = Runtime(settings, database)
        await runtime.start()
        started.append(runtime)
        return runtime

    yield make
    for runtime in started:
        await runtime.stop()


@pytest.fixture
async def loopback_runtime(make_runtime: MakeRuntime) -> Runtime:
    """A started runtime for school-a.test that may deliver to loopback peers."""
    return await make_runtime()


@pytest.fixture
async def make_peer(pki: TestPki) -> AsyncIterator[Callable[..., Awaitable[FakePeer]]]:
    """Start FakePeers that verify signatures against keys in ``runtime``'s DB."""
    peers: list[FakePeer] = []

    async def make(runtime: Runtime, **options: Any) -> FakePeer:
        peer = FakePeer(runtime.pool, pki, **options)
        await peer.start()
        peers.append(peer)
        return peer

    yield make
    for peer in peers:
        await peer.stop()
