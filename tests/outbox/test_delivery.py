"""Tests for the delivery queue and DeliveryWorker against fake HTTPS inboxes.

The peers verify every signature against the sender's key in our database.
Instead of waiting out a backoff, tests move ``next_attempt_at`` to now.
"""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

from outbox.deliver import DeliveryWorker
from pedagogue.runtime import Runtime
from tests.outbox.peers import FakePeer, add_remote_follower, new_teacher, post
from tests.support.live import eventually


async def deliveries(runtime: Runtime) -> list[Any]:
    return await runtime.pool.fetch(
        "SELECT d.*, d.next_attempt_at - now() AS wait, a.uri AS activity_uri"
        " FROM deliveries d JOIN activities a ON a.id = d.activity_id ORDER BY d.id"
    )


async def delivery_to(runtime: Runtime, inbox_url: str) -> Any:
    rows = [row for row in await deliveries(runtime) if row["inbox_url"] == inbox_url]
    assert len(rows) == 1, rows
    return rows[0]


async def make_due(runtime: Runtime) -> None:
    await runtime.pool.execute(
        "UPDATE deliveries SET next_attempt_at = now() WHERE state = 'queued'"
    )


async def host_row(runtime: Runtime, peer: FakePeer) -> Any:
    return await runtime.pool.fetchrow("SELECT * FROM hosts WHERE host = $1", peer.host)


async def teacher_followed_on(
    runtime: Runtime, peer: FakePeer, *usernames: str, shared: bool = True
) -> Any:
    teacher = await new_teacher(runtime)
    for username in usernames:
        await add_remote_follower(runtime.pool, teacher, peer, username, shared=shared)
    return teacher


# Fan-out


async def three_hosts(runtime: Runtime, make_peer: Any) -> tuple[Any, list[FakePeer]]:
    shared_many = await make_peer(runtime)
    personal = await make_peer(runtime)
    shared_one = await make_peer(runtime)
    teacher = await new_teacher(runtime)
    for username in ("ana", "ben", "cho"):
        await add_remote_follower(
            runtime.pool, teacher, shared_many, username, shared=True
        )
    for username in ("dev", "eve"):
        await add_remote_follower(
            runtime.pool, teacher, personal, username, shared=False
        )
    await add_remote_follower(runtime.pool, teacher, shared_one, "fay", shared=True)
    return teacher, [shared_many, personal, shared_one]


async def test_post_queues_one_delivery_per_inbox(loopback_runtime, make_peer) -> None:
    teacher, (shared_many, personal, shared_one) = await three_hosts(
        loopback_runtime, make_peer
    )
    await post(loopback_runtime, teacher, "Phonics workshop notes")
    inboxes = [row["inbox_url"] for row in await deliveries(loopback_runtime)]
    assert sorted(inboxes) == sorted(
        [
            shared_many.url("/inbox"),
            personal.url("/users/dev/inbox"),
            personal.url("/users/eve/inbox"),
            shared_one.url("/inbox"),
        ]
    )


async def test_worker_delivers_each_inbox_signed(loopback_runtime, make_peer) -> None:
    teacher, (shared_many, personal, shared_one) = await three_hosts(
        loopback_runtime, make_peer
    )
    activity_id = await post(loopback_runtime, teacher, "Phonics workshop notes")
    assert await DeliveryWorker(loopback_runtime).deliver_due() == 4

    assert shared_many.deliveries_per_inbox() == {(activity_id, "/inbox"): 1}
    assert personal.deliveries_per_inbox() == {
        (activity_id, "/users/dev/inbox"): 1,
        (activity_id, "/users/eve/inbox"): 1,
    }
    assert shared_one.deliveries_per_inbox() == {(activity_id, "/inbox"): 1}
    rows = await deliveries(loopback_runtime)
    assert {row["state"] for row in rows} == {"delivered"}
    assert {row["last_status"] for row in rows} == {202}
    assert all(row["delivered_at"] is not None for row in rows)


