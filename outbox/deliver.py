"""The delivery worker: signs and POSTs queued activities, with retries.

Rows are claimed with ``FOR UPDATE SKIP LOCKED`` and a lease, so several
processes can share the queue; a process killed mid-send leaves rows whose
lease runs out and which another worker picks up again. Receivers deduplicate
by activity id, so a repeat delivery is harmless.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from typing import TYPE_CHECKING, Any

import asyncpg

from federation.errors import FederationError
from federation.fetch import ACTIVITY_JSON, BlockedAddress, DisallowedUrl

if TYPE_CHECKING:
    from pedagogue.runtime import Runtime

log = logging.getLogger(__name__)

LEASE_SECONDS = 120
# With nothing due, the worker looks again after this long even without a
# wake-up, to pick up retries whose time has come.
IDLE_POLL_SECONDS = 5.0
# An unreachable host gets one probe per this many seconds; other deliveries
# to it wait without spending an attempt.
PROBE_INTERVAL = 3600

_CLAIM = """
UPDATE deliveries d
SET locked_until = now() + make_interval(secs => $2), attempts = d.attempts + 1
FROM (
    SELECT id FROM deliveries
    WHERE state = 'queued' AND next_attempt_at <= now()
      AND (locked_until IS NULL OR locked_until < now())
    ORDER BY next_attempt_at, id
    LIMIT $1
    FOR UPDATE SKIP LOCKED
) claimed
WHERE d.id = claimed.id
RETURNING d.id, d.activity_id, d.inbox_url, d.host, d.attempts, d.deadline_at
"""


def backoff_seconds(attempts: int) -> float:
    """Return the wait before the next attempt: attempts^4 + 15 s, plus jitter.

    Sixteen attempts spread over about two days, as Mastodon's retry schedule
    does, so a peer that is down for a day still receives what it missed.
    """
    return attempts**4 + 15 + random.uniform(0, 10 * (attempts + 1))


class DeliveryWorker:
    """Claim due deliveries in batches and send them concurrently."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.concurrency = max(1, runtime.settings.federation.delivery_concurrency)
        self._bodies: dict[int, tuple[bytes, Any]] = {}
        # Ids of claimed rows whose send has not finished. These rows go back
        # to the queue when the worker stops.
        self._in_flight: set[int] = set()

    async def run(self, stopping: asyncio.Event) -> None:
        """Deliver until ``stopping`` is set, then return in-flight rows to the queue.

        Stopping cancels the sends under way instead of waiting for them.
        """
        tasks: set[asyncio.Task[None]] = set()
        try:
            while not stopping.is_set():
                free = self.concurrency - len(tasks)
                rows = await self._claim(free)
                for row in rows:
                    task = asyncio.create_task(self._deliver_guarded(row))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                if not rows:
                    await _wait(
                        self.runtime.delivery_wakeup, stopping, IDLE_POLL_SECONDS
                    )
                elif len(tasks) >= self.concurrency:
                    await _wait_for_slot(tasks, stopping)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._release()

    async def deliver_due(self) -> int:
        """Send every delivery that is due now, batch by batch, and return the count.

        It returns once no row is due, so a row retried later waits for its time.
        Tests and one-off runs call it, and ``run`` is the long-lived loop.
        """
        claimed = 0
        try:
            while rows := await self._claim(self.concurrency):
                claimed += len(rows)
                await asyncio.gather(*(self._deliver_guarded(row) for row in rows))
        finally:
            await self._release()
        return claimed

    async def _claim(self, limit: int) -> list[asyncpg.Record]:
        if limit <= 0:
            return []
        try:
            rows: list[asyncpg.Record] = await self.runtime.pool.fetch(
                _CLAIM, limit, LEASE_SECONDS
            )
        except (asyncpg.PostgresError, OSError) as error:
            log.error("claiming deliveries failed: %r", error)
            await asyncio.sleep(1)
            return []
        # Recorded before any task starts, so a stop right after the claim
        # still returns these rows.
        self._in_flight.update(row["id"] for row in rows)
        return rows

    async def _release(self) -> None:
        if not self._in_flight:
            return
        ids = list(self._in_flight)
        self._in_flight.clear()
        # The attempt that the claim counted never finished, so it is undone.
        await self.runtime.pool.execute(
            "UPDATE deliveries SET locked_until = NULL, attempts = attempts - 1"
            " WHERE id = ANY($1::bigint[]) AND state = 'queued'",
            ids,
        )
        log.info("returned deliveries %s to the queue", ids)

    async def _deliver_guarded(self, row: asyncpg.Record) -> None:
        try:
            await self._deliver(row)
            self._in_flight.discard(row["id"])
        except asyncio.CancelledError:
            raise
        except Exception:  # one bad row must not stop the worker
            self._in_flight.discard(row["id"])
            log.exception("delivery %s to %s crashed", row["id"], row["inbox_url"])
            await self._retry(row, None, "internal error, see the server log")

    async def _load(self, activity_id: int) -> tuple[bytes, Any]:
        cached = self._bodies.get(activity_id)
        if cached is not None:
            return cached
        record = await self.runtime.pool.fetchrow(
            "SELECT a.body, acc.id AS account_id, acc.username, acc.actor_type,"
            " acc.private_key_pem FROM activities a"
            " JOIN accounts acc ON acc.id = a.account_id WHERE a.id = $1",
            activity_id,
        )
        body = json.dumps(record["body"], separators=(",", ":")).encode()
        signer = {
            "id": record["account_id"],
            "username": record["username"],
            "actor_type": record["actor_type"],
            "private_key_pem": record["private_key_pem"],
        }
        if len(self._bodies) > 1000:
            self._bodies.clear()
        self._bodies[activity_id] = (body, signer)
        return body, signer

    async def _deliver(self, row: asyncpg.Record) -> None:
        if await self._postpone_if_unreachable(row):
            return
        body, account = await self._load(row["activity_id"])
        key_id, private_key = self.runtime.sign_as(account)
        context = (row["activity_id"], row["inbox_url"])
        try:
            response = await self.runtime.signed.request(
                "POST",
                row["inbox_url"],
                key_id=key_id,
                private_key=private_key,
                body=body,
                headers={"Content-Type": ACTIVITY_JSON, "Accept": ACTIVITY_JSON},
            )
        except (BlockedAddress, DisallowedUrl) as error:
            # The guard would reject every later attempt too, so the row fails
            # now instead of retrying for days.
            log.warning(
                "delivery of %s to %s rejected by the address guard: %s",
                *context,
                error.cause or error.message,
            )
            await self._finish(row, "failed", None, error.message)
            return
        except FederationError as error:
            log.info(
                "delivery of %s to %s failed: %s",
                *context,
                error.cause or error.message,
            )
            await self._retry(row, None, error.message)
            return
        await self._record(row, response.status, response.body[:200])

    async def _record(self, row: asyncpg.Record, status: int, excerpt: bytes) -> None:
        context = (row["activity_id"], row["inbox_url"], status)
        if 200 <= status < 300:
            log.debug("delivered %s to %s (%s)", *context)
            await self._finish(row, "delivered", status, None)
            await self._host_succeeded(row["host"])
        elif status == 410:
            log.info("delivery of %s to %s: %s Gone, stopping", *context)
            await self._finish(row, "gone", status, "inbox is gone")
            await self._forget_inbox(row["inbox_url"])
            await self._host_succeeded(row["host"])
        elif 400 <= status < 500 and status not in (408, 429):
            # The receiver rejected this activity; sending it again would not help.
            text = excerpt.decode("utf-8", "replace")
            log.warning("delivery of %s to %s rejected with %s: %s", *context, text)
            await self._finish(row, "failed", status, f"rejected: {text}")
            await self._host_succeeded(row["host"])
        else:
            log.info("delivery of %s to %s answered %s, will retry", *context)
            await self._retry(row, status, f"answered {status}")

    async def _finish(
        self, row: asyncpg.Record, state: str, status: int | None, error: str | None
    ) -> None:
        await self.runtime.pool.execute(
            "UPDATE deliveries SET state = $2, last_status = $3, last_error = $4,"
            " locked_until = NULL,"
            " delivered_at = CASE WHEN $2 = 'delivered' THEN now() END WHERE id = $1",
            row["id"],
            state,
            status,
            error,
        )

    async def _retry(self, row: asyncpg.Record, status: int | None, error: str) -> None:
        delay = backoff_seconds(row["attempts"])
        final = await self.runtime.pool.fetchval(
            "UPDATE deliveries SET last_status = $2, last_error = $3, locked_until = NULL,"
            " next_attempt_at = now() + make_interval(secs => $4),"
            " state = CASE WHEN now() + make_interval(secs => $4) > deadline_at"
            " THEN 'failed' ELSE 'queued' END"
            " WHERE id = $1 RETURNING state = 'failed'",
            row["id"],
            status,
            error,
            delay,
        )
        if final:
            log.warning(
                "gave up delivering %s to %s: %s",
                row["activity_id"],
                row["inbox_url"],
                error,
            )
        await self._host_failed(row["host"])

    async def _forget_inbox(self, inbox_url: str) -> None:
        # Later activities skip this inbox at enqueue time. Rows already queued
        # for it end here too, unless a running send has leased them.
        await self.runtime.pool.execute(
            "INSERT INTO gone_inboxes (inbox_url) VALUES ($1) ON CONFLICT DO NOTHING",
            inbox_url,
        )
        ended = await self.runtime.pool.fetch(
            "UPDATE deliveries SET state = 'gone', last_error = 'inbox is gone'"
            " WHERE inbox_url = $1 AND state = 'queued'"
            " AND (locked_until IS NULL OR locked_until < now()) RETURNING id",
            inbox_url,
        )
        if ended:
            log.info(
                "ended %d queued deliveries to gone inbox %s", len(ended), inbox_url
            )

    async def _host_succeeded(self, host: str) -> None:
        await self.runtime.pool.execute(
            "INSERT INTO hosts (host, last_success_at) VALUES ($1, now())"
            " ON CONFLICT (host) DO UPDATE SET last_success_at = now(), failure_count = 0,"
            " first_failure_at = NULL, unreachable = false",
            host,
        )

    async def _host_failed(self, host: str) -> None:
        threshold = self.runtime.settings.federation.unreachable_after_failures
        became = await self.runtime.pool.fetchval(
            "INSERT INTO hosts (host, failure_count, first_failure_at, last_failure_at,"
            " unreachable) VALUES ($1, 1, now(), now(), 1 >= $2)"
            " ON CONFLICT (host) DO UPDATE SET failure_count = hosts.failure_count + 1,"
            " first_failure_at = coalesce(hosts.first_failure_at, now()),"
            " last_failure_at = now(),"
            " unreachable = hosts.unreachable OR hosts.failure_count + 1 >= $2"
            " RETURNING unreachable AND failure_count = $2",
            host,
            threshold,
        )
        if became:
            log.warning("host %s marked unreachable after %d failures", host, threshold)

    async def _postpone_if_unreachable(self, row: asyncpg.Record) -> bool:
        # A postponement spends no attempt. A row whose deadline has passed
        # while its host stayed unreachable fails here instead.
        state = await self.runtime.pool.fetchval(
            "UPDATE deliveries SET next_attempt_at = now() + make_interval(secs => $3),"
            " attempts = attempts - 1, locked_until = NULL,"
            " state = CASE WHEN deadline_at < now() THEN 'failed' ELSE state END,"
            " last_error = CASE WHEN deadline_at < now()"
            " THEN 'host unreachable until the deadline' ELSE last_error END"
            " WHERE id = $1 AND EXISTS (SELECT 1 FROM hosts WHERE host = $2"
            " AND unreachable AND last_failure_at > now() - make_interval(secs => $3))"
            " RETURNING state",
            row["id"],
            row["host"],
            PROBE_INTERVAL,
        )
        if state is None:
            return False
        self._in_flight.discard(row["id"])
        if state == "failed":
            log.warning(
                "gave up delivering %s to %s: host %s unreachable until the deadline",
                row["activity_id"],
                row["inbox_url"],
                row["host"],
            )
        else:
            log.debug(
                "postponed delivery %s to unreachable host %s", row["id"], row["host"]
            )
        return True


async def _wait_for_slot(
    tasks: set[asyncio.Task[None]], stopping: asyncio.Event
) -> None:
    stop = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({*tasks, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()


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
