"""Fresh PostgreSQL databases for tests, cloned from a migrated template."""

import os
import uuid

import asyncpg

from storage.migrate import migrate

ADMIN_DSN = os.environ.get(
    "PEDAGOGUE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


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

    async def _admin(self) -> asyncpg.Connection:
        return await asyncpg.connect(ADMIN_DSN)

    async def prepare(self) -> None:
        """Create the template database and apply every migration to it once."""
        admin = await self._admin()
        try:
            await admin.execute(f'CREATE DATABASE "{self.template}"')
        finally:
            await admin.close()
        connection = await asyncpg.connect(dsn_for(self.template))
        try:
            await migrate(connection)
        finally:
            await connection.close()

    async def create(self) -> str:
        """Return the DSN of a new database holding the migrated schema."""
        name = f"{self.prefix}_{len(self.created)}"
        admin = await self._admin()
        try:
            await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        finally:
            await admin.close()
        self.created.append(name)
        return dsn_for(name)

    async def drop(self, dsn: str) -> None:
        name = dsn.rpartition("/")[2]
        admin = await self._admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    async def drop_all(self) -> None:
        admin = await self._admin()
        try:
            for name in [*self.created, self.template]:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
