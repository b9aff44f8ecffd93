"""Crash safety: work that was acknowledged survives a SIGKILL of every process.

Each test runs real instances in their own processes, kills them with SIGKILL
(no shutdown code runs) and starts them again on the same database and port.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from datetime import UTC, datetime
from typing import Any

from tests.e2e.peers import (
    PUBLIC,
    follow,
    open_session,
    post,
    post_signed,
    private_key_of,
)
from tests.support.live import LiveInstance, Teacher, eventually

ACTIVITY_COUNT = 12


def sigkill(process: subprocess.Popen[bytes] | None) -> None:
    """Kill one process of ours with SIGKILL, as a power cut or OOM kill would."""
    if process is None or process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=5)


def sigkill_all(instance: LiveInstance) -> None:
    for worker in instance.workers:
        sigkill(worker)
    sigkill(instance.process)


def note_activity(author: Teacher, recipient: Teacher, index: int) -> dict[str, Any]:
    """Return a public Create of a note by ``author`` that mentions ``recipient``."""
    note_id = f"{author.actor_id}/statuses/crash-{index}"
    mention = {"type": "Mention", "href": recipient.actor_id}
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{note_id}/activity",
        "type": "Create",
        "actor": author.actor_id,
        "to": [PUBLIC],
        "cc": [recipient.actor_id],
        "object": {
            "id": note_id,
            "type": "Note",
            "attributedTo": author.actor_id,
            "content": f"<p>Exit ticket idea number {index}</p>",
            "published": datetime.now(UTC).isoformat(),
            "to": [PUBLIC],
            "cc": [recipient.actor_id],
            "tag": [mention],
        },
    }


def follow_activity(author: Teacher, target: Teacher) -> dict[str, Any]:
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{author.actor_id}#follows/crash",
        "type": "Follow",
        "actor": author.actor_id,
        "object": target.actor_id,
    }


async def post_all(
    receiver: LiveInstance, sender: Teacher, activities: list[dict[str, Any]]
) -> list[int]:
    """POST every activity to the receiver's shared inbox at once; return statuses."""
    key = await private_key_of(sender)
    url = f"{receiver.url}/inbox"
    async with open_session(receiver, sender.instance) as session:
        results = await asyncio.gather(
            *(
                post_signed(
                    session,
                    url,
                    activity,
                    key_id=f"{sender.actor_id}#main-key",
                    private_key=key,
                )
                for activity in activities
            )
        )
    return [status for status, _ in results]


async def fetch_value(instance: LiveInstance, query: str, *args: Any) -> Any:
    connection = await instance.db()
    try:
        return await connection.fetchval(query, *args)
    finally:
        await connection.close()


async def execute(instance: LiveInstance, query: str, *args: Any) -> None:
    connection = await instance.db()
    try:
        await connection.execute(query, *args)
    finally:
        await connection.close()


async def processed_count(instance: LiveInstance) -> int:
    return int(
        await fetch_value(
            instance, "SELECT count(*) FROM inbox_queue WHERE state = 'done'"
        )
    )


async def stored_notes(instance: LiveInstance, author: Teacher) -> int:
    return int(
        await fetch_value(
            instance,
            "SELECT count(*) FROM statuses WHERE uri LIKE $1 || '/statuses/crash-%'",
            author.actor_id,
        )
    )


async def follower_stored(instance: LiveInstance, follower: Teacher) -> bool:
    return bool(
        await fetch_value(
            instance,
            "SELECT EXISTS (SELECT 1 FROM follows f JOIN accounts a"
            " ON a.id = f.account_id WHERE a.actor_id = $1)",
            follower.actor_id,
        )
    )


async def test_accepted_activities_survive_sigkill(start_instances: Any) -> None:
    receiver, sender_instance = await start_instances(
        "school-a.test", "district-b.test", role="web"
    )
    await receiver.start_worker()
    await sender_instance.start_worker()
    alice = await receiver.create_teacher("alice")
    bob = await sender_instance.create_teacher("bob")
    activities = [note_activity(bob, alice, i) for i in range(ACTIVITY_COUNT)]
    activities.append(follow_activity(bob, alice))

    statuses = await post_all(receiver, bob, activities)
    # Killed the moment the last 202 is in, with no chance to finish anything.
    sigkill_all(receiver)

    assert statuses == [202] * len(activities)
    stored = await fetch_value(receiver, "SELECT count(*) FROM inbox_queue")
    assert stored == len(activities)

    await receiver.start()
    await receiver.start_worker()

    async def all_processed() -> bool:
        return await processed_count(receiver) == len(activities)

    assert await eventually(all_processed, timeout=30.0)
    assert await stored_notes(receiver, bob) == ACTIVITY_COUNT
    assert await follower_stored(receiver, bob)


