"""The inbox worker: processes stored activities, one transaction each.

A row is claimed with ``FOR UPDATE SKIP LOCKED`` inside the transaction that
applies its effects and marks it done, so a crash at any point leaves the row
queued and nothing half-applied. Several processes can share the queue.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import asyncpg

from federation.errors import FederationError
from inbox.handlers import Context, Ignored, UnhandledType, dispatch

if TYPE_CHECKING:
    from pedagogue.runtime import Runtime

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8

_CLAIM = (
    "SELECT id, activity_id, activity_type, actor_id, key_id, recipient, body, attempts"
    " FROM inbox_queue WHERE state = 'queued' AND next_attempt_at <= now()"
    " ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED"
)


def retry_delay(attempts: int) -> float:
    """Return the seconds until the next try: 30 s, 2 min, 8 min, ... up to 6 h."""
    return min(30.0 * 4 ** (attempts - 1), 6 * 3600.0)


class InboxWorker:
    """Process queued inbox activities until told to stop."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                processed = await self.process_one()
            except (asyncpg.PostgresConnectionError, OSError) as error:
                log.error("inbox worker lost its database connection: %r", error)
                await asyncio.sleep(1)
                continue
            if not processed:
                await _wait(self.runtime.inbox_wakeup, stopping, 5.0)

    async def process_one(self) -> bool:
        """Process the next due activity; return False when none is due."""
        pool = self.runtime.pool
        async with pool.acquire() as connection, connection.transaction():
            row = await connection.fetchrow(_CLAIM)
            if row is None:
                return False
            await self._process(connection, row)
        return True

    async def _process(
        self, connection: asyncpg.Connection, row: asyncpg.Record
    ) -> None:
        ids = (row["activity_type"], row["activity_id"], row["actor_id"])
        activity = json.loads(row["body"])
        context = Context(self.runtime, connection, activity, row)
        try:
            async with connection.transaction():
                await dispatch(context)
        except UnhandledType as reason:
            # Peers send many types we have no use for (emoji reactions, moves,
            # their own extensions); one line each at info would drown the log.
            log.debug("ignored %s %s from %s: %s", *ids, reason)
            await self._finish(connection, row, "ignored", str(reason))
        except Ignored as reason:
            log.info("ignored %s %s from %s: %s", *ids, reason)
            await self._finish(connection, row, "ignored", str(reason))
        except FederationError as error:
            await self._retry_or_fail(
                connection, row, f"{error.message} ({error.cause})", error.status
            )
        except (asyncpg.PostgresConnectionError, asyncio.CancelledError):
            raise
        except Exception as error:  # recorded in the row and logged
            log.exception("processing %s %s from %s failed", *ids)
            await self._retry_or_fail(
                connection, row, f"internal error: {error!r}", 500
            )
        else:
            log.debug("processed %s %s from %s", *ids)
            await self._finish(connection, row, "done", None)
            await self._host_heard_from(connection, row["actor_id"])

    async def _finish(
        self,
        connection: asyncpg.Connection,
        row: asyncpg.Record,
        state: str,
        note: str | None,
    ) -> None:
        await connection.execute(
            "UPDATE inbox_queue SET state = $2, last_error = $3, processed_at = now(),"
            " attempts = attempts + 1 WHERE id = $1",
            row["id"],
            state,
            note,
        )

    async def _retry_or_fail(
        self,
        connection: asyncpg.Connection,
        row: asyncpg.Record,
        error: str,
        status: int,
    ) -> None:
        attempts = row["attempts"] + 1
        ids = (row["activity_type"], row["activity_id"], row["actor_id"])
        # Only unreachable peers (5xx) are worth waiting for; a 4xx will not change.
        if status < 500 or attempts >= MAX_ATTEMPTS:
            log.warning(
                "gave up on %s %s from %s after %d attempts: %s", *ids, attempts, error
            )
            await self._finish(connection, row, "failed", error)
            return
        log.info("will retry %s %s from %s (attempt %d): %s", *ids, attempts, error)
        await connection.execute(
            "UPDATE inbox_queue SET attempts = $2, last_error = $3,"
            " next_attempt_at = now() + make_interval(secs => $4) WHERE id = $1",
            row["id"],
            attempts,
            error,
            retry_delay(attempts),
        )

    async def _host_heard_from(
        self, connection: asyncpg.Connection, actor_id: str
    ) -> None:
        # A host that talks to us is reachable again; this is a no-op normally.
        await connection.execute(
            "UPDATE hosts SET unreachable = false, failure_count = 0,"
            " first_failure_at = NULL"
            " WHERE host = $1 AND (unreachable OR failure_count > 0)",
            urlsplit(actor_id).netloc.lower(),
        )


async def listen_for_wakeups(runtime: Runtime, stopping: asyncio.Event) -> None:
    """Wake this process's workers when another process queues work."""
    connection = await asyncpg.connect(runtime.dsn)

    def on_inbox(*_: object) -> None:
        runtime.inbox_wakeup.set()

    def on_delivery(*_: object) -> None:
        runtime.delivery_wakeup.set()

    try:
        await connection.add_listener("pedagogue_inbox", on_inbox)
        await connection.add_listener("pedagogue_delivery", on_delivery)
        await stopping.wait()
    finally:
        await connection.close()


async def _wait(event: asyncio.Event, stopping: asyncio.Event, timeout: float) -> None:
    waiters = [
        asyncio.ensure_future(event.wait()),
        asyncio.ensure_future(stopping.wait()),
    ]
    try:
        await asyncio.wait(
            waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        for waiter in waiters:
            waiter.cancel()
    event.clear()
