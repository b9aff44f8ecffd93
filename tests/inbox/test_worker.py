"""The inbox worker's batches: one transaction for many rows, a savepoint each.

Activities go through the signed inbox path and are then processed by the real
worker against the test database and the fake peer.
"""

from __future__ import annotations

from typing import Any

from inbox.worker import InboxWorker
from tests.inbox.conftest import InboxHarness
from tests.inbox.test_handlers import activity, note


async def post_all(harness: InboxHarness, *documents: dict[str, Any]) -> None:
    for document in documents:
        response = await harness.post(document)
        assert response.status_code == 202, await response.get_data(as_text=True)


async def test_worker_batch_processes_all_due_rows(harness: InboxHarness) -> None:
    rosa = harness.actor_id()
    creates = [activity("Create", rosa, note(rosa, f"<p>{n}</p>")) for n in range(3)]
    await post_all(harness, *creates)

    claimed = await InboxWorker(harness.runtime).process_batch()

    assert claimed == 3
    for create in creates:
        row = await harness.queue_row(create["id"])
        assert row["state"] == "done"
        assert row["attempts"] == 1
        assert row["processed_at"] is not None
        assert await harness.status(create["object"]["id"]) is not None


async def test_worker_batch_failure_keeps_other_rows(harness: InboxHarness) -> None:
    rosa = harness.actor_id()
    before = note(rosa, "<p>before</p>")
    unreachable = note(rosa, "<p>served with 503</p>")
    after = note(rosa, "<p>after</p>")
    harness.peer.serve(unreachable["id"], {"error": "busy"}, 503)
    failing = activity("Create", rosa, unreachable["id"])
    await post_all(
        harness,
        activity("Create", rosa, before),
        failing,
        activity("Create", rosa, after),
    )

    claimed = await InboxWorker(harness.runtime).process_batch()

    assert claimed == 3
    assert await harness.status(before["id"]) is not None
    assert await harness.status(after["id"]) is not None
    assert await harness.status(unreachable["id"]) is None
    row = await harness.queue_row(failing["id"])
    assert row["state"] == "queued"
    assert row["attempts"] == 1
    assert "503" in row["last_error"]
    due_later = await harness.pool.fetchval(
        "SELECT next_attempt_at > now() FROM inbox_queue WHERE id = $1", row["id"]
    )
    assert due_later is True


async def test_worker_batch_applies_rows_in_order(harness: InboxHarness) -> None:
    # The Delete finds the note that the Create before it stored in the same
    # transaction.
    rosa = harness.actor_id()
    created = note(rosa, "<p>short-lived</p>")
    delete = activity("Delete", rosa, {"id": created["id"], "type": "Tombstone"})
    await post_all(harness, activity("Create", rosa, created), delete)

    claimed = await InboxWorker(harness.runtime).process_batch()

    assert claimed == 2
    assert (await harness.queue_row(delete["id"]))["state"] == "done"
    status = await harness.status(created["id"])
    assert status is not None
    assert status["deleted_at"] is not None


async def test_worker_batch_limit_leaves_rest_queued(harness: InboxHarness) -> None:
    rosa = harness.actor_id()
    creates = [activity("Create", rosa, note(rosa, f"<p>{n}</p>")) for n in range(3)]
    await post_all(harness, *creates)

    claimed = await InboxWorker(harness.runtime).process_batch(2)

    assert claimed == 2
    states = [(await harness.queue_row(c["id"]))["state"] for c in creates]
    assert states == ["done", "done", "queued"]


async def test_worker_batch_marks_host_reachable(harness: InboxHarness) -> None:
    rosa = harness.actor_id()
    host = harness.peer.host
    await harness.pool.execute(
        "INSERT INTO hosts (host, failure_count, unreachable) VALUES ($1, 3, true)"
        " ON CONFLICT (host) DO UPDATE SET failure_count = 3, unreachable = true",
        host,
    )
    await post_all(harness, activity("Create", rosa, note(rosa, "<p>back</p>")))

    await InboxWorker(harness.runtime).process_batch()

    row = await harness.pool.fetchrow("SELECT * FROM hosts WHERE host = $1", host)
    assert row["unreachable"] is False
    assert row["failure_count"] == 0


async def test_worker_batch_with_nothing_due_claims_nothing(
    harness: InboxHarness,
) -> None:
    assert await InboxWorker(harness.runtime).process_batch() == 0