async def test_stored_activities_wait_for_worker(start_instances: Any) -> None:
    # With no worker running, nothing can be processed before the kill, so the
    # restart alone must do all of it.
    receiver, sender_instance = await start_instances(
        "school-a.test", "district-b.test", role="web"
    )
    await sender_instance.start_worker()
    alice = await receiver.create_teacher("alice")
    bob = await sender_instance.create_teacher("bob")
    activities = [note_activity(bob, alice, i) for i in range(ACTIVITY_COUNT)]

    statuses = await post_all(receiver, bob, activities)
    sigkill_all(receiver)

    assert statuses == [202] * len(activities)
    assert await processed_count(receiver) == 0

    await receiver.start()
    await receiver.start_worker()

    async def all_stored() -> bool:
        return await stored_notes(receiver, bob) == ACTIVITY_COUNT

    assert await eventually(all_stored, timeout=30.0)
    assert await processed_count(receiver) == ACTIVITY_COUNT


async def delivery_states(instance: LiveInstance) -> list[str]:
    connection = await instance.db()
    try:
        rows = await connection.fetch("SELECT state FROM deliveries ORDER BY id")
    finally:
        await connection.close()
    return [row["state"] for row in rows]


async def arrived_from(instance: LiveInstance, author: Teacher) -> int:
    return int(
        await fetch_value(
            instance,
            "SELECT count(*) FROM statuses s JOIN accounts a ON a.id = s.account_id"
            " WHERE a.actor_id = $1 AND s.content LIKE '%while you were down%'",
            author.actor_id,
        )
    )


async def test_queued_deliveries_resume_after_sigkill(start_instances: Any) -> None:
    sender, peer = await start_instances("school-a.test", "district-b.test")
    alice = await sender.create_teacher("alice")
    bob = await peer.create_teacher("bob")
    await follow(bob, alice)
    peer.stop()

    for index in range(3):
        await post(alice, f"Number {index}, sent while you were down")

    async def all_attempted() -> bool:
        attempts = await fetch_value(
            sender,
            "SELECT count(*) FROM deliveries WHERE last_error IS NOT NULL"
            " AND state = 'queued' AND locked_until IS NULL",
        )
        return attempts == 3

    # Every delivery failed once against the closed port and waits for a retry.
    assert await eventually(all_attempted, timeout=20.0)
    sigkill_all(sender)

    await peer.start()
    await sender.start()
    # The retry is due tens of seconds later, so the test moves it to now
    # instead of waiting.
    await execute(sender, "UPDATE deliveries SET next_attempt_at = now()")

    async def all_arrived() -> bool:
        return await arrived_from(peer, alice) == 3

    assert await eventually(all_arrived, timeout=30.0)
    assert await delivery_states(sender) == ["delivered"] * 4


async def test_leased_delivery_reclaimed_after_sigkill(start_instances: Any) -> None:
    sender, peer = await start_instances("school-a.test", "district-b.test")
    alice = await sender.create_teacher("alice")
    bob = await peer.create_teacher("bob")
    await follow(bob, alice)

    # The kernel accepts TCP connections for a stopped peer, which never
    # responds, so the send hangs with its row leased when the sender dies.
    assert peer.process is not None
    os.kill(peer.process.pid, signal.SIGSTOP)
    try:
        await post(alice, "Posted while you were down and never answered")

        async def leased() -> bool:
            return bool(
                await fetch_value(
                    sender,
                    "SELECT count(*) FROM deliveries WHERE locked_until > now()"
                    " AND state = 'queued'",
                )
            )

        assert await eventually(leased, timeout=10.0)
        sigkill_all(sender)
    finally:
        os.kill(peer.process.pid, signal.SIGCONT)

    await sender.start()
    still_leased = await fetch_value(
        sender,
        "SELECT count(*) FROM deliveries WHERE locked_until > now()"
        " AND state = 'queued'",
    )
    assert still_leased == 1
    # The lease lasts minutes, so the test ends it now instead of waiting.
    await execute(sender, "UPDATE deliveries SET locked_until = now() - interval '1 s'")

    async def delivered() -> bool:
        return await delivery_states(sender) == ["delivered"] * 2

    # The peer may also read the dead sender's request from its socket
    # buffer, and it stores the note once either way.
    assert await eventually(delivered, timeout=30.0)
    assert await arrived_from(peer, alice) == 1
