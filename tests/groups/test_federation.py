"""Groups across two live instances: joining, announcing members' posts,
approval, moderation, the directory and search, with every client API
response checked against web/openapi/groups.yaml."""

from __future__ import annotations

from typing import Any

from tests.e2e.peers import logged, notification, post
from tests.support.live import LiveInstance, Teacher, eventually
from tests.support.openapi import validate_response

GROUPS = "/api/pedagogue/v1/groups"


def checked(path: str, method: str, body: Any, status: int = 200) -> Any:
    validate_response("groups", path, method, status, body)
    return body


async def create_group(teacher: Teacher, name: str, **fields: Any) -> dict[str, Any]:
    body = await teacher.post(GROUPS, json={"name": name, **fields})
    return checked(GROUPS, "POST", body)


async def lookup(teacher: Teacher, handle: str) -> dict[str, Any]:
    body = await teacher.get(f"{GROUPS}/lookup", params={"acct": handle})
    return checked(f"{GROUPS}/lookup", "GET", body)


async def join(teacher: Teacher, group: dict[str, Any]) -> dict[str, Any]:
    body = await teacher.post(f"{GROUPS}/{group['id']}/join")
    return checked(f"{GROUPS}/{{id}}/join", "POST", body)


async def membership(teacher: Teacher, group: dict[str, Any]) -> dict[str, Any]:
    body = await teacher.get(f"{GROUPS}/{group['id']}/membership")
    return checked(f"{GROUPS}/{{id}}/membership", "GET", body)


async def becomes_member(teacher: Teacher, group: dict[str, Any]) -> bool:
    async def member() -> bool:
        return (await membership(teacher, group))["member"]

    return await eventually(member)


async def group_boost(
    teacher: Teacher, group_acct: str, uri: str
) -> dict[str, Any] | None:
    """Return the group's boost of the post ``uri`` on the teacher's home timeline."""
    home = await teacher.get("/api/v1/timelines/home", params={"limit": "40"})
    for status in home:
        reblog = status.get("reblog") or {}
        if reblog.get("uri") == uri and status["account"]["acct"] == group_acct:
            return status
    return None


async def group_posts(teacher: Teacher, group: dict[str, Any]) -> list[Any]:
    body = await teacher.get(f"{GROUPS}/{group['id']}/statuses")
    return checked(f"{GROUPS}/{{id}}/statuses", "GET", body)


async def start_with_members(
    start_instances: Any,
) -> tuple[LiveInstance, LiveInstance, dict[str, Teacher], dict[str, Any]]:
    """School A with alice's group "maths"; bob and carol on district B join it."""
    school, district = await start_instances("school-a.test", "district-b.test")
    teachers = {
        "alice": await school.create_teacher("alice"),
        "bob": await district.create_teacher("bob"),
        "carol": await district.create_teacher("carol"),
        "dave": await district.create_teacher("dave"),
    }
    group = await create_group(
        teachers["alice"],
        "maths",
        display_name="Maths teachers",
        description="Sharing maths lessons.",
        rules="Be kind.",
        subjects=["Mathematics"],
        grade_levels=["7", "8"],
    )
    for name in ("bob", "carol"):
        remote = await lookup(teachers[name], f"@maths@{school.host}")
        await join(teachers[name], remote)
        assert await becomes_member(teachers[name], remote), f"{name} never joined"
    return school, district, teachers, group


async def test_member_posts_announced_across_instances(start_instances) -> None:
    school, _, teachers, group = await start_with_members(start_instances)
    alice, bob, carol, dave = (teachers[n] for n in ("alice", "bob", "carol", "dave"))
    remote_acct = f"maths@{school.host}"

    # A non-member's post reaches the group, is not announced, and its Create
    # is rejected back to district B, which tells dave.
    from_dave = await post(dave, f"@{remote_acct} buy my worksheets")
    refused = await eventually(lambda: logged(school, "rejected Create", dave.actor_id))
    told_dave = await eventually(lambda: notification(dave, "group_post_rejected"))
    from_bob = await post(bob, f"@{remote_acct} Ratio tables for Year 7")
    from_alice = await post(alice, "@maths Welcome, everyone")

    at_carol = await eventually(
        lambda: group_boost(carol, remote_acct, from_bob["uri"])
    )
    alice_at_carol = await eventually(
        lambda: group_boost(carol, remote_acct, from_alice["uri"])
    )
    at_alice = await eventually(lambda: group_boost(alice, "maths", from_bob["uri"]))
    shown = [item["reblog"]["uri"] for item in await group_posts(alice, group)]
    dave_at_carol = await group_boost(carol, remote_acct, from_dave["uri"])

    assert refused is not None
    assert told_dave is not None
    assert told_dave["account"]["acct"] == remote_acct
    assert at_carol is not None
    assert "Ratio tables for Year 7" in at_carol["reblog"]["content"]
    assert at_carol["account"]["group"] is True
    assert alice_at_carol is not None
    assert at_alice is not None
    assert from_bob["uri"] in shown
    assert from_alice["uri"] in shown
    assert from_dave["uri"] not in shown
    assert dave_at_carol is None


