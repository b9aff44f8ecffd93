"""Setting up an instance for a benchmark: database, teacher, remote actors, process."""

from __future__ import annotations

import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from bench import common, data
from bench.sizes import Size
from pedagogue.accounts import create_teacher
from pedagogue.config import load_settings
from web.api import hash_token

TEACHER = "teacher"


def pedagogue_hosts(index: int) -> str:
    # Remote actors spread over 100 hosts; Pedagogue never fetches them here,
    # because their keys are already stored.
    return f"http://r{index % 100:03d}.bench.test"


@dataclass
class Setup:
    """A database prepared for one or more instances sharing it."""

    dsn: str
    url: str
    port: int
    directory: Path
    keys: list[Any]
    key_pems: list[str]
    public_pems: list[str]
    actors: list[data.RemoteActor]
    teacher_id: int
    teacher_actor: str
    teacher_key_id: str
    teacher_public_pem: str
    token: str
    remote_ids: list[int] = field(default_factory=list)
    instances: list[common.Instance] = field(default_factory=list)

    def loadgen_actors(self) -> list[dict[str, Any]]:
        return [actor.as_dict() for actor in self.actors]

    def inbox_target(self, instance: common.Instance, path: str = "/inbox") -> dict[str, str]:
        # Signed for the public URL (its Host), sent to the process's address.
        return {"signed_url": f"{self.url}{path}", "address_url": f"{instance.address}{path}"}

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def start(self, count: int = 1, *, cpus: list[set[int] | None] | None = None,
                    config: Path | None = None, env: dict[str, str] | None = None,
                    ) -> list[common.Instance]:
        """Start ``count`` processes on this database: the first on the public
        URL's port, the others on ports of their own with the same URL."""
        started = []
        for number in range(count):
            port = self.port if number == 0 else common.free_port()
            instance = common.Instance(
                f"pedagogue{number}", url=self.url, port=port, dsn=self.dsn,
                directory=self.directory, cpus=(cpus or [None] * count)[number],
                config=config, env=env,
            )
            self.instances.append(instance)
            await instance.start_and_wait()
            started.append(instance)
        return started

    def stop(self) -> None:
        for instance in self.instances:
            instance.stop()
        self.instances.clear()

    async def close(self) -> None:
        self.stop()
        await common.drop_database(self.dsn)


async def prepare(purpose: str, size: Size, *, actors: int | None = None,
                  base: Any = pedagogue_hosts, follow_remote: bool = True,
                  keys: list[Any] | None = None) -> Setup:
    """Create and migrate a database with a teacher and remote actors whose keys are
    stored, the teacher following them all (so their posts reach her home feed)."""
    dsn = await common.create_database(purpose)
    try:
        await common.migrate(dsn)
        port = common.free_port()
        url = f"http://localhost:{port}"
        settings = load_settings(None, overrides={"instance": {"url": url}}, environ={})
        keys = keys or data.generate_keys(size.keys)
        public_pems = [data.public_pem_of(key) for key in keys]
        remote = data.remote_actors(actors or size.actors, len(keys), base)
        token = secrets.token_urlsafe(32)
        connection = await asyncpg.connect(dsn)
        try:
            teacher = await create_teacher(connection, settings, username=TEACHER, password=None,
                                           display_name="Bench Teacher")
            await connection.execute(
                "INSERT INTO tokens (account_id, token_hash) VALUES ($1, $2)",
                teacher["id"], hash_token(token),
            )
            remote_ids = await data.load_remote_actors(connection, remote, public_pems)
            if follow_remote:
                await data.follow_all(connection, [teacher["id"]], remote_ids, first_id=2 * 10**15)
            key_pem = await connection.fetchval(
                "SELECT public_key_pem FROM account_keys WHERE account_id = $1", teacher["id"]
            )
        finally:
            await connection.close()
    except BaseException:
        await common.drop_database(dsn)
        raise
    directory = Path(tempfile.mkdtemp(prefix=f"pedagogue-bench-{purpose}-"))
    return Setup(
        dsn=dsn, url=url, port=port, directory=directory, keys=keys,
        key_pems=[data.private_pem(key) for key in keys], public_pems=public_pems,
        actors=remote, teacher_id=teacher["id"], teacher_actor=teacher["actor_id"],
        teacher_key_id=f"{teacher['actor_id']}#main-key", teacher_public_pem=key_pem,
        token=token, remote_ids=remote_ids,
    )


def inbox_spec(setup: Setup, targets: list[dict[str, str]], *, count: int, warmup: int,
               connections: int) -> dict[str, Any]:
    return {
        "mode": "inbox",
        "targets": targets,
        "actors": setup.loadgen_actors(),
        "key_pems": setup.key_pems,
        "teacher": setup.teacher_actor,
        "count": count,
        "warmup": warmup,
        "connections": connections,
    }
