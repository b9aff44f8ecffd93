"""Fixtures for the checks against third-party fediverse software.

Each tool is installed from PyPI into its own virtual environment, because the
tools pin web framework versions that may clash with ours. The environments
live in a cache directory outside the repository
(``$PEDAGOGUE_TEST_CACHE``, by default ``~/.cache/pedagogue-tests``) and are
built on first use, then reused while their marker file lists the same
requirements.

The tools run as subprocesses on 127.0.0.1, started from the small launcher
modules beside this file, and are stopped by PID at teardown. They run offline:
their JSON-LD context cache is seeded from Pedagogue's bundled contexts, and
the standard proxy variables send any other outgoing HTTP request they attempt
to a closed loopback port.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from federation.jsonld import get_context
from tests.support.databases import DatabaseFactory
from tests.support.live import LiveInstance, free_port
from tests.support.pki import TestPki

HERE = Path(__file__).resolve().parent
CACHE_DIR = Path(
    os.environ.get("PEDAGOGUE_TEST_CACHE") or Path.home() / ".cache" / "pedagogue-tests"
)

# The releases these checks were written against. Changing a pin rebuilds the
# environment on the next run.
# NOTE: both tools use bovine 0.5.19, which passes bytes to http_sf's internal
# parse_dictionary(). http-sf 1.1.0 changed that function, and bovine allows
# any http-sf below 2.0, so pip installs 1.5.0 and every request carrying
# Signature-Input crashes the tool with a 500. Pedagogue falls back to
# draft-cavage only on 400 or 401, so its signed requests fail wherever either
# tool checks signatures. With http-sf 1.0.7 the tools reject RFC 9421 with
# 401 instead, and every check here passes.
PASTURE_REQUIREMENTS = ("fediverse-pasture==0.2.25",)
from bench.peer_env import BOVINE_REQUIREMENTS  # noqa: E402 - one pin for both

INSTALL_TIMEOUT = 600.0  # seconds for one install step (venv, pip install)
LOCK_TIMEOUT = 900.0  # seconds to wait while another test run builds the venv
STARTUP_TIMEOUT = 30.0  # seconds until a tool server responds to HTTP
COMMAND_TIMEOUT = 60.0  # seconds for one tool command line

# A port nothing listens on: the tools' proxy variables point here.
CLOSED_PORT = 9
# Bundled JSON-LD contexts that the bovine library's default context names.
# It also names https://www.w3.org/ns/did/v1, which Pedagogue does not bundle.
SEEDED_CONTEXTS = (
    "https://w3id.org/security/v1",
    "https://w3id.org/security/multikey/v1",
)


# --- Virtual environments -------------------------------------------------


def _text(output: str | bytes | None) -> str:
    # TimeoutExpired carries bytes even when the command ran with text=True.
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""


def _run_install_step(command: Sequence[str | Path], description: str) -> str:
    try:
        result = subprocess.run(
            [str(part) for part in command],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        output = _text(error.stdout) + _text(error.stderr)
        pytest.fail(
            f"{description} timed out after {INSTALL_TIMEOUT:.0f} s:\n{output}",
            pytrace=False,
        )
    if result.returncode != 0:
        pytest.fail(
            f"{description} failed with exit code {result.returncode}:\n"
            f"{result.stdout}{result.stderr}",
            pytrace=False,
        )
    return result.stdout


def _marker_matches(marker: Path, requirements: Sequence[str]) -> bool:
    try:
        recorded = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return recorded.get("requirements") == list(requirements)


def _lock(lock_file: Any, name: str) -> None:
    # Another test run on this machine may be building the same environment.
    deadline = time.monotonic() + LOCK_TIMEOUT
    while True:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for the lock on venv-{name}")
            time.sleep(1)


def tool_python(name: str, requirements: Sequence[str]) -> Path:
    """Return the interpreter of the tool environment ``name``, building it if needed.

    Fails the requesting tests with pip's output when the install fails.
    """
    venv = CACHE_DIR / f"venv-{name}"
    python = venv / "bin" / "python"
    marker = venv / "pedagogue-requirements.json"
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR / f"venv-{name}.lock", "w") as lock_file:
        _lock(lock_file, name)
        if python.exists() and _marker_matches(marker, requirements):
            return python
        started = time.monotonic()
        shutil.rmtree(venv, ignore_errors=True)
        _run_install_step([sys.executable, "-m", "venv", venv], f"creating {venv}")
        _run_install_step(
            [python, "-m", "pip", "install", *requirements],
            f"pip install {' '.join(requirements)}",
        )
        frozen = _run_install_step(
            [python, "-m", "pip", "freeze"], f"pip freeze in {venv}"
        )
        # Written last, so an interrupted build is never taken as complete.
        marker.write_text(
            json.dumps(
                {"requirements": list(requirements), "installed": frozen.split()},
                indent=1,
            )
        )
        print(f"\nbuilt {venv} in {time.monotonic() - started:.1f} s")
    return python


@pytest.fixture(scope="session")
def pasture_python() -> Path:
    return tool_python("pasture", PASTURE_REQUIREMENTS)


@pytest.fixture(scope="session")
def bovine_python() -> Path:
    return tool_python("bovine", BOVINE_REQUIREMENTS)


# --- Tool processes -------------------------------------------------------


def tool_environment(**extra: str) -> dict[str, str]:
    """Return the environment for a tool process: offline, outside our venv."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    }
    closed = f"http://127.0.0.1:{CLOSED_PORT}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[name] = env[name.lower()] = closed
    env["NO_PROXY"] = env["no_proxy"] = "localhost,127.0.0.1"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def seed_jsonld_cache(directory: Path) -> None:
    """Write bovine's JSON-LD context cache with Pedagogue's bundled contexts.

    The bovine library keeps contexts in ``bovine_jsonld_cache.sqlite`` in its
    working directory and fetches any context missing there from the network.
    """
    connection = sqlite3.connect(directory / "bovine_jsonld_cache.sqlite")
    try:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS jsonld (url TEXT PRIMARY KEY, context TEXT)"
        )
        for url in SEEDED_CONTEXTS:
            context = get_context(url)["@context"]
            connection.execute(
                "INSERT OR REPLACE INTO jsonld VALUES (?, ?)",
                (url, json.dumps(context)),
            )
        connection.commit()
    finally:
        connection.close()


