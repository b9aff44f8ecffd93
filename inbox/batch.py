"""Group commit of verified inbox activities.

Each accepted POST waits until its row is committed before the 202 goes out,
but rows that arrive together share one INSERT and one commit. Under load the
commit, not the request, is the cost, so batching raises the accepted rate.
The writer keeps one connection of its own, so a batch costs one round trip:
taking a connection from the pool would add the pool's reset query on release.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import asyncpg

if TYPE_CHECKING:
    from pedagogue.runtime import Runtime

log = logging.getLogger(__name__)

MAX_BATCH = 256

# One statement, so one implicit transaction: the rows and the wake-up of the
# workers (NOTIFY is sent at commit) cost a single round trip.
_INSERT = (
    "WITH rows AS ("
    " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],"
    " $5::text[], $6::text[])"
    " AS r(activity_id, activity_type, actor_id, key_id, recipient, body)),"
    " inserted AS ("
    " INSERT INTO inbox_queue"
    " (activity_id, activity_type, actor_id, key_id, recipient, body)"
    " SELECT * FROM rows ON CONFLICT (activity_id) DO NOTHING"
    " RETURNING activity_id)"
    " SELECT coalesce(array_agg(activity_id), '{}') AS inserted,"
    " CASE WHEN count(*) > 0 THEN pg_notify('pedagogue_inbox', '') END AS notified"
    " FROM inserted"
)


@dataclass
class InboxItem:
    activity_id: str
    activity_type: str
    actor_id: str
    key_id: str
    recipient: str | None
    body: str


class InboxWriter:
    """Collect inbox rows from concurrent requests and commit them in batches."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._pending: list[tuple[InboxItem, asyncio.Future[bool]]] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._connection: asyncpg.Connection | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Commit what is pending, then end the writer task."""
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
        await self._close_connection()

    async def store(self, item: InboxItem) -> bool:
        """Store one activity durably; return False when its id was already stored.

        Raises the database error when the batch could not be committed, so the
        request answers 5xx and the sender retries.
        """
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        self._wakeup.set()
        return await future

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                batch = self._pending[:MAX_BATCH]
                del self._pending[:MAX_BATCH]
                await self._commit(batch)
            if self._stopping:
                return

    async def _commit(
        self, batch: list[tuple[InboxItem, asyncio.Future[bool]]]
    ) -> None:
        items = [item for item, _ in batch]
        columns = [
            [item.activity_id for item in items],
            [item.activity_type for item in items],
            [item.actor_id for item in items],
            [item.key_id for item in items],
            [item.recipient for item in items],
            [item.body for item in items],
        ]
        try:
            if self._connection is None or self._connection.is_closed():
                self._connection = await asyncpg.connect(self.runtime.dsn)
            row = await self._connection.fetchrow(_INSERT, *columns)
        except Exception as error:  # noqa: BLE001 - handed to every waiting request
            log.error("inbox batch of %d failed: %r", len(batch), error)
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            # The connection may be broken; the next batch opens a new one.
            await self._close_connection()
            return
        inserted = set(row["inserted"])
        seen: set[str] = set()
        for item, future in batch:
            # Two copies inside one batch: the first counts as new.
            fresh = item.activity_id in inserted and item.activity_id not in seen
            seen.add(item.activity_id)
            if not future.done():
                future.set_result(fresh)
        self.runtime.inbox_wakeup.set()

    async def _close_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None or connection.is_closed():
            return
        try:
            await asyncio.wait_for(connection.close(), timeout=5)
        except (OSError, asyncpg.PostgresError, TimeoutError) as error:
            log.warning("closing the inbox writer's connection failed: %r", error)
            connection.terminate()
