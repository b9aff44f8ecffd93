"""Forged activities sent to the inbox of a live instance.

A forgery that only the worker can recognise still gets 202, because the inbox
answers before processing. The tests then wait for the worker and check the
queue row's state and the stored statuses.
"""

from __future__ import annotations

import pytest

from tests.hostile.conftest import OpenWorld
from tests.hostile.world import OTHER_NAME, HostileWorld, PeerActor, note, wrap


@pytest.fixture(scope="module")
async def world(open_world: OpenWorld) -> HostileWorld:
    return await open_world()


async def stored(world: HostileWorld, uri: str) -> dict | None:
    rows = await world.fetch(
        "SELECT content, deleted_at FROM statuses WHERE uri = $1", uri
    )
    return dict(rows[0]) if rows else None


async def deliver_note(world: HostileWorld, author: PeerActor, content: str) -> str:
    """Deliver a genuine note by ``author``; return its id."""
    genuine = note(author, "genuine", content=f"<p>{content}</p>")
    status, _ = await world.post(wrap("Create", author, genuine), author)
    assert status == 202
    assert await stored_after_drain(world, genuine["id"]) is not None
    return str(genuine["id"])


async def stored_after_drain(world: HostileWorld, uri: str) -> dict | None:
    await world.drain()
    return await stored(world, uri)


async def test_signer_on_other_host_rejected_401(world: HostileWorld) -> None:
    victim = world.peer.add_actor("victim")
    mallory = world.peer.add_actor("mallory", host=OTHER_NAME)
    create = wrap("Create", victim, note(victim, "forged", content="<p>forged</p>"))

    status, body = await world.post(create, mallory)

    assert status == 401
    assert body["error"] == "signer is not the activity's actor"
    assert await world.queue_state(create["id"]) is None


async def test_object_attributed_to_other_host_ignored(world: HostileWorld) -> None:
    sender = world.peer.add_actor("sender")
    stranger = world.peer.add_actor("stranger", host=OTHER_NAME)
    forged = note(sender, "foreign", attributedTo=stranger.actor_id)
    create = wrap("Create", sender, forged)

    status, _ = await world.post(create, sender)

    assert status == 202
    assert await world.queue_state(create["id"]) == "ignored"
    assert await stored(world, forged["id"]) is None


async def test_update_of_others_object_ignored(world: HostileWorld) -> None:
    owner = world.peer.add_actor("owner")
    intruder = world.peer.add_actor("intruder")
    object_id = await deliver_note(world, owner, "original words")
    changed = note(intruder, "x", id=object_id, attributedTo=intruder.actor_id)
    changed["content"] = "<p>changed words</p>"
    update = wrap("Update", intruder, changed)

    status, _ = await world.post(update, intruder)

    assert status == 202
    assert await world.queue_state(update["id"]) == "ignored"
    assert "original words" in (await stored(world, object_id))["content"]


async def test_delete_of_others_object_ignored(world: HostileWorld) -> None:
    owner = world.peer.add_actor("keeper")
    intruder = world.peer.add_actor("eraser")
    object_id = await deliver_note(world, owner, "keep me")
    delete = wrap("Delete", intruder, object_id)

    status, _ = await world.post(delete, intruder)

    assert status == 202
    assert await world.queue_state(delete["id"]) == "ignored"
    assert (await stored(world, object_id))["deleted_at"] is None


async def test_announce_stores_origin_copy(world: HostileWorld) -> None:
    author = world.peer.add_actor("author", host=OTHER_NAME)
    booster = world.peer.add_actor("booster")
    origin = note(author, "boosted", content="<p>genuine words</p>")
    world.peer.serve(
        origin["id"], {"@context": "https://www.w3.org/ns/activitystreams", **origin}
    )
    embedded = {**origin, "content": "<p>forged words</p>"}
    announce = wrap("Announce", booster, embedded)

    status, _ = await world.post(announce, booster)

    assert status == 202
    assert await world.queue_state(announce["id"]) == "done"
    content = (await stored(world, origin["id"]))["content"]
    assert "genuine words" in content
    assert "forged words" not in content


async def test_announce_of_unreachable_object_not_stored(world: HostileWorld) -> None:
    booster = world.peer.add_actor("booster2")
    ghost = note(booster, "ghost", content="<p>never served</p>")
    ghost["id"] = world.peer.url("/users/nobody/notes/ghost", host=OTHER_NAME)
    announce = wrap("Announce", booster, ghost)

    status, _ = await world.post(announce, booster)

    assert status == 202
    assert await world.queue_state(announce["id"]) == "ignored"
    assert await stored(world, ghost["id"]) is None