async def test_moderator_removes_post_and_member(start_instances) -> None:
    school, district, teachers, group = await start_with_members(start_instances)
    alice, bob, carol = teachers["alice"], teachers["bob"], teachers["carol"]
    remote_acct = f"maths@{school.host}"
    from_bob = await post(bob, f"@{remote_acct} Off-topic advert")
    assert await eventually(lambda: group_boost(carol, remote_acct, from_bob["uri"]))
    shown = await group_posts(alice, group)
    local_id = next(
        i["reblog"]["id"] for i in shown if i["reblog"]["uri"] == from_bob["uri"]
    )

    remote = await lookup(carol, f"@{remote_acct}")
    in_remote_timeline = [
        item["reblog"]["uri"] for item in await group_posts(carol, remote)
    ]

    status_code, removed = await alice.request(
        "DELETE", f"{GROUPS}/{group['id']}/statuses/{local_id}"
    )

    async def gone_at_carol() -> bool:
        return await group_boost(carol, remote_acct, from_bob["uri"]) is None

    async def out_of_remote_timeline() -> bool:
        shown = [item["reblog"]["uri"] for item in await group_posts(carol, remote)]
        return from_bob["uri"] not in shown

    assert from_bob["uri"] in in_remote_timeline
    assert status_code == 200
    checked(f"{GROUPS}/{{id}}/statuses/{{status_id}}", "DELETE", removed)
    assert await eventually(gone_at_carol)
    assert await eventually(out_of_remote_timeline)
    assert await logged(district, "removed", from_bob["uri"], "from group")
    assert from_bob["uri"] not in [
        i["reblog"]["uri"] for i in await group_posts(alice, group)
    ]

    # Removing carol rejects her Follow; district B ends her membership.
    members = await alice.get(f"{GROUPS}/{group['id']}/members")
    checked(f"{GROUPS}/{{id}}/members", "GET", members)
    carol_at_school = next(m for m in members if m["acct"] == carol.handle)
    status_code, after = await alice.request(
        "DELETE", f"{GROUPS}/{group['id']}/members/{carol_at_school['id']}"
    )

    async def carol_out() -> bool:
        state = await membership(carol, remote)
        return not state["member"] and not state["requested"]

    assert status_code == 200
    checked(f"{GROUPS}/{{id}}/members/{{account_id}}", "DELETE", after)
    assert after["member"] is False
    assert after["removed"] is True
    assert await eventually(carol_out)

    # Carol's new Follow is rejected: a removed member stays out.
    await join(carol, remote)
    rejected = await logged(school, "rejected: a moderator removed", carol.actor_id)
    assert rejected is not None
    assert await eventually(carol_out)