async def test_delivery_signed_by_author_key(loopback_runtime, make_peer) -> None:
    peer = await make_peer(loopback_runtime)
    teacher = await teacher_followed_on(loopback_runtime, peer, "ana")
    await post(loopback_runtime, teacher, "Signed lesson plan")
    await DeliveryWorker(loopback_runtime).deliver_due()
    [attempt] = peer.attempts
    assert attempt.verified
    key = await loopback_runtime.pool.fetchval(
        "SELECT key_id FROM account_keys WHERE account_id = $1", teacher["id"]
    )
    assert key == loopback_runtime.urls.key("alice")


# Failures and retries


async def test_server_error_retried_with_backoff(loopback_runtime, make_peer) -> None:
    peer = await make_peer(loopback_runtime, status=503)
    teacher = await teacher_followed_on(loopback_runtime, peer, "ana")
    await post(loopback_runtime, teacher, "Retry me")
    await DeliveryWorker(loopback_runtime).deliver_due()

    row = await delivery_to(loopback_runtime, peer.url("/inbox"))
    assert row["state"] == "queued"
    assert row["attempts"] == 1
    assert row["last_status"] == 503
    assert row["last_error"] == "answered 503"
    assert row["locked_until"] is None
    # attempts^4 + 15 s plus jitter: at least 16 s after the first failure.
    assert row["wait"] > datetime.timedelta(seconds=15)
    assert (await host_row(loopback_runtime, peer))["failure_count"] == 1


async def test_retry_waits_longer_each_time(loopback_runtime, make_peer) -> None:
    peer = await make_peer(loopback_runtime, status=503)
    teacher = await teacher_followed_on(loopback_runtime, peer, "ana")
    await post(loopback_runtime, teacher, "Retry me")
    worker = DeliveryWorker(loopback_runtime)
    waits = []
    for _ in range(4):
        await worker.deliver_due()
        waits.append((await delivery_to(loopback_runtime, peer.url("/inbox")))["wait"])
        await make_due(loopback_runtime)
    # The fourth wait (4^4 + 15 = 271 s at least) beats the most jitter that
    # the first one can get (1 + 15 + 20 = 36 s).
    assert waits[3] > waits[0]
    assert waits[3] > datetime.timedelta(seconds=270)
    assert len(peer.attempts) == 4


async def test_retry_succeeds_after_server_recovers(
    loopback_runtime, make_peer
) -> None:
    peer = await make_peer(loopback_runtime, status=500)
    teacher = await teacher_followed_on(loopback_runtime, peer, "ana")
    activity_id = await post(loopback_runtime, teacher, "Second time lucky")
    worker = DeliveryWorker(loopback_runtime)
    await worker.deliver_due()
    # Not due yet: nothing is sent.
    assert await worker.deliver_due() == 0
    peer.status = 202
    await make_due(loopback_runtime)
    await worker.deliver_due()

    row = await delivery_to(loopback_runtime, peer.url("/inbox"))
    assert row["state"] == "delivered"
    assert row["attempts"] == 2
    assert peer.deliveries_per_inbox() == {(activity_id, "/inbox"): 1}


async def test_unreachable_port_retried(loopback_runtime, make_peer) -> None:
    peer = await make_peer(loopback_runtime)
    teacher = await teacher_followed_on(loopback_runtime, peer, "ana")
    await peer.stop()  # connection refused from now on
    await post(loopback_runtime, teacher, "Anyone there?")
    await DeliveryWorker(loopback_runtime).deliver_due()

    row = await delivery_to(loopback_runtime, peer.url("/inbox"))
    assert row["state"] == "queued"
    assert row["last_status"] is None
    assert "failed" in row["last_error"]


