"""A poll voted on across two live instances: the vote reaches the poll's
author as a Note, and the new totals come back in an Update of the Question."""

from __future__ import annotations

from tests.support.live import eventually
from tests.web.test_mastodon_py import call, client_for


async def test_remote_poll_vote_counted(start_instances):
    school_a, school_b = await start_instances("school-a.test", "district-b.test")
    alice = await school_a.create_teacher("alice")
    bob = await school_b.create_teacher("bob")
    remote_alice = await bob.resolve(alice.handle)
    await call(client_for(bob).account_follow, remote_alice["id"])

    async def followed():
        rows = await alice.get(f"/api/v1/accounts/{alice.account_id}/followers")
        return len(rows) == 1

    assert await eventually(followed)
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
