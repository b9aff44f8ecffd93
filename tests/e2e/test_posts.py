"""Posts and replies travelling between live instances, with their addressing."""

from tests.e2e.peers import (
    arrives_home,
    follow,
    home_status,
    notification,
    post,
    status_by_id,
)
from tests.support.live import eventually


async def test_posts_reach_home_timelines_both_ways(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    bob = await district.create_teacher("bob")
    await follow(alice, bob)
    await follow(bob, alice)

    from_bob = await post(bob, "Fractions lesson tomorrow #maths")
    from_alice = await post(alice, "Fractions worksheet is ready")
    at_alice = await arrives_home(alice, from_bob["uri"])
    at_bob = await arrives_home(bob, from_alice["uri"])

    assert at_alice is not None
    assert at_alice["account"]["acct"] == bob.handle
    assert "Fractions lesson tomorrow" in at_alice["content"]
    assert [tag["name"] for tag in at_alice["tags"]] == ["maths"]
    assert at_alice["visibility"] == "public"
    assert at_bob is not None
    assert at_bob["account"]["acct"] == alice.handle
    assert "Fractions worksheet is ready" in at_bob["content"]


async def test_reply_comes_back_into_thread(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    bob = await district.create_teacher("bob")
    await follow(alice, bob)
    question = await post(bob, "Who has a good exit ticket for ratios?")
    copy = await arrives_home(alice, question["uri"])
    assert copy is not None

    reply = await post(
        alice, "Try a three-question ratio table", in_reply_to_id=copy["id"]
    )

    async def reply_in_thread() -> list:
        context = await bob.get(f"/api/v1/statuses/{question['id']}/context")
        return [s for s in context["descendants"] if s["uri"] == reply["uri"]]

    descendants = await eventually(reply_in_thread)
    mention = await notification(bob, "mention", reply["uri"])
    original = await bob.get(f"/api/v1/statuses/{question['id']}")

    assert len(descendants) == 1
    assert descendants[0]["in_reply_to_id"] == question["id"]
    assert descendants[0]["account"]["acct"] == alice.handle
    assert mention is not None
    assert mention["account"]["acct"] == alice.handle
    assert original["replies_count"] == 1


async def test_followers_only_post_reaches_only_followers(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    dave = await school.create_teacher("dave")
    bob = await district.create_teacher("bob")
    await follow(alice, bob)

    private = await post(bob, "Staff meeting moved to room 12", visibility="private")
    at_alice = await arrives_home(alice, private["uri"])
    assert at_alice is not None
    assert at_alice["visibility"] == "private"

    # Fan-out to home feeds happens in the transaction that stores the status,
    # so once alice has it, every local reader that will ever have it does.
    assert await home_status(dave, private["uri"]) is None
    status, _ = await status_by_id(dave, at_alice["id"])
    assert status == 404
    public = await dave.get("/api/v1/timelines/public")
    assert all(item["uri"] != private["uri"] for item in public)


async def test_direct_post_reaches_only_mentioned_account(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    erin = await school.create_teacher("erin")
    bob = await district.create_teacher("bob")
    await follow(alice, bob)

    direct = await post(
        bob, f"@erin@{school.host} your report is due", visibility="direct"
    )
    at_erin = await arrives_home(erin, direct["uri"])
    assert at_erin is not None
    assert at_erin["visibility"] == "direct"
    assert [m["acct"] for m in at_erin["mentions"]] == ["erin"]
    assert await notification(erin, "mention", direct["uri"]) is not None

    # A later public post to followers shows that alice's feed has been
    # written since; the direct post must still be missing from it.
    later = await post(bob, "Reports are due on Friday")
    assert await arrives_home(alice, later["uri"]) is not None
    assert await home_status(alice, direct["uri"]) is None
    status, _ = await status_by_id(alice, at_erin["id"])
    assert status == 404


async def test_mention_reaches_account_not_following(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    bob = await district.create_teacher("bob")

    mention = await post(bob, f"Thanks @alice@{school.host} for the rubric")
    at_alice = await arrives_home(alice, mention["uri"])
    notice = await notification(alice, "mention", mention["uri"])

    assert at_alice is not None
    assert [m["acct"] for m in at_alice["mentions"]] == ["alice"]
    assert notice is not None
    assert notice["account"]["acct"] == bob.handle
