"""Group moderation through the real signed inbox and the client API, in process.

A local group handles Mastodon-shaped activities: a non-member's post gets a
Reject of its Create, a join request notifies the moderators, and a removed
member's Follow is rejected. A Lemmy-shaped remote community announces a
moderator's Delete, a ban (Block) and an Update of itself, which this instance
applies to the community's boosts, to local members and to its stored
moderators.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from actors.group import GroupInput
from outbox.actions import Actions, NewStatus
from outbox.groups import GroupActions
from pedagogue.accounts import create_teacher
from storage import social
from tests.groups.test_api import call, token_for
from tests.groups.test_inbox import create_for, follow_of, follow_row
from tests.inbox.conftest import InboxHarness, MakeHarness
from tests.support.openapi import validate_response

GROUPS = "/api/pedagogue/v1/groups"


async def make_group(harness: InboxHarness, *, approval: bool = False) -> Any:
    return await GroupActions(harness.runtime).create(
        harness.alice,
        GroupInput(name="maths_teachers", approval_required=approval),
    )


async def sent(harness: InboxHarness, account: Any, kind: str) -> list[Any]:
    """Return the bodies of the activities an account sent, with their inboxes."""
    rows = await harness.pool.fetch(
        "SELECT a.body, array_agg(d.inbox_url) AS inboxes FROM activities a"
        " LEFT JOIN deliveries d ON d.activity_id = a.id"
        " WHERE a.account_id = $1 AND a.type = $2 GROUP BY a.id ORDER BY a.id",
        account["id"],
        kind,
    )
    return [(row["body"], row["inboxes"]) for row in rows]


async def notifications(harness: InboxHarness, account: Any) -> list[Any]:
    return list(
        await harness.pool.fetch(
            "SELECT * FROM notifications WHERE account_id = $1", account["id"]
        )
    )


# A local group and Mastodon-shaped senders


async def test_non_member_create_gets_reject(
    harness: InboxHarness, caplog: pytest.LogCaptureFixture
) -> None:
    group = await make_group(harness)
    create = create_for(harness, group)

    with caplog.at_level(logging.INFO, logger="outbox.groups"):
        await harness.deliver(create)

    rejects = await sent(harness, group, "Reject")
    assert len(rejects) == 1
    body, inboxes = rejects[0]
    assert body["object"]["type"] == "Create"
    assert body["object"]["id"] == create["id"]
    assert body["object"]["object"] == create["object"]["id"]
    assert body["to"] == [harness.actor_id()]
    assert "content" not in body["object"]
    assert inboxes == [f"https://{harness.peer.host}/users/rosa/inbox"]
    assert create["id"] in caplog.text
    assert harness.actor_id() in caplog.text


async def test_pending_member_create_gets_reject(harness: InboxHarness) -> None:
    group = await make_group(harness, approval=True)
    await harness.deliver(follow_of(harness, group))

    await harness.deliver(create_for(harness, group))

    rejects = await sent(harness, group, "Reject")
    announces = await sent(harness, group, "Announce")
    assert len(rejects) == 1
    assert "pending" in rejects[0][0]["summary"]
    assert announces == []


async def test_join_request_notifies_moderators(harness: InboxHarness) -> None:
    group = await make_group(harness, approval=True)
    bob = await create_teacher(
        harness.pool, harness.runtime.settings, username="bob", password=None
    )
    await social.upsert_follow(harness.pool, bob["id"], group["id"], None, True)
    await GroupActions(harness.runtime).add_moderator(
        harness.alice, group, bob, "moderator"
    )

    await harness.deliver(follow_of(harness, group))

    rosa = await harness.account(harness.actor_id())
    for moderator in (harness.alice, bob):
        rows = await notifications(harness, moderator)
        assert [row["type"] for row in rows] == ["group_join_request"]
        assert rows[0]["from_account_id"] == rosa["id"]
        assert rows[0]["group_id"] == group["id"]
    assert await notifications(harness, group) == []


async def test_join_request_shown_in_notifications_api(harness: InboxHarness) -> None:
    group = await make_group(harness, approval=True)
    await harness.deliver(follow_of(harness, group))
    headers = await token_for(harness, harness.alice)

    status, body = await call(harness, "GET", "/api/v1/notifications", headers)

    assert status == 200
    assert [item["type"] for item in body] == ["group_join_request"]
    assert body[0]["group_id"] == str(group["id"])
    assert body[0]["account"]["acct"].startswith("rosa@")


async def test_withdrawn_join_request_clears_notifications(
    harness: InboxHarness,
) -> None:
    group = await make_group(harness, approval=True)
    follow = follow_of(harness, group)
    await harness.deliver(follow)
    undo = harness.fixture("undo_follow")
    undo["object"] = {key: value for key, value in follow.items() if key != "@context"}

    await harness.deliver(undo)

    assert await notifications(harness, harness.alice) == []


async def test_authorized_join_request_clears_notifications(
    harness: InboxHarness,
) -> None:
    group = await make_group(harness, approval=True)
    await harness.deliver(follow_of(harness, group))
    rosa = await harness.account(harness.actor_id())
    headers = await token_for(harness, harness.alice)
    path = f"{GROUPS}/{group['id']}/requests/{rosa['id']}/authorize"

    status, body = await call(harness, "POST", path, headers)

    validate_response(
        "groups",
        f"{GROUPS}/{{id}}/requests/{{account_id}}/{{decision}}",
        "POST",
        200,
        body,
    )
    assert status == 200
    assert body["member"] is True
    assert await notifications(harness, harness.alice) == []
    accepts = await sent(harness, group, "Accept")
    assert len(accepts) == 1


async def test_removed_member_follow_rejected(harness: InboxHarness) -> None:
    group = await make_group(harness)
    await harness.deliver(follow_of(harness, group))
    rosa = await harness.account(harness.actor_id())
    await GroupActions(harness.runtime).remove_member(harness.alice, group, rosa)
    again = follow_of(harness, group)
    again["id"] = f"{again['id']}-again"

    await harness.deliver(again)

    rejects = await sent(harness, group, "Reject")
    assert await follow_row(harness, group) is None
    assert len(rejects) == 2
    assert all(body["object"]["type"] == "Follow" for body, _ in rejects)


async def test_removed_member_create_gets_reject(harness: InboxHarness) -> None:
    group = await make_group(harness)
    await harness.deliver(follow_of(harness, group))
    rosa = await harness.account(harness.actor_id())
    await GroupActions(harness.runtime).remove_member(harness.alice, group, rosa)

    await harness.deliver(create_for(harness, group))

    creates = [
        body
        for body, _ in await sent(harness, group, "Reject")
        if body["object"]["type"] == "Create"
    ]
    assert len(creates) == 1
    assert "removed" in creates[0]["summary"]


async def test_readmitted_member_can_follow_again(harness: InboxHarness) -> None:
    group = await make_group(harness)
    await harness.deliver(follow_of(harness, group))
    rosa = await harness.account(harness.actor_id())
    actions = GroupActions(harness.runtime)
    await actions.remove_member(harness.alice, group, rosa)
    headers = await token_for(harness, harness.alice)
    path = f"{GROUPS}/{group['id']}/removed"

    listed_status, listed = await call(harness, "GET", path, headers)
    status, body = await call(harness, "DELETE", f"{path}/{rosa['id']}", headers)
    again = follow_of(harness, group)
    again["id"] = f"{again['id']}-again"
    await harness.deliver(again)

    template = f"{GROUPS}/{{id}}/removed"
    validate_response("groups", template, "GET", 200, listed)
    validate_response("groups", f"{template}/{{account_id}}", "DELETE", 200, body)
    assert listed_status == 200
    assert [item["id"] for item in listed] == [str(rosa["id"])]
    assert status == 200
    assert body["removed"] is False
    follow = await follow_row(harness, group)
    assert follow is not None
    assert follow["accepted"] is True


async def test_local_removed_member_cannot_rejoin(harness: InboxHarness) -> None:
    group = await make_group(harness)
    bob = await create_teacher(
        harness.pool, harness.runtime.settings, username="bob", password=None
    )
    bob_headers = await token_for(harness, bob)
    join = f"{GROUPS}/{group['id']}/join"
    await call(harness, "POST", join, bob_headers)
    await GroupActions(harness.runtime).remove_member(harness.alice, group, bob)

    status, error = await call(harness, "POST", join, bob_headers)

    state_status, state = await call(
        harness, "GET", f"{GROUPS}/{group['id']}/membership", bob_headers
    )

    validate_response("groups", f"{GROUPS}/{{id}}/join", "POST", 403, error)
    validate_response("groups", f"{GROUPS}/{{id}}/membership", "GET", 200, state)
    assert status == 403
    assert "removed" in error["error"]
    assert state_status == 200
    assert state["removed"] is True
    assert state["member"] is False


async def test_moderator_removal_announces_delete(harness: InboxHarness) -> None:
    group = await make_group(harness)
    await harness.deliver(follow_of(harness, group))
    create = create_for(harness, group)
    await harness.deliver(create)
    status = await harness.status(create["object"]["id"])

    await GroupActions(harness.runtime).remove_post(harness.alice, group, status)

    announces = [
        body
        for body, _ in await sent(harness, group, "Announce")
        if isinstance(body["object"], dict) and body["object"]["type"] == "Delete"
    ]
    undos = await sent(harness, group, "Undo")
    assert len(announces) == 1
    delete = announces[0]["object"]
    assert delete["actor"] == harness.alice["actor_id"]
    assert delete["object"] == create["object"]["id"]
    assert delete["audience"] == group["actor_id"]
    assert len(undos) == 1
    assert (await harness.status(create["object"]["id"]))["deleted_at"] is None


# A local teacher's post rejected by a remote group


async def remote_group(harness: InboxHarness, username: str) -> str:
    """Serve a Group actor on the peer, store it here, and return its id."""
    actor_id = harness.peer.url(f"/c/{username}")
    harness._serve_actor(
        {
            "@context": ["https://www.w3.org/ns/activitystreams"],
            "id": actor_id,
            "type": "Group",
            "preferredUsername": username,
            "inbox": f"{actor_id}/inbox",
            "followers": f"{actor_id}/followers",
            "publicKey": {
                "id": f"{actor_id}#main-key",
                "owner": actor_id,
                "publicKeyPem": harness.keys.public_pem,
            },
        }
    )
    await harness.runtime.resolver.actor(actor_id)
    return actor_id


def reject_of(group_id: str, create_uri: str, author: str) -> dict[str, Any]:
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{group_id}/activities/reject-1",
        "type": "Reject",
        "actor": group_id,
        "object": {"id": create_uri, "type": "Create", "actor": author},
        "summary": "the author is not a member of the group",
    }


async def test_reject_of_create_notifies_author(harness: InboxHarness) -> None:
    group_id = await remote_group(harness, "maths_group")
    await harness.follow_remote()
    status = await Actions(harness.runtime).post_status(
        harness.alice, NewStatus(f"@maths_group@{harness.peer.host} Ratio tables")
    )
    create_uri = await harness.pool.fetchval(
        "SELECT activity_uri FROM statuses WHERE id = $1", status["id"]
    )

    await harness.deliver(reject_of(group_id, create_uri, harness.alice["actor_id"]))

    rows = await notifications(harness, harness.alice)
    group = await harness.account(group_id)
    rejected = [row for row in rows if row["type"] == "group_post_rejected"]
    assert len(rejected) == 1
    assert rejected[0]["from_account_id"] == group["id"]
    assert rejected[0]["status_id"] == status["id"]
    follows = await harness.pool.fetchval(
        "SELECT count(*) FROM follows WHERE account_id = $1", harness.alice["id"]
    )
    assert follows == 1


async def test_reject_by_unaddressed_group_ignored(harness: InboxHarness) -> None:
    group_id = await remote_group(harness, "other_group")
    await harness.follow_remote()
    create_uri = await harness.pool.fetchval(
        "SELECT activity_uri FROM statuses WHERE id = $1", harness.alice_note["id"]
    )

    await harness.deliver(reject_of(group_id, create_uri, harness.alice["actor_id"]))

    row = await harness.queue_row(f"{group_id}/activities/reject-1")
    rows = await notifications(harness, harness.alice)
    follows = await harness.pool.fetchval(
        "SELECT count(*) FROM follows WHERE account_id = $1", harness.alice["id"]
    )
    assert [r for r in rows if r["type"] == "group_post_rejected"] == []
    assert row["state"] == "ignored"
    assert follows == 1


# A Lemmy-shaped remote community


async def lemmy_with_boost(make_harness: MakeHarness) -> tuple[InboxHarness, str, str]:
    """Return a Lemmy harness where alice follows the community, and the
    community's boost of emeka's post is stored; with the community and post ids."""
    harness = await make_harness("lemmy")
    community = harness.actor_id("actor_community")
    await harness.follow_remote(community)
    announce = harness.fixture("announce")
    await harness.deliver(announce)
    return harness, community, announce["object"]["id"]


def announce_of(harness: InboxHarness, community: str, activity: dict) -> dict:
    return {
        "@context": [
            "https://join-lemmy.org/context.json",
            "https://www.w3.org/ns/activitystreams",
        ],
        "id": harness.peer.url(f"/activities/announce/{activity['type'].lower()}/1"),
        "type": "Announce",
        "actor": community,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "cc": [f"{community}/followers"],
        "object": activity,
    }


async def community_boost(harness: InboxHarness, community: str, post_id: str) -> Any:
    return await harness.pool.fetchrow(
        "SELECT r.* FROM statuses r JOIN statuses s ON s.id = r.reblog_of_id"
        " JOIN accounts a ON a.id = r.account_id"
        " WHERE a.actor_id = $1 AND s.uri = $2",
        community,
        post_id,
    )


async def test_lemmy_moderator_delete_removes_boost(make_harness: MakeHarness) -> None:
    harness, community, post_id = await lemmy_with_boost(make_harness)
    moderator = harness.add_actor("lena")
    delete = {
        "id": harness.peer.url("/activities/delete/moderation-1"),
        "type": "Delete",
        "actor": moderator,
        "object": post_id,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "cc": [community],
        "audience": community,
        "summary": "Off topic",
    }
    before = await community_boost(harness, community, post_id)

    await harness.deliver(announce_of(harness, community, delete))

    after = await community_boost(harness, community, post_id)
    post = await harness.status(post_id)
    assert before is not None
    assert before["deleted_at"] is None
    assert after["deleted_at"] is not None
    assert post["deleted_at"] is None


async def test_delete_by_non_moderator_elsewhere_ignored(
    make_harness: MakeHarness,
) -> None:
    harness, community, post_id = await lemmy_with_boost(make_harness)
    stranger = harness.add_actor("stranger", other_host=True)
    delete = {
        "id": f"{stranger}/activities/delete-1",
        "type": "Delete",
        "actor": stranger,
        "object": post_id,
        "audience": community,
    }

    await harness.deliver(announce_of(harness, community, delete))

    boost = await community_boost(harness, community, post_id)
    assert boost["deleted_at"] is None


async def test_lemmy_ban_ends_local_membership(make_harness: MakeHarness) -> None:
    harness, community, _ = await lemmy_with_boost(make_harness)
    follow = await harness.pool.fetchrow(
        "SELECT f.* FROM follows f JOIN accounts a ON a.id = f.target_account_id"
        " WHERE a.actor_id = $1",
        community,
    )
    block = {
        "id": harness.peer.url("/activities/block/ban-1"),
        "type": "Block",
        "actor": harness.add_actor("lena"),
        "object": harness.alice["actor_id"],
        "target": community,
        "audience": community,
        "summary": "Spam",
    }

    await harness.deliver(announce_of(harness, community, block))

    after = await harness.pool.fetchval(
        "SELECT count(*) FROM follows WHERE id = $1", follow["id"]
    )
    assert follow is not None
    assert after == 0


async def test_group_update_stores_moderators(make_harness: MakeHarness) -> None:
    harness = await make_harness("lemmy")
    community = harness.fixture("actor_community")
    lena = harness.add_actor("lena")
    emeka = harness.actor_id()
    harness.peer.serve(
        community["attributedTo"],
        {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": community["attributedTo"],
            "type": "OrderedCollection",
            "orderedItems": [lena, emeka],
        },
    )
    update = {
        "@context": community["@context"],
        "id": harness.peer.url("/activities/update/group-1"),
        "type": "Update",
        "actor": community["id"],
        "object": {key: value for key, value in community.items() if key != "@context"},
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
    }

    await harness.deliver(update)

    group = await harness.account(community["id"])
    headers = await token_for(harness, harness.alice)
    status, body = await call(harness, "GET", f"{GROUPS}/{group['id']}", headers)
    listed_status, listed = await call(
        harness, "GET", f"{GROUPS}/{group['id']}/moderators", headers
    )
    validate_response("groups", f"{GROUPS}/{{id}}", "GET", 200, body)
    assert status == 200
    assert [m["acct"] for m in body["moderators"]] == [
        f"lena@{harness.peer.host}",
        f"emeka@{harness.peer.host}",
    ]
    assert listed_status == 200
    assert [m["acct"] for m in listed] == [
        f"lena@{harness.peer.host}",
        f"emeka@{harness.peer.host}",
    ]


async def test_lemmy_add_moderator_refetches_collection(
    make_harness: MakeHarness,
) -> None:
    harness, community, _ = await lemmy_with_boost(make_harness)
    document = harness.fixture("actor_community")
    lena = harness.add_actor("lena")
    collection = {
        "id": document["attributedTo"],
        "type": "OrderedCollection",
        "orderedItems": [harness.actor_id(), lena],
    }
    harness.peer.serve(document["attributedTo"], collection)
    add = {
        "id": harness.peer.url("/activities/add/moderator-1"),
        "type": "Add",
        "actor": harness.actor_id(),
        "object": lena,
        "target": document["attributedTo"],
        "audience": community,
    }

    await harness.deliver(announce_of(harness, community, add))

    group = await harness.account(community)
    rows = await harness.pool.fetch(
        "SELECT a.actor_id FROM remote_group_moderators m"
        " JOIN accounts a ON a.id = m.account_id WHERE m.group_id = $1"
        " ORDER BY m.position",
        group["id"],
    )
    assert [row["actor_id"] for row in rows] == [harness.actor_id(), lena]


async def test_mastodon_api_follow_of_group_checked(harness: InboxHarness) -> None:
    group = await make_group(harness, approval=True)
    bob = await create_teacher(
        harness.pool, harness.runtime.settings, username="bob", password=None
    )
    carol = await create_teacher(
        harness.pool, harness.runtime.settings, username="carol", password=None
    )
    await social.upsert_follow(harness.pool, bob["id"], group["id"], None, True)
    await GroupActions(harness.runtime).remove_member(harness.alice, group, bob)
    path = f"/api/v1/accounts/{group['id']}/follow"

    removed_status, removed = await call(
        harness, "POST", path, await token_for(harness, bob)
    )
    status, relationship = await call(
        harness, "POST", path, await token_for(harness, carol)
    )

    rows = await notifications(harness, harness.alice)
    assert removed_status == 403
    assert "removed" in removed["error"]
    assert status == 200
    assert relationship["requested"] is True
    assert [row["type"] for row in rows] == ["group_join_request"]
    assert rows[0]["from_account_id"] == carol["id"]
