"""Real Pedagogue instances in their own processes, over HTTPS on loopback."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from pedagogue.accounts import create_teacher
from pedagogue.config import load_settings
from web.api import hash_token

STARTUP_TIMEOUT = 30.0


_handed_out: set[int] = set()


def free_port() -> int:
    """Return a loopback port that is free now and not handed out before.

    The probe socket closes before the instance binds, so the kernel may offer
    the same port to two instances that start together. The set of ports
    already returned prevents that within one test run.
    """
    for _ in range(1000):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port
    raise RuntimeError("no unused loopback port after 1000 probes")


async def eventually(
    check: Callable[[], Awaitable[Any]], *, timeout: float = 15.0, interval: float = 0.1
) -> Any:
    """Poll ``check`` until it returns a truthy value; return that value.

    Returns the last falsy value when ``timeout`` runs out, so the caller's
    assert reports what was seen rather than a timeout.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(interval)


class LiveInstance:
    """One ``pedagogue run`` process with its own database and domain name."""

    def __init__(
        self,
        *,
        domain: str,
        dsn: str,
        directory: Path,
        pki: Any,
        host_map: dict[str, str],
        extra_env: dict[str, str] | None = None,
        scheme: str = "https",
        dev: bool = False,
        role: str = "all",
    ) -> None:
        self.port = free_port()
        self.domain = domain
        self.host = f"{domain}:{self.port}"
        self.url = f"{scheme}://{self.host}"
        # Test clients connect by address; the certificate names 127.0.0.1 too.
        self.client_url = f"{scheme}://127.0.0.1:{self.port}"
        self.dsn = dsn
        self.directory = directory
        self.pki = pki
        self.host_map = host_map
        self.extra_env = extra_env or {}
        self.scheme = scheme
        self.dev = dev
        self.process: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.role = role
        self.log_path = directory / "instance.log"
        self.settings = load_settings(
            None, overrides={"instance": {"url": self.url}}, environ={}
        )

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "PEDAGOGUE_FEDERATION__HOST_MAP": ",".join(
                    f"{host}={address}" for host, address in self.host_map.items()
                ),
                "PEDAGOGUE_FEDERATION__INBOX_WORKERS": "1",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.pki is not None:
            env["PEDAGOGUE_FEDERATION__CA_FILE"] = str(self.pki.ca_file)
        if self.scheme == "https":
            env["PEDAGOGUE_SERVER__TLS_CERT"] = str(self.pki.cert_file)
            env["PEDAGOGUE_SERVER__TLS_KEY"] = str(self.pki.key_file)
        env.update(self.extra_env)
        return env

    def command(self) -> list[str]:
        command = [
            sys.executable, "-m", "pedagogue.cli",
            "--url", self.url,
            "--database-url", self.dsn,
            "--data-dir", str(self.directory / "data"),
            "--log-level", "DEBUG",
            "run", "--listen", f"127.0.0.1:{self.port}",
        ]
        if self.dev:
            command.append("--dev")
        if self.role != "all":
            command += ["--role", self.role]
        return command

    def ssl_context(self) -> ssl.SSLContext | bool:
        if self.scheme != "https":
            return False
        return ssl.create_default_context(cafile=str(self.pki.ca_file))

    async def start(self) -> None:
        """Start the process and wait until it answers NodeInfo."""
        self.directory.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, env=self.environment()
        )
        log.close()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.domain} exited early:\n{self.log_tail()}")
                try:
                    async with session.get(
                        f"{self.client_url}/nodeinfo/2.0", ssl=self.ssl_context()
                    ) as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.domain} did not start:\n{self.log_tail()}")

    async def start_worker(self) -> subprocess.Popen[bytes]:
        """Start a second process for this instance running only the workers."""
        command = [*self.command(), "--role", "worker"]
        log_path = self.directory / "worker.log"
        with open(log_path, "ab") as log:
            worker = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=self.environment()
            )
        self.workers.append(worker)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while "workers started" not in log_path.read_text(errors="replace"):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker of {self.domain} did not start")
            await asyncio.sleep(0.1)
        return worker

    def terminate(self) -> None:
        """Send SIGTERM without waiting; ``stop`` waits for the exit."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()

    def stop(self) -> None:
        """Stop the process with SIGTERM (SIGKILL after 10 s)."""
        for worker in self.workers:
            if worker.poll() is None:
                worker.terminate()
            worker.wait(timeout=10)
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def kill(self) -> None:
        """Stop the process with SIGKILL, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def db(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.dsn)

    async def create_teacher(
        self, username: str, *, display_name: str = "", approve_followers: bool = False
    ) -> Teacher:
        """Create a teacher and a bearer token for it, directly in the database."""
        connection = await self.db()
        try:
            row = await create_teacher(
                connection,
                self.settings,
                username=username,
                password=None,
                display_name=display_name or username.title(),
                approve_followers=approve_followers,
            )
            token = secrets.token_urlsafe(24)
            await connection.execute(
                "INSERT INTO tokens (account_id, token_hash) VALUES ($1, $2)",
                row["id"],
                hash_token(token),
            )
        finally:
            await connection.close()
        return Teacher(self, username, str(row["id"]), token)


class Teacher:
    """A local account on a live instance, with a client API token."""

    def __init__(self, instance: LiveInstance, username: str, account_id: str, token: str) -> None:
        self.instance = instance
        self.username = username
        self.account_id = account_id
        self.token = token
        self.handle = f"{username}@{instance.host}"
        self.actor_id = f"{instance.url}/users/{username}"

    async def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """Call the client API; return (status, parsed JSON or text)."""
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        async with aiohttp.ClientSession() as session:
            async with session.request(
                method,
                f"{self.instance.client_url}{path}",
                headers=headers,
                ssl=self.instance.ssl_context(),
                **kwargs,
            ) as response:
                raw = await response.read()
                try:
                    return response.status, json.loads(raw)
                except ValueError:
                    # Not JSON: text pages come back as str, images as bytes.
                    try:
                        return response.status, raw.decode()
                    except UnicodeDecodeError:
                        return response.status, raw

    async def get(self, path: str, **kwargs: Any) -> Any:
        status, body = await self.request("GET", path, **kwargs)
        assert status == 200, f"GET {path} answered {status}: {body}"
        return body

    async def post(self, path: str, **kwargs: Any) -> Any:
        status, body = await self.request("POST", path, **kwargs)
        assert status == 200, f"POST {path} answered {status}: {body}"
        return body

    async def resolve(self, handle: str) -> dict[str, Any]:
        """Find a remote account through search with resolve=true."""
        found = await self.get("/api/v2/search", params={"q": handle, "resolve": "true", "type": "accounts"})
        assert found["accounts"], f"{handle} not found: {found}"
        return found["accounts"][0]
