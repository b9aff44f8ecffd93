"""Account migration between two live instances, in both directions.

The new account lists the old one in ``alsoKnownAs``, the old one moves, and
its followers, on its own instance and on the other, end up following the
new account.
"""

from __future__ import annotations

from typing import Any

from tests.e2e.peers import ACTIVITY_JSON, fetch, follow, open_session, relationship
from tests.support.live import LiveInstance, Teacher, eventually

ALIASES = "/api/pedagogue/v1/account/aliases"
MOVE = "/api/pedagogue/v1/account/move"


async def actor_document(instance: LiveInstance, teacher: Teacher) -> dict[str, Any]:
    async with open_session(instance) as session:
        status, _, document = await fetch(session, teacher.actor_id, ACTIVITY_JSON)
    assert status == 200
    return document


async def follows(follower: Teacher, followed: Teacher) -> bool:
    """Return True when ``follower`` has an accepted follow of ``followed``."""
    found = await follower.get(
        "/api/v2/search",
        params={"q": f"@{followed.handle}", "resolve": "true", "type": "accounts"},
    )
    if not found["accounts"]:
        return False
    return bool((await relationship(follower, found["accounts"][0]["id"]))["following"])


async def stored_follow(
    instance: LiveInstance, follower: Teacher, followed: Teacher
) -> bool:
    connection = await instance.db()
    try:
        return bool(
            await connection.fetchval(
                "SELECT EXISTS (SELECT 1 FROM follows f"
                " JOIN accounts a ON a.id = f.account_id"
                " JOIN accounts t ON t.id = f.target_account_id"
                " WHERE a.actor_id = $1 AND t.actor_id = $2)",
                follower.actor_id,
                followed.actor_id,
            )
        )
    finally:
        await connection.close()


async def migrate(old: Teacher, new: Teacher) -> dict[str, Any]:
    """Alias ``old`` on ``new``, then move ``old``; return the move's response."""
    status, aliases = await new.request(
        "PUT", ALIASES, json={"also_known_as": [old.handle]}
    )
    assert status == 200, aliases
    assert aliases["also_known_as"] == [old.actor_id]
    status, moved = await old.request("POST", MOVE, json={"target": new.handle})
    assert status == 200, moved
    return moved


async def test_move_between_instances_both_ways(start_instances: Any) -> None:
    school, district = await start_instances("school-a.test", "district-b.test")
    # One move from school-a to district-b, one the other way.
    alice = await school.create_teacher("alice")
    anna = await district.create_teacher("anna")
    dan = await district.create_teacher("dan")
    erin = await school.create_teacher("erin")
    # Followers on the other instance and on the moving account's own.
    bob = await district.create_teacher("bob")
    carl = await school.create_teacher("carl")
    fay = await school.create_teacher("fay")
    await follow(bob, alice)
    await follow(carl, alice)
    await follow(fay, dan)

    moved = await migrate(alice, anna)
    assert moved["moved_to"] == anna.actor_id
    assert await eventually(lambda: follows(bob, anna))
    assert await eventually(lambda: follows(carl, anna))
    assert not await follows(bob, alice)
    assert not await follows(carl, alice)
    # The Undo of bob's old follow reaches school-a.
    assert await eventually(
        lambda: _negated(stored_follow(school, bob, alice)), timeout=15.0
    )
    document = await actor_document(school, alice)
    assert document["movedTo"] == anna.actor_id
    assert (await actor_document(district, anna))["alsoKnownAs"] == [alice.actor_id]

    await migrate(dan, erin)
    assert await eventually(lambda: follows(fay, erin))
    assert not await follows(fay, dan)


async def _negated(check: Any) -> bool:
    return not await check


async def test_move_without_alias_rejected(start_instances: Any) -> None:
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    anna = await district.create_teacher("anna")
    bob = await district.create_teacher("bob")
    await follow(bob, alice)

    status, body = await alice.request("POST", MOVE, json={"target": anna.handle})

    assert status == 422
    assert "alias" in body["error"]
    assert "movedTo" not in await actor_document(school, alice)
    assert await follows(bob, alice)