async def run_tool(
    python: Path,
    arguments: Sequence[str | Path],
    *,
    cwd: Path,
    stdin: bytes | None = None,
    env: dict[str, str] | None = None,
) -> str:
    """Run a tool command line to completion and return its stdout.

    Raises AssertionError with the command's output when it exits non-zero or
    runs longer than COMMAND_TIMEOUT.
    """
    command = [str(python), *(str(argument) for argument in arguments)]
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=cwd,
        env=env or tool_environment(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(
            process.communicate(stdin), COMMAND_TIMEOUT
        )
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"{command[1:]} timed out after {COMMAND_TIMEOUT:.0f} s")
    if process.returncode != 0:
        raise AssertionError(
            f"{command[1:]} exited with {process.returncode}:\n"
            f"{stdout.decode(errors='replace')}{stderr.decode(errors='replace')}"
        )
    return stdout.decode()


class ToolServer:
    """A third-party server in its own process, listening on 127.0.0.1."""

    def __init__(
        self, name: str, python: Path, launcher: str, directory: Path, ready_path: str
    ) -> None:
        self.name = name
        self.python = python
        self.launcher = HERE / launcher
        self.directory = directory
        self.ready_path = ready_path
        self.port = free_port()
        # The tools build their actor ids from the host they serve, which
        # is localhost so that Pedagogue in dev mode fetches them over HTTP.
        self.host = f"localhost:{self.port}"
        self.url = f"http://{self.host}"
        self.log_path = directory / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def spawn(self) -> subprocess.Popen[bytes]:
        """Start the launcher process, logging to ``log_path``."""
        with open(self.log_path, "ab") as log:
            return subprocess.Popen(
                [str(self.python), str(self.launcher), str(self.port)],
                cwd=self.directory,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=tool_environment(),
            )

    async def start(self) -> None:
        """Start the process and wait until ``ready_path`` returns 200."""
        self.process = self.spawn()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited early:\n{self.log_tail()}")
                try:
                    address = f"http://127.0.0.1:{self.port}{self.ready_path}"
                    async with session.get(address) as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError(f"{self.name} did not start:\n{self.log_tail()}")

    def stop(self) -> None:
        """Stop the process by its PID: SIGTERM, then SIGKILL after 10 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def log_tail(self, lines: int = 80) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def _print_logs_if_failed(
    request: pytest.FixtureRequest, failed_before: int, *logs: tuple[str, str]
) -> None:
    if request.session.testsfailed > failed_before:
        for name, tail in logs:
            print(f"\n--- log of {name} ---\n{tail}")


@pytest.fixture(scope="module")
async def pasture_server(
    pasture_python: Path,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> AsyncIterator[ToolServer]:
    """The fediverse-pasture verify_actor application, one per test module.

    It writes its generated actor keys (data.toml) into its scratch directory.
    """
    directory = tmp_path_factory.mktemp("pasture")
    seed_jsonld_cache(directory)
    server = ToolServer("pasture", pasture_python, "pasture_server.py", directory, "/")
    failed_before = request.session.testsfailed
    try:
        await server.start()
        yield server
    finally:
        server.stop()
        _print_logs_if_failed(request, failed_before, ("pasture", server.log_tail()))


@dataclass
class BovineUser:
    """An actor on the bovine server, driven through bovine's client library."""

    server: ToolServer
    handle_name: str
    bovine_name: str
    secret: str
    actor_id: str = ""
    inbox_url: str = ""

    @property
    def handle(self) -> str:
        return f"{self.handle_name}@{self.server.host}"

    async def client(self, *arguments: str, stdin: Any = None) -> Any:
        """Run bovine_client.py as this actor; return its parsed JSON output."""
        data = None if stdin is None else json.dumps(stdin).encode()
        output = await run_tool(
            self.server.python,
            [HERE / "bovine_client.py", self.server.url, *arguments],
            cwd=self.server.directory,
            stdin=data,
            env=tool_environment(BOVINE_SECRET=self.secret),
        )
        return json.loads(output)

    async def send(self, activity: dict[str, Any]) -> dict[str, Any]:
        """POST an activity to this actor's outbox; return status and location."""
        return await self.client("send", stdin=activity)

    async def inbox(self, limit: int = 20) -> list[dict[str, Any]]:
        """Return up to ``limit`` items of this actor's inbox, resolved to objects."""
        return await self.client("inbox", str(limit))

    async def fetch(self, url: str) -> dict[str, Any]:
        """Make the bovine server fetch ``url`` as this actor (signed)."""
        return await self.client("fetch", url)