async def test_gone_inbox_stops_delivery(loopback_runtime, make_peer) -> None:
    peer = await make_peer(loopback_runtime, status=410)
    teacher = await teacher_followed_on(loopback_runtime, peer, "ana", shared=False)
    inbox = peer.url("/users/ana/inbox")
    await post(loopback_runtime, teacher, "Hello?")
    await DeliveryWorker(loopback_runtime).deliver_due()

    row = await delivery_to(loopback_runtime, inbox)
    assert row["state"] == "gone"
    assert row["last_status"] == 410
    gone = await loopback_runtime.pool.fetchval(
        "SELECT count(*) FROM gone_inboxes WHERE inbox_url = $1", inbox
    )
    assert gone == 1

    await post(loopback_runtime, teacher, "Still there?")
    # The second status queues no delivery to the gone inbox.
    assert len(await deliveries(loopback_runtime)) == 1


async def test_gone_inbox_ends_its_queued_deliveries(make_runtime, make_peer) -> None:
    runtime = await make_runtime(delivery_concurrency=1)
    peer = await make_peer(runtime, status=410)
    teacher = await teacher_followed_on(runtime, peer, "ana", shared=False)
    await post(runtime, teacher, "First")
    await post(runtime, teacher, "Second")
    await DeliveryWorker(runtime).deliver_due()

    assert [row["state"] for row in await deliveries(runtime)] == ["gone", "gone"]
    assert len(peer.attempts) == 1


async def test_rejected_delivery_not_retried(loopback_runtime, make_peer) -> None:
    peer = await make_peer(loopback_runtime, status=422)
    teacher = await teacher_followed_on(loopback_runtime, peer, "ana")
    await post(loopback_runtime, teacher, "Unwanted")
    worker = DeliveryWorker(loopback_runtime)
    await worker.deliver_due()
    await make_due(loopback_runtime)
    await worker.deliver_due()

    row = await delivery_to(loopback_runtime, peer.url("/inbox"))
    assert row["state"] == "failed"
    assert row["last_status"] == 422
    assert row["attempts"] == 1
    assert row["last_error"].startswith("rejected: ")
    assert len(peer.attempts) == 1


async def test_forbidden_delivery_not_retried(loopback_runtime, make_peer) -> None:
    peer = await make_peer(loopback_runtime, status=403)
    teacher = await teacher_followed_on(loopback_runtime, peer, "ana")
    await post(loopback_runtime, teacher, "Blocked here")
    await DeliveryWorker(loopback_runtime).deliver_due()

    row = await delivery_to(loopback_runtime, peer.url("/inbox"))
    assert row["state"] == "failed"
    assert row["last_status"] == 403


async def test_rate_limited_delivery_retried(loopback_runtime, make_peer) -> None:
    peer = await make_peer(loopback_runtime, status=429)
    teacher = await teacher_followed_on(loopback_runtime, peer, "ana")
    await post(loopback_runtime, teacher, "Slow down")
    await DeliveryWorker(loopback_runtime).deliver_due()

    row = await delivery_to(loopback_runtime, peer.url("/inbox"))
    assert row["state"] == "queued"
    assert row["last_status"] == 429


async def test_failure_past_deadline_marks_failed(loopback_runtime, make_peer) -> None:
    peer = await make_peer(loopback_runtime, status=503)
    teacher = await teacher_followed_on(loopback_runtime, peer, "ana")
    await post(loopback_runtime, teacher, "Too late")
    await loopback_runtime.pool.execute(
        "UPDATE deliveries SET deadline_at = now() - interval '1 minute'"
    )
    await DeliveryWorker(loopback_runtime).deliver_due()

    row = await delivery_to(loopback_runtime, peer.url("/inbox"))
    assert row["state"] == "failed"
    assert row["last_status"] == 503


async def test_short_deadline_fails_on_first_error(make_runtime, make_peer) -> None:
    # A deadline shorter than the first backoff: the first failure is final.
    runtime = await make_runtime(delivery_deadline=10.0)
    peer = await make_peer(runtime, status=503)
    teacher = await teacher_followed_on(runtime, peer, "ana")
    await post(runtime, teacher, "Short-lived")
    await DeliveryWorker(runtime).deliver_due()

    row = await delivery_to(runtime, peer.url("/inbox"))
    assert row["state"] == "failed"
    assert row["attempts"] == 1


