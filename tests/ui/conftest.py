"""Browser fixtures: one Chromium for the session, live instances per module.

Chromium is Debian's package at /usr/bin/chromium, driven by Playwright
without a browser download. The test domains resolve to 127.0.0.1 through
Chromium's host resolver rules, and the test CA's certificates are accepted
by ignoring HTTPS errors in each browser context.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from pedagogue.accounts import create_teacher
from tests.conftest import ARTIFACTS, DOMAINS
from tests.support.databases import DatabaseFactory
from tests.support.live import LiveInstance
from tests.support.pki import TestPki

CHROMIUM = os.environ.get("PEDAGOGUE_TEST_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ARTIFACTS / "screenshots"
PASSWORD = "correct horse battery"

playwright_api = pytest.importorskip("playwright.async_api")


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing; install Debian's chromium package")
    rules = ", ".join(f"MAP {domain} 127.0.0.1" for domain in DOMAINS)
    async with playwright_api.async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[f"--host-resolver-rules={rules}"],
        )
        yield chromium
        await chromium.close()


@pytest.fixture
async def context(browser: Any) -> AsyncIterator[Any]:
    """A fresh browser context (its own cookies) for one test."""
    created = await browser.new_context(ignore_https_errors=True)
    created.set_default_timeout(15_000)
    yield created
    await created.close()


class UiInstance(LiveInstance):
    """A live instance with helpers for teachers who sign in with passwords."""

    async def add_teacher(
        self,
        username: str,
        *,
        admin: bool = False,
        approve_followers: bool = False,
        password: str = PASSWORD,
    ) -> Any:
        connection = await asyncpg.connect(self.dsn)
        try:
            row = await create_teacher(
                connection,
                self.settings,
                username=username,
                password=password,
                display_name=username.title(),
                approve_followers=approve_followers,
            )
            if admin:
                await connection.execute(
                    "UPDATE accounts SET is_admin = true WHERE id = $1", row["id"]
                )
        finally:
            await connection.close()
        return row

    async def fetchval(self, query: str, *args: Any) -> Any:
        connection = await asyncpg.connect(self.dsn)
        try:
            return await connection.fetchval(query, *args)
        finally:
            await connection.close()


async def start_ui_instances(
    databases: DatabaseFactory,
    pki: TestPki,
    directory: Path,
    domains: tuple[str, ...],
    extra_env: dict[str, str] | None = None,
) -> list[UiInstance]:
    host_map = {domain: "127.0.0.1" for domain in DOMAINS}
    instances = [
        UiInstance(
            domain=domain,
            dsn=await databases.create(),
            directory=directory / domain,
            pki=pki,
            host_map=host_map,
            extra_env=extra_env,
        )
        for domain in domains
    ]
    await asyncio.gather(*(instance.start() for instance in instances))
    return instances


async def stop_ui_instances(databases: DatabaseFactory, instances: list[UiInstance]) -> None:
    # Signal every instance before waiting on any, so they stop side by side.
    for instance in instances:
        instance.terminate()
    for instance in instances:
        instance.stop()
        await databases.drop(instance.dsn)


async def sign_in(page: Any, instance: LiveInstance, username: str, password: str = PASSWORD) -> None:
    await page.goto(f"{instance.url}/sign-in")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{instance.url}/")


async def screenshot(page: Any, name: str) -> None:
    """Save a full-page screenshot with the test run's artifacts."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def serious_violations(page: Any) -> list[str]:
    """Run axe-core on the page; return its serious and critical violations."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page)
    return [
        f"{item['id']} ({item['impact']}): {item['help']} at "
        + ", ".join(str(node["target"]) for node in item["nodes"][:3])
        for item in results.response["violations"]
        if item["impact"] in ("serious", "critical")
    ]
