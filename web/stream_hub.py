"""The streaming hub of one process: its subscribers and the fan-out of events.

Each process that serves ``/api/v1/streaming`` keeps one hub. The hub opens
one LISTEN connection (storage.stream_events.EventListener) when its first
subscriber arrives and shares it among all of them. Events are handled one
at a time, in the order PostgreSQL delivered them. For each event the hub
loads the row once, queries which subscribers may receive it, renders the
entity once, and adds each viewer's own fields.

Every connection has a bounded queue. A client that stops reading fills it,
and the hub then closes that connection instead of buffering more.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from storage import stream_events
from storage.stream_events import StreamEvent
from web.presenters import StatusPresenter, accounts_json, notifications_json

if TYPE_CHECKING:
    from pedagogue.runtime import Runtime

log = logging.getLogger(__name__)

# Events received from PostgreSQL and not yet handled. Past this the newest
# are dropped with a warning, so a stalled database cannot grow memory.
MAX_PENDING_EVENTS = 10_000
# Update events remembered per connection, so that a status added to home
# feeds in two transactions is sent once.
RECENT_IDS = 512

PUBLIC_CHANNELS = frozenset(
    {
        "public",
        "public:local",
        "public:remote",
        "public:media",
        "public:local:media",
        "public:remote:media",
    }
)
HASHTAG_CHANNELS = frozenset({"hashtag", "hashtag:local"})
USER_CHANNELS = frozenset({"user", "user:notification"})
CHANNELS = PUBLIC_CHANNELS | HASHTAG_CHANNELS | USER_CHANNELS | {"list", "direct"}


@dataclass(frozen=True)
class Channel:
    """A stream a connection subscribes to: Mastodon's stream name and its
    parameter, the hashtag (lowercase) or the list id."""

    name: str
    parameter: str | None = None

    def stream(self) -> list[str]:
        """Return the ``stream`` value of WebSocket messages for this channel."""
        return [self.name] if self.parameter is None else [self.name, self.parameter]


CLOSE = None


@dataclass(eq=False)
class Subscriber:
    """One streaming connection: who it is, what it follows, what it must send."""

    account: Any | None
    token_id: int | None
    limit_key: str
    queue_size: int
    channels: set[Channel] = field(default_factory=set)
    closed_reason: str | None = None

    def __post_init__(self) -> None:
        self.queue: asyncio.Queue[tuple[Channel, str, str | None] | None] = (
            asyncio.Queue(self.queue_size)
        )
        self.recent: OrderedDict[tuple[str, str, int], None] = OrderedDict()

    @property
    def viewer_id(self) -> int | None:
        return None if self.account is None else self.account["id"]

    def offer(self, channel: Channel, event: str, payload: str | None) -> None:
        """Queue one message; close the connection when its queue is full."""
        if self.closed_reason is not None:
            return
        try:
            self.queue.put_nowait((channel, event, payload))
        except asyncio.QueueFull:
            log.warning(
                "closing stream of account %s: %d events not read",
                self.viewer_id,
                self.queue_size,
            )
            self.close("too slow: events were not read in time")

    def first_time(self, channel: Channel, event: str, row_id: int) -> bool:
        """Return False when this event about ``row_id`` was sent on ``channel``."""
        key = (channel.name + (channel.parameter or ""), event, row_id)
        if key in self.recent:
            return False
        self.recent[key] = None
        if len(self.recent) > RECENT_IDS:
            self.recent.popitem(last=False)
        return True

    def close(self, reason: str) -> None:
        """Mark the connection closed; its sending loop ends at the next message."""
        if self.closed_reason is not None:
            return
        self.closed_reason = reason
        try:
            self.queue.put_nowait(CLOSE)
        except asyncio.QueueFull:
            # The full queue wakes the sending loop at once, and it checks
            # closed_reason after every message.
            pass

    async def next_message(
        self, timeout: float
    ) -> tuple[Channel, str, str | None] | None:
        """Return the next message, or None after ``timeout`` seconds or on close."""
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None


class ConnectionLimit(Exception):
    """The account or client address has the maximum number of open streams."""


class StreamHub:
    """The subscribers of one process and the task that fans events out to them."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings.streaming
        self.subscribers: set[Subscriber] = set()
        self.open_counts: Counter[str] = Counter()
        self.pending: asyncio.Queue[StreamEvent] = asyncio.Queue(MAX_PENDING_EVENTS)
        self.listener = stream_events.EventListener(runtime.dsn, self._receive)
        self.task: asyncio.Task[None] | None = None
        self.dropped = 0

    # Subscribers

    def open(self, subscriber: Subscriber) -> None:
        """Register a connection; raise ConnectionLimit when its key is at the cap."""
        if (
            self.open_counts[subscriber.limit_key]
            >= self.settings.max_connections_per_account
        ):
            raise ConnectionLimit(subscriber.limit_key)
        self.open_counts[subscriber.limit_key] += 1
        self.subscribers.add(subscriber)
        if self.task is None:
            self.listener.start()
            self.task = asyncio.create_task(self._dispatch(), name="stream-dispatch")

    def close(self, subscriber: Subscriber) -> None:
        """Unregister a connection, when its transport ends."""
        if subscriber not in self.subscribers:
            return
        self.subscribers.discard(subscriber)
        subscriber.close("connection ended")
        self.open_counts[subscriber.limit_key] -= 1
        if self.open_counts[subscriber.limit_key] <= 0:
            del self.open_counts[subscriber.limit_key]

    async def wait_listening(self, timeout: float) -> bool:
        """Wait until the LISTEN connection is open; return whether it is."""
        try:
            await asyncio.wait_for(self.listener.connected.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        """Close every connection, stop the dispatch task and stop listening."""
        for subscriber in list(self.subscribers):
            subscriber.close("server shutting down")
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None
        await self.listener.stop()

    # Dispatch

    def _receive(self, event: StreamEvent) -> None:
        try:
            self.pending.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1
            # One warning per thousand dropped events keeps the log readable.
            if self.dropped % 1000 == 1:
                log.warning(
                    "dropped stream event %s %s: %d events dropped so far",
                    event.kind,
                    event.row_id,
                    self.dropped,
                )

    async def _dispatch(self) -> None:
        while True:
            event = await self.pending.get()
            if not self.subscribers:
                continue
            try:
                await self.handle(event)
            except asyncio.CancelledError:
                raise
            except Exception:
                # One bad row must not end streaming for every subscriber.
                log.exception("stream event %s %s failed", event.kind, event.row_id)

    async def handle(self, event: StreamEvent) -> None:
        """Send one event to the subscribers that may receive it."""
        if event.kind == "token_revoked":
            for subscriber in list(self.subscribers):
                if subscriber.token_id == event.row_id:
                    subscriber.close("access token revoked")
            return
        if event.kind == "filters_changed":
            for subscriber, channel in self.subscribed(
                USER_CHANNELS - {"user:notification"}
            ):
                if subscriber.viewer_id == event.row_id:
                    subscriber.offer(channel, "filters_changed", None)
            return
        if event.kind == "notification":
            await self._notification(event)
            return
        from web.stream_fanout import fan_out_status

        await fan_out_status(self, event)

    def subscribed(
        self, names: frozenset[str] | set[str]
    ) -> list[tuple[Subscriber, Channel]]:
        """Return each (connection, channel) pair whose channel name is in ``names``."""
        # A connection closed by the hub (a full queue, a revoked token) is
        # unregistered here too, in case its transport never runs again.
        for subscriber in [s for s in self.subscribers if s.closed_reason is not None]:
            self.close(subscriber)
        return [
            (subscriber, channel)
            for subscriber in self.subscribers
            for channel in subscriber.channels
            if channel.name in names
        ]

    async def _notification(self, event: StreamEvent) -> None:
        targets = [
            (subscriber, channel)
            for subscriber, channel in self.subscribed(USER_CHANNELS)
            if subscriber.viewer_id == event.account_id
        ]
        if not targets:
            return
        runtime = self.runtime
        row = await stream_events.visible_notification(runtime.pool, event.row_id)
        if row is None:
            return
        # notifications_json applies the recipient's notification filters and
        # leaves out a notification whose status a hide filter matches.
        rendered = await notifications_json(runtime, targets[0][0].account, [row])
        if not rendered:
            return
        payload = encode(rendered[0])
        for subscriber, channel in targets:
            subscriber.offer(channel, "notification", payload)

    async def render_status(self, row: Any) -> dict[str, Any] | None:
        """Return the Status entity of ``row`` without any viewer's fields."""
        rendered = await StatusPresenter(self.runtime, None).render([row])
        return rendered[0] if rendered else None

    async def participants_json(self, status_id: int) -> dict[int, dict[str, Any]]:
        """Return the Account entities of a direct status's author and addressees."""
        rows = await stream_events.participants(self.runtime.pool, status_id)
        rendered = await accounts_json(self.runtime, rows)
        return {row["id"]: entity for row, entity in zip(rows, rendered, strict=True)}


def encode(document: Any) -> str:
    """Return the compact JSON text of a payload."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))