# Unreachable hosts


async def fail_until_unreachable(runtime: Runtime, peer: FakePeer, times: int) -> None:
    worker = DeliveryWorker(runtime)
    for _ in range(times):
        await worker.deliver_due()
        await make_due(runtime)


async def test_failing_host_marked_unreachable(make_runtime, make_peer) -> None:
    runtime = await make_runtime(unreachable_after_failures=3)
    peer = await make_peer(runtime, status=503)
    teacher = await teacher_followed_on(runtime, peer, "ana")
    await post(runtime, teacher, "Knock knock")
    await fail_until_unreachable(runtime, peer, 2)
    assert not (await host_row(runtime, peer))["unreachable"]

    await fail_until_unreachable(runtime, peer, 1)
    host = await host_row(runtime, peer)
    assert host["unreachable"]
    assert host["failure_count"] == 3


async def test_unreachable_host_deliveries_postponed(make_runtime, make_peer) -> None:
    runtime = await make_runtime(unreachable_after_failures=3)
    peer = await make_peer(runtime, status=503)
    teacher = await teacher_followed_on(runtime, peer, "ana", "ben", shared=False)
    await post(runtime, teacher, "Knock knock")
    await fail_until_unreachable(runtime, peer, 2)  # two inboxes: four failures
    sent = len(peer.attempts)
    second = await post(runtime, teacher, "Anyone home?")
    await DeliveryWorker(runtime).deliver_due()

    assert len(peer.attempts) == sent
    rows = [row for row in await deliveries(runtime) if row["activity_uri"] == second]
    assert [row["attempts"] for row in rows] == [0, 0]
    assert all(row["state"] == "queued" for row in rows)
    assert all(row["locked_until"] is None for row in rows)
    assert all(row["wait"] > datetime.timedelta(minutes=30) for row in rows)


async def test_unreachable_host_past_deadline_fails(make_runtime, make_peer) -> None:
    runtime = await make_runtime(unreachable_after_failures=1)
    peer = await make_peer(runtime, status=503)
    teacher = await teacher_followed_on(runtime, peer, "ana")
    await post(runtime, teacher, "Knock knock")
    await fail_until_unreachable(runtime, peer, 1)
    await runtime.pool.execute(
        "UPDATE deliveries SET deadline_at = now() - interval '1 second'"
    )
    await DeliveryWorker(runtime).deliver_due()

    row = await delivery_to(runtime, peer.url("/inbox"))
    assert row["state"] == "failed"
    assert row["last_error"] == "host unreachable until the deadline"
    assert len(peer.attempts) == 1


async def test_unreachable_host_unmarked_on_success(make_runtime, make_peer) -> None:
    runtime = await make_runtime(unreachable_after_failures=2)
    peer = await make_peer(runtime, status=503)
    teacher = await teacher_followed_on(runtime, peer, "ana")
    activity_id = await post(runtime, teacher, "Knock knock")
    await fail_until_unreachable(runtime, peer, 2)
    assert (await host_row(runtime, peer))["unreachable"]

    # The probe interval has passed and the peer is back.
    await runtime.pool.execute(
        "UPDATE hosts SET last_failure_at = now() - interval '2 hours'"
    )
    peer.status = 202
    await DeliveryWorker(runtime).deliver_due()

    host = await host_row(runtime, peer)
    assert not host["unreachable"]
    assert host["failure_count"] == 0
    assert peer.deliveries_per_inbox() == {(activity_id, "/inbox"): 1}


# Several workers, and stopping


