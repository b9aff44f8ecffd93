"""The command-line parts of web accounts: admins and reset links."""

from __future__ import annotations

import asyncio
import sys

import asyncpg

URL = "https://school-a.test"


async def _cli(database: str, *args: str, stdin: bytes = b"") -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pedagogue.cli", "--url", URL, "--database-url", database,
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(stdin), timeout=60)
    return process.returncode or 0, stdout.decode(), stderr.decode()


async def test_user_create_admin(database: str) -> None:
    code, stdout, stderr = await _cli(
        database, "user", "create", "head", "--admin", stdin=b"long enough password\n"
    )
    assert code == 0, stderr
    assert "with the admin role" in stdout
    connection = await asyncpg.connect(database)
    try:
        is_admin = await connection.fetchval(
            "SELECT is_admin FROM accounts WHERE username = 'head'"
        )
    finally:
        await connection.close()
    assert is_admin is True


async def test_reset_link_for_unknown_user(database: str) -> None:
    code, stdout, stderr = await _cli(database, "user", "reset-link", "nobody")
    assert code == 1
    assert stdout == ""
    assert "no local account named nobody" in stderr
