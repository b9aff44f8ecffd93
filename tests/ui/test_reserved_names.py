"""Reserved usernames at sign-up by request, sign-up by invite and on the
command line.

The sign-up tests send forms through the Quart test client of an in-process
runtime on a fresh database. The command-line tests run
``python -m pedagogue.cli`` as a subprocess.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from pedagogue.accounts import RESERVED_USERNAMES, is_reserved_username
from pedagogue.config import load_settings
from pedagogue.runtime import INSTANCE_ACTOR_USERNAME, Runtime
from storage import invites
from web.app import create_app

PASSWORD = "correct horse battery"


@pytest.fixture
async def runtime(database: str) -> AsyncIterator[Runtime]:
    settings = load_settings(
        None,
        overrides={
            "instance": {"url": "https://school-a.test", "open_registrations": True}
        },
        environ={},
    )
    started = Runtime(settings, database)
    await started.start()
    yield started
    await started.stop()


async def sign_up(runtime: Runtime, username: str, invite: str = "") -> tuple[int, str]:
    token = secrets.token_urlsafe(32)
    form = {
        "csrf_token": token,
        "username": username,
        "password": PASSWORD,
        "password_confirm": PASSWORD,
    }
    if invite:
        form["invite"] = invite
    response = (
        await create_app(runtime)
        .test_client()
        .post(
            "/sign-up",
            form=form,
            headers={"Cookie": f"__Host-pedagogue_csrf={token}", "Accept": "text/html"},
        )
    )
    return response.status_code, await response.get_data(as_text=True)


def test_listed_names_are_reserved() -> None:
    settings = load_settings(None, environ={})
    for name in ("admin", "Administrator", "ROOT", "support", "postmaster", "www"):
        assert is_reserved_username(name, settings), name


def test_instance_actor_name_is_reserved() -> None:
    assert INSTANCE_ACTOR_USERNAME in RESERVED_USERNAMES


def test_instance_domain_is_reserved() -> None:
    settings = load_settings(
        None, overrides={"instance": {"url": "http://pedagogue"}}, environ={}
    )
    assert is_reserved_username("pedagogue", settings)


def test_ordinary_name_is_not_reserved() -> None:
    assert not is_reserved_username("admin_jo", load_settings(None, environ={}))


async def test_sign_up_request_rejects_reserved_name(runtime: Runtime) -> None:
    status, page = await sign_up(runtime, "Admin")
    stored = await runtime.pool.fetchval("SELECT count(*) FROM sign_up_requests")

    assert status == 422
    assert "The username Admin is reserved for the instance" in page
    assert stored == 0


async def test_invite_sign_up_rejects_reserved_name(runtime: Runtime) -> None:
    code, _row = await invites.create_invite(
        runtime.pool, None, max_uses=1, lifetime=timedelta(days=1)
    )

    status, page = await sign_up(runtime, "support", invite=code)
    uses = await runtime.pool.fetchval("SELECT uses FROM invites")
    accounts = await runtime.pool.fetchval(
        "SELECT count(*) FROM accounts WHERE username = 'support'"
    )

    assert status == 422
    assert "reserved for the instance" in page
    assert uses == 0
    assert accounts == 0


async def test_invite_sign_up_accepts_ordinary_name(runtime: Runtime) -> None:
    code, _row = await invites.create_invite(
        runtime.pool, None, max_uses=1, lifetime=timedelta(days=1)
    )

    status, _page = await sign_up(runtime, "jordan", invite=code)

    assert status == 303


def run_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith("PEDAGOGUE_")
    }
    return subprocess.run(
        [sys.executable, "-m", "pedagogue.cli", *args],
        check=False,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
    )


def test_cli_rejects_reserved_name(database: str, tmp_path: Path) -> None:
    result = run_cli(
        "--database-url",
        database,
        "--data-dir",
        str(tmp_path),
        "user",
        "create",
        "admin",
        stdin="a long password\n",
    )

    assert result.returncode != 0
    assert "the username admin is reserved" in result.stderr
    assert "--allow-reserved-name" in result.stderr


def test_cli_creates_reserved_name_when_allowed(database: str, tmp_path: Path) -> None:
    result = run_cli(
        "--database-url",
        database,
        "--data-dir",
        str(tmp_path),
        "user",
        "create",
        "admin",
        "--allow-reserved-name",
        stdin="a long password\n",
    )

    assert result.returncode == 0, result.stderr
    assert "@admin@" in result.stdout