async def test_two_workers_deliver_each_row_once(make_runtime, make_peer) -> None:
    first = await make_runtime(delivery_concurrency=4)
    second = await make_runtime(delivery_concurrency=4)
    peer = await make_peer(first, delay=0.01)
    usernames = [f"teacher{number}" for number in range(20)]
    teacher = await teacher_followed_on(first, peer, *usernames, shared=False)
    for lesson in range(3):
        await post(first, teacher, f"Lesson {lesson}")
    rows = await deliveries(first)
    assert len(rows) == 60

    stopping = asyncio.Event()
    workers = [
        asyncio.create_task(DeliveryWorker(runtime).run(stopping))
        for runtime in (first, second)
    ]

    async def all_delivered() -> bool:
        states = {row["state"] for row in await deliveries(first)}
        return states == {"delivered"}

    try:
        assert await eventually(all_delivered, timeout=30.0)
    finally:
        stopping.set()
        await asyncio.wait_for(asyncio.gather(*workers), timeout=10.0)

    counts = peer.deliveries_per_inbox()
    assert len(counts) == 60
    assert set(counts.values()) == {1}
    assert {row["attempts"] for row in await deliveries(first)} == {1}


async def test_stopping_worker_returns_in_flight_rows(make_runtime, make_peer) -> None:
    runtime = await make_runtime(delivery_concurrency=1)
    peer = await make_peer(runtime, hold=asyncio.Event())
    teacher = await teacher_followed_on(runtime, peer, "ana")
    await post(runtime, teacher, "Interrupted")
    stopping = asyncio.Event()
    worker = asyncio.create_task(DeliveryWorker(runtime).run(stopping))

    async def sending() -> bool:
        return len(peer.attempts) == 1

    assert await eventually(sending)
    stopping.set()
    await asyncio.wait_for(worker, timeout=10.0)

    row = await delivery_to(runtime, peer.url("/inbox"))
    assert row["state"] == "queued"
    assert row["attempts"] == 0
    assert row["locked_until"] is None


async def test_returned_row_delivered_by_next_worker(make_runtime, make_peer) -> None:
    runtime = await make_runtime(delivery_concurrency=1)
    hold = asyncio.Event()
    peer = await make_peer(runtime, hold=hold)
    teacher = await teacher_followed_on(runtime, peer, "ana")
    await post(runtime, teacher, "Interrupted")
    stopping = asyncio.Event()
    worker = asyncio.create_task(DeliveryWorker(runtime).run(stopping))

    async def sending() -> bool:
        return len(peer.attempts) == 1

    assert await eventually(sending)
    stopping.set()
    await asyncio.wait_for(worker, timeout=10.0)
    hold.set()
    # No lease to wait out: the next worker claims the row at once.
    assert await DeliveryWorker(runtime).deliver_due() == 1
    row = await delivery_to(runtime, peer.url("/inbox"))
    assert row["state"] == "delivered"
    assert row["attempts"] == 1


# The address guard


async def test_default_settings_refuse_loopback_inbox(make_runtime, make_peer) -> None:
    runtime = await make_runtime(allow_private_addresses=False, allow_http=False)
    peer = await make_peer(runtime)
    teacher = await teacher_followed_on(runtime, peer, "ana")
    await post(runtime, teacher, "Not for loopback")
    await DeliveryWorker(runtime).deliver_due()

    row = await delivery_to(runtime, peer.url("/inbox"))
    assert row["state"] == "failed"
    assert row["last_error"] == "destination 127.0.0.1 is not allowed"
    assert peer.attempts == []


async def test_default_settings_refuse_plain_http_inbox(
    make_runtime, make_peer
) -> None:
    runtime = await make_runtime(allow_http=False)
    peer = await make_peer(runtime)
    teacher = await new_teacher(runtime)
    await add_remote_follower(runtime.pool, teacher, peer, "ana", shared=True)
    plain = peer.url("/inbox").replace("https://", "http://")
    await runtime.pool.execute(
        "UPDATE accounts SET shared_inbox_url = $1 WHERE domain IS NOT NULL", plain
    )
    await post(runtime, teacher, "Not over http")
    await DeliveryWorker(runtime).deliver_due()

    row = await delivery_to(runtime, plain)
    assert row["state"] == "failed"
    assert row["last_error"].startswith("URL scheme not allowed")
    assert peer.attempts == []
