"""Move activities as Mastodon sends them, through the real inbox."""

from __future__ import annotations

from typing import Any

from tests.inbox.conftest import InboxHarness


def move_of(harness: InboxHarness, origin: str, target: str) -> dict[str, Any]:
    # The shape Mastodon 4 sends: the actor moves itself, to followers.
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{origin}#moves/1",
        "type": "Move",
        "actor": origin,
        "object": origin,
        "target": target,
    }


def serve_new_account(harness: InboxHarness, username: str, aliases: list[str]) -> str:
    actor_id = harness.add_actor(username)
    document = harness.peer.documents[actor_id][1]
    harness.peer.serve(actor_id, {**document, "alsoKnownAs": aliases})
    return actor_id


async def follow_targets(harness: InboxHarness) -> set[str]:
    rows = await harness.pool.fetch(
        "SELECT t.actor_id FROM follows f JOIN accounts t ON t.id = f.target_account_id"
        " WHERE f.account_id = $1",
        harness.alice["id"],
    )
    return {row["actor_id"] for row in rows}


async def test_verified_move_moves_follow(harness: InboxHarness) -> None:
    origin = harness.actor_id()
    await harness.follow_remote(origin)
    target = serve_new_account(harness, "rosa_new", [origin])

    await harness.deliver(move_of(harness, origin, target))

    row = await harness.queue_row(f"{origin}#moves/1")
    moved_to = await harness.pool.fetchval(
        "SELECT moved_to_actor_id FROM accounts WHERE actor_id = $1", origin
    )
    undo = await harness.pool.fetchval(
        "SELECT count(*) FROM activities WHERE type = 'Undo'"
    )
    assert row is not None
    assert row["state"] == "done"
    assert await follow_targets(harness) == {target}
    assert moved_to == target
    assert undo == 1


async def test_move_without_alias_ignored(harness: InboxHarness) -> None:
    origin = harness.actor_id()
    await harness.follow_remote(origin)
    target = serve_new_account(harness, "impostor", [])

    await harness.deliver(move_of(harness, origin, target))

    row = await harness.queue_row(f"{origin}#moves/1")
    assert row is not None
    assert row["state"] == "ignored"
    assert "alias" in row["last_error"]
    assert await follow_targets(harness) == {origin}


async def test_move_of_other_actor_ignored(harness: InboxHarness) -> None:
    origin = harness.actor_id()
    await harness.follow_remote(origin)
    mallory = harness.add_actor("mallory")
    target = serve_new_account(harness, "rosa_new", [origin])
    activity = move_of(harness, origin, target)
    activity["actor"] = mallory
    activity["id"] = f"{mallory}#moves/1"

    await harness.deliver(activity)

    row = await harness.queue_row(f"{mallory}#moves/1")
    assert row is not None
    assert row["state"] == "ignored"
    assert await follow_targets(harness) == {origin}


async def test_repeated_move_changes_nothing(harness: InboxHarness) -> None:
    origin = harness.actor_id()
    await harness.follow_remote(origin)
    target = serve_new_account(harness, "rosa_new", [origin])
    activity = move_of(harness, origin, target)
    await harness.deliver(activity)
    activities = await harness.pool.fetchval("SELECT count(*) FROM activities")

    await harness.pool.execute("DELETE FROM inbox_queue")
    await harness.deliver(activity)

    assert await follow_targets(harness) == {target}
    assert await harness.pool.fetchval("SELECT count(*) FROM activities") == activities
