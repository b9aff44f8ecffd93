"""Size, nesting and count limits of the inbox of a live instance.

Each over-limit activity is answered with a status and a message naming the
limit, is logged with its activity id, and leaves no row in the inbox queue.
"""

from __future__ import annotations

from typing import Any

import pytest

from inbox.receive import MAX_ATTACHMENTS, MAX_JSON_DEPTH, MAX_RECIPIENTS, MAX_TAGS
from tests.hostile.conftest import OpenWorld
from tests.hostile.world import HostileWorld, PeerActor, note, wrap


@pytest.fixture(scope="module")
async def world(open_world: OpenWorld) -> HostileWorld:
    return await open_world({"PEDAGOGUE_SERVER__MAX_BODY_BYTES": "65536"})


@pytest.fixture(scope="module")
def sender(world: HostileWorld) -> PeerActor:
    return world.peer.add_actor("limits")


async def queued(world: HostileWorld, activity_id: str) -> int:
    return int(
        await world.fetchval(
            "SELECT count(*) FROM inbox_queue WHERE activity_id = $1", activity_id
        )
    )


async def test_body_over_limit_gets_413(world: HostileWorld, sender: PeerActor) -> None:
    create = wrap("Create", sender, note(sender, "big", content="x" * 70_000))

    status, body = await world.post(create, sender)

    assert status == 413
    assert "over the limit of 65536 bytes" in body["error"]
    assert await queued(world, create["id"]) == 0


async def test_nesting_over_limit_gets_400(
    world: HostileWorld, sender: PeerActor
) -> None:
    nested: Any = "bottom"
    for _ in range(MAX_JSON_DEPTH + 5):
        nested = [nested]
    create = wrap("Create", sender, note(sender, "deep", extra=nested))

    status, body = await world.post(create, sender)

    assert status == 400
    assert body["error"] == f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
    assert await queued(world, create["id"]) == 0


@pytest.mark.parametrize(
    ("field", "count", "word"),
    [
        ("cc", MAX_RECIPIENTS + 1, "recipients"),
        ("bcc", MAX_RECIPIENTS + 1, "recipients"),
        ("audience", MAX_RECIPIENTS + 1, "recipients"),
        ("tag", MAX_TAGS + 1, "tags"),
        ("attachment", MAX_ATTACHMENTS + 1, "attachments"),
    ],
)
async def test_count_over_limit_gets_422(
    world: HostileWorld, sender: PeerActor, field: str, count: int, word: str
) -> None:
    items = [
        {"type": "Mention", "href": f"{sender.actor_id}/{n}", "name": f"@m{n}"}
        if field == "tag"
        else f"https://peer.test/users/u{n}"
        for n in range(count)
    ]
    create = wrap("Create", sender, note(sender, field, **{field: items}))

    status, body = await world.post(create, sender)

    assert status == 422
    assert f"{word}, over the limit of" in body["error"]
    assert await queued(world, create["id"]) == 0
    assert create["id"] in world.instance.log_text()


async def test_counts_split_between_activity_and_object_add_up(
    world: HostileWorld, sender: PeerActor
) -> None:
    half = MAX_RECIPIENTS // 2 + 1
    recipients = [f"https://peer.test/users/u{n}" for n in range(half)]
    create = wrap("Create", sender, note(sender, "split", cc=recipients), cc=recipients)

    status, body = await world.post(create, sender)

    assert status == 422
    assert body["error"].startswith(f"activity has {2 * half + 2} recipients")


async def test_counts_at_limit_accepted(world: HostileWorld, sender: PeerActor) -> None:
    # The note's to and cc and the activity's to take three of the recipients.
    recipients = [f"https://peer.test/users/u{n}" for n in range(MAX_RECIPIENTS - 3)]
    create = wrap("Create", sender, note(sender, "at-limit", bcc=recipients))

    status, _ = await world.post(create, sender)

    assert status == 202
    assert await queued(world, create["id"]) == 1


async def test_rejection_logged_with_ids(
    world: HostileWorld, sender: PeerActor
) -> None:
    items = [f"https://peer.test/users/u{n}" for n in range(MAX_RECIPIENTS + 1)]
    create = wrap("Create", sender, note(sender, "logged", to=items))

    await world.post(create, sender)

    lines = [
        line for line in world.instance.log_text().splitlines() if create["id"] in line
    ]
    assert any("inbox rejected" in line for line in lines)
    assert any(sender.key_id in line for line in lines)
