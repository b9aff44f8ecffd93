"""Fixtures: a fresh PostgreSQL database per test, a test CA, live instances."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from pedagogue.config import load_settings
from pedagogue.runtime import Runtime
from tests.support.databases import DatabaseFactory
from tests.support.live import LiveInstance
from tests.support.pki import TestPki, make_pki

DOMAINS = ("school-a.test", "district-b.test", "college-c.test")
ARTIFACTS = Path(os.environ.get("PEDAGOGUE_TEST_ARTIFACTS", "test-artifacts"))


@pytest.fixture(scope="session")
async def databases() -> AsyncIterator[DatabaseFactory]:
    factory = DatabaseFactory()
    await factory.prepare()
    yield factory
    await factory.drop_all()


@pytest.fixture
async def database(databases: DatabaseFactory) -> AsyncIterator[str]:
    """The DSN of a new, migrated database for this test alone."""
    dsn = await databases.create()
    yield dsn
    await databases.drop(dsn)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return make_pki(tmp_path_factory.mktemp("pki"), [*DOMAINS, "localhost"])


@pytest.fixture
async def runtime(database: str) -> AsyncIterator[Runtime]:
    """An in-process runtime for school-a.test on this test's database."""
    settings = load_settings(
        None, overrides={"instance": {"url": "https://school-a.test"}}, environ={}
    )
    instance = Runtime(settings, database)
    await instance.start()
    yield instance
    await instance.stop()


StartInstances = Callable[..., Awaitable[list[LiveInstance]]]


@pytest.fixture
async def start_instances(
    databases: DatabaseFactory,
    pki: TestPki,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> AsyncIterator[StartInstances]:
    """Start live instances over HTTPS, each with its own database and domain."""
    started: list[LiveInstance] = []

    async def start(*domains: str, **options: object) -> list[LiveInstance]:
        host_map = {domain: "127.0.0.1" for domain in DOMAINS}
        created = []
        for domain in domains:
            instance = LiveInstance(
                domain=domain,
                dsn=await databases.create(),
                directory=tmp_path / domain,
                pki=pki,
                host_map=host_map,
                **options,  # type: ignore[arg-type]
            )
            created.append(instance)
            started.append(instance)
        await asyncio.gather(*(instance.start() for instance in created))
        return created

    yield start
    # Signal every instance before waiting on any, so they stop side by side.
    for instance in started:
        instance.terminate()
    for instance in started:
        instance.stop()
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            print(f"\n--- log of {instance.domain} ---\n{instance.log_tail(120)}")
        await databases.drop(instance.dsn)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
