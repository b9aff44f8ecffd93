"""Tests for how the delivery worker records outcomes and host state.

Outcomes are written in batches, and ``hosts`` only when a host's state
changes. These tests check that what ends up in the database is still right:
every finished send is recorded, a known-good host is not rewritten, and
failures recorded by another process are reset by the next success.
"""

from __future__ import annotations

import asyncio
from typing import Any

from outbox.deliver import DeliveryWorker
from pedagogue.runtime import Runtime
from tests.outbox.peers import FakePeer, add_remote_follower, new_teacher, post
from tests.support.live import eventually


async def host_row(runtime: Runtime, peer: FakePeer) -> Any:
    return await runtime.pool.fetchrow("SELECT * FROM hosts WHERE host = $1", peer.host)


async def states(runtime: Runtime) -> list[str]:
    rows = await runtime.pool.fetch("SELECT state FROM deliveries ORDER BY id")
    return [row["state"] for row in rows]


async def test_stopped_worker_recorded_all_sends(make_runtime, make_peer) -> None:
    runtime = await make_runtime()
    peer = await make_peer(runtime)
    teacher = await new_teacher(runtime)
    for number in range(12):
        await add_remote_follower(
            runtime.pool, teacher, peer, f"reader{number}", shared=False
        )
    await post(runtime, teacher, "Reading circle notes")
    stopping = asyncio.Event()
    worker = asyncio.create_task(DeliveryWorker(runtime).run(stopping))

    async def all_sent() -> bool:
        return len(peer.delivered) == 12

    assert await eventually(all_sent)
    # Stopped at once, possibly before the flush interval has passed.
    stopping.set()
    await asyncio.wait_for(worker, timeout=10.0)

    assert await states(runtime) == ["delivered"] * 12


async def test_known_good_host_not_rewritten(loopback_runtime, make_peer) -> None:
    peer = await make_peer(loopback_runtime)
    teacher = await new_teacher(loopback_runtime)
    await add_remote_follower(loopback_runtime.pool, teacher, peer, "ana", shared=True)
    worker = DeliveryWorker(loopback_runtime)
    await post(loopback_runtime, teacher, "First lesson")
    await worker.deliver_due()
    first = (await host_row(loopback_runtime, peer))["last_success_at"]

    await post(loopback_runtime, teacher, "Second lesson")
    await worker.deliver_due()

    assert len(peer.delivered) == 2
    assert (await host_row(loopback_runtime, peer))["last_success_at"] == first


async def test_success_resets_other_process_failures(
    loopback_runtime, make_peer
) -> None:
    peer = await make_peer(loopback_runtime)
    teacher = await new_teacher(loopback_runtime)
    await add_remote_follower(loopback_runtime.pool, teacher, peer, "ana", shared=True)
    worker = DeliveryWorker(loopback_runtime)
    await post(loopback_runtime, teacher, "First lesson")
    await worker.deliver_due()
    # Another process sharing the database saw the host fail meanwhile.
    await loopback_runtime.pool.execute(
        "UPDATE hosts SET failure_count = 3, first_failure_at = now(),"
        " last_failure_at = now() WHERE host = $1",
        peer.host,
    )

    await post(loopback_runtime, teacher, "Second lesson")
    await worker.deliver_due()

    host = await host_row(loopback_runtime, peer)
    assert host["failure_count"] == 0
    assert host["first_failure_at"] is None


async def test_failure_after_success_counted_after_reset(
    loopback_runtime, make_peer
) -> None:
    peer = await make_peer(loopback_runtime)
    await loopback_runtime.pool.execute(
        "INSERT INTO hosts (host, failure_count) VALUES ($1, 5)", peer.host
    )
    worker = DeliveryWorker(loopback_runtime)
    # What two sends finishing within one flush interval leave behind: a
    # success, then a failure, for the same host.
    worker._host_succeeded(peer.host)
    worker._host_failed(peer.host)
    await worker.deliver_due()

    host = await host_row(loopback_runtime, peer)
    assert host["failure_count"] == 1
    assert host["last_success_at"] is not None
