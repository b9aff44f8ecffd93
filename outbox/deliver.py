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
from federation.fetch import ACTIVITY_JSON

if TYPE_CHECKING:
    from pedagogue.runtime import Runtime

log = logging.getLogger(__name__)

LEASE_SECONDS = 120
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
        self.concurrency = runtime.settings.federation.delivery_concurrency
        self._bodies: dict[int, tuple[bytes, Any]] = {}
        self._in_flight: set[int] = set()

    async def run(self, stopping: asyncio.Event) -> None:
        """Deliver until ``stopping`` is set; in-flight rows go back to the queue."""
        semaphore = asyncio.Semaphore(self.concurrency)
        tasks: set[asyncio.Task[None]] = set()
        try:
            while not stopping.is_set():
                free = self.concurrency - len(tasks)
                rows = await self._claim(max(free, 0)) if free > 0 else []
                for row in rows:
                    task = asyncio.create_task(self._deliver_guarded(row, semaphore))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                if not rows:
                    await _wait(self.runtime.delivery_wakeup, stopping, 5.0)
                elif free <= len(rows):
                    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._release()

    async def _claim(self, limit: int) -> list[asyncpg.Record]:
        try:
            return await self.runtime.pool.fetch(_CLAIM, limit, LEASE_SECONDS)
        except (asyncpg.PostgresError, OSError) as error:
            log.error("claiming deliveries failed: %r", error)
            await asyncio.sleep(1)
            return []

    async def _release(self) -> None:
        if not self._in_flight:
            return
        await self.runtime.pool.execute(
            "UPDATE deliveries SET locked_until = NULL, attempts = attempts - 1"
            " WHERE id = ANY($1::bigint[]) AND state = 'queued'",
            list(self._in_flight),
        )
        log.info("returned %d in-flight deliveries to the queue", len(self._in_flight))

    async def _deliver_guarded(self, row: asyncpg.Record, semaphore: asyncio.Semaphore) -> None:
        self._in_flight.add(row["id"])
        try:
            async with semaphore:
                await self._deliver(row)
            self._in_flight.discard(row["id"])
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - one bad row must not stop the worker
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
        except FederationError as error:
            log.info("delivery of %s to %s failed: %s", *context, error.cause or error.message)
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
            await self.runtime.pool.execute(
                "INSERT INTO gone_inboxes (inbox_url) VALUES ($1) ON CONFLICT DO NOTHING",
                row["inbox_url"],
            )
        elif 400 <= status < 500 and status not in (408, 429):
            # The receiver rejected this activity; sending it again would not help.
            text = excerpt.decode("utf-8", "replace")
            log.warning("delivery of %s to %s rejected with %s: %s", *context, text)
            await self._finish(row, "failed", status, f"rejected: {text}")
            await self._host_succeeded(row["host"])
        else:
            log.info("delivery of %s to %s answered %s, will retry", *context)
            await self._retry(row, status, f"answered {status}")

    async def _finish(self, row: asyncpg.Record, state: str, status: int, error: str | None) -> None:
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
            log.warning("gave up delivering %s to %s: %s", row["activity_id"], row["inbox_url"], error)
        await self._host_failed(row["host"])

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
            "INSERT INTO hosts (host, failure_count, first_failure_at, last_failure_at)"
            " VALUES ($1, 1, now(), now())"
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
        postponed = await self.runtime.pool.fetchval(
            "UPDATE deliveries SET next_attempt_at = now() + make_interval(secs => $3),"
            " attempts = attempts - 1, locked_until = NULL"
            " WHERE id = $1 AND EXISTS (SELECT 1 FROM hosts WHERE host = $2"
            " AND unreachable AND last_failure_at > now() - make_interval(secs => $3))"
            " RETURNING id",
            row["id"],
            row["host"],
            PROBE_INTERVAL,
        )
        if postponed:
            self._in_flight.discard(row["id"])
        return postponed is not None


async def _wait(event: asyncio.Event, stopping: asyncio.Event, timeout: float) -> None:
    waiters = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(stopping.wait())]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    event.clear()
