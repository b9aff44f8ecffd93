"""Live instances shared by every test of a module, for the privacy tests.

Each module starts its instances once and its tests read from them, so a
table of several hundred cases costs one start-up.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tests.conftest import DOMAINS
from tests.support.databases import DatabaseFactory
from tests.support.live import LiveInstance
from tests.support.pki import TestPki

StartInstances = Callable[..., Awaitable[list[LiveInstance]]]


@pytest.fixture(scope="module")
async def start_module_instances(
    databases: DatabaseFactory,
    pki: TestPki,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> AsyncIterator[StartInstances]:
    """Start live instances over HTTPS that stop when the module's tests end.

    ``start(domain, ..., extra_env={domain: {...}})`` gives an instance its
    own environment overrides.
    """
    started: list[LiveInstance] = []
    directory = tmp_path_factory.mktemp("privacy")
    failed_before = request.session.testsfailed

    async def start(
        *domains: str, extra_env: dict[str, dict[str, str]] | None = None
    ) -> list[LiveInstance]:
        host_map = {domain: "127.0.0.1" for domain in DOMAINS}
        created = []
        for domain in domains:
            instance = LiveInstance(
                domain=domain,
                dsn=await databases.create(),
                directory=directory / domain,
                pki=pki,
                host_map=host_map,
                extra_env=(extra_env or {}).get(domain),
            )
            created.append(instance)
            started.append(instance)
        await asyncio.gather(*(instance.start() for instance in created))
        return created

    yield start
    for instance in started:
        instance.terminate()
    for instance in started:
        instance.stop()
        if request.session.testsfailed > failed_before:
            print(f"\n--- log of {instance.domain} ---\n{instance.log_tail(120)}")
        await databases.drop(instance.dsn)
