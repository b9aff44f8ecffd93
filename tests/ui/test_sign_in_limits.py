"""Sign-in rate limits per username and address, per address and per account,
the client address behind trusted proxies, suspended accounts and ended
sessions.

Requests go through the Quart test client of an in-process runtime on a fresh
database. Each request sets the connection's peer address in the ASGI scope,
so one test can play an attacker and the account's owner on two networks.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from pedagogue.accounts import create_teacher
from pedagogue.config import load_settings
from pedagogue.runtime import Runtime
from storage import sessions
from web.app import create_app

PASSWORD = "correct horse battery"
PER_PAIR = 3
PER_ADDRESS = 5
PER_ACCOUNT = 7
WINDOW = 900
ACCOUNT_WINDOW = 3600
ATTACKER = "198.51.100.7"
OWNER = "203.0.113.20"
PROXY = "10.0.0.2"


def make_settings(**server: Any) -> Any:
    return load_settings(
        None,
        overrides={
            "instance": {"url": "https://school-a.test"},
            "server": server,
            "web": {
                "sign_in_window": float(WINDOW),
                "sign_in_account_window": float(ACCOUNT_WINDOW),
                "sign_in_failures_per_pair": PER_PAIR,
                "sign_in_failures_per_address": PER_ADDRESS,
                "sign_in_failures_per_account": PER_ACCOUNT,
            },
        },
        environ={},
    )


async def start_runtime(databases: Any, **server: Any) -> Runtime:
    runtime = Runtime(make_settings(**server), await databases.create())
    await runtime.start()
    await create_teacher(
        runtime.pool, runtime.settings, username="owner", password=PASSWORD
    )
    return runtime


async def reset(runtime: Runtime) -> None:
    """Forget the failures, sessions and suspensions of the tests before."""
    await runtime.pool.execute("DELETE FROM sign_in_failures")
    await runtime.pool.execute("DELETE FROM web_sessions")
    await runtime.pool.execute("UPDATE accounts SET suspended_at = NULL")


# One runtime per configuration for the module, because starting one and
# hashing the owner's password cost seconds on a busy machine.
@pytest.fixture(scope="module")
async def shared_runtime(databases: Any) -> AsyncIterator[Runtime]:
    started = await start_runtime(databases)
    yield started
    await started.stop()
    await databases.drop(started.dsn)


@pytest.fixture(scope="module")
async def shared_proxied_runtime(databases: Any) -> AsyncIterator[Runtime]:
    started = await start_runtime(databases, trusted_proxies=[f"{PROXY}/32"])
    yield started
    await started.stop()
    await databases.drop(started.dsn)


@pytest.fixture
async def runtime(shared_runtime: Runtime) -> Runtime:
    await reset(shared_runtime)
    return shared_runtime


@pytest.fixture
async def proxied_runtime(shared_proxied_runtime: Runtime) -> Runtime:
    await reset(shared_proxied_runtime)
    return shared_proxied_runtime


class Browser:
    """One browser on one network: a CSRF cookie, a session cookie, an address."""

    def __init__(
        self, app: Any, address: str, forwarded_for: str | None = None
    ) -> None:
        self.client = app.test_client()
        self.address = address
        self.forwarded_for = forwarded_for
        self.csrf = secrets.token_urlsafe(32)
        self.session: str | None = None

    def headers(self) -> dict[str, str]:
        cookies = f"__Host-pedagogue_csrf={self.csrf}"
        if self.session is not None:
            cookies += f"; __Host-pedagogue_session={self.session}"
        headers = {"Cookie": cookies, "Accept": "text/html"}
        if self.forwarded_for is not None:
            headers["X-Forwarded-For"] = self.forwarded_for
        return headers

    async def post(
        self, path: str, form: dict[str, str], csrf: str | None = None
    ) -> Any:
        return await self.client.post(
            path,
            form={"csrf_token": csrf or self.csrf, **form},
            headers=self.headers(),
            scope_base={"client": (self.address, 40000)},
        )

    async def sign_in(self, username: str, password: str) -> Any:
        response = await self.post(
            "/sign-in", {"username": username, "password": password}
        )
        match = re.search(
            r"__Host-pedagogue_session=([^;]+)", response.headers.get("Set-Cookie", "")
        )
        if match:
            self.session = match.group(1)
        return response


async def fail(browser: Browser, times: int, username: str = "owner") -> None:
    for _ in range(times):
        response = await browser.sign_in(username, "wrong guess")
        assert response.status_code == 401


async def failure_count(runtime: Runtime) -> int:
    return await runtime.pool.fetchval("SELECT count(*) FROM sign_in_failures")


# Per username and address


async def test_pair_limit_blocks_the_guessing_address(runtime: Runtime) -> None:
    attacker = Browser(create_app(runtime), ATTACKER)
    await fail(attacker, PER_PAIR)

    response = await attacker.sign_in("owner", PASSWORD)
    page = await response.get_data(as_text=True)

    assert response.status_code == 429
    assert response.mimetype == "text/html"
    assert "Too many failed sign-ins for this account from your network" in page


async def test_pair_limit_leaves_owner_signing_in(runtime: Runtime) -> None:
    app = create_app(runtime)
    await fail(Browser(app, ATTACKER), PER_PAIR)

    response = await Browser(app, OWNER).sign_in("owner", PASSWORD)

    assert response.status_code == 303
    assert response.headers["Location"] == "/"


async def test_owner_sign_in_keeps_attacker_limited(runtime: Runtime) -> None:
    app = create_app(runtime)
    attacker = Browser(app, ATTACKER)
    await fail(attacker, PER_PAIR)
    await Browser(app, OWNER).sign_in("owner", PASSWORD)

    response = await attacker.sign_in("owner", "another guess")

    assert response.status_code == 429


async def test_sign_in_clears_failures_of_its_address(runtime: Runtime) -> None:
    owner = Browser(create_app(runtime), OWNER)
    await fail(owner, PER_PAIR - 1)

    response = await owner.sign_in("owner", PASSWORD)

    assert response.status_code == 303
    assert await failure_count(runtime) == 0


async def test_limited_attempt_is_not_checked_or_counted(runtime: Runtime) -> None:
    attacker = Browser(create_app(runtime), ATTACKER)
    await fail(attacker, PER_PAIR)

    await attacker.sign_in("owner", "wrong guess")

    assert await failure_count(runtime) == PER_PAIR


# Retry-After


async def test_retry_after_counts_down_from_window(runtime: Runtime) -> None:
    attacker = Browser(create_app(runtime), ATTACKER)
    await fail(attacker, PER_PAIR)

    response = await attacker.sign_in("owner", PASSWORD)
    retry_after = int(response.headers["Retry-After"])

    assert 0 < retry_after <= WINDOW


async def test_retry_after_waits_for_oldest_counted_failure(runtime: Runtime) -> None:
    attacker = Browser(create_app(runtime), ATTACKER)
    await fail(attacker, PER_PAIR)
    # The oldest failure is now 10 minutes old and leaves the window first.
    await runtime.pool.execute(
        "UPDATE sign_in_failures SET failed_at = now() - interval '10 minutes'"
        " WHERE id = (SELECT min(id) FROM sign_in_failures)"
    )

    response = await attacker.sign_in("owner", PASSWORD)
    retry_after = int(response.headers["Retry-After"])

    assert response.status_code == 429
    assert retry_after <= WINDOW - 10 * 60 + 1


async def test_limit_lifts_after_window(runtime: Runtime) -> None:
    attacker = Browser(create_app(runtime), ATTACKER)
    await fail(attacker, PER_PAIR)
    await runtime.pool.execute(
        "UPDATE sign_in_failures SET failed_at = now() - $1::interval",
        timedelta(seconds=WINDOW + 1),
    )

    response = await attacker.sign_in("owner", PASSWORD)

    assert response.status_code == 303


# Per address and per account


async def test_address_limit_spans_usernames(runtime: Runtime) -> None:
    attacker = Browser(create_app(runtime), ATTACKER)
    for number in range(PER_ADDRESS):
        await fail(attacker, 1, username=f"nobody{number}")

    response = await attacker.sign_in("owner", PASSWORD)
    page = await response.get_data(as_text=True)

    assert response.status_code == 429
    assert "Too many failed sign-ins from your network" in page


async def test_account_limit_spans_addresses(runtime: Runtime) -> None:
    app = create_app(runtime)
    # Each address stays under the pair limit; together they pass the
    # account's.
    for number in range(PER_ACCOUNT):
        await fail(Browser(app, f"192.0.2.{number + 1}"), 1)

    response = await Browser(app, OWNER).sign_in("owner", PASSWORD)
    page = await response.get_data(as_text=True)

    assert response.status_code == 429
    assert "Too many failed sign-ins for this account." in page
    assert 0 < int(response.headers["Retry-After"]) <= ACCOUNT_WINDOW


async def test_ipv6_addresses_count_by_network(runtime: Runtime) -> None:
    app = create_app(runtime)
    for number in range(PER_PAIR):
        await fail(Browser(app, f"2001:db8:1:2::{number + 1}"), 1)

    response = await Browser(app, "2001:db8:1:2::ffff").sign_in("owner", PASSWORD)

    assert response.status_code == 429


async def test_rate_limit_logged_without_password(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    attacker = Browser(create_app(runtime), ATTACKER)
    await fail(attacker, PER_PAIR)

    with caplog.at_level(logging.INFO, logger="web.ui.accounts"):
        await attacker.sign_in("owner", "secret-guess-xyz")
    lines = [
        record.getMessage()
        for record in caplog.records
        if "rate limited" in record.getMessage()
    ]

    assert len(lines) == 1
    assert "owner" in lines[0]
    assert ATTACKER in lines[0]
    assert "secret-guess-xyz" not in caplog.text


# Client address behind proxies


async def test_forwarded_for_ignored_without_trusted_proxy(runtime: Runtime) -> None:
    app = create_app(runtime)
    for number in range(PER_PAIR):
        await fail(Browser(app, PROXY, forwarded_for=f"192.0.2.{number + 1}"), 1)

    response = await Browser(app, PROXY, forwarded_for=OWNER).sign_in("owner", PASSWORD)

    assert response.status_code == 429


async def test_forwarded_for_names_client_behind_trusted_proxy(
    proxied_runtime: Runtime,
) -> None:
    app = create_app(proxied_runtime)
    await fail(Browser(app, PROXY, forwarded_for=ATTACKER), PER_PAIR)

    owner = Browser(app, PROXY, forwarded_for=OWNER)
    response = await owner.sign_in("owner", PASSWORD)
    address = await proxied_runtime.pool.fetchval("SELECT address FROM web_sessions")

    assert response.status_code == 303
    assert address == OWNER


async def test_forged_forwarded_for_does_not_escape_limit(
    proxied_runtime: Runtime,
) -> None:
    app = create_app(proxied_runtime)
    # The proxy appends the real peer; the client's own entry on the left
    # changes every time.
    for number in range(PER_PAIR):
        forged = f"192.0.2.{number + 1}, {ATTACKER}"
        await fail(Browser(app, PROXY, forwarded_for=forged), 1)

    response = await Browser(
        app, PROXY, forwarded_for=f"192.0.2.99, {ATTACKER}"
    ).sign_in("owner", PASSWORD)

    assert response.status_code == 429


# Suspended accounts and ended sessions


async def suspend(runtime: Runtime, username: str) -> None:
    account_id = await runtime.pool.fetchval(
        "UPDATE accounts SET suspended_at = now() WHERE username = $1 RETURNING id",
        username,
    )
    await sessions.delete_other_sessions(runtime.pool, account_id, None)


async def test_suspended_account_sees_suspension_on_sign_in(runtime: Runtime) -> None:
    await suspend(runtime, "owner")

    response = await Browser(create_app(runtime), OWNER).sign_in("owner", PASSWORD)
    page = await response.get_data(as_text=True)

    assert response.status_code == 403
    assert "This account is suspended" in page
    assert "security token" not in page


async def test_suspension_hidden_from_wrong_password(runtime: Runtime) -> None:
    await suspend(runtime, "owner")

    response = await Browser(create_app(runtime), OWNER).sign_in("owner", "wrong guess")
    page = await response.get_data(as_text=True)

    assert response.status_code == 401
    assert "suspended" not in page


async def test_form_of_ended_session_says_session_ended(runtime: Runtime) -> None:
    owner = Browser(create_app(runtime), OWNER)
    await owner.sign_in("owner", PASSWORD)
    form_token = await runtime.pool.fetchval("SELECT csrf_token FROM web_sessions")
    await suspend(runtime, "owner")

    response = await owner.post("/statuses", {"status": "still here?"}, csrf=form_token)
    page = await response.get_data(as_text=True)

    assert response.status_code == 401
    assert "Your session has ended" in page
    assert "security token" not in page
    assert 'href="/sign-in"' in page


async def test_ended_session_cookie_is_deleted(runtime: Runtime) -> None:
    owner = Browser(create_app(runtime), OWNER)
    await owner.sign_in("owner", PASSWORD)
    await suspend(runtime, "owner")

    response = await owner.client.get(
        "/about", headers=owner.headers(), scope_base={"client": (OWNER, 40000)}
    )
    cookies = response.headers.get_all("Set-Cookie")

    assert any(cookie.startswith("__Host-pedagogue_session=;") for cookie in cookies), (
        cookies
    )
