"""The command line on a real PostgreSQL, and on the embedded one."""

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from tests.support.live import eventually, free_port


def run_cli(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PEDAGOGUE_")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pedagogue.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
    )


def test_user_create_reads_password_from_stdin(database: str, tmp_path: Path) -> None:
    result = run_cli(
        "--database-url", database, "--data-dir", str(tmp_path),
        "user", "create", "dana", "--display-name", "Dana D", stdin="a long password\n",
    )
    assert result.returncode == 0, result.stderr
    assert "@dana@localhost:8800" in result.stdout


async def test_user_create_stores_argon2_hash(database: str, tmp_path: Path) -> None:
    run_cli("--database-url", database, "--data-dir", str(tmp_path),
            "user", "create", "erin", stdin="another password\n")
    connection = await asyncpg.connect(database)
    try:
        stored = await connection.fetchval("SELECT password_hash FROM accounts WHERE username = 'erin'")
    finally:
        await connection.close()
    assert stored.startswith("$argon2id$")


def test_user_create_rejects_short_password(database: str, tmp_path: Path) -> None:
    result = run_cli("--database-url", database, "--data-dir", str(tmp_path),
                     "user", "create", "fay", stdin="short\n")
    assert result.returncode == 1
    assert "at least 8 characters" in result.stderr


def test_user_create_rejects_taken_username(database: str, tmp_path: Path) -> None:
    common = ("--database-url", database, "--data-dir", str(tmp_path))
    run_cli(*common, "user", "create", "gus", stdin="first password\n")
    result = run_cli(*common, "user", "create", "GUS", stdin="second password\n")
    assert result.returncode == 1
    assert "taken" in result.stderr


def test_user_create_rejects_invalid_username(database: str, tmp_path: Path) -> None:
    result = run_cli("--database-url", database, "--data-dir", str(tmp_path),
                     "user", "create", "no spaces!", stdin="a long password\n")
    assert result.returncode == 1
    assert "letters, digits or underscores" in result.stderr


def test_token_create_prints_token(database: str, tmp_path: Path) -> None:
    common = ("--database-url", database, "--data-dir", str(tmp_path))
    run_cli(*common, "user", "create", "hal", stdin="a long password\n")
    result = run_cli(*common, "token", "create", "hal")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip()) >= 40


def test_token_create_unknown_user_fails(database: str, tmp_path: Path) -> None:
    result = run_cli("--database-url", database, "--data-dir", str(tmp_path), "token", "create", "nobody")
    assert result.returncode == 1
    assert "no local account named nobody" in result.stderr


async def test_migrate_applies_each_migration_once(database: str, tmp_path: Path) -> None:
    result = run_cli("--database-url", database, "--data-dir", str(tmp_path), "migrate")
    assert result.stdout.strip() == "applied 0 migrations"


def test_bad_config_value_is_named(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[server]\nmax_body_bytes = "lots"\n')
    result = run_cli("--config", str(config), "migrate")
    assert result.returncode == 2
    assert "max_body_bytes" in result.stderr


def test_unknown_config_key_is_named(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[federation]\nallow_everything = true\n")
    result = run_cli("--config", str(config), "migrate")
    assert "allow_everything" in result.stderr


async def test_run_on_embedded_postgres_serves_and_stops(tmp_path: Path) -> None:
    """With no database URL, the instance starts pgserver under its data directory."""
    data_dir = tmp_path / "data"
    created = run_cli("--data-dir", str(data_dir), "user", "create", "ivy", stdin="a long password\n")
    assert created.returncode == 0, created.stderr
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PEDAGOGUE_")}
    with open(tmp_path / "run.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "pedagogue.cli", "--data-dir", str(data_dir),
             "run", "--listen", f"127.0.0.1:{port}"],
            stdout=log, stderr=subprocess.STDOUT, env=environment,
        )
    try:
        async def nodeinfo():
            try:
                async with aiohttp.ClientSession() as session:
                    async with session.get(f"http://127.0.0.1:{port}/nodeinfo/2.0") as response:
                        return await response.json() if response.status == 200 else None
            except aiohttp.ClientError:
                return None

        document = await eventually(nodeinfo, timeout=60)
        assert document["usage"]["users"]["total"] == 1
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(process.wait, 30)
    assert process.returncode == 0
    assert (data_dir / "postgres" / "PG_VERSION").exists()
