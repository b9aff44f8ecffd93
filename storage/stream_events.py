"""Streaming API events: the NOTIFY channel, its payloads, and the audience queries.

Triggers of storage migration 0019_stream_events.sql publish a small payload
on ``CHANNEL`` when a status is stored, edited or deleted, enters home
feeds, when a notification is stored, when filters change and when a token
is revoked. Each process that serves streams listens on one dedicated
connection (``EventListener``) and runs the queries below to find which of
its subscribers may receive each event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

log = logging.getLogger(__name__)

Connection = asyncpg.Connection | asyncpg.Pool

CHANNEL = "pedagogue_stream"
KINDS = frozenset(
    {
        "update",
        "status.update",
        "delete",
        "home",
        "notification",
        "filters_changed",
        "token_revoked",
    }
)


@dataclass(frozen=True)
class StreamEvent:
    """One published event: its kind, the row id, and for notifications the
    recipient's account id."""

    kind: str
    row_id: int
    account_id: int | None = None


def parse_payload(payload: str) -> StreamEvent | None:
    """Return the event of a NOTIFY payload, or None for one of another shape."""
    kind, _, rest = payload.partition(":")
    parts = rest.split(":")
    if kind not in KINDS or not 1 <= len(parts) <= 2:
        return None
    if not all(part.isascii() and part.isdigit() for part in parts):
        return None
    account_id = int(parts[1]) if len(parts) == 2 else None
    return StreamEvent(kind, int(parts[0]), account_id)


# Seconds between attempts to open the listening connection again.
RECONNECT_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


class EventListener:
    """One connection that LISTENs on CHANNEL and hands each event to ``deliver``.

    The connection is opened with ``asyncpg.connect``, outside the pool,
    because LISTEN is session state (see storage/pool.py). A lost connection
    is opened again after the delays of RECONNECT_DELAYS.

    NOTE: events published while the connection is down are lost, because
    NOTIFY keeps no backlog for a session that is not listening. Clients
    that reconnect read the timelines to fill such a gap.
    """

    def __init__(self, dsn: str, deliver: Callable[[StreamEvent], None]) -> None:
        self.dsn = dsn
        self.deliver = deliver
        self.connection: asyncpg.Connection | None = None
        self.lost = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    def start(self) -> None:
        """Start listening in a background task; returns at once."""
        if self.task is None:
            self.task = asyncio.create_task(self._run(), name="stream-event-listener")

    async def stop(self) -> None:
        """Stop listening and close the connection."""
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None
        await self._close()

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                await self._connect()
                failures = 0
                await self.lost.wait()
                log.warning("stream event connection lost; listening again")
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
                failures += 1
                log.warning(
                    "could not listen for stream events (attempt %d), retrying in %.1f s: %r",
                    failures,
                    delay,
                    error,
                )
                await asyncio.sleep(delay)
            finally:
                self.connected.clear()
                await self._close()

    async def _connect(self) -> None:
        self.lost.clear()
        connection = await asyncpg.connect(self.dsn)
        self.connection = connection
        connection.add_termination_listener(lambda _connection: self.lost.set())
        await connection.add_listener(CHANNEL, self._on_notify)
        self.connected.set()
        log.info("listening for stream events on %s", CHANNEL)

    async def _close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None and not connection.is_closed():
            try:
                await asyncio.wait_for(connection.close(), timeout=5)
            except (OSError, asyncpg.InterfaceError, TimeoutError) as error:
                log.info("closing the stream event connection failed: %r", error)
                connection.terminate()

    def _on_notify(
        self, _connection: Any, _pid: int, _channel: str, payload: str
    ) -> None:
        event = parse_payload(payload)
        if event is None:
            log.warning("ignored stream event payload %r", payload[:100])
            return
        self.deliver(event)


# Audience queries. Each takes the ids of the accounts subscribed in this
# process and returns those that may receive the event, applying the same
# rules as the timelines of web/reading.py: status_visible (storage
# migration 0016) and blocks and mutes (account_hidden_from, migration 0013).


async def status_facts(db: Connection, status_id: int) -> asyncpg.Record | None:
    """Return a status row with ``author_domain``, ``kept_off_public`` (the
    author or their domain silenced or suspended) and ``tag_names``."""
    return await db.fetchrow(
        "SELECT s.*, a.domain AS author_domain,"
        " a.suspended_at IS NOT NULL AS author_suspended,"
        " account_kept_off_public(s.account_id) AS kept_off_public,"
        " ARRAY(SELECT t.name FROM status_tags t WHERE t.status_id = s.id) AS tag_names"
        " FROM statuses s JOIN accounts a ON a.id = s.account_id WHERE s.id = $1",
        status_id,
    )


