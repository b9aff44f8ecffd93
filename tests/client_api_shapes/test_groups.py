"""Groups as Mastodon apps see them: accounts with ``group: true`` that a
teacher follows to join, whose statuses are the posts the group shared.

Mastodon.py drives lookup, search, relationships, follow and account statuses.
"""

from __future__ import annotations

from typing import Any

from tests.client_api_shapes.conftest import GROUPS, client_for
from tests.support.live import LiveInstance, Teacher, eventually
from tests.web.test_mastodon_py import call


async def new_group(owner: Teacher, name: str, **extra: Any) -> dict[str, Any]:
    return await owner.post(
        GROUPS,
        json={"name": name, "description": "Lab safety and demonstrations.", **extra},
    )


async def test_group_found_by_account_search(school: LiveInstance, teachers) -> None:
    owner, reader = await teachers("grpsearchowner", "grpsearchreader")
    group = await new_group(owner, "labsearch")

    found = await call(client_for(reader).account_search, "labsearch")
    account = next(item for item in found if str(item["id"]) == group["id"])

    assert account["group"] is True
    assert account["acct"] == "labsearch"
    assert account["bot"] is False
    assert account["followers_count"] == 1
    assert "Lab safety and demonstrations." in account["note"]


async def test_group_account_lookup(school: LiveInstance, teachers) -> None:
    owner, reader = await teachers("grplookupowner", "grplookupreader")
    group = await new_group(owner, "lablookup")

    account = await call(client_for(reader).account_lookup, "lablookup")

    assert str(account["id"]) == group["id"]
    assert account["group"] is True
    assert account["url"] == f"{school.url}/@lablookup"


async def test_group_follow_joins(school: LiveInstance, teachers) -> None:
    owner, member = await teachers("grpfollowowner", "grpfollowmember")
    group = await new_group(owner, "labfollow")
    client = client_for(member)

    relationship = await call(client.account_follow, group["id"])

    async def joined() -> bool:
        body = await member.get(f"{GROUPS}/{group['id']}/membership")
        return bool(body["member"])

    assert relationship["following"] is True
    assert await eventually(joined), "following the group never made a member"
    account = await call(client.account, group["id"])
    assert account["followers_count"] == 2
    (listed,) = await call(client.account_relationships, group["id"])
    assert listed["following"] is True
    assert listed["requested"] is False


async def test_group_follow_with_approval_requested(
    school: LiveInstance, teachers
) -> None:
    owner, member = await teachers("grpapproveowner", "grpapprovemember")
    group = await new_group(owner, "labapprove", approval_required=True)
    client = client_for(member)

    relationship = await call(client.account_follow, group["id"])
    account = await call(client.account, group["id"])

    assert relationship["following"] is False
    assert relationship["requested"] is True
    assert account["locked"] is True
    assert account["followers_count"] == 1


async def test_group_unfollow_leaves(school: LiveInstance, teachers) -> None:
    owner, member = await teachers("grpleaveowner", "grpleavemember")
    group = await new_group(owner, "lableave")
    client = client_for(member)
    await call(client.account_follow, group["id"])

    relationship = await call(client.account_unfollow, group["id"])
    membership = await member.get(f"{GROUPS}/{group['id']}/membership")

    assert relationship["following"] is False
    assert membership["member"] is False


async def test_group_statuses_are_its_boosts(school: LiveInstance, teachers) -> None:
    owner, member = await teachers("grpboostowner", "grpboostmember")
    group = await new_group(owner, "labboost")
    await member.post(f"{GROUPS}/{group['id']}/join")
    posted = await member.post(
        "/api/v1/statuses",
        data={"status": f"@labboost@{school.host} Goggles on before the demo"},
    )
    client = client_for(owner)

    async def announced() -> bool:
        return bool(await call(client.account_statuses, group["id"]))

    assert await eventually(announced), "the group never shared the post"
    (boost,) = await call(client.account_statuses, group["id"])
    assert str(boost["account"]["id"]) == group["id"]
    assert boost["account"]["group"] is True
    assert str(boost["reblog"]["id"]) == posted["id"]
    assert str(boost["reblog"]["account"]["id"]) == member.account_id
