"""Fixtures of the hostile-input tests: a test CA and live worlds (see world.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tests.e2e.peers import open_session
from tests.hostile.world import (
    LOCAL_DOMAIN,
    OTHER_NAME,
    PEER_NAME,
    HostilePeer,
    HostileWorld,
)
from tests.support.databases import DatabaseFactory
from tests.support.live import LiveInstance
from tests.support.pki import TestPki, make_pki


@pytest.fixture(scope="session")
def hostile_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return make_pki(
        tmp_path_factory.mktemp("hostile-pki"),
        [LOCAL_DOMAIN, PEER_NAME, OTHER_NAME, "localhost"],
    )


OpenWorld = Callable[..., Awaitable[HostileWorld]]


@pytest.fixture(scope="module")
async def open_world(
    databases: DatabaseFactory,
    hostile_pki: TestPki,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[OpenWorld]:
    """Start one world per call, with extra environment for the instance."""
    opened: list[HostileWorld] = []

    async def start(extra_env: dict[str, str] | None = None) -> HostileWorld:
        peer = HostilePeer(hostile_pki)
        await peer.start()
        env = {
            # The limits under test are switched on by the tests that test them.
            "PEDAGOGUE_FEDERATION__INBOX_RATE_PER_HOST": "0",
            "PEDAGOGUE_WEB__API_WRITE_RATE": "0",
            **(extra_env or {}),
        }
        instance = LiveInstance(
            domain=LOCAL_DOMAIN,
            dsn=await databases.create(),
            directory=tmp_path_factory.mktemp("hostile-instance"),
            pki=hostile_pki,
            host_map={
                LOCAL_DOMAIN: "127.0.0.1",
                PEER_NAME: "127.0.0.1",
                OTHER_NAME: "127.0.0.1",
            },
            extra_env=env,
        )
        await instance.start()
        teacher = await instance.create_teacher("alice")
        world = HostileWorld(instance, peer, open_session(instance), teacher)
        opened.append(world)
        return world

    yield start
    for world in opened:
        await world.session.close()
        world.instance.stop()
        await world.peer.stop()
        await databases.drop(world.instance.dsn)