async def readers(db: Connection, status_id: int, viewer_ids: list[int]) -> set[int]:
    """Return the viewers among ``viewer_ids`` who may read the status and
    neither block nor mute its author, nor are blocked by them."""
    if not viewer_ids:
        return set()
    rows = await db.fetch(
        "SELECT v.id FROM unnest($2::bigint[]) AS v(id), statuses s"
        " WHERE s.id = $1 AND status_visible(s, v.id)"
        " AND NOT account_hidden_from(s.account_id, v.id)",
        status_id,
        viewer_ids,
    )
    return {row["id"] for row in rows}


async def home_readers(
    db: Connection, status_id: int, account_ids: list[int]
) -> set[int]:
    """Return the accounts among ``account_ids`` whose home feed contains the
    status and who may still read it there."""
    if not account_ids:
        return set()
    rows = await db.fetch(
        "SELECT h.account_id FROM home_feed h JOIN statuses s ON s.id = h.status_id"
        " WHERE h.status_id = $1 AND h.account_id = ANY($2::bigint[])"
        " AND s.deleted_at IS NULL AND status_visible(s, h.account_id)"
        " AND NOT account_hidden_from(s.account_id, h.account_id)",
        status_id,
        account_ids,
    )
    return {row["account_id"] for row in rows}


async def delete_audience(
    db: Connection, status_id: int, account_ids: list[int]
) -> set[int]:
    """Return the accounts among ``account_ids`` whose home feed could have
    held a deleted status: its author, mentioned accounts and followers of
    the author who could read it."""
    if not account_ids:
        return set()
    rows = await db.fetch(
        "SELECT v.id FROM unnest($2::bigint[]) AS v(id), statuses s"
        " WHERE s.id = $1 AND status_visible(s, v.id) AND (v.id = s.account_id"
        " OR EXISTS (SELECT 1 FROM mentions m"
        "  WHERE m.status_id = s.id AND m.account_id = v.id)"
        " OR EXISTS (SELECT 1 FROM follows f WHERE f.account_id = v.id"
        "  AND f.target_account_id = s.account_id AND f.accepted))",
        status_id,
        account_ids,
    )
    return {row["id"] for row in rows}


async def visible_notification(
    db: Connection, notification_id: int
) -> asyncpg.Record | None:
    """Return a notification unless its recipient must not get it now: a block
    or a notification mute between the two, or a status they may not read."""
    return await db.fetchrow(
        "SELECT n.* FROM notifications n WHERE n.id = $1"
        " AND NOT notification_hidden(n.account_id, n.from_account_id)"
        " AND (n.status_id IS NULL OR EXISTS (SELECT 1 FROM statuses s"
        "  WHERE s.id = n.status_id AND s.deleted_at IS NULL"
        "  AND status_visible(s, n.account_id)))",
        notification_id,
    )


async def viewer_marks(
    db: Connection, status_ids: list[int], viewer_ids: list[int]
) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    """Return the (viewer, status) pairs the viewers favourited and boosted."""
    if not status_ids or not viewer_ids:
        return set(), set()
    rows = await db.fetch(
        "SELECT true AS favourite, account_id, status_id FROM favourites"
        " WHERE account_id = ANY($2::bigint[]) AND status_id = ANY($1::bigint[])"
        " UNION ALL"
        " SELECT false, account_id, reblog_of_id FROM statuses"
        " WHERE account_id = ANY($2::bigint[]) AND reblog_of_id = ANY($1::bigint[])"
        " AND deleted_at IS NULL",
        status_ids,
        viewer_ids,
    )
    favourited = {(r["account_id"], r["status_id"]) for r in rows if r["favourite"]}
    reblogged = {(r["account_id"], r["status_id"]) for r in rows if not r["favourite"]}
    return favourited, reblogged


async def participants(db: Connection, status_id: int) -> list[asyncpg.Record]:
    """Return the accounts of a direct status: its author and mentioned accounts."""
    return list(
        await db.fetch(
            "SELECT a.* FROM accounts a WHERE a.id = (SELECT account_id FROM statuses"
            " WHERE id = $1) OR a.id IN (SELECT account_id FROM mentions"
            " WHERE status_id = $1) ORDER BY a.id",
            status_id,
        )
    )


async def thread_root(db: Connection, status_id: int) -> int:
    """Return the id of the first status of a status's thread, walking up at
    most 40 replies as thread contexts do."""
    root = await db.fetchval(
        "WITH RECURSIVE up AS (SELECT id, in_reply_to_id, 0 AS depth FROM statuses"
        " WHERE id = $1 UNION ALL SELECT p.id, p.in_reply_to_id, up.depth + 1"
        " FROM up JOIN statuses p ON p.id = up.in_reply_to_id WHERE up.depth < 40)"
        " SELECT id FROM up ORDER BY depth DESC LIMIT 1",
        status_id,
    )
    return int(root) if root is not None else status_id
