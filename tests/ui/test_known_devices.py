"""Known-device cookies: a teacher who signed in before on a browser keeps
signing in there while others on the same address trip the limits.

Requests go through the Quart test client of an in-process runtime on a
fresh database, with the connection's peer address set in the ASGI scope,
so one test can play a whole school behind one NAT address.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pedagogue.accounts import create_teacher
from pedagogue.config import load_settings
from pedagogue.runtime import Runtime
from web.app import create_app

PASSWORD = "correct horse battery"
PER_PAIR = 3
PER_ADDRESS = 5
PER_ACCOUNT = 7
PER_DEVICE = 4
SCHOOL = "198.51.100.7"
HOME = "203.0.113.20"
DEVICE_COOKIE = "__Host-pedagogue_device"


@pytest.fixture(scope="module")
async def shared_runtime(databases: Any) -> AsyncIterator[Runtime]:
    settings = load_settings(
        None,
        overrides={
            "instance": {"url": "https://school-a.test"},
            "web": {
                "sign_in_failures_per_pair": PER_PAIR,
                "sign_in_failures_per_address": PER_ADDRESS,
                "sign_in_failures_per_account": PER_ACCOUNT,
                "sign_in_failures_per_device": PER_DEVICE,
            },
        },
        environ={},
    )
    runtime = Runtime(settings, await databases.create())
    await runtime.start()
    for username in ("bob", "dana"):
        await create_teacher(
            runtime.pool, runtime.settings, username=username, password=PASSWORD
        )
    yield runtime
    await runtime.stop()
    await databases.drop(runtime.dsn)


@pytest.fixture
async def runtime(shared_runtime: Runtime) -> Runtime:
    await shared_runtime.pool.execute("DELETE FROM sign_in_failures")
    await shared_runtime.pool.execute("DELETE FROM web_sessions")
    return shared_runtime


class Browser:
    """One browser at one address, keeping its CSRF and device cookies.

    Each sign-in goes through a new test client, because the test client's
    own cookie jar would send the session of the sign-in before.
    """

    def __init__(self, app: Any, address: str) -> None:
        self.app = app
        self.address = address
        self.csrf = secrets.token_urlsafe(32)
        self.device: str | None = None

    async def sign_in(self, username: str, password: str) -> Any:
        cookies = f"__Host-pedagogue_csrf={self.csrf}"
        if self.device is not None:
            cookies += f"; {DEVICE_COOKIE}={self.device}"
        response = await self.app.test_client().post(
            "/sign-in",
            form={"csrf_token": self.csrf, "username": username, "password": password},
            headers={"Cookie": cookies, "Accept": "text/html"},
            scope_base={"client": (self.address, 40000)},
        )
        for header in response.headers.getlist("Set-Cookie"):
            match = re.match(rf"{DEVICE_COOKIE}=([^;]+)", header)
            if match:
                self.device = match.group(1)
        return response


async def fail(browser: Browser, username: str, times: int) -> None:
    for _ in range(times):
        response = await browser.sign_in(username, "wrong guess")
        assert response.status_code == 401


async def known_browser(app: Any, username: str, address: str = SCHOOL) -> Browser:
    """Return a browser where ``username`` signed in once, so it has a device cookie."""
    browser = Browser(app, address)
    response = await browser.sign_in(username, PASSWORD)
    assert response.status_code == 303
    assert browser.device is not None
    return browser


async def lock_out_address(app: Any) -> None:
    """Send enough failures with made-up usernames to reach the address limit."""
    student = Browser(app, SCHOOL)
    for number in range(PER_ADDRESS):
        await fail(student, f"spray{number}", 1)


async def test_sign_in_sets_device_cookie(runtime: Runtime) -> None:
    browser = Browser(create_app(runtime), SCHOOL)

    response = await browser.sign_in("bob", PASSWORD)
    cookie = next(
        header
        for header in response.headers.getlist("Set-Cookie")
        if header.startswith(DEVICE_COOKIE)
    )

    assert browser.device is not None
    assert browser.device.startswith("v1.bob.")
    assert "HttpOnly" in cookie
    assert "Secure" in cookie
    assert "Max-Age=34560000" in cookie


async def test_known_device_passes_address_limit(runtime: Runtime) -> None:
    app = create_app(runtime)
    bob = await known_browser(app, "bob")
    await lock_out_address(app)

    response = await bob.sign_in("bob", PASSWORD)

    assert response.status_code == 303


async def test_unknown_browser_keeps_address_limit(runtime: Runtime) -> None:
    app = create_app(runtime)
    await known_browser(app, "bob")
    await lock_out_address(app)

    response = await Browser(app, SCHOOL).sign_in("bob", PASSWORD)

    assert response.status_code == 429


async def test_device_of_other_account_keeps_limit(runtime: Runtime) -> None:
    app = create_app(runtime)
    bob = await known_browser(app, "bob")
    await lock_out_address(app)

    response = await bob.sign_in("dana", PASSWORD)

    assert response.status_code == 429


async def test_known_device_passes_account_limit(runtime: Runtime) -> None:
    app = create_app(runtime)
    bob = await known_browser(app, "bob", address=HOME)
    for number in range(PER_ACCOUNT):
        await fail(Browser(app, f"192.0.2.{number + 1}"), "bob", 1)

    response = await bob.sign_in("bob", PASSWORD)

    assert response.status_code == 303


async def test_known_device_failures_skip_address_count(runtime: Runtime) -> None:
    app = create_app(runtime)
    bob = await known_browser(app, "bob")
    await fail(bob, "bob", PER_DEVICE - 1)

    response = await Browser(app, SCHOOL).sign_in("dana", PASSWORD)

    assert response.status_code == 303
    assert await runtime.pool.fetchval(
        "SELECT count(*) FROM sign_in_failures WHERE address LIKE 'device:%'"
    ) == PER_DEVICE - 1


async def test_device_over_limit_gets_address_limit(runtime: Runtime) -> None:
    app = create_app(runtime)
    bob = await known_browser(app, "bob")
    await fail(bob, "bob", PER_DEVICE)
    # Past its own limit the device counts as any browser at its address.
    await fail(bob, "bob", PER_PAIR)

    response = await bob.sign_in("bob", PASSWORD)

    assert response.status_code == 429


async def test_forged_device_cookie_ignored(runtime: Runtime) -> None:
    app = create_app(runtime)
    bob = await known_browser(app, "bob")
    await lock_out_address(app)
    version, _name, nonce, signature = bob.device.split(".")
    forger = Browser(app, SCHOOL)
    forger.device = f"{version}.dana.{nonce}.{signature}"

    response = await forger.sign_in("dana", PASSWORD)

    assert response.status_code == 429


async def test_known_device_decision_logged(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    bob = await known_browser(create_app(runtime), "bob")

    with caplog.at_level(logging.INFO, logger="web.ui.accounts"):
        await bob.sign_in("bob", PASSWORD)
    lines = [
        record.getMessage()
        for record in caplog.records
        if "known device" in record.getMessage()
    ]

    assert len(lines) == 1
    assert "bob" in lines[0]
    assert SCHOOL in lines[0]
    assert PASSWORD not in lines[0]
