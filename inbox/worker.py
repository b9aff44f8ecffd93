"""The inbox worker: processes stored activities in batches, one transaction each.

Up to BATCH_SIZE rows are claimed with ``FOR UPDATE SKIP LOCKED`` inside the
transaction that applies their effects and marks them done, so a crash at any
point leaves every row of the batch queued and nothing half-applied. Each row's
handler runs in a savepoint: a failing activity rolls back only its own effects,
and its retry bookkeeping commits with the rest of the batch. One commit per
batch instead of one per activity is what lets a worker outrun the commit rate.
Several processes can share the queue.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING

import asyncpg

from federation.errors import FederationError
from federation.fetch import BlockedAddress, DisallowedUrl
from federation.hosts import url_authority
from inbox.handlers import Context, Ignored, UnhandledType, dispatch

if TYPE_CHECKING:
    from pedagogue.runtime import Runtime

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# Rows per transaction. A larger batch saves little more commit time, every row
# of it waits while one of its handlers fetches from a slow peer, and each row
# takes a subtransaction (see _dispatch_in_savepoint).
BATCH_SIZE = 32

_CLAIM = (
    "SELECT id, activity_id, activity_type, actor_id, key_id, recipient, body, attempts"
    " FROM inbox_queue WHERE state = 'queued' AND next_attempt_at <= now()"
    " ORDER BY next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED"
)
_FINISH = (
    "UPDATE inbox_queue SET state = f.state, last_error = f.note,"
    " processed_at = clock_timestamp(), attempts = attempts + 1"
    " FROM unnest($1::bigint[], $2::text[], $3::text[]) AS f(id, state, note)"
    " WHERE inbox_queue.id = f.id"
)
# A host that talks to us is reachable again; this is a no-op normally.
_HOSTS_HEARD_FROM = (
    "UPDATE hosts SET unreachable = false, failure_count = 0, first_failure_at = NULL"
    " WHERE host = ANY($1::text[]) AND (unreachable OR failure_count > 0)"
)


def retry_delay(attempts: int) -> float:
    """Return the seconds until the next try: 30 s, 2 min, 8 min, ... up to 6 h."""
    return min(30.0 * 4 ** (attempts - 1), 6 * 3600.0)


class InboxWorker:
    """Process queued inbox activities until the stop event is set."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        # The rows of the batch in progress, for the record of a broken batch.
        self._claimed: list[asyncpg.Record] = []

    async def run(self, stopping: asyncio.Event) -> None:
        # Rows still to process one per transaction after a batch broke.
        alone = 0
        while not stopping.is_set():
            try:
                processed = await self.process_batch(1 if alone else BATCH_SIZE)
            except (asyncpg.PostgresConnectionError, OSError) as error:
                log.error("inbox worker lost its database connection: %r", error)
                await asyncio.sleep(1)
                continue
            except Exception as error:  # logged, and the rows stay queued
                # A handler left the transaction unusable, which its savepoint
                # cannot undo. Taking the next rows one per transaction isolates
                # the row that does it, and its failure is then recorded.
                claimed = self._claimed
                first = claimed[0]["activity_id"] if claimed else None
                log.exception(
                    "rolled back an inbox batch of %d rows starting at %s",
                    len(claimed),
                    first,
                )
                if alone and claimed:
                    await self._record_broken(claimed[0], error)
                alone = BATCH_SIZE
                continue
            alone = max(0, alone - 1)
            if not processed:
                await _wait(self.runtime.inbox_wakeup, stopping, 5.0)

    async def process_one(self) -> bool:
        """Process the next due activity; return False when none is due."""
        return await self.process_batch(1) > 0

    async def process_batch(self, limit: int = BATCH_SIZE) -> int:
        """Process up to ``limit`` due activities in one transaction; return how
        many were claimed (0 when none is due).

        Raises the connection error when the database connection fails, after
        which every row of the batch is still queued.
        """
        pool = self.runtime.pool
        self._claimed = []
        async with pool.acquire() as connection, connection.transaction():
            rows = self._claimed = await connection.fetch(_CLAIM, limit)
            batch = _Batch()
            for row in rows:
                await self._process(connection, row, batch)
            await batch.record(connection)
        return len(rows)

    async def _process(
        self, connection: asyncpg.Connection, row: asyncpg.Record, batch: _Batch
    ) -> None:
        ids = (row["activity_type"], row["activity_id"], row["actor_id"])
        try:
            activity = json.loads(row["body"])
            context = Context(self.runtime, connection, activity, row)
            await _dispatch_in_savepoint(connection, context)
        except UnhandledType as reason:
            # Peers send many types we have no use for (emoji reactions, moves,
            # their own extensions); one line each at info would drown the log.
            log.debug("ignored %s %s from %s: %s", *ids, reason)
            batch.finish(row, "ignored", str(reason))
        except Ignored as reason:
            log.info("ignored %s %s from %s: %s", *ids, reason)
            batch.finish(row, "ignored", str(reason))
        except (BlockedAddress, DisallowedUrl) as error:
            # The guard refused the destination; trying again cannot change that.
            log.info("refused %s %s from %s: %s", *ids, error.message)
            batch.finish(row, "failed", f"{error.message} ({error.cause})")
        except FederationError as error:
            await self._retry_or_fail(
                connection, row, batch, f"{error.message} ({error.cause})", error.status
            )
        except (asyncpg.PostgresConnectionError, asyncio.CancelledError):
            raise
        except Exception as error:  # recorded in the row and logged
            log.exception("processing %s %s from %s failed", *ids)
            await self._retry_or_fail(
                connection, row, batch, f"internal error: {error!r}", 500
            )
        else:
            log.debug("processed %s %s from %s", *ids)
            batch.finish(row, "done", None)
            batch.heard_from(row["actor_id"])

    async def _retry_or_fail(
        self,
        connection: asyncpg.Connection,
        row: asyncpg.Record,
        batch: _Batch,
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
            batch.finish(row, "failed", error)
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

    async def _record_broken(self, row: asyncpg.Record, error: Exception) -> None:
        try:
            await self._record_broken_in_transaction(row, error)
        except (asyncpg.PostgresError, OSError) as failure:
            log.error(
                "recording the failure of %s %s from %s failed: %r",
                row["activity_type"],
                row["activity_id"],
                row["actor_id"],
                failure,
            )

    async def _record_broken_in_transaction(
        self, row: asyncpg.Record, error: Exception
    ) -> None:
        async with self.runtime.pool.acquire() as connection, connection.transaction():
            # Another worker may have taken the row since the rollback.
            locked = await connection.fetchval(
                "SELECT id FROM inbox_queue WHERE id = $1 AND state = 'queued'"
                " FOR UPDATE SKIP LOCKED",
                row["id"],
            )
            if locked is None:
                return
            batch = _Batch()
            await self._retry_or_fail(
                connection, row, batch, f"internal error: {error!r}", 500
            )
            await batch.record(connection)


async def _dispatch_in_savepoint(
    connection: asyncpg.Connection, context: Context
) -> None:
    # The savepoint is not released after success: RELEASE would cost a round
    # trip, and the batch's commit ends every savepoint. Each one that wrote
    # keeps a subtransaction id until then. BATCH_SIZE stays under the 64 ids
    # that PostgreSQL caches per backend (PGPROC_MAX_CACHED_SUBXIDS), past
    # which visibility checks in every session have to read pg_subtrans.
    await connection.execute("SAVEPOINT activity")
    try:
        await dispatch(context)
    except Exception:
        # The most recent savepoint of that name is this activity's.
        await connection.execute("ROLLBACK TO SAVEPOINT activity")
        raise


class _Batch:
    """The outcomes of one batch, written with two statements before its commit."""

    def __init__(self) -> None:
        self.finished: list[tuple[int, str, str | None]] = []
        self.hosts: set[str] = set()

    def finish(self, row: asyncpg.Record, state: str, note: str | None) -> None:
        self.finished.append((row["id"], state, note))

    def heard_from(self, actor_id: str) -> None:
        self.hosts.add(url_authority(actor_id))

    async def record(self, connection: asyncpg.Connection) -> None:
        if self.finished:
            ids, states, notes = zip(*self.finished)
            await connection.execute(_FINISH, list(ids), list(states), list(notes))
        if self.hosts:
            await connection.execute(_HOSTS_HEARD_FROM, sorted(self.hosts))


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
