"""Tests for the destinations that FetchPolicy.allow_private (``--dev``) opens.

No request leaves the process: URLs are checked with Fetcher.check_url, which
raises before connecting, and host names go through GuardedResolver with an
in-process stand-in for the system resolver.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from federation.fetch import (
    BlockedAddress,
    Fetcher,
    FetchPolicy,
    GuardedResolver,
    is_dev_address,
)

DEV_OPEN = [
    "127.0.0.1",
    "127.0.0.2",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "::1",
    "fd12:3456::1",
    "::ffff:127.0.0.1",
    "::ffff:192.168.1.1",
]

ALWAYS_CLOSED = [
    "169.254.169.254",
    "169.254.170.2",
    "169.254.0.1",
    "fe80::1",
    "fe80::a9fe:a9fe",
    "fd00:ec2::254",
    "::ffff:169.254.169.254",
    "64:ff9b::a9fe:a9fe",
    "2002:a9fe:a9fe::",
    "0.0.0.0",
    "::",
    "224.0.0.1",
    "255.255.255.255",
]


@pytest.mark.parametrize("address", DEV_OPEN)
def test_dev_address_opens_private(address: str) -> None:
    assert is_dev_address(address)


@pytest.mark.parametrize("address", ALWAYS_CLOSED)
def test_dev_address_keeps_link_local_closed(address: str) -> None:
    assert not is_dev_address(address)


def _url(address: str) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}/latest/meta-data/"


@pytest.mark.parametrize("address", ALWAYS_CLOSED)
def test_dev_policy_blocks_link_local_literal(address: str) -> None:
    fetcher = Fetcher(FetchPolicy(allow_http=True, allow_private=True))
    with pytest.raises(BlockedAddress) as caught:
        fetcher.check_url(_url(address))
    assert caught.value.status == 502


@pytest.mark.parametrize("address", DEV_OPEN)
def test_dev_policy_allows_private_literal(address: str) -> None:
    fetcher = Fetcher(FetchPolicy(allow_http=True, allow_private=True))
    fetcher.check_url(_url(address))


class _FixedResolver:
    """Stands in for aiohttp's ThreadedResolver: every name resolves to one address."""

    def __init__(self, address: str) -> None:
        self.address = address

    async def resolve(
        self, host: str, port: int = 0, family: Any = socket.AF_INET
    ) -> list[dict[str, Any]]:
        family = socket.AF_INET6 if ":" in self.address else socket.AF_INET
        return [
            {"hostname": host, "host": self.address, "port": port, "family": family,
             "proto": 0, "flags": socket.AI_NUMERICHOST}
        ]  # fmt: skip

    async def close(self) -> None:
        pass


def _resolve(address: str) -> list[Any]:
    async def run() -> list[Any]:
        resolver = GuardedResolver(FetchPolicy(allow_private=True))
        resolver._inner = _FixedResolver(address)  # type: ignore[assignment]
        return await resolver.resolve("metadata.peer.test", 80)

    return asyncio.run(run())


def test_dev_resolver_blocks_name_to_metadata() -> None:
    with pytest.raises(BlockedAddress):
        _resolve("169.254.169.254")


def test_dev_resolver_allows_name_to_loopback() -> None:
    assert _resolve("127.0.0.1")[0]["host"] == "127.0.0.1"
