"""Group-only posts received from another instance keep their group.

A received non-public note that names a known group in ``audience``
(FEP-1b12), or addresses the group's members collection, is stored
group-only, so local members who do not follow its author can read it and
other local accounts cannot.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from federation import httpsig
from tests.support.live import LiveInstance, Teacher, eventually

GROUPS = "/api/pedagogue/v1/groups"


@dataclass
class World:
    school: LiveInstance
    district: LiveInstance
    group: dict[str, Any]
    member: Teacher
    outsider: Teacher
    author: Teacher


async def _join(member: Teacher, handle: str) -> dict[str, Any]:
    found = await member.get(f"{GROUPS}/lookup", params={"acct": handle})
    await member.post(f"{GROUPS}/{found['id']}/join")

    async def joined() -> bool:
        body = await member.get(f"{GROUPS}/{found['id']}/membership")
        return bool(body["member"])

    assert await eventually(joined), f"{member.handle} never joined {handle}"
    return found


@pytest.fixture(scope="module")
async def world(start_module_instances: Any) -> World:
    school, district = await start_module_instances("school-a.test", "district-b.test")
    owner = await school.create_teacher("olga")
    member = await school.create_teacher("mina")
    outsider = await school.create_teacher("otto")
    author = await district.create_teacher("rosa")
    group = await owner.post(GROUPS, json={"name": "sciencegroup"})
    await _join(member, "sciencegroup")
    await _join(author, f"sciencegroup@{school.host}")
    return World(school, district, group, member, outsider, author)


async def _fetchrow(instance: LiveInstance, query: str, *args: Any) -> Any:
    connection = await instance.db()
    try:
        return await connection.fetchrow(query, *args)
    finally:
        await connection.close()


async def _stored(world: World, uri: str) -> Any:
    async def row() -> Any:
        return await _fetchrow(
            world.school, "SELECT * FROM statuses WHERE uri = $1", uri
        )

    found = await eventually(row)
    assert found is not None, f"{uri} was never stored"
    return found


async def _signed_post(
    sender: Teacher, target: LiveInstance, activity: dict[str, Any]
) -> int:
    """POST an activity to ``target``'s shared inbox, signed with the sender's key."""
    row = await _fetchrow(
        sender.instance,
        "SELECT private_key_pem FROM accounts WHERE id = $1",
        int(sender.account_id),
    )
    body = json.dumps(activity).encode()
    url = f"{target.url}/inbox"
    headers = {"Content-Type": "application/activity+json"}
    headers |= httpsig.sign_request(
        "POST",
        url,
        headers,
        body,
        httpsig.load_private_key(row["private_key_pem"]),
        f"{sender.actor_id}#main-key",
    )
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{target.client_url}/inbox",
            data=body,
            headers=headers,
            ssl=target.ssl_context(),
        ) as response,
    ):
        return response.status


def _create(
    author: Teacher, to: list[str], cc: list[str], audience: str | None
) -> dict:
    note_id = f"{author.actor_id}/statuses/grp-{time.monotonic_ns()}"
    note: dict[str, Any] = {
        "id": note_id,
        "type": "Note",
        "attributedTo": author.actor_id,
        "content": "<p>for the group</p>",
        "to": to,
        "cc": cc,
        "published": "2026-01-01T00:00:00Z",
    }
    if audience is not None:
        note["audience"] = audience
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{note_id}/activity",
        "type": "Create",
        "actor": author.actor_id,
        "to": to,
        "cc": cc,
        "object": note,
    }


def _group_actor(world: World) -> str:
    return f"{world.school.url}/users/sciencegroup"


async def test_group_post_sent_by_peer_stored_group_only(world: World) -> None:
    fields = {
        "status": "Lab safety notes",
        "visibility": "group",
        "group_id": await _remote_group_id(world),
    }
    status = await world.author.post("/api/v1/statuses", json=fields)

    row = await _stored(world, status["uri"])

    assert row["visibility"] == "group"
    assert str(row["audience_id"]) == world.group["id"]


async def _remote_group_id(world: World) -> str:
    found = await world.author.get(
        f"{GROUPS}/lookup", params={"acct": f"sciencegroup@{world.school.host}"}
    )
    return found["id"]


async def test_member_not_following_author_reads_it(world: World) -> None:
    fields = {
        "status": "Field trip forms",
        "visibility": "group",
        "group_id": await _remote_group_id(world),
    }
    status = await world.author.post("/api/v1/statuses", json=fields)
    row = await _stored(world, status["uri"])

    member, _ = await world.member.request("GET", f"/api/v1/statuses/{row['id']}")
    outsider, _ = await world.outsider.request("GET", f"/api/v1/statuses/{row['id']}")

    assert member == 200
    assert outsider == 404


async def test_audience_names_group(world: World) -> None:
    group = _group_actor(world)
    activity = _create(world.author, [group], [], audience=group)

    accepted = await _signed_post(world.author, world.school, activity)
    row = await _stored(world, activity["object"]["id"])

    assert accepted == 202
    assert row["visibility"] == "group"
    assert str(row["audience_id"]) == world.group["id"]


async def test_members_collection_without_audience(world: World) -> None:
    # Addressed to the members collection alone, without audience.
    members = f"{_group_actor(world)}/followers"
    activity = _create(world.author, [members], [], audience=None)

    await _signed_post(world.author, world.school, activity)
    row = await _stored(world, activity["object"]["id"])

    assert row["visibility"] == "group"
    assert str(row["audience_id"]) == world.group["id"]


async def test_followers_and_group_actor_stay_followers_only(world: World) -> None:
    # Group-only would hide it from the author's followers who are not members.
    followers = f"{world.author.actor_id}/followers"
    group = _group_actor(world)
    activity = _create(world.author, [followers], [group], audience=group)

    await _signed_post(world.author, world.school, activity)
    row = await _stored(world, activity["object"]["id"])

    assert row["visibility"] == "private"
    assert row["audience_id"] is None


async def test_public_post_naming_group_stays_public(world: World) -> None:
    group = _group_actor(world)
    public = "https://www.w3.org/ns/activitystreams#Public"
    activity = _create(world.author, [public], [group], audience=group)

    await _signed_post(world.author, world.school, activity)
    row = await _stored(world, activity["object"]["id"])

    assert row["visibility"] == "public"
    assert row["audience_id"] is None
