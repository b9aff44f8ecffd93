"""Fresh PostgreSQL databases for tests, cloned from a migrated template.

Creating a database costs a few hundred milliseconds on a busy two-core
machine, so the factory keeps one spare database ready and drops used ones in
the background while the next test runs.
"""

import asyncio
import os
import uuid

import asyncpg

from storage.migrate import migrate

ADMIN_DSN = os.environ.get(
    "PEDAGOGUE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SPARES = 1


def dsn_for(name: str) -> str:
    """Return the DSN of database ``name`` on the test server."""
    base, _, _ = ADMIN_DSN.rpartition("/")
    return f"{base}/{name}"


class DatabaseFactory:
    """Create databases from one migrated template and drop them afterwards."""

    def __init__(self) -> None:
        self.prefix = f"pedtest_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.template = f"{self.prefix}_template"
        self.created: list[str] = []
        # Names come from a counter: ``created`` shrinks as databases are dropped.
        self._clones = 0
        self._spares: list[asyncio.Task[str]] = []
        self._drops: set[asyncio.Task[None]] = set()

    async def _execute(self, statement: str) -> None:
        admin = await asyncpg.connect(ADMIN_DSN)
        try:
            await admin.execute(statement)
        finally:
            await admin.close()

    async def prepare(self) -> None:
        """Create the template database and apply every migration to it once."""
        await self._execute(f'CREATE DATABASE "{self.template}"')
        connection = await asyncpg.connect(dsn_for(self.template))
        try:
            await migrate(connection)
        finally:
            await connection.close()

    async def _clone(self) -> str:
        name = f"{self.prefix}_{self._clones}"
        self._clones += 1
        self.created.append(name)
        await self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        return dsn_for(name)

    async def create(self) -> str:
        """Return the DSN of a new database holding the migrated schema."""
        while len(self._spares) <= SPARES:
            self._spares.append(asyncio.ensure_future(self._clone()))
        return await self._spares.pop(0)

    async def drop(self, dsn: str) -> None:
        """Drop a database in the background; ``drop_all`` waits for it."""
        name = dsn.rpartition("/")[2]
        self.created.remove(name)
        task = asyncio.ensure_future(
            self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        )
        self._drops.add(task)
        task.add_done_callback(self._drops.discard)

    async def drop_all(self) -> None:
        await asyncio.gather(*self._drops, *self._spares, return_exceptions=True)
        for name in [*self.created, self.template]:
            await self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
