"""The toot command-line client logging in, posting and reading timelines.

``toot login_cli`` uses the password grant. ``toot login`` is the browser
code flow: it prints the authorization URL and reads the code from standard
input, so the test submits the consent page over HTTP and types the code in.
toot reads its configuration from ``$XDG_CONFIG_HOME/toot`` and trusts the
test CA through ``REQUESTS_CA_BUNDLE``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from tests.oauth.conftest import BrowserSession, LoopbackSession, call
from tests.ui.conftest import PASSWORD

# Upper bound for one toot command on a busy machine, in seconds.
COMMAND_TIMEOUT = 60


def toot_environment(school: Any, home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "XDG_CONFIG_HOME": str(home),
            "REQUESTS_CA_BUNDLE": str(school.pki.ca_file),
            "PYTHONUNBUFFERED": "1",
            "NO_COLOR": "1",
        }
    )
    return env


async def toot(school: Any, home: Path, *args: str) -> tuple[int, str]:
    """Run one toot command; return its exit status and combined output."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "toot",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=toot_environment(school, home),
    )
    output, _ = await asyncio.wait_for(process.communicate(), COMMAND_TIMEOUT)
    return process.returncode or 0, output.decode(errors="replace")


async def test_toot_login_cli_posts_and_reads(school, tmp_path):
    status, login = await toot(
        school,
        tmp_path,
        "login_cli",
        "-i",
        school.client_url,
        "-e",
        "alice",
        "-p",
        PASSWORD,
    )
    _, whoami = await toot(school, tmp_path, "whoami", "--json")
    posted_status, posted = await toot(
        school, tmp_path, "post", "Posted from toot after login_cli", "--json"
    )
    _, timeline = await toot(school, tmp_path, "timeline", "--once", "--count", "5")
    config = json.loads((tmp_path / "toot" / "config.json").read_text())

    assert status == 0, login
    assert json.loads(whoami)["username"] == "alice"
    assert posted_status == 0, posted
    assert "Posted from toot after login_cli" in json.loads(posted)["content"]
    assert "Posted from toot after login_cli" in timeline
    assert config["active_user"].startswith("alice@")


async def test_toot_login_cli_wrong_password_fails(school, tmp_path):
    status, output = await toot(
        school,
        tmp_path,
        "login_cli",
        "-i",
        school.client_url,
        "-e",
        "alice",
        "-p",
        "wrong",
    )

    assert status != 0
    assert "Login failed" in output


async def test_toot_browser_login_with_code(school, tmp_path):
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "toot",
        "login",
        "-i",
        school.client_url,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=toot_environment(school, tmp_path),
    )
    assert process.stdin is not None and process.stdout is not None
    # Refuse to open a browser; toot then prompts for the code.
    process.stdin.write(b"n\n")
    await process.stdin.drain()
    url = await _login_url(process.stdout)

    browser = BrowserSession(school)
    await call(browser.sign_in, "bruno")
    code = await call(browser.authorize, url)
    process.stdin.write(code.encode() + b"\n")
    await process.stdin.drain()
    output, _ = await asyncio.wait_for(process.communicate(), COMMAND_TIMEOUT)
    _, whoami = await toot(school, tmp_path, "whoami", "--json")

    assert process.returncode == 0, output.decode(errors="replace")
    assert "/oauth/authorize" in url
    assert json.loads(whoami)["username"] == "bruno"


async def test_toot_follow_creates_relationship(school, tmp_path):
    await toot(
        school,
        tmp_path,
        "login_cli",
        "-i",
        school.client_url,
        "-e",
        "bruno",
        "-p",
        PASSWORD,
    )

    status, followed = await toot(school, tmp_path, "follow", "alice")
    relationship = await call(_relationship_with, school, tmp_path, "alice")

    assert status == 0, followed
    assert relationship["following"] is True


def _relationship_with(school: Any, home: Path, username: str) -> dict[str, Any]:
    """Return the relationship of toot's active user with ``username``."""
    config = json.loads((home / "toot" / "config.json").read_text())
    token = config["users"][config["active_user"]]["access_token"]
    http = LoopbackSession(school)
    http.headers["Authorization"] = f"Bearer {token}"
    target = http.get(
        f"{school.client_url}/api/v1/accounts/lookup", params={"acct": username}
    ).json()
    found = http.get(
        f"{school.client_url}/api/v1/accounts/relationships",
        params={"id[]": target["id"]},
    ).json()
    return found[0]


async def _login_url(stdout: asyncio.StreamReader) -> str:
    """Read toot's output until the authorization URL; fail after COMMAND_TIMEOUT."""
    seen = []
    async with asyncio.timeout(COMMAND_TIMEOUT):
        while True:
            line = (await stdout.readline()).decode(errors="replace")
            if not line:
                raise AssertionError(
                    "toot ended before printing a URL:\n" + "".join(seen)
                )
            seen.append(line)
            if line.startswith("https://") and "/oauth/authorize" in line:
                return line.strip()
