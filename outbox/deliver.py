"""The delivery worker: signs and POSTs queued activities, with retries.

Rows are claimed with ``FOR UPDATE SKIP LOCKED`` and a lease, so several
processes can share the queue; a process killed mid-send leaves rows whose
lease runs out and which another worker picks up again. Receivers deduplicate
by activity id, so a repeat delivery is harmless.

The bookkeeping is batched so that a delivery costs no commit of its own: the
claim query also postpones rows whose host is unreachable, outcomes are kept
in memory and written together by one statement every FLUSH_SECONDS, and
``hosts`` is written only when this process sees a host's state change.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import asyncpg

from federation.digest import BodyDigest
from federation.errors import FederationError
from federation.fetch import ACTIVITY_JSON, BlockedAddress, DisallowedUrl

if TYPE_CHECKING:
    from pedagogue.runtime import Runtime

log = logging.getLogger(__name__)

# Client errors worth another attempt: a timeout, rate limiting, and 401,
# which often means the receiver could not fetch our key at that moment (our
# instance was briefly unreachable), as Mastodon's retry policy also assumes.
RETRIED_CLIENT_ERRORS = (401, 408, 429)
LEASE_SECONDS = 120
# With nothing due, the worker looks again after this long even without a
# wake-up, to pick up retries whose time has come.
IDLE_POLL_SECONDS = 5.0
# An unreachable host gets one probe per this many seconds; other deliveries
# to it wait without spending an attempt.
PROBE_INTERVAL = 3600
# Outcomes are written once this many are waiting, or this long after the
# first of them arrived, whichever comes first.
FLUSH_ROWS = 256
FLUSH_SECONDS = 0.05
# A flush that fails is tried again this many times; after that its rows stay
# leased and are sent again once the lease runs out.
FLUSH_TRIES = 3
# A host whose success this process wrote is not written again on success
# for this long, unless a claim shows failures on record for it. The window
# only bounds how stale hosts.last_success_at may get.
HOST_REFRESH_SECONDS = 60.0
# The fetcher copies these for each request before it adds the signature.
_DELIVERY_HEADERS = {"Content-Type": ACTIVITY_JSON, "Accept": ACTIVITY_JSON}

# Due rows are claimed, except rows whose host is unreachable and was probed
# within PROBE_INTERVAL. The same statement pushes those back by PROBE_INTERVAL
# without spending an attempt, and fails the ones whose deadline has passed.
# Each row also tells whether its host has failures on record, so that the
# worker writes the next success there even if it last saw the host succeed.
_CLAIM = """
WITH due AS (
    SELECT d.id,
        coalesce(h.unreachable
            AND h.last_failure_at > now() - make_interval(secs => $3), false)
            AS unreachable,
        coalesce(h.unreachable OR h.failure_count > 0, false) AS host_failing
    FROM deliveries d
    LEFT JOIN hosts h ON h.host = d.host
    WHERE d.state = 'queued' AND d.next_attempt_at <= now()
      AND (d.locked_until IS NULL OR d.locked_until < now())
    ORDER BY d.next_attempt_at, d.id
    LIMIT $1
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE deliveries d
SET locked_until = CASE WHEN due.unreachable THEN NULL
        ELSE now() + make_interval(secs => $2) END,
    attempts = d.attempts + CASE WHEN due.unreachable THEN 0 ELSE 1 END,
    next_attempt_at = CASE WHEN due.unreachable
        THEN now() + make_interval(secs => $3) ELSE d.next_attempt_at END,
    state = CASE WHEN due.unreachable AND d.deadline_at < now()
        THEN 'failed' ELSE d.state END,
    last_error = CASE WHEN due.unreachable AND d.deadline_at < now()
        THEN 'host unreachable until the deadline' ELSE d.last_error END
FROM due
WHERE d.id = due.id
RETURNING d.id, d.activity_id, d.inbox_url, d.host, d.attempts, d.deadline_at,
    d.state, due.unreachable, due.host_failing
"""

# One statement records a batch of outcomes and the host changes that came
# with them, so a flush is a single round trip and a single commit. An outcome
# with a delay is a retry: the row goes back to the queue, or fails when the
# retry would fall past its deadline. Host names arrive sorted, so two
# processes writing the same hosts lock their rows in the same order and cannot
# deadlock. A host is in only one of the two host lists per flush, because one
# statement must not change the same row twice.
_FLUSH = """
WITH outcome AS (
    UPDATE deliveries d
    SET state = CASE WHEN o.delay IS NULL THEN o.state
            WHEN now() + make_interval(secs => o.delay) > d.deadline_at
            THEN 'failed' ELSE 'queued' END,
        last_status = o.status, last_error = o.error, locked_until = NULL,
        next_attempt_at = CASE WHEN o.delay IS NULL THEN d.next_attempt_at
            ELSE now() + make_interval(secs => o.delay) END,
        delivered_at = CASE WHEN o.state = 'delivered' THEN now() END
    FROM unnest($1::bigint[], $2::text[], $3::int[], $4::text[], $5::float8[])
        AS o(id, state, status, error, delay)
    WHERE d.id = o.id
    RETURNING d.id, o.delay IS NOT NULL AND d.state = 'failed' AS gave_up
), succeeded AS (
    INSERT INTO hosts (host, last_success_at, signature_scheme)
    SELECT host, now(), scheme FROM unnest($6::text[], $7::text[]) AS t(host, scheme)
    ON CONFLICT (host) DO UPDATE SET last_success_at = now(), failure_count = 0,
        first_failure_at = NULL, unreachable = false,
        signature_scheme = coalesce(EXCLUDED.signature_scheme, hosts.signature_scheme)
), failed AS (
    INSERT INTO hosts (host, failure_count, first_failure_at, last_failure_at,
        unreachable)
    SELECT host, n, now(), now(), n >= $10
    FROM unnest($8::text[], $9::int[]) AS t(host, n)
    ON CONFLICT (host) DO UPDATE
    SET failure_count = hosts.failure_count + EXCLUDED.failure_count,
        first_failure_at = coalesce(hosts.first_failure_at, now()),
        last_failure_at = now(),
        unreachable = hosts.unreachable
            OR hosts.failure_count + EXCLUDED.failure_count >= $10
    RETURNING host, failure_count, unreachable
)
SELECT id, NULL::text AS host, NULL::int AS failure_count FROM outcome WHERE gave_up
UNION ALL
SELECT NULL, host, failure_count FROM failed WHERE unreachable
"""


def backoff_seconds(attempts: int) -> float:
    """Return the wait before the next attempt: attempts^4 + 15 s, plus jitter.

    Sixteen attempts spread over about two days, as Mastodon's retry schedule
    does, so a peer that is down for a day still receives what it missed.
    """
    return attempts**4 + 15 + random.uniform(0, 10 * (attempts + 1))


@dataclass
class _Outcome:
    row: asyncpg.Record
    state: str  # 'delivered', 'failed', 'gone', or 'queued' for a retry
    status: int | None
    error: str | None
    delay: float | None = None  # set for a retry


class _HostChanges:
    """Host successes and failures seen by this process since the last flush."""

    def __init__(self) -> None:
        self.succeeded: set[str] = set()
        # Failures counted after the host's latest success in this batch.
        self.failures: dict[str, int] = {}

    def __bool__(self) -> bool:
        return bool(self.succeeded or self.failures)

    def merge_older(self, older: _HostChanges) -> None:
        """Put back changes from a failed flush, which came before these."""
        for host, count in older.failures.items():
            # A newer success resets them; otherwise they add up.
            if host not in self.succeeded:
                self.failures[host] = self.failures.get(host, 0) + count
        # An older success comes before any failures counted here, which is
        # what a host in both sets means.
        self.succeeded |= older.succeeded


class _HeldConnection:
    """One pool connection kept by the worker for its claims and flushes.

    Taking a connection from the pool for each statement costs a reset round
    trip when it goes back, as much as the statement itself. The lock keeps
    the claim loop and the flusher from using the connection at once.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._connection: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        async with self._lock:
            if self._connection is None:
                self._connection = await self._pool.acquire()
            try:
                return await self._connection.fetch(query, *args)
            except (
                asyncpg.PostgresConnectionError,
                asyncpg.InterfaceError,
                OSError,
                asyncio.CancelledError,
            ):
                # The pool closes a broken connection and opens a new one.
                await self._give_back()
                raise

    async def close(self) -> None:
        async with self._lock:
            await self._give_back()

    async def _give_back(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await self._pool.release(connection)


class DeliveryWorker:
    """Claim due deliveries in batches and send them concurrently."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.concurrency = max(1, runtime.settings.federation.delivery_concurrency)
        # Claiming waits until this many send slots are free, so one claim
        # query serves several sends.
        self.claim_batch = max(1, self.concurrency // 4)
        self._db = _HeldConnection(runtime.pool)
        # Per activity: the JSON body, its digest and the signing account.
        self._bodies: dict[int, tuple[BodyDigest, Any]] = {}
        self._loading = asyncio.Lock()
        # Ids of claimed rows whose send has not finished. These rows go back
        # to the queue when the worker stops.
        self._in_flight: set[int] = set()
        # Finished sends whose outcome is not written yet, by delivery id.
        self._outcomes: dict[int, _Outcome] = {}
        self._hosts = _HostChanges()
        # Hosts whose success this process wrote, with the monotonic time of it.
        self._good_hosts: dict[str, float] = {}
        self._pending = asyncio.Event()
        self._full = asyncio.Event()
        self._closing = False
        self._flush_failures = 0

    async def run(self, stopping: asyncio.Event) -> None:
        """Deliver until ``stopping`` is set, then return in-flight rows to the queue.

        Stopping cancels the sends under way instead of waiting for them, and
        writes the outcomes of the sends that finished.
        """
        tasks: set[asyncio.Task[None]] = set()
        flusher = asyncio.create_task(self._flush_loop())
        try:
            while not stopping.is_set():
                free = self.concurrency - len(tasks)
                if tasks and free < self.claim_batch:
                    await _wait_for_slot(tasks, stopping)
                    continue
                rows = await self._claim(free)
                for row in rows:
                    task = asyncio.create_task(self._deliver_guarded(row))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                if not rows:
                    # Sends still under way free no rows, so only a wake-up or
                    # the poll can bring more work.
                    await _wait(
                        self.runtime.delivery_wakeup, stopping, IDLE_POLL_SECONDS
                    )
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            # The flusher writes what is waiting and ends; it is not cancelled,
            # so no statement is cut off halfway.
            self._closing = True
            self._pending.set()
            await asyncio.gather(flusher, return_exceptions=True)
            await self._db.close()
            await self._release()

    async def deliver_due(self) -> int:
        """Send every delivery that is due now, batch by batch, and return the count.

        It returns once no row is due and every outcome is written, so a row
        retried later waits for its time. Tests and one-off runs call it, and
        ``run`` is the long-lived loop.
        """
        claimed = 0
        try:
            while rows := await self._claim(self.concurrency):
                claimed += len(rows)
                await asyncio.gather(*(self._deliver_guarded(row) for row in rows))
                await self._flush_all()
        finally:
            await self._flush_all()
            await self._db.close()
            await self._release()
        return claimed

    async def _claim(self, limit: int) -> list[asyncpg.Record]:
        if limit <= 0:
            return []
        try:
            rows = await self._db.fetch(_CLAIM, limit, LEASE_SECONDS, PROBE_INTERVAL)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
            log.error("claiming deliveries failed: %r", error)
            await asyncio.sleep(1)
            return []
        claimed = []
        for row in rows:
            if row["host_failing"]:
                # Failures recorded since this process last wrote a success,
                # maybe by another process: the next success resets them.
                self._good_hosts.pop(row["host"], None)
            if row["unreachable"]:
                _log_postponed(row)
            else:
                claimed.append(row)
        # Recorded before any task starts, so a stop right after the claim
        # still returns these rows.
        self._in_flight.update(row["id"] for row in claimed)
        return claimed

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
        except asyncio.CancelledError:
            raise
        except Exception:  # one bad row must not stop the worker
            log.exception("delivery %s to %s crashed", row["id"], row["inbox_url"])
            self._retry(row, None, "internal error, see the server log")

    async def _load(self, activity_id: int) -> tuple[BodyDigest, Any]:
        cached = self._bodies.get(activity_id)
        if cached is not None:
            return cached
        # The first sends of a new activity all miss the cache at once; the
        # lock lets one of them load it while the others wait for the result.
        async with self._loading:
            cached = self._bodies.get(activity_id)
            if cached is not None:
                return cached
            return await self._load_uncached(activity_id)

    async def _load_uncached(self, activity_id: int) -> tuple[BodyDigest, Any]:
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
        loaded = (BodyDigest(body), signer)
        self._bodies[activity_id] = loaded
        return loaded

    async def _deliver(self, row: asyncpg.Record) -> None:
        refused = await self.runtime.domain_policy.rejection(row["host"])
        if refused is not None:
            # Rows queued before a suspension, or in allowlist mode for an
            # unlisted host, fail without a request.
            log.info("delivery of %s to %s dropped: %s", row["activity_id"], row["inbox_url"], refused)
            self._finish(row, "failed", None, refused)
            return
        digest, account = await self._load(row["activity_id"])
        key_id, private_key = self.runtime.sign_as(account)
        context = (row["activity_id"], row["inbox_url"])
        try:
            response = await self.runtime.signed.request(
                "POST",
                row["inbox_url"],
                key_id=key_id,
                private_key=private_key,
                body=digest.body,
                headers=_DELIVERY_HEADERS,
                on_learned=self._scheme_learned,
                body_digest=digest,
            )
        except (BlockedAddress, DisallowedUrl) as error:
            # The guard would reject every later attempt too, so the row fails
            # now instead of retrying for days.
            log.warning(
                "delivery of %s to %s rejected by the address guard: %s",
                *context,
                error.cause or error.message,
            )
            self._finish(row, "failed", None, error.message)
            return
        except FederationError as error:
            log.info(
                "delivery of %s to %s failed: %s",
                *context,
                error.cause or error.message,
            )
            self._retry(row, None, error.message)
            return
        await self._record(row, response.status, response.body[:200])

    async def _record(self, row: asyncpg.Record, status: int, excerpt: bytes) -> None:
        context = (row["activity_id"], row["inbox_url"], status)
        if 200 <= status < 300:
            log.debug("delivered %s to %s (%s)", *context)
            self._finish(row, "delivered", status, None)
            self._host_succeeded(row["host"])
        elif status == 410:
            log.info("delivery of %s to %s: %s Gone, stopping", *context)
            await self._forget_inbox(row["inbox_url"])
            self._finish(row, "gone", status, "inbox is gone")
            self._host_succeeded(row["host"])
        elif 400 <= status < 500 and status not in RETRIED_CLIENT_ERRORS:
            # The receiver rejected this activity; sending it again would not help.
            text = excerpt.decode("utf-8", "replace")
            log.warning("delivery of %s to %s rejected with %s: %s", *context, text)
            self._finish(row, "failed", status, f"rejected: {text}")
            self._host_succeeded(row["host"])
        else:
            log.info("delivery of %s to %s answered %s, will retry", *context)
            self._retry(row, status, f"answered {status}")

    def _finish(
        self, row: asyncpg.Record, state: str, status: int | None, error: str | None
    ) -> None:
        self._add(_Outcome(row, state, status, error))

    def _retry(self, row: asyncpg.Record, status: int | None, error: str) -> None:
        delay = backoff_seconds(row["attempts"])
        self._add(_Outcome(row, "queued", status, error, delay))
        self._host_failed(row["host"])

    def _add(self, outcome: _Outcome) -> None:
        # Until a flush writes the outcome, the row stays leased in the
        # database. A crash before then loses only the outcome: the row is
        # sent again once its lease runs out, which receivers tolerate because
        # they deduplicate by activity id.
        row_id = outcome.row["id"]
        self._in_flight.discard(row_id)
        self._outcomes[row_id] = outcome
        self._pending.set()
        if len(self._outcomes) >= FLUSH_ROWS:
            self._full.set()

    def _host_succeeded(self, host: str) -> None:
        written = self._good_hosts.get(host)
        if written is not None and time.monotonic() - written < HOST_REFRESH_SECONDS:
            return
        self._hosts.failures.pop(host, None)
        self._hosts.succeeded.add(host)
        self._pending.set()

    def _scheme_learned(self, host: str, scheme: str) -> None:
        # The scheme is written with the host's success, which follows at once
        # (a scheme is learned from a 2xx), instead of by a statement of its own.
        self._good_hosts.pop(host, None)

    def _host_failed(self, host: str) -> None:
        self._good_hosts.pop(host, None)
        failures = self._hosts.failures
        failures[host] = failures.get(host, 0) + 1

    async def _flush_loop(self) -> None:
        while not self._closing:
            await self._pending.wait()
            if not self._closing and len(self._outcomes) < FLUSH_ROWS:
                try:
                    await asyncio.wait_for(self._full.wait(), FLUSH_SECONDS)
                except TimeoutError:
                    pass
            if not await self._flush() and not self._closing:
                await asyncio.sleep(1)
        await self._flush_all()

    async def _flush_all(self) -> None:
        """Flush until nothing waits, for callers that are about to return."""
        while self._outcomes or self._hosts:
            if not await self._flush():
                return

    async def _flush(self) -> bool:
        """Write the waiting outcomes and host changes in one statement.

        Returns False when the write failed; the batch is then kept for the
        next flush, up to FLUSH_TRIES times.
        """
        self._pending.clear()
        self._full.clear()
        if not self._outcomes and not self._hosts:
            return True
        outcomes, self._outcomes = self._outcomes, {}
        hosts, self._hosts = self._hosts, _HostChanges()
        # A host that succeeded and then failed within this batch gets its
        # success now and its failures with the next flush, in that order.
        later = {
            host: n for host, n in hosts.failures.items() if host in hosts.succeeded
        }
        for host, count in later.items():
            del hosts.failures[host]
            self._hosts.failures[host] = self._hosts.failures.get(host, 0) + count
        if later:
            self._pending.set()
        try:
            rows = await self._db.fetch(_FLUSH, *self._flush_arguments(outcomes, hosts))
        except Exception:  # the flusher must outlive any one bad batch
            self._flush_failures += 1
            log.exception(
                "recording %d delivery outcomes failed (try %d of %d)",
                len(outcomes),
                self._flush_failures,
                FLUSH_TRIES,
            )
            if self._flush_failures < FLUSH_TRIES:
                self._outcomes = outcomes | self._outcomes
                self._hosts.merge_older(hosts)
                self._pending.set()
            else:
                # Dropped: the rows stay leased and are sent again after it.
                self._flush_failures = 0
            return False
        self._flush_failures = 0
        now = time.monotonic()
        for host in hosts.succeeded:
            # A failure that came in during the write keeps the host off the
            # list, so that its next success is written too.
            if host not in self._hosts.failures:
                self._good_hosts[host] = now
        self._log_flushed(rows, outcomes, hosts)
        return True

    def _flush_arguments(
        self, outcomes: dict[int, _Outcome], hosts: _HostChanges
    ) -> list[Any]:
        ids = sorted(outcomes)
        batch = [outcomes[row_id] for row_id in ids]
        succeeded = sorted(hosts.succeeded)
        failed = sorted(hosts.failures)
        return [
            ids,
            [outcome.state for outcome in batch],
            [outcome.status for outcome in batch],
            [outcome.error for outcome in batch],
            [outcome.delay for outcome in batch],
            succeeded,
            [self.runtime.schemes.get(host) for host in succeeded],
            failed,
            [hosts.failures[host] for host in failed],
            self.runtime.settings.federation.unreachable_after_failures,
        ]

    def _log_flushed(
        self,
        rows: list[asyncpg.Record],
        outcomes: dict[int, _Outcome],
        hosts: _HostChanges,
    ) -> None:
        threshold = self.runtime.settings.federation.unreachable_after_failures
        for row in rows:
            if row["id"] is not None:
                outcome = outcomes[row["id"]]
                log.warning(
                    "gave up delivering %s to %s: %s",
                    outcome.row["activity_id"],
                    outcome.row["inbox_url"],
                    outcome.error,
                )
            # Logged once, by the flush whose failures crossed the threshold.
            elif row["failure_count"] - hosts.failures[row["host"]] < threshold:
                log.warning(
                    "host %s marked unreachable after %d failures",
                    row["host"],
                    threshold,
                )

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


def _log_postponed(row: asyncpg.Record) -> None:
    if row["state"] == "failed":
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
