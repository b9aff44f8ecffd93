"""Like, Announce, their Undo, and Delete between live instances, both ways."""

from tests.e2e.peers import (
    arrives_home,
    fetch,
    follow,
    home_status,
    notification,
    open_session,
    post,
    status_by_id,
)
from tests.support.live import Teacher, eventually


async def counts_reach(author: Teacher, status_id: str, field: str, value: int) -> bool:
    """Wait until the author's own status shows ``field`` equal to ``value``."""

    async def reached() -> bool:
        status = await author.get(f"/api/v1/statuses/{status_id}")
        return status[field] == value

    return await eventually(reached)


async def mutual_pair(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    bob = await district.create_teacher("bob")
    await follow(alice, bob)
    await follow(bob, alice)
    return school, district, alice, bob


async def test_like_and_undo_reach_author_both_ways(start_instances):
    _, _, alice, bob = await mutual_pair(start_instances)

    for liker, author in ((alice, bob), (bob, alice)):
        original = await post(author, f"Reading list from {author.username}")
        copy = await arrives_home(liker, original["uri"])
        assert copy is not None, f"{liker.handle} never got {original['uri']}"

        liked = await liker.post(f"/api/v1/statuses/{copy['id']}/favourite")
        assert liked["favourited"] is True
        assert await counts_reach(author, original["id"], "favourites_count", 1), (
            f"Like by {liker.handle} did not reach {author.handle}"
        )
        notice = await notification(author, "favourite", original["uri"])
        assert notice is not None, f"{author.handle} got no favourite notification"
        assert notice["account"]["acct"] == liker.handle

        await liker.post(f"/api/v1/statuses/{copy['id']}/unfavourite")
        assert await counts_reach(author, original["id"], "favourites_count", 0), (
            f"Undo(Like) by {liker.handle} did not reach {author.handle}"
        )
        assert await notification(author, "favourite", original["uri"]) is None


async def test_announce_and_undo_reach_author_and_followers(start_instances):
    _, district, alice, bob = await mutual_pair(start_instances)
    carol = await district.create_teacher("carol")
    await follow(carol, alice)
    original = await post(bob, "Our science fair rubric")
    copy = await arrives_home(alice, original["uri"])
    assert copy is not None

    boost = await alice.post(f"/api/v1/statuses/{copy['id']}/reblog")

    assert boost["reblog"]["uri"] == original["uri"]
    assert await counts_reach(bob, original["id"], "reblogs_count", 1)
    notice = await notification(bob, "reblog", original["uri"])
    assert notice is not None
    assert notice["account"]["acct"] == alice.handle
    at_carol = await arrives_home(carol, boost["uri"])
    assert at_carol is not None
    assert at_carol["reblog"]["id"] == original["id"]

    await alice.post(f"/api/v1/statuses/{copy['id']}/unreblog")

    assert await counts_reach(bob, original["id"], "reblogs_count", 0)
    assert await notification(bob, "reblog", original["uri"]) is None

    async def boost_gone_from_carol() -> bool:
        return await home_status(carol, boost["uri"]) is None

    assert await eventually(boost_gone_from_carol)


async def test_announce_of_remote_post_reaches_its_author(start_instances):
    _, _, alice, bob = await mutual_pair(start_instances)
    original = await post(alice, "Peer observation schedule")
    copy = await arrives_home(bob, original["uri"])
    assert copy is not None

    await bob.post(f"/api/v1/statuses/{copy['id']}/reblog")

    assert await counts_reach(alice, original["id"], "reblogs_count", 1)
    assert await notification(alice, "reblog", original["uri"]) is not None


async def test_delete_removes_remote_copy(start_instances):
    school, district, alice, bob = await mutual_pair(start_instances)
    doomed = await post(bob, "Field trip forms, wrong date")
    copy = await arrives_home(alice, doomed["uri"])
    assert copy is not None

    await bob.request("DELETE", f"/api/v1/statuses/{doomed['id']}")

    async def gone_from_home() -> bool:
        return await home_status(alice, doomed["uri"]) is None

    assert await eventually(gone_from_home)
    status, _ = await status_by_id(alice, copy["id"])
    assert status == 404
    async with open_session(school, district) as session:
        gone, _, tombstone = await fetch(session, doomed["uri"])
    assert gone == 410
    assert tombstone["type"] == "Tombstone"
    assert tombstone["id"] == doomed["uri"]


async def test_deleted_reply_leaves_remote_thread(start_instances):
    _, _, alice, bob = await mutual_pair(start_instances)
    question = await post(bob, "Any tips for parent evenings?")
    copy = await arrives_home(alice, question["uri"])
    assert copy is not None
    reply = await post(alice, "Bring the seating plan", in_reply_to_id=copy["id"])
    assert await counts_reach(bob, question["id"], "replies_count", 1)

    await alice.request("DELETE", f"/api/v1/statuses/{reply['id']}")

    assert await counts_reach(bob, question["id"], "replies_count", 0)
    context = await bob.get(f"/api/v1/statuses/{question['id']}/context")
    assert context["descendants"] == []
    assert await notification(bob, "mention", reply["uri"]) is None


async def test_boost_of_third_instance_post_reaches_followers(start_instances):
    school, district, college = await start_instances(
        "school-a.test", "district-b.test", "college-c.test"
    )
    alice = await school.create_teacher("alice")
    bob = await district.create_teacher("bob")
    carol = await college.create_teacher("carol")
    await follow(alice, carol)
    await follow(bob, alice)
    original = await post(carol, "Lab safety checklist")
    copy = await arrives_home(alice, original["uri"])
    assert copy is not None

    boost = await alice.post(f"/api/v1/statuses/{copy['id']}/reblog")

    # district-b never received carol's post: it fetches it from college-c.
    at_bob = await arrives_home(bob, boost["uri"])
    assert at_bob is not None
    assert at_bob["reblog"]["uri"] == original["uri"]
    assert at_bob["reblog"]["account"]["acct"] == carol.handle
    assert "Lab safety checklist" in at_bob["reblog"]["content"]
    assert await counts_reach(carol, original["id"], "reblogs_count", 1)
