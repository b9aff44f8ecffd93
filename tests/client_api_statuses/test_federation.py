"""Polls and edits across two live instances. A vote reaches the poll's
author as a Note, and the new totals come back in an Update of the Question.
An edit reaches followers as an Update that keeps the earlier version."""

from __future__ import annotations

from tests.support.live import eventually
from tests.web.test_mastodon_py import call, client_for


async def _follower_across(start_instances):
    """Start two instances where bob follows alice; return alice and bob."""
    school_a, district_b = await start_instances("school-a.test", "district-b.test")
    alice = await school_a.create_teacher("alice")
    bob = await district_b.create_teacher("bob")
    remote_alice = await bob.resolve(alice.handle)
    await call(client_for(bob).account_follow, remote_alice["id"])

    async def followed():
        rows = await alice.get(f"/api/v1/accounts/{alice.account_id}/followers")
        return len(rows) == 1

    assert await eventually(followed)
    return alice, bob


async def test_remote_poll_vote_counted(start_instances):
    alice, bob = await _follower_across(start_instances)
    api = client_for(alice)
    poll = await call(api.make_poll, ["Monday", "Friday"], expires_in=3600)
    status = await call(api.status_post, "Which day for the trip?", poll=poll)

    async def received():
        home = await bob.get("/api/v1/timelines/home")
        return next((item for item in home if item["uri"] == status.uri), None)

    copy = await eventually(received)
    assert copy is not None
    assert [o["title"] for o in copy["poll"]["options"]] == ["Monday", "Friday"]

    voted = await call(client_for(bob).poll_vote, copy["poll"]["id"], [1])

    async def counted():
        local = await alice.get(f"/api/v1/polls/{status.poll.id}")
        return local if local["votes_count"] == 1 else None

    local = await eventually(counted)

    async def totals_returned():
        remote = await bob.get(f"/api/v1/polls/{copy['poll']['id']}")
        return remote if remote["options"][1]["votes_count"] == 1 else None

    remote = await eventually(totals_returned)

    assert voted.own_votes == [1]
    assert local is not None
    assert [o["votes_count"] for o in local["options"]] == [0, 1]
    assert remote is not None
    assert remote["voters_count"] == 1
    assert remote["own_votes"] == [1]


async def test_remote_edit_keeps_history(start_instances):
    alice, bob = await _follower_across(start_instances)
    api = client_for(alice)
    status = await call(api.status_post, "Trip on Monday")

    async def received():
        home = await bob.get("/api/v1/timelines/home")
        return next((item for item in home if item["uri"] == status.uri), None)

    copy = await eventually(received)
    assert copy is not None
    await call(api.status_update, status.id, "Trip on Friday")

    async def edited():
        remote = await bob.get(f"/api/v1/statuses/{copy['id']}")
        return remote if "Friday" in remote["content"] else None

    remote = await eventually(edited)
    history = await bob.get(f"/api/v1/statuses/{copy['id']}/history")

    assert remote is not None
    assert remote["edited_at"] is not None
    assert ["Monday" in item["content"] for item in history] == [True, False]
