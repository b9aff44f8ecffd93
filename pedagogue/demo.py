"""``pedagogue demo``: two instances on loopback that federate, with sample content.

One embedded PostgreSQL cluster contains a database per instance. Each instance
runs as its own ``pedagogue run --dev`` process on a ``*.localhost`` name, which
browsers resolve to the loopback address and keep apart for cookies. The
sample content goes in through the client API, so it takes the same path as a
teacher's own posts: follows are accepted over federation before the posts that
should arrive on the other side are written.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from pedagogue.config import Settings, load_settings

log = logging.getLogger(__name__)

STARTUP_TIMEOUT = 60.0
FEDERATION_TIMEOUT = 30.0
POLL_INTERVAL = 0.2
DEMO_TIME_ZONE = "UTC"


@dataclass
class DemoTeacher:
    username: str
    display_name: str
    admin: bool = False
    token: str = ""
    account_id: str = ""


@dataclass
class DemoInstance:
    name: str
    host: str
    port: int
    database: str
    teachers: list[DemoTeacher]
    dsn: str = ""
    process: subprocess.Popen[bytes] | None = None
    settings: Settings | None = None
    log_path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def client_url(self) -> str:
        # Browsers resolve *.localhost themselves; this process connects by address.
        return f"http://127.0.0.1:{self.port}"

    def teacher(self, username: str) -> DemoTeacher:
        return next(item for item in self.teachers if item.username == username)

    def handle(self, username: str) -> str:
        return f"{username}@{self.host}:{self.port}"


def demo_instances(port: int) -> list[DemoInstance]:
    """Return the two sample instances, on ``port`` and ``port + 1``."""
    return [
        DemoInstance(
            name="Lincoln Middle School",
            host="school-a.localhost",
            port=port,
            database="pedagogue_school_a",
            teachers=[
                DemoTeacher("alice", "Alice Moreno", admin=True),
                DemoTeacher("carol", "Carol Osei"),
            ],
        ),
        DemoInstance(
            name="Riverside District",
            host="district-b.localhost",
            port=port + 1,
            database="pedagogue_district_b",
            teachers=[
                DemoTeacher("bob", "Bob Lindqvist", admin=True),
                DemoTeacher("dana", "Dana Whitfield"),
            ],
        ),
    ]


class DemoError(Exception):
    """The demo cannot start. The message gives the reason."""


def run_demo(data_dir: str | None, port: int) -> int:
    """Start, seed and serve the demo until SIGINT or SIGTERM; return an exit code."""
    keep = data_dir is not None
    directory = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="pedagogue-demo-"))
    directory.mkdir(parents=True, exist_ok=True)
    instances = demo_instances(port)
    password = secrets.token_urlsafe(9)
    from pedagogue.cli import _silence_runtime_dir_warning

    _silence_runtime_dir_warning()
    from storage.embedded import start_embedded

    server, _ = start_embedded(directory)
    try:
        for instance in instances:
            instance.dsn = _database(server, instance.database)
        asyncio.run(_prepare(instances, directory, password))
        _start(instances, directory)
        asyncio.run(_wait_until_serving(instances))
        asyncio.run(_seed(instances))
        _announce(instances, password, directory if keep else None)
        _wait_for_stop(instances)
    except DemoError as error:
        print(f"pedagogue demo: {error}", file=sys.stderr)
        for instance in instances:
            if instance.log_path is not None and instance.log_path.exists():
                tail = instance.log_path.read_text(errors="replace").splitlines()[-20:]
                print(f"--- last lines of {instance.log_path} ---", file=sys.stderr)
                print("\n".join(tail), file=sys.stderr)
        return 1
    finally:
        _stop(instances)
        server.cleanup()
        if not keep:
            shutil.rmtree(directory, ignore_errors=True)
    return 0


def _database(server: Any, name: str) -> str:
    found = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}';")
    if "1 row" not in found:
        server.psql(f"CREATE DATABASE {name};")
    return str(server.get_uri(name))


def _settings(instance: DemoInstance, directory: Path) -> Settings:
    return load_settings(
        None,
        overrides={
            "instance": {
                "url": instance.url,
                "name": instance.name,
                "data_dir": str(directory / instance.host),
                "time_zone": DEMO_TIME_ZONE,
            },
            "database": {"url": instance.dsn},
            "server": {"listen": f"127.0.0.1:{instance.port}"},
            "federation": {"dev": True},
        },
        environ={},
    )


async def _prepare(instances: list[DemoInstance], directory: Path, password: str) -> None:
    """Migrate each database and create the sample teachers with API tokens."""
    from pedagogue.accounts import create_teacher
    from pedagogue.server import apply_migrations
    from web.api import hash_token

    for instance in instances:
        instance.settings = _settings(instance, directory)
        await apply_migrations(instance.dsn)
        connection = await asyncpg.connect(instance.dsn)
        try:
            for teacher in instance.teachers:
                row = await connection.fetchrow(
                    "SELECT id FROM accounts WHERE username = $1 AND domain IS NULL",
                    teacher.username,
                )
                if row is None:
                    row = await create_teacher(
                        connection,
                        instance.settings,
                        username=teacher.username,
                        password=password,
                        display_name=teacher.display_name,
                    )
                else:
                    # A kept data directory: sign-in uses this run's password.
                    from pedagogue.passwords import hash_password

                    await connection.execute(
                        "UPDATE accounts SET password_hash = $2 WHERE id = $1",
                        row["id"],
                        hash_password(password),
                    )
                await connection.execute(
                    "UPDATE accounts SET is_admin = $2 WHERE id = $1", row["id"], teacher.admin
                )
                teacher.account_id = str(row["id"])
                teacher.token = secrets.token_urlsafe(24)
                await connection.execute(
                    "INSERT INTO tokens (account_id, token_hash) VALUES ($1, $2)",
                    row["id"],
                    hash_token(teacher.token),
                )
        finally:
            await connection.close()


def _environment(instances: list[DemoInstance]) -> dict[str, str]:
    env = dict(os.environ)
    env["PEDAGOGUE_FEDERATION__HOST_MAP"] = ",".join(
        f"{instance.host}=127.0.0.1" for instance in instances
    )
    env["PEDAGOGUE_INSTANCE__TIME_ZONE"] = DEMO_TIME_ZONE
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _start(instances: list[DemoInstance], directory: Path) -> None:
    for instance in instances:
        data = directory / instance.host
        data.mkdir(parents=True, exist_ok=True)
        instance.log_path = data / "instance.log"
        env = _environment(instances)
        env["PEDAGOGUE_INSTANCE__NAME"] = instance.name
        command = [
            sys.executable, "-m", "pedagogue.cli",
            "--url", instance.url,
            "--database-url", instance.dsn,
            "--data-dir", str(data),
            "run", "--listen", f"127.0.0.1:{instance.port}", "--dev",
        ]
        with open(instance.log_path, "ab") as output:
            instance.process = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, env=env
            )
        log.info("started %s as process %s", instance.url, instance.process.pid)


async def _wait_until_serving(instances: list[DemoInstance]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    async with aiohttp.ClientSession() as session:
        for instance in instances:
            while True:
                assert instance.process is not None
                if instance.process.poll() is not None:
                    raise DemoError(f"{instance.url} exited while starting")
                try:
                    async with session.get(f"{instance.client_url}/nodeinfo/2.0") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                if time.monotonic() > deadline:
                    raise DemoError(f"{instance.url} did not respond within {STARTUP_TIMEOUT:.0f} s")
                await asyncio.sleep(POLL_INTERVAL)


class _Client:
    """Calls the client API of one instance as one sample teacher."""

    def __init__(self, session: aiohttp.ClientSession, instance: DemoInstance, username: str) -> None:
        self.session = session
        self.instance = instance
        self.teacher = instance.teacher(username)

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.teacher.token}"}
        async with self.session.request(
            method, f"{self.instance.client_url}{path}", headers=headers, **kwargs
        ) as response:
            body = await response.json(content_type=None)
            if response.status != 200:
                raise DemoError(
                    f"{method} {path} as {self.teacher.username} on {self.instance.url}"
                    f" answered {response.status}: {body}"
                )
            return body

    async def follow(self, handle: str) -> str:
        """Follow ``handle`` and wait until the other server accepts; return its id."""
        found = await self.call(
            "GET", "/api/v2/search", params={"q": handle, "resolve": "true", "type": "accounts"}
        )
        if not found.get("accounts"):
            raise DemoError(f"{self.instance.url} could not find {handle}")
        account_id = found["accounts"][0]["id"]
        await self.call("POST", f"/api/v1/accounts/{account_id}/follow")
        deadline = time.monotonic() + FEDERATION_TIMEOUT
        while time.monotonic() < deadline:
            relations = await self.call(
                "GET", "/api/v1/accounts/relationships", params={"id[]": account_id}
            )
            if relations and relations[0].get("following"):
                return str(account_id)
            await asyncio.sleep(POLL_INTERVAL)
        raise DemoError(f"{handle} did not accept {self.teacher.username}'s follow in time")

    async def post(self, text: str, **fields: Any) -> Any:
        return await self.call("POST", "/api/v1/statuses", json={"status": text, **fields})


SAMPLE_PLAN = {
    "title": "Ratios with recipe cards",
    "summary": "Students scale a pancake recipe up and down to reason about ratios.",
    "body": (
        "## Warm-up\n\nShow a recipe for four people and ask how much flour eight"
        " people need.\n\n## Group work\n\nEach group scales one recipe card to a"
        " new number of servings and explains its method on a poster.\n\n"
        "## Exit ticket\n\nWrite one ratio from your recipe in three equivalent forms."
    ),
    "subjects": ["Mathematics"],
    "grade_levels": ["6"],
    "objectives": ["Use ratio language to describe a relationship between quantities"],
    "materials": ["Recipe cards", "Poster paper", "Markers"],
    "duration_minutes": 50,
    "alignments": [{"framework": "CCSS", "code": "6.RP.A.1"}],
    "license": "CC-BY-4.0",
    "visibility": "public",
}

SAMPLE_GROUP = {
    "name": "middle_school_maths",
    "display_name": "Middle school maths",
    "description": "Teachers of grades 6 to 8 sharing maths lessons and questions.",
    "rules": "Be kind.\nShare what you can reuse.\nNo student names or photos.",
    "subjects": ["Mathematics"],
    "grade_levels": ["6", "7", "8"],
}

SAMPLE_EVENT = {
    "name": "Number talks in the first ten minutes",
    "description": "A one-hour online session on short number talks, with examples from grade 6.",
    "starts_at": "2031-02-10T16:00:00",
    "ends_at": "2031-02-10T17:00:00",
    "timezone": "America/New_York",
    "online_url": "https://video.example/rooms/number-talks",
}


async def _seed(instances: list[DemoInstance]) -> None:
    """Write the sample follows, posts, plan, group and event through the API."""
    school, district = instances
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        alice = _Client(session, school, "alice")
        carol = _Client(session, school, "carol")
        bob = _Client(session, district, "bob")
        dana = _Client(session, district, "dana")
        # Follows first, so the posts below reach the followers' home timelines.
        await bob.follow(school.handle("alice"))
        await alice.follow(district.handle("bob"))
        await dana.follow(school.handle("alice"))
        await carol.follow(school.handle("alice"))
        await alice.post(
            "Hello from Lincoln Middle School! This week my grade 6 class starts ratios"
            " with recipe cards. #maths #ratios"
        )
        await bob.post(
            "Riverside teachers: our science fair rubric is ready to share."
            " Who would like to try it with their class? #science"
        )
        await dana.post("Looking for ideas on number talks for grade 7. What works for you?")
        plan = await alice.call("POST", "/api/pedagogue/v1/lesson_plans", json=SAMPLE_PLAN)
        await carol.call(
            "POST",
            "/api/pedagogue/v1/lesson_plans",
            json={
                **SAMPLE_PLAN,
                "title": "Ratios with recipe cards (grade 7)",
                "summary": "The recipe-card lesson with unit rates added for grade 7.",
                "grade_levels": ["7"],
                "adapted_from": plan["id"],
            },
        )
        group = await alice.call("POST", "/api/pedagogue/v1/groups", json=SAMPLE_GROUP)
        await carol.call("POST", f"/api/pedagogue/v1/groups/{group['id']}/join")
        await alice.call("POST", "/api/pedagogue/v1/events", json=SAMPLE_EVENT)
        school.extra["plan_id"] = plan["id"]


def _announce(instances: list[DemoInstance], password: str, kept: Path | None) -> None:
    lines = ["", "Pedagogue demo: two instances that federate with each other.", ""]
    for instance in instances:
        lines.append(f"  {instance.name}: {instance.url}/")
        for teacher in instance.teachers:
            role = " (admin)" if teacher.admin else ""
            lines.append(f"    sign in as {teacher.username}{role}")
        lines.append("")
    lines.append(f"  Password for every sample teacher: {password}")
    if kept is not None:
        lines.append(f"  Data is kept in {kept}")
    else:
        lines.append("  Data lives in a temporary directory and is removed when the demo stops.")
    lines.append("  Press Ctrl+C to stop.")
    print("\n".join(lines), flush=True)


def _wait_for_stop(instances: list[DemoInstance]) -> None:
    stopping = False

    def request_stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    previous = {
        signum: signal.signal(signum, request_stop) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        while not stopping:
            for instance in instances:
                assert instance.process is not None
                if instance.process.poll() is not None:
                    raise DemoError(f"{instance.url} stopped unexpectedly")
            time.sleep(0.5)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    print("Stopping the demo instances.", flush=True)


def _stop(instances: list[DemoInstance]) -> None:
    running = [item.process for item in instances if item.process and item.process.poll() is None]
    for process in running:
        process.terminate()
    for process in running:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