class BovineHerd:
    """A bovine-herd server and a way to register actors on it."""

    def __init__(self, server: ToolServer) -> None:
        self.server = server

    async def register(self, handle_name: str) -> BovineUser:
        """Register an actor with bovine_tool and give it a client secret."""
        directory = self.server.directory
        env = tool_environment(BOVINE_DB_URL="sqlite://bovine.sqlite3")
        output = await run_tool(
            self.server.python,
            ["-m", "bovine_tool.register", handle_name, "--domain", self.server.url],
            cwd=directory,
            env=env,
        )
        bovine_name = output.split("Bovine name:", 1)[1].strip()
        output = await run_tool(
            self.server.python,
            ["-m", "bovine_tool.manage", bovine_name, "--new_did_key"],
            cwd=directory,
            env=env,
        )
        secret = output.split("Your new secret:", 1)[1].strip()
        user = BovineUser(self.server, handle_name, bovine_name, secret)
        actor = await user.client("actor")
        user.actor_id = actor["id"]
        user.inbox_url = actor["inbox"]
        return user


@pytest.fixture(scope="module")
async def bovine_herd(
    bovine_python: Path,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> AsyncIterator[BovineHerd]:
    """A bovine-herd server with a fresh SQLite store, one per test module.

    bovine creates its schema on the first start, so actors are registered
    only after the server responds.
    """
    directory = tmp_path_factory.mktemp("bovine")
    seed_jsonld_cache(directory)
    server = ToolServer(
        "bovine", bovine_python, "bovine_server.py", directory, "/.well-known/nodeinfo"
    )
    failed_before = request.session.testsfailed
    try:
        await server.start()
        yield BovineHerd(server)
    finally:
        server.stop()
        _print_logs_if_failed(request, failed_before, ("bovine", server.log_tail()))


# --- Pedagogue ------------------------------------------------------------


@pytest.fixture(scope="module")
async def pedagogue(
    databases: DatabaseFactory,
    pki: TestPki,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> AsyncIterator[LiveInstance]:
    """One plain-HTTP dev instance at http://localhost:PORT for a test module.

    The same instance the ``start_instances`` fixture starts with
    ``scheme="http", dev=True``, kept for the whole module so each tool server
    and its exchanges are set up once.
    """
    instance = LiveInstance(
        domain="localhost",
        dsn=await databases.create(),
        directory=tmp_path_factory.mktemp("pedagogue"),
        pki=pki,
        host_map={"localhost": "127.0.0.1"},
        scheme="http",
        dev=True,
    )
    failed_before = request.session.testsfailed
    try:
        await instance.start()
        yield instance
    finally:
        instance.stop()
        _print_logs_if_failed(
            request, failed_before, ("pedagogue", instance.log_tail(150))
        )
        await databases.drop(instance.dsn)
