"""Follow, Accept, Reject and Undo(Follow) between live instances."""

from tests.e2e.peers import (
    arrives_home,
    fetch,
    follow,
    open_session,
    post,
    relationship,
)
from tests.support.live import eventually


async def test_remote_lookup_by_handle(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    await district.create_teacher("bob", display_name="Bob Baker")

    found = await alice.resolve(f"@BOB@{district.host}")
    lookup = await alice.get(
        "/api/v1/accounts/lookup", params={"acct": f"bob@{district.host}"}
    )

    assert found["acct"] == f"bob@{district.host}"
    assert found["uri"] == f"{district.url}/users/bob"
    assert found["display_name"] == "Bob Baker"
    assert lookup["id"] == found["id"]


async def test_follow_accepted_on_both_sides(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    bob = await district.create_teacher("bob")

    remote_bob = await follow(alice, bob)
    remote_alice = await bob.resolve(f"@{alice.handle}")
    seen_by_bob = await relationship(bob, remote_alice["id"])
    notice = await eventually(
        lambda: bob.get("/api/v1/notifications", params={"types[]": "follow"})
    )
    bob_profile = await alice.get(f"/api/v1/accounts/{remote_bob['id']}")

    assert seen_by_bob["followed_by"] is True
    assert seen_by_bob["requested_by"] is False
    assert [item["account"]["acct"] for item in notice] == [alice.handle]
    assert bob_profile["locked"] is False


async def test_unfollow_removes_follower_remotely(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    bob = await district.create_teacher("bob")
    remote_bob = await follow(alice, bob)
    remote_alice = await bob.resolve(f"@{alice.handle}")

    answer = await alice.post(f"/api/v1/accounts/{remote_bob['id']}/unfollow")

    async def follower_gone() -> bool:
        return not (await relationship(bob, remote_alice["id"]))["followed_by"]

    assert answer["following"] is False
    assert await eventually(follower_gone)
    async with open_session(school, district) as session:
        _, _, followers = await fetch(session, f"{bob.actor_id}/followers")
    assert followers["totalItems"] == 0
    notices = await bob.get("/api/v1/notifications", params={"types[]": "follow"})
    assert notices == []


async def test_approval_account_authorizes_request(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    bob = await district.create_teacher("bob", approve_followers=True)
    remote_bob = await alice.resolve(f"@{bob.handle}")
    assert remote_bob["locked"] is True

    await alice.post(f"/api/v1/accounts/{remote_bob['id']}/follow")
    requests = await eventually(lambda: bob.get("/api/v1/follow_requests"))
    pending = await relationship(alice, remote_bob["id"])
    request_notices = await bob.get(
        "/api/v1/notifications", params={"types[]": "follow_request"}
    )

    assert [account["acct"] for account in requests] == [alice.handle]
    assert pending["requested"] is True
    assert pending["following"] is False
    assert [item["account"]["acct"] for item in request_notices] == [alice.handle]

    answer = await bob.post(f"/api/v1/follow_requests/{requests[0]['id']}/authorize")

    async def following() -> bool:
        return (await relationship(alice, remote_bob["id"]))["following"]

    assert answer["followed_by"] is True
    assert await eventually(following)
    assert await bob.get("/api/v1/follow_requests") == []
    status = await post(bob, "Approved followers see this", visibility="private")
    assert await arrives_home(alice, status["uri"])


async def test_approval_account_rejects_request(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    bob = await district.create_teacher("bob", approve_followers=True)
    remote_bob = await alice.resolve(f"@{bob.handle}")
    await alice.post(f"/api/v1/accounts/{remote_bob['id']}/follow")
    requests = await eventually(lambda: bob.get("/api/v1/follow_requests"))

    answer = await bob.post(f"/api/v1/follow_requests/{requests[0]['id']}/reject")

    async def request_withdrawn() -> bool:
        state = await relationship(alice, remote_bob["id"])
        return not state["requested"] and not state["following"]

    assert answer["followed_by"] is False
    assert answer["requested_by"] is False
    assert await eventually(request_withdrawn)
    assert await bob.get("/api/v1/follow_requests") == []
    notices = await bob.get(
        "/api/v1/notifications", params={"types[]": "follow_request"}
    )
    assert notices == []


async def test_withdrawn_request_leaves_approval_queue(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    bob = await district.create_teacher("bob", approve_followers=True)
    remote_bob = await alice.resolve(f"@{bob.handle}")
    await alice.post(f"/api/v1/accounts/{remote_bob['id']}/follow")
    assert await eventually(lambda: bob.get("/api/v1/follow_requests"))

    answer = await alice.post(f"/api/v1/accounts/{remote_bob['id']}/unfollow")

    async def queue_empty() -> bool:
        return await bob.get("/api/v1/follow_requests") == []

    assert answer["requested"] is False
    assert await eventually(queue_empty)
    notices = await bob.get(
        "/api/v1/notifications", params={"types[]": "follow_request"}
    )
    assert notices == []
