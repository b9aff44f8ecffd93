"""The event payloads of the NOTIFY channel and the bounded queue of a connection."""

from __future__ import annotations

from storage.stream_events import StreamEvent, parse_payload
from web.stream_hub import Channel, StreamHub, Subscriber


def test_payload_with_recipient_parsed() -> None:
    assert parse_payload("notification:12:34") == StreamEvent("notification", 12, 34)


def test_payload_with_dot_kind_parsed() -> None:
    assert parse_payload("status.update:7") == StreamEvent("status.update", 7)


def test_payload_unknown_kind_ignored() -> None:
    assert parse_payload("reboot:1") is None


def test_payload_non_digit_id_ignored() -> None:
    assert parse_payload("update:1;DROP") is None


def test_payload_extra_part_ignored() -> None:
    assert parse_payload("update:1:2:3") is None


async def test_full_queue_closes_connection() -> None:
    subscriber = Subscriber(
        account=None, token_id=None, limit_key="address:x", queue_size=2
    )
    channel = Channel("public")
    for number in range(3):
        subscriber.offer(channel, "update", str(number))
    assert subscriber.closed_reason is not None
    assert subscriber.closed_reason.startswith("too slow")
    assert subscriber.queue.qsize() == 2


async def test_repeated_update_sent_once() -> None:
    subscriber = Subscriber(
        account=None, token_id=None, limit_key="address:x", queue_size=2
    )
    channel = Channel("user")
    assert subscriber.first_time(channel, "update", 5)
    assert not subscriber.first_time(channel, "update", 5)


async def test_hub_unregisters_overflowed_connection(runtime) -> None:
    hub = StreamHub(runtime)
    subscriber = Subscriber(
        account=None, token_id=None, limit_key="address:x", queue_size=1
    )
    subscriber.channels.add(Channel("public"))
    hub.open(subscriber)
    try:
        for number in range(2):
            subscriber.offer(Channel("public"), "update", str(number))
        remaining = hub.subscribed({"public"})
    finally:
        await hub.stop()
    assert remaining == []
    assert hub.open_counts == {}
