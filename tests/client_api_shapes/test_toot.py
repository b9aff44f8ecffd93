"""The toot command-line client, signed in with a token, following a teacher
on a second instance and searching.

Signing in, posting, timelines and following a local teacher are covered in
``tests/oauth/test_toot.py``. Here toot gets its token by its configuration
file (``$XDG_CONFIG_HOME/toot/config.json``, with ``apps``, ``users`` and
``active_user``), as toot 0.52 stores it after a login.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DOMAINS
from tests.support.live import LiveInstance, Teacher, eventually

# Upper bound for one toot command on a busy machine, in seconds.
COMMAND_TIMEOUT = 60


@pytest.fixture(scope="module")
async def district(
    databases: Any, pki: Any, tmp_path_factory: Any
) -> AsyncIterator[LiveInstance]:
    """A second live instance, whose teachers toot users follow."""
    instance = LiveInstance(
        domain="district-b.test",
        dsn=await databases.create(),
        directory=tmp_path_factory.mktemp("toot-district"),
        pki=pki,
        host_map={domain: "127.0.0.1" for domain in DOMAINS},
    )
    try:
        await instance.start()
        yield instance
    finally:
        instance.stop()
        await databases.drop(instance.dsn)


def sign_in(teacher: Teacher, home: Path) -> None:
    """Write toot's configuration with the teacher's token as the active user."""
    instance = teacher.instance
    user_id = f"{teacher.username}@{instance.host}"
    config = {
        "apps": {
            instance.host: {
                "instance": instance.host,
                "base_url": instance.client_url,
                "client_id": "unused",
                "client_secret": "unused",
            }
        },
        "users": {
            user_id: {
                "instance": instance.host,
                "username": teacher.username,
                "access_token": teacher.token,
            }
        },
        "active_user": user_id,
    }
    directory = home / "toot"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config))


async def toot(teacher: Teacher, home: Path, *args: str) -> tuple[int, str]:
    """Run one toot command; return its exit status and combined output."""
    env = dict(os.environ)
    env.update(
        {
            "XDG_CONFIG_HOME": str(home),
            "REQUESTS_CA_BUNDLE": str(teacher.instance.pki.ca_file),
            "PYTHONUNBUFFERED": "1",
            "NO_COLOR": "1",
        }
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "toot",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    output, _ = await asyncio.wait_for(process.communicate(), COMMAND_TIMEOUT)
    return process.returncode or 0, output.decode(errors="replace")


async def test_toot_whoami_with_token(school: LiveInstance, teachers, tmp_path) -> None:
    (teacher,) = await teachers("tootwho")
    sign_in(teacher, tmp_path)

    status, output = await toot(teacher, tmp_path, "whoami", "--json")

    assert status == 0, output
    assert json.loads(output)["id"] == teacher.account_id


async def test_toot_follows_remote_teacher(
    school: LiveInstance, district: LiveInstance, teachers, tmp_path
) -> None:
    (follower,) = await teachers("tootfollower")
    remote = await district.create_teacher("tootremote")
    sign_in(follower, tmp_path)

    status, output = await toot(
        follower, tmp_path, "follow", f"tootremote@{district.host}"
    )

    async def accepted() -> bool:
        listed = await remote.get(f"/api/v1/accounts/{remote.account_id}/followers")
        return any(item["acct"] == follower.handle for item in listed)

    assert status == 0, output
    assert await eventually(accepted), "the remote teacher never got the follower"


async def test_toot_search_finds_account(
    school: LiveInstance, teachers, tmp_path
) -> None:
    searcher, wanted = await teachers("tootsearcher", "tootwanted")
    sign_in(searcher, tmp_path)

    status, output = await toot(
        searcher, tmp_path, "search", wanted.username, "--type", "accounts", "--json"
    )

    assert status == 0, output
    found = json.loads(output)["accounts"]
    assert [item["id"] for item in found] == [wanted.account_id]


async def test_toot_search_resolves_remote(
    school: LiveInstance, district: LiveInstance, teachers, tmp_path
) -> None:
    (searcher,) = await teachers("tootresolver")
    await district.create_teacher("tootfaraway")
    sign_in(searcher, tmp_path)

    status, output = await toot(
        searcher, tmp_path, "search", f"tootfaraway@{district.host}", "--resolve"
    )

    assert status == 0, output
    assert f"tootfaraway@{district.host}" in output
