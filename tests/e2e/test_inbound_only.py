"""Activities that Pedagogue receives but has no local action to send yet:
Block with its Undo, and Update of a note.

The sending side is played by the test: it builds the activity in the name of a
real teacher on another live instance, signs it with that teacher's key (read
from that instance's database) and POSTs it over HTTPS. The receiver fetches
the key from the sender's instance as it would for any peer.
"""

import itertools

from tests.e2e.peers import (
    PUBLIC,
    arrives_home,
    follow,
    home_status,
    open_session,
    post,
    post_signed,
    private_key_of,
    relationship,
)
from tests.support.live import Teacher, eventually

_serial = itertools.count(700000)


def activity_id(sender: Teacher) -> str:
    return f"{sender.instance.url}/activities/{next(_serial)}"


async def send_as(sender: Teacher, receiver: Teacher, activity: dict) -> None:
    """Sign ``activity`` with the sender's key and POST it to the receiver's inbox."""
    key = await private_key_of(sender)
    async with open_session(sender.instance, receiver.instance) as session:
        status, body = await post_signed(
            session,
            f"{receiver.actor_id}/inbox",
            {"@context": "https://www.w3.org/ns/activitystreams", **activity},
            key_id=f"{sender.actor_id}#main-key",
            private_key=key,
        )
    assert status == 202, f"{activity['type']} answered {status}: {body}"


async def test_block_and_undo_reach_blocked_account(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    bob = await district.create_teacher("bob")
    remote_bob = await follow(alice, bob)
    await follow(bob, alice)
    earlier = await post(bob, "Before the block")
    assert await arrives_home(alice, earlier["uri"]) is not None
    block = {
        "id": activity_id(bob),
        "type": "Block",
        "actor": bob.actor_id,
        "object": alice.actor_id,
        "to": [alice.actor_id],
    }

    await send_as(bob, alice, block)

    async def blocked() -> bool:
        return (await relationship(alice, remote_bob["id"]))["blocked_by"]

    assert await eventually(blocked)
    state = await relationship(alice, remote_bob["id"])
    assert state["following"] is False
    assert state["followed_by"] is False
    assert await home_status(alice, earlier["uri"]) is None

    await send_as(
        bob,
        alice,
        {
            "id": activity_id(bob),
            "type": "Undo",
            "actor": bob.actor_id,
            "object": block,
            "to": [alice.actor_id],
        },
    )

    async def unblocked() -> bool:
        return not (await relationship(alice, remote_bob["id"]))["blocked_by"]

    assert await eventually(unblocked)


async def test_update_edits_remote_copy(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    bob = await district.create_teacher("bob")
    await follow(alice, bob)
    original = await post(bob, "Parents evening on Tuesday")
    copy = await arrives_home(alice, original["uri"])
    assert copy is not None
    assert copy["edited_at"] is None
    note = {
        "id": original["uri"],
        "type": "Note",
        "attributedTo": bob.actor_id,
        "content": "<p>Parents evening on Thursday</p>",
        "to": [PUBLIC],
        "cc": [f"{bob.actor_id}/followers"],
        "published": original["created_at"],
        "updated": "2030-01-01T00:00:00Z",
    }

    await send_as(
        bob,
        alice,
        {
            "id": activity_id(bob),
            "type": "Update",
            "actor": bob.actor_id,
            "object": note,
            "to": [PUBLIC],
        },
    )

    async def edited() -> dict | None:
        status = await alice.get(f"/api/v1/statuses/{copy['id']}")
        return status if "Thursday" in status["content"] else None

    updated = await eventually(edited)
    assert updated is not None
    assert updated["edited_at"] is not None
