"""Blocks, mutes and suspensions on the read paths of one live instance:
threads, profiles, search, tag timelines, group pages, home boosts and
WebFinger.

One instance serves the module; each test uses its own teachers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import DOMAINS
from tests.support.live import LiveInstance, Teacher, eventually

GROUPS = "/api/pedagogue/v1/groups"


@pytest.fixture(scope="module")
async def school(
    databases: Any, pki: Any, tmp_path_factory: Any
) -> AsyncIterator[LiveInstance]:
    instance = LiveInstance(
        domain="school-a.test",
        dsn=await databases.create(),
        directory=tmp_path_factory.mktemp("read-rule") / "school-a.test",
        pki=pki,
        host_map={domain: "127.0.0.1" for domain in DOMAINS},
    )
    await instance.start()
    yield instance
    instance.stop()
    await databases.drop(instance.dsn)


async def execute(instance: LiveInstance, query: str, *args: Any) -> Any:
    connection = await instance.db()
    try:
        return await connection.execute(query, *args)
    finally:
        await connection.close()


async def suspend(teacher: Teacher) -> None:
    await execute(
        teacher.instance,
        "UPDATE accounts SET suspended_at = now() WHERE id = $1",
        int(teacher.account_id),
    )


def ids(statuses: list[dict[str, Any]]) -> set[str]:
    return {status["id"] for status in statuses}


async def test_reader_block_hides_author_everywhere(school):
    reader = await school.create_teacher("blocker_reader")
    author = await school.create_teacher("blocked_author")
    other = await school.create_teacher("thread_starter")
    root = await other.post("/api/v1/statuses", data={"status": "a question"})
    reply = await author.post(
        "/api/v1/statuses",
        data={"status": "an answer #readrule", "in_reply_to_id": root["id"]},
    )
    before = await reader.request("GET", f"/api/v1/statuses/{reply['id']}")

    await reader.post(f"/api/v1/accounts/{author.account_id}/block")
    status, _ = await reader.request("GET", f"/api/v1/statuses/{reply['id']}")
    context = await reader.get(f"/api/v1/statuses/{root['id']}/context")
    profile = await reader.get(f"/api/v1/accounts/{author.account_id}/statuses")
    tagged = await reader.get("/api/v1/timelines/tag/readrule")
    found = await reader.get(
        "/api/v2/search",
        params={"q": reply["uri"], "resolve": "true", "type": "statuses"},
    )

    assert before[0] == 200
    assert status == 404
    assert reply["id"] not in ids(context["descendants"])
    assert profile == []
    assert reply["id"] not in ids(tagged)
    assert found["statuses"] == []


async def test_reader_block_hides_boosts_of_author(school):
    reader = await school.create_teacher("boost_blocker")
    author = await school.create_teacher("boost_blocked")
    booster = await school.create_teacher("boost_friend")
    await reader.post(f"/api/v1/accounts/{booster.account_id}/follow")
    await reader.post(f"/api/v1/accounts/{author.account_id}/block")
    post = await author.post("/api/v1/statuses", data={"status": "boost me"})
    boost = await booster.post(f"/api/v1/statuses/{post['id']}/reblog")

    home = await reader.get("/api/v1/timelines/home")
    status, _ = await reader.request("GET", f"/api/v1/statuses/{boost['id']}")

    assert boost["id"] not in ids(home)
    assert status == 404


async def test_author_block_still_hides_from_reader(school):
    reader = await school.create_teacher("plain_reader")
    author = await school.create_teacher("blocking_author")
    post = await author.post("/api/v1/statuses", data={"status": "not for you"})
    await author.post(f"/api/v1/accounts/{reader.account_id}/block")

    status, _ = await reader.request("GET", f"/api/v1/statuses/{post['id']}")
    own, _ = await author.request("GET", f"/api/v1/statuses/{post['id']}")

    assert status == 404
    assert own == 200


async def test_boost_of_muted_account_hidden_from_home(school):
    reader = await school.create_teacher("mute_reader")
    muted = await school.create_teacher("mute_target")
    booster = await school.create_teacher("mute_booster")
    await reader.post(f"/api/v1/accounts/{booster.account_id}/follow")
    await reader.post(f"/api/v1/accounts/{muted.account_id}/mute")
    post = await muted.post("/api/v1/statuses", data={"status": "muted words"})
    boost = await booster.post(f"/api/v1/statuses/{post['id']}/reblog")
    own = await booster.post("/api/v1/statuses", data={"status": "the booster's own"})

    home = await reader.get("/api/v1/timelines/home")
    # A mute keeps the thread readable, as Mastodon's does.
    status, _ = await reader.request("GET", f"/api/v1/statuses/{post['id']}")

    assert boost["id"] not in ids(home)
    assert own["id"] in ids(home)
    assert status == 200


async def test_expired_mute_shows_boosts_again(school):
    reader = await school.create_teacher("unmute_reader")
    muted = await school.create_teacher("unmute_target")
    booster = await school.create_teacher("unmute_booster")
    await reader.post(f"/api/v1/accounts/{booster.account_id}/follow")
    await reader.post(
        f"/api/v1/accounts/{muted.account_id}/mute", data={"duration": "60"}
    )
    post = await muted.post("/api/v1/statuses", data={"status": "back soon"})
    boost = await booster.post(f"/api/v1/statuses/{post['id']}/reblog")
    await execute(
        school,
        "UPDATE mutes SET expires_at = now() - interval '1 second' WHERE account_id = $1",
        int(reader.account_id),
    )

    home = await reader.get("/api/v1/timelines/home")

    assert boost["id"] in ids(home)


async def _group_with_post(
    school: LiveInstance, prefix: str
) -> tuple[dict, Teacher, Teacher]:
    """Create a group whose member has posted to it; return the group, the
    owner and the member, after the group announced the post."""
    owner = await school.create_teacher(f"{prefix}_owner")
    member = await school.create_teacher(f"{prefix}_member")
    group = await owner.post(GROUPS, json={"name": f"{prefix}group"})
    await member.post(f"{GROUPS}/{group['id']}/join")

    async def joined() -> bool:
        body = await member.get(f"{GROUPS}/{group['id']}/membership")
        return bool(body["member"])

    assert await eventually(joined), "the member never joined the group"
    await member.post(
        "/api/v1/statuses",
        data={"status": f"@{prefix}group@{school.host} {prefix}marker"},
    )

    async def announced() -> bool:
        return bool(await owner.get(f"{GROUPS}/{group['id']}/statuses"))

    assert await eventually(announced), "the group never announced the post"
    return group, owner, member


def authors(statuses: list[dict[str, Any]]) -> set[str]:
    return {
        status["reblog"]["account"]["id"] for status in statuses if status["reblog"]
    }


async def test_group_page_hides_suspended_author(school):
    group, owner, member = await _group_with_post(school, "suspgrp")

    await suspend(member)
    listed = await owner.get(f"{GROUPS}/{group['id']}/statuses")
    status, page = await owner.request("GET", f"/groups/{group['id']}")

    assert member.account_id not in authors(listed)
    assert status == 200
    assert "suspgrpmarker" not in page


async def test_group_page_hides_blocked_author(school):
    group, _owner, member = await _group_with_post(school, "blockgrp")
    reader = await school.create_teacher("blockgrp_reader")

    before = await reader.get(f"{GROUPS}/{group['id']}/statuses")
    await reader.post(f"/api/v1/accounts/{member.account_id}/block")
    after = await reader.get(f"{GROUPS}/{group['id']}/statuses")

    assert member.account_id in authors(before)
    assert member.account_id not in authors(after)


async def test_tag_timeline_hides_suspended_author(school):
    reader = await school.create_teacher("tag_reader")
    author = await school.create_teacher("tag_suspended")
    post = await author.post("/api/v1/statuses", data={"status": "#suspendedtag hello"})

    before = await reader.get("/api/v1/timelines/tag/suspendedtag")
    await suspend(author)
    after = await reader.get("/api/v1/timelines/tag/suspendedtag")
    status, page = await reader.request("GET", "/tags/suspendedtag")

    assert post["id"] in ids(before)
    assert post["id"] not in ids(after)
    assert status == 200
    assert "hello" not in page


async def test_webfinger_of_suspended_account_gone(school):
    teacher = await school.create_teacher("finger_suspended")
    asker = await school.create_teacher("finger_asker")
    resource = f"acct:{teacher.username}@{school.host}"

    before, _ = await asker.request(
        "GET", "/.well-known/webfinger", params={"resource": resource}
    )
    await suspend(teacher)
    status, body = await asker.request(
        "GET", "/.well-known/webfinger", params={"resource": resource}
    )

    assert before == 200
    assert status == 410
    assert "suspended" in body["error"]
