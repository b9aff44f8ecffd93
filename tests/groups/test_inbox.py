"""Mastodon-shaped activities for a local group, through the real signed inbox.

The payloads start from the Mastodon fixtures (rosa's Follow and Create) and
are pointed at the group the way Mastodon addresses one: the Follow's object is
the group actor, and a post names the group in ``tag`` (a Mention) and ``cc``.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from actors.group import GroupInput
from outbox.groups import GroupActions
from storage import social
from tests.inbox.conftest import InboxHarness

GROUP_NAME = "maths_teachers"


async def make_group(harness: InboxHarness, *, approval: bool = False) -> Any:
    return await GroupActions(harness.runtime).create(
        harness.alice,
        GroupInput(name=GROUP_NAME, description="Maths", approval_required=approval),
    )


def follow_of(harness: InboxHarness, group: Any) -> dict[str, Any]:
    follow = harness.fixture("follow")
    follow["object"] = group["actor_id"]
    return follow


def create_for(harness: InboxHarness, group: Any) -> dict[str, Any]:
    create = harness.fixture("create_note")
    mention = {
        "type": "Mention",
        "href": group["actor_id"],
        "name": f"@{GROUP_NAME}@school-a.test",
    }
    for document in (create, create["object"]):
        document["cc"] = [*document["cc"], group["actor_id"]]
    create["object"]["tag"].append(mention)
    return create


async def group_activities(harness: InboxHarness, group: Any, kind: str) -> list[Any]:
    rows = await harness.pool.fetch(
        "SELECT body FROM activities WHERE account_id = $1 AND type = $2",
        group["id"],
        kind,
    )
    return [row["body"] for row in rows]


async def follow_row(harness: InboxHarness, group: Any) -> Any:
    rosa = await harness.account(harness.actor_id())
    return await harness.pool.fetchrow(
        "SELECT * FROM follows WHERE account_id = $1 AND target_account_id = $2",
        rosa["id"],
        group["id"],
    )


async def test_mastodon_follow_of_group_accepted(harness: InboxHarness) -> None:
    group = await make_group(harness)

    await harness.deliver(follow_of(harness, group))

    follow = await follow_row(harness, group)
    accepts = await group_activities(harness, group, "Accept")
    assert follow is not None
    assert follow["accepted"] is True
    assert len(accepts) == 1
    assert accepts[0]["actor"] == group["actor_id"]
    assert accepts[0]["object"]["actor"] == harness.actor_id()


async def test_mastodon_follow_of_approval_group_pending(harness: InboxHarness) -> None:
    group = await make_group(harness, approval=True)

    await harness.deliver(follow_of(harness, group))

    follow = await follow_row(harness, group)
    assert follow is not None
    assert follow["accepted"] is False
    assert await group_activities(harness, group, "Accept") == []


async def test_mastodon_undo_follow_leaves_group(harness: InboxHarness) -> None:
    group = await make_group(harness)
    follow = follow_of(harness, group)
    await harness.deliver(follow)
    undo = harness.fixture("undo_follow")
    undo["object"] = {key: value for key, value in follow.items() if key != "@context"}

    await harness.deliver(undo)

    assert await follow_row(harness, group) is None


async def test_mastodon_create_from_member_announced(harness: InboxHarness) -> None:
    group = await make_group(harness)
    await harness.deliver(follow_of(harness, group))
    create = create_for(harness, group)

    await harness.deliver(create)

    note_uri = create["object"]["id"]
    announces = await group_activities(harness, group, "Announce")
    boosts = [body for body in announces if isinstance(body["object"], str)]
    wrapped = [body for body in announces if isinstance(body["object"], dict)]
    assert len(boosts) == 1
    assert boosts[0]["object"] == note_uri
    assert boosts[0]["audience"] == group["actor_id"]
    assert f"{group['actor_id']}/followers" in boosts[0]["cc"]
    assert len(wrapped) == 1
    assert wrapped[0]["object"] == create
    in_alice_home = await harness.pool.fetchval(
        "SELECT count(*) FROM home_feed h JOIN statuses s ON s.id = h.status_id"
        " JOIN statuses o ON o.id = s.reblog_of_id"
        " WHERE h.account_id = $1 AND s.account_id = $2 AND o.uri = $3",
        harness.alice["id"],
        group["id"],
        note_uri,
    )
    assert in_alice_home == 1
    deliveries = await harness.pool.fetch(
        "SELECT d.inbox_url FROM deliveries d JOIN activities a ON a.id = d.activity_id"
        " WHERE a.uri = $1",
        boosts[0]["id"],
    )
    assert [row["inbox_url"] for row in deliveries] == [
        f"https://{harness.peer.host}/inbox"
    ]


async def test_create_by_audience_announced(harness: InboxHarness) -> None:
    # FEP-1b12 servers name the group in audience rather than by mention.
    group = await make_group(harness)
    await harness.deliver(follow_of(harness, group))
    create = harness.fixture("create_note")
    create["object"]["audience"] = group["actor_id"]

    await harness.deliver(create)

    announces = await group_activities(harness, group, "Announce")
    boosted = [body["object"] for body in announces if isinstance(body["object"], str)]
    assert boosted == [create["object"]["id"]]


async def test_mastodon_create_from_non_member_not_announced(
    harness: InboxHarness, caplog: pytest.LogCaptureFixture
) -> None:
    group = await make_group(harness)
    create = create_for(harness, group)

    with caplog.at_level(logging.INFO, logger="outbox.groups"):
        await harness.deliver(create)

    assert await harness.status(create["object"]["id"]) is not None
    assert await group_activities(harness, group, "Announce") == []
    assert "is not a member" in caplog.text


async def test_followers_only_post_not_announced(harness: InboxHarness) -> None:
    group = await make_group(harness)
    await harness.deliver(follow_of(harness, group))
    create = create_for(harness, group)
    for document in (create, create["object"]):
        document["to"] = [f"{harness.actor_id()}/followers"]

    await harness.deliver(create)

    assert await group_activities(harness, group, "Announce") == []


@pytest.mark.parametrize("target", ["teacher", "group"])
async def test_follow_from_blocked_account_rejected(
    harness: InboxHarness, target: str
) -> None:
    rosa = await harness.runtime.resolver.actor(harness.actor_id())
    if target == "group":
        local = await make_group(harness)
    else:
        local = harness.alice
    await social.add_block(harness.pool, local["id"], rosa["id"], None)
    follow = harness.fixture("follow")
    follow["object"] = local["actor_id"]

    await harness.deliver(follow)
    rejects = await harness.pool.fetch(
        "SELECT body FROM activities WHERE type = 'Reject'"
    )

    assert len(rejects) == 1
    assert rejects[0]["body"]["object"]["id"] == follow["id"]
    assert (await harness.queue_row(follow["id"]))["state"] == "done"
    follows = await harness.pool.fetchval(
        "SELECT count(*) FROM follows WHERE account_id = $1", rosa["id"]
    )
    assert follows == 0
