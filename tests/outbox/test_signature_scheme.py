"""Tests for choosing the signature scheme per host on delivery.

A host whose support is unknown gets RFC 9421 first. A 400 or 401 response makes
the worker sign again with draft-cavage. The accepted scheme is stored in
hosts.signature_scheme, so the next request, even from a restarted process,
is signed right the first time.
"""

from __future__ import annotations

from typing import Any

from federation import httpsig
from outbox.deliver import DeliveryWorker
from pedagogue.runtime import Runtime
from tests.outbox.peers import FakePeer, add_remote_follower, new_teacher, post

CAVAGE_ONLY = frozenset({httpsig.CAVAGE})
RFC9421_ONLY = frozenset({httpsig.RFC9421})


async def stored_scheme(runtime: Runtime, peer: FakePeer) -> str | None:
    return await runtime.pool.fetchval(
        "SELECT signature_scheme FROM hosts WHERE host = $1", peer.host
    )


async def followed_teacher(runtime: Runtime, peer: FakePeer) -> Any:
    teacher = await new_teacher(runtime)
    await add_remote_follower(runtime.pool, teacher, peer, "ana", shared=True)
    return teacher


def schemes_sent(peer: FakePeer) -> list[str | None]:
    return [attempt.scheme for attempt in peer.attempts]


async def test_cavage_only_inbox_gets_cavage_retry(loopback_runtime, make_peer) -> None:
    peer = await make_peer(loopback_runtime, schemes=CAVAGE_ONLY)
    teacher = await followed_teacher(loopback_runtime, peer)
    activity_id = await post(loopback_runtime, teacher, "Reading circle")
    await DeliveryWorker(loopback_runtime).deliver_due()

    assert schemes_sent(peer) == [httpsig.RFC9421, httpsig.CAVAGE]
    assert [attempt.status for attempt in peer.attempts] == [401, 202]
    assert peer.deliveries_per_inbox() == {(activity_id, "/inbox"): 1}
    state = await loopback_runtime.pool.fetchval("SELECT state FROM deliveries")
    assert state == "delivered"


async def test_cavage_answer_stored_for_host(loopback_runtime, make_peer) -> None:
    peer = await make_peer(loopback_runtime, schemes=CAVAGE_ONLY)
    teacher = await followed_teacher(loopback_runtime, peer)
    await post(loopback_runtime, teacher, "Reading circle")
    await DeliveryWorker(loopback_runtime).deliver_due()

    assert await stored_scheme(loopback_runtime, peer) == httpsig.CAVAGE


async def test_next_delivery_sent_with_cavage_first(
    loopback_runtime, make_peer
) -> None:
    peer = await make_peer(loopback_runtime, schemes=CAVAGE_ONLY)
    teacher = await followed_teacher(loopback_runtime, peer)
    worker = DeliveryWorker(loopback_runtime)
    await post(loopback_runtime, teacher, "Reading circle")
    await worker.deliver_due()
    peer.attempts.clear()

    await post(loopback_runtime, teacher, "Reading circle, week two")
    await worker.deliver_due()
    assert schemes_sent(peer) == [httpsig.CAVAGE]
    assert peer.attempts[0].status == 202


async def test_restarted_process_sends_cavage_first(make_runtime, make_peer) -> None:
    first = await make_runtime()
    peer = await make_peer(first, schemes=CAVAGE_ONLY)
    teacher = await followed_teacher(first, peer)
    await post(first, teacher, "Reading circle")
    await DeliveryWorker(first).deliver_due()
    peer.attempts.clear()

    # A second runtime on the same database loads the stored scheme at start.
    restarted = await make_runtime()
    await post(restarted, teacher, "Reading circle, week two")
    await DeliveryWorker(restarted).deliver_due()
    assert schemes_sent(peer) == [httpsig.CAVAGE]


async def test_rfc9421_inbox_accepts_first_signature(
    loopback_runtime, make_peer
) -> None:
    peer = await make_peer(loopback_runtime, schemes=RFC9421_ONLY)
    teacher = await followed_teacher(loopback_runtime, peer)
    await post(loopback_runtime, teacher, "Maths club")
    await DeliveryWorker(loopback_runtime).deliver_due()

    assert schemes_sent(peer) == [httpsig.RFC9421]
    assert peer.attempts[0].status == 202
    assert await stored_scheme(loopback_runtime, peer) == httpsig.RFC9421


async def test_rfc9421_host_stays_on_rfc9421(loopback_runtime, make_peer) -> None:
    peer = await make_peer(loopback_runtime)
    teacher = await followed_teacher(loopback_runtime, peer)
    worker = DeliveryWorker(loopback_runtime)
    await post(loopback_runtime, teacher, "Maths club")
    await worker.deliver_due()
    await post(loopback_runtime, teacher, "Maths club, week two")
    await worker.deliver_due()

    assert schemes_sent(peer) == [httpsig.RFC9421, httpsig.RFC9421]


async def test_inbox_rejecting_both_schemes_retried(
    loopback_runtime, make_peer
) -> None:
    peer = await make_peer(loopback_runtime, schemes=frozenset())
    teacher = await followed_teacher(loopback_runtime, peer)
    await post(loopback_runtime, teacher, "Nobody verifies this")
    await DeliveryWorker(loopback_runtime).deliver_due()

    assert schemes_sent(peer) == [httpsig.RFC9421, httpsig.CAVAGE]
    row = await loopback_runtime.pool.fetchrow("SELECT * FROM deliveries")
    # A 401 is retried later: the receiver may not have fetched our key yet.
    assert row["state"] == "queued"
    assert row["attempts"] == 1
    assert row["last_status"] == 401
    assert await stored_scheme(loopback_runtime, peer) is None
