"""Migrations apply in order, once, and are recorded."""

import asyncpg

from storage.migrate import available_migrations, migrate


def test_migrations_are_numbered_without_gaps() -> None:
    versions = [version for version, _, _ in available_migrations()]
    assert versions == list(range(1, len(versions) + 1))


async def test_migrate_records_every_migration(database: str) -> None:
    connection = await asyncpg.connect(database)
    try:
        recorded = await connection.fetchval("SELECT count(*) FROM schema_migrations")
    finally:
        await connection.close()
    assert recorded == len(available_migrations())


async def test_migrate_twice_applies_nothing(database: str) -> None:
    connection = await asyncpg.connect(database)
    try:
        applied = await migrate(connection)
    finally:
        await connection.close()
    assert applied == []
