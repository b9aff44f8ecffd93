"""The asyncpg connection pool."""

import json
import logging

import asyncpg

log = logging.getLogger(__name__)


class _StatelessConnection(asyncpg.Connection):
    """A pooled connection released without asyncpg's reset query.

    asyncpg still rolls back an open transaction and drops listener callbacks
    on release. Only the query that clears session state is skipped: advisory
    locks, cursors, LISTEN registrations and SET values. See create_pool.
    """

    def get_reset_query(self) -> str:
        return ""


async def _init_connection(connection: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await connection.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def create_pool(
    dsn: str, *, min_size: int = 2, max_size: int = 10, reset_session: bool = False
) -> asyncpg.Pool:
    """Open a pool whose connections map json and jsonb to Python objects.

    Invariant: no code borrowing a connection from these pools leaves session
    state on it when giving it back. LISTEN runs only on connections opened
    for that purpose with asyncpg.connect (inbox/worker.py,
    outbox/mentorship.py); no code uses SET, session cursors or prepared
    statements by name. So the reset query asyncpg sends on every release
    (pg_advisory_unlock_all, CLOSE ALL, UNLISTEN *, RESET ALL: one more round
    trip each time a connection goes back) is skipped. Code that needs
    session state on a pooled connection passes ``reset_session=True`` and
    gets a pool with asyncpg's full reset: the migration pool does
    (pedagogue/server.py), as storage/migrate.py holds an advisory lock.
    Code that adds LISTEN, an advisory lock or SET on a pooled connection
    of the other pools must ask for the same.
    """
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        connection_class=asyncpg.Connection if reset_session else _StatelessConnection,
    )
    assert pool is not None
    return pool