async def test_join_needs_approval_then_authorized(start_instances) -> None:
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    erin = await school.create_teacher("erin")
    bob = await district.create_teacher("bob")
    group = await create_group(alice, "science", approval_required=True)
    remote = await lookup(bob, f"@science@{school.host}")

    joined = await join(bob, remote)
    local_join = await join(erin, group)

    async def pending() -> list[Any]:
        rows = await alice.get(f"{GROUPS}/{group['id']}/requests")
        return (
            checked(f"{GROUPS}/{{id}}/requests", "GET", rows) if len(rows) == 2 else []
        )

    requests = await eventually(pending)
    told_alice = await eventually(lambda: notification(alice, "group_join_request"))
    erin_told = await notification(erin, "group_join_request")
    status, not_moderator = await erin.request(
        "GET", f"{GROUPS}/{group['id']}/requests"
    )
    bob_at_school = next(r for r in requests if r["acct"] == bob.handle)
    erin_at_school = next(r for r in requests if r["acct"] == "erin")
    authorized = await alice.post(
        f"{GROUPS}/{group['id']}/requests/{bob_at_school['id']}/authorize"
    )
    rejected = await alice.post(
        f"{GROUPS}/{group['id']}/requests/{erin_at_school['id']}/reject"
    )
    path = f"{GROUPS}/{{id}}/requests/{{account_id}}/{{decision}}"

    assert told_alice is not None
    assert told_alice["group_id"] == group["id"]
    assert erin_told is None
    assert remote["approval_required"] is True
    assert joined["requested"] is True
    assert joined["member"] is False
    assert local_join["requested"] is True
    assert status == 403
    checked(f"{GROUPS}/{{id}}/requests", "GET", not_moderator, 403)
    assert checked(path, "POST", authorized)["member"] is True
    assert checked(path, "POST", rejected)["member"] is False
    assert await becomes_member(bob, remote)
    assert (await membership(erin, group))["requested"] is False


async def test_directory_search_and_mastodon_account(start_instances) -> None:
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    bob = await district.create_teacher("bob")
    first = await create_group(alice, "early_years", subjects=["Phonics"])
    second = await create_group(alice, "physics_club", display_name="Physics club")

    status, page = await alice.request("GET", GROUPS, params={"limit": "1"})
    filtered = await alice.get(GROUPS, params={"subject": "phonics"})
    by_name = await alice.get(f"{GROUPS}/search", params={"q": "physics"})
    by_handle = await bob.get(
        f"{GROUPS}/search",
        params={"q": f"@early_years@{school.host}", "resolve": "true"},
    )
    account = await alice.get(f"/api/v1/accounts/{first['id']}")
    remote_account = await bob.resolve(f"@physics_club@{school.host}")
    teacher_lookup = await bob.request(
        "GET", f"{GROUPS}/lookup", params={"acct": f"@alice@{school.host}"}
    )

    assert status == 200
    assert [g["id"] for g in checked(GROUPS, "GET", page)] == [second["id"]]
    assert [g["id"] for g in checked(GROUPS, "GET", filtered)] == [first["id"]]
    assert [g["id"] for g in checked(f"{GROUPS}/search", "GET", by_name)] == [
        second["id"]
    ]
    assert [g["acct"] for g in checked(f"{GROUPS}/search", "GET", by_handle)] == [
        f"early_years@{school.host}"
    ]
    assert account["group"] is True
    assert remote_account["group"] is True
    assert teacher_lookup[0] == 404
    checked(f"{GROUPS}/lookup", "GET", teacher_lookup[1], 404)


async def test_moderator_changes_reach_members(start_instances) -> None:
    school, _, teachers, group = await start_with_members(start_instances)
    alice, carol = teachers["alice"], teachers["carol"]
    erin = await school.create_teacher("erin")
    await join(erin, group)
    remote = await lookup(carol, f"@maths@{school.host}")
    first = [m["acct"] for m in remote["moderators"]]

    added = await alice.post(
        f"{GROUPS}/{group['id']}/moderators", json={"account_id": erin.account_id}
    )

    async def moderators_at_carol() -> list[str]:
        body = await carol.get(f"{GROUPS}/{remote['id']}/moderators")
        return [m["acct"] for m in checked(f"{GROUPS}/{{id}}/moderators", "GET", body)]

    async def erin_listed() -> bool:
        return f"erin@{school.host}" in await moderators_at_carol()

    async def erin_unlisted() -> bool:
        return f"erin@{school.host}" not in await moderators_at_carol()

    assert first == [f"alice@{school.host}"]
    assert [
        m["acct"]
        for m in checked(f"{GROUPS}/{{id}}/moderators", "POST", added)["moderators"]
    ] == ["alice", "erin"]
    assert await eventually(erin_listed)

    status, removed = await alice.request(
        "DELETE", f"{GROUPS}/{group['id']}/moderators/{erin.account_id}"
    )

    assert status == 200
    checked(f"{GROUPS}/{{id}}/moderators/{{account_id}}", "DELETE", removed)
    assert await eventually(erin_unlisted)
    assert await moderators_at_carol() == [f"alice@{school.host}"]
