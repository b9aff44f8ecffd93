"""Every visibility level against every read path and every kind of reader.

One instance pair serves the whole table. On school-a.test alice posts one
status per visibility, each a reply to her public root post, carrying the
hashtag #matrixtag and mentioning mia (local) and bob (remote). The local
readers are alice herself, fran (follows alice), nora (no relation), mia
(mentioned), gina (member of alice's group), blake (blocked by alice) and an
anonymous visitor. On district-b.test bob follows alice, is mentioned and is a
member of her group (an addressed remote actor), while carol has no relation
to alice. Their reads are GETs signed with their real keys by federation.httpsig.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from federation import httpsig
from storage.sessions import create_session
from tests.e2e.peers import (
    ACTIVITY_JSON,
    follow,
    open_session,
    private_key_of,
)
from tests.support.live import LiveInstance, Teacher, eventually
from tests.support.openapi import validate_response

VISIBILITIES = ("public", "unlisted", "private", "direct", "local", "group")
LOCAL_READERS = (
    "author",
    "follower",
    "non_follower",
    "mentioned",
    "group_member",
    "blocked",
    "anonymous",
)
REMOTE_READERS = ("anonymous", "remote_addressed", "remote_not_addressed")
TAG = "matrixtag"
SESSION_COOKIE = "__Host-pedagogue_session"


def may_read(visibility: str, reader: str) -> bool:
    """Return whether ``reader`` may read a status of ``visibility`` at all."""
    if reader == "author":
        return True
    if reader == "blocked":
        return False
    if visibility in ("public", "unlisted"):
        return True
    if reader == "anonymous":
        return False
    if visibility == "local":
        return not reader.startswith("remote_")
    if visibility == "group":
        return reader in ("group_member", "remote_addressed")
    if visibility == "direct":
        return reader in ("mentioned", "remote_addressed")
    return reader in ("follower", "mentioned", "remote_addressed")


def on_home(visibility: str, reader: str) -> bool:
    """Return whether the status reaches ``reader``'s home timeline."""
    if not may_read(visibility, reader):
        return False
    if reader == "author":
        return True
    if reader == "follower":
        return visibility in ("public", "unlisted", "private", "local")
    if reader == "mentioned":
        return visibility != "group"
    return reader == "group_member" and visibility == "group"


def on_public_timeline(visibility: str, reader: str) -> bool:
    return visibility in ("public", "local") and may_read(visibility, reader)


def signed_in(reader: str) -> bool:
    return reader != "anonymous"


def fetchable(visibility: str, reader: str) -> bool:
    """Return whether an ActivityPub GET by ``reader`` may fetch the status."""
    return visibility != "local" and may_read(visibility, reader)


# Read path name -> whether a status shows there, given (visibility, reader).
LOCAL_PATHS: dict[str, Any] = {
    "api_status": may_read,
    "api_context": may_read,
    "api_favourited_by": may_read,
    "api_account_statuses": lambda v, r: v != "direct" and may_read(v, r),
    "api_home_timeline": lambda v, r: signed_in(r) and on_home(v, r),
    "api_public_timeline": on_public_timeline,
    "api_tag_timeline": on_public_timeline,
    "api_search": lambda v, r: signed_in(r) and may_read(v, r),
    "api_notifications": lambda v, r: r == "mentioned" and may_read(v, r),
    "html_status_page": may_read,
    "html_thread_replies": may_read,
    "html_profile": lambda v, r: v != "direct" and may_read(v, r),
    "html_tag_page": on_public_timeline,
    "html_local_timeline": lambda v, r: signed_in(r) and on_public_timeline(v, r),
    "html_notifications": lambda v, r: r == "mentioned" and may_read(v, r),
}
ACTIVITYPUB_PATHS: dict[str, Any] = {
    "ap_object": fetchable,
    "ap_create_activity": fetchable,
    "ap_replies_collection": fetchable,
    # The outbox lists public and unlisted posts, whoever asks.
    "ap_outbox": lambda v, r: v in ("public", "unlisted"),
}


@dataclass
class World:
    school: LiveInstance
    district: LiveInstance
    readers: dict[str, Teacher]
    remote: dict[str, Teacher]
    cookies: dict[str, str]
    root_id: str = ""
    status_ids: dict[str, str] = field(default_factory=dict)
    status_uris: dict[str, str] = field(default_factory=dict)
    activity_uris: dict[str, str] = field(default_factory=dict)
    cache: dict[tuple[str, str], Any] = field(default_factory=dict)


def marker(visibility: str) -> str:
    return f"zqx{visibility}qz"


async def _create_group(alice: Teacher) -> dict[str, Any]:
    return await alice.post("/api/pedagogue/v1/groups", json={"name": "matrixgroup"})


async def _join_group(member: Teacher, handle: str) -> None:
    groups = "/api/pedagogue/v1/groups"
    found = await member.get(f"{groups}/lookup", params={"acct": handle})
    await member.post(f"{groups}/{found['id']}/join")

    async def joined() -> bool:
        body = await member.get(f"{groups}/{found['id']}/membership")
        return bool(body["member"])

    assert await eventually(joined), f"{member.handle} never joined {handle}"


async def _block(school: LiveInstance, blocker: Teacher, blocked: Teacher) -> None:
    connection = await school.db()
    try:
        await connection.execute(
            "INSERT INTO blocks (id, account_id, target_account_id)"
            " VALUES ((SELECT coalesce(max(id), 0) + 1 FROM blocks), $1, $2)",
            int(blocker.account_id),
            int(blocked.account_id),
        )
    finally:
        await connection.close()


async def _session_cookie(school: LiveInstance, teacher: Teacher) -> str:
    connection = await school.db()
    try:
        token, _ = await create_session(
            connection,
            int(teacher.account_id),
            lifetime=timedelta(days=1),
            user_agent="visibility matrix",
            address="127.0.0.1",
        )
    finally:
        await connection.close()
    return token


async def _activity_uris(school: LiveInstance, ids: dict[str, str]) -> dict[str, str]:
    connection = await school.db()
    try:
        rows = await connection.fetch(
            "SELECT id, activity_uri FROM statuses WHERE id = ANY($1::bigint[])",
            [int(value) for value in ids.values()],
        )
    finally:
        await connection.close()
    by_id = {str(row["id"]): row["activity_uri"] for row in rows}
    return {visibility: by_id[status_id] for visibility, status_id in ids.items()}


@pytest.fixture(scope="module")
async def world(start_module_instances: Any) -> World:
    school, district = await start_module_instances("school-a.test", "district-b.test")
    readers = {
        name: await school.create_teacher(username)
        for name, username in (
            ("author", "alice"),
            ("follower", "fran"),
            ("non_follower", "nora"),
            ("mentioned", "mia"),
            ("group_member", "gina"),
            ("blocked", "blake"),
        )
    }
    remote = {
        "remote_addressed": await district.create_teacher("bob"),
        "remote_not_addressed": await district.create_teacher("carol"),
    }
    alice = readers["author"]
    bob = remote["remote_addressed"]

    # Relations: fran and bob follow alice, gina and bob join her group.
    await readers["follower"].post(f"/api/v1/accounts/{alice.account_id}/follow")
    await follow(bob, alice)
    group = await _create_group(alice)
    await _join_group(readers["group_member"], "matrixgroup")
    await _join_group(bob, f"matrixgroup@{school.host}")
    await _block(school, alice, readers["blocked"])
    cookies = {
        name: await _session_cookie(school, teacher)
        for name, teacher in readers.items()
    }

    world = World(school, district, readers, remote, cookies)
    root = await alice.post("/api/v1/statuses", json={"status": "Matrix root"})
    world.root_id = root["id"]
    for visibility in VISIBILITIES:
        fields: dict[str, Any] = {
            "status": f"Matrix {marker(visibility)} #{TAG} @mia @{bob.handle}",
            "visibility": visibility,
            "in_reply_to_id": root["id"],
        }
        if visibility == "group":
            fields["group_id"] = group["id"]
        status = await alice.post("/api/v1/statuses", json=fields)
        world.status_ids[visibility] = status["id"]
        world.status_uris[visibility] = status["uri"]
    # alice favourites each status, so favourited_by has a body to hide.
    for status_id in world.status_ids.values():
        await alice.post(f"/api/v1/statuses/{status_id}/favourite")
    world.activity_uris = await _activity_uris(school, world.status_ids)
    return world


# Reading


async def _anonymous_get(
    instance: LiveInstance, path: str, **kwargs: Any
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{instance.client_url}{path}", ssl=instance.ssl_context(), **kwargs
        ) as response,
    ):
        text = await response.text()
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, text


async def api_get(
    world: World, reader: str, path: str, **params: str
) -> tuple[int, Any]:
    if reader == "anonymous":
        return await _anonymous_get(world.school, path, params=params)
    return await world.readers[reader].request("GET", path, params=params)


async def html_get(world: World, reader: str, path: str) -> tuple[int, str]:
    headers = {"Accept": "text/html"}
    if reader != "anonymous":
        headers["Cookie"] = f"{SESSION_COOKIE}={world.cookies[reader]}"
    status, body = await _anonymous_get(
        world.school, path, headers=headers, allow_redirects=False
    )
    return status, body if isinstance(body, str) else json.dumps(body)


async def ap_get(world: World, reader: str, url: str) -> tuple[int, Any]:
    """GET ``url`` as ActivityPub, signed as the remote reader unless anonymous."""
    headers = {"Accept": ACTIVITY_JSON}
    if reader != "anonymous":
        teacher = world.remote[reader]
        headers.update(
            httpsig.sign_request(
                "GET",
                url,
                headers,
                None,
                await private_key_of(teacher),
                f"{teacher.actor_id}#main-key",
            )
        )
    async with (
        open_session(world.school, world.district) as session,
        session.get(url, headers=headers) as response,
    ):
        text = await response.text()
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, text


async def cached(world: World, key: tuple[str, str], read: Any) -> Any:
    if key not in world.cache:
        world.cache[key] = await read()
    return world.cache[key]


def _ids(body: Any) -> set[str]:
    if not isinstance(body, list):
        return set()
    return {item["id"] for item in body if isinstance(item, dict)}


async def seen_locally(world: World, path: str, visibility: str, reader: str) -> bool:
    """Return whether the status of ``visibility`` shows on ``path`` for ``reader``."""
    status_id = world.status_ids[visibility]
    text = marker(visibility)
    alice = world.readers["author"]
    if path == "api_status":
        status, _ = await api_get(world, reader, f"/api/v1/statuses/{status_id}")
        return status == 200
    if path == "api_favourited_by":
        status, _ = await api_get(
            world, reader, f"/api/v1/statuses/{status_id}/favourited_by"
        )
        return status == 200
    if path == "api_context":
        _, body = await cached(
            world,
            (path, reader),
            lambda: api_get(world, reader, f"/api/v1/statuses/{world.root_id}/context"),
        )
        return status_id in _ids(
            body.get("descendants") if isinstance(body, dict) else None
        )
    if path == "api_search":
        status, body = await api_get(
            world,
            reader,
            "/api/v2/search",
            q=world.status_uris[visibility],
            type="statuses",
        )
        return status == 200 and status_id in _ids(body["statuses"])
    list_paths = {
        "api_account_statuses": (f"/api/v1/accounts/{alice.account_id}/statuses", {}),
        "api_home_timeline": ("/api/v1/timelines/home", {}),
        "api_public_timeline": ("/api/v1/timelines/public", {"local": "true"}),
        "api_tag_timeline": (f"/api/v1/timelines/tag/{TAG}", {}),
    }
    if path in list_paths:
        url, params = list_paths[path]
        _, body = await cached(
            world,
            (path, reader),
            lambda: api_get(world, reader, url, limit="40", **params),
        )
        return status_id in _ids(body)
    if path == "api_notifications":
        _, body = await cached(
            world,
            (path, reader),
            lambda: api_get(world, reader, "/api/v1/notifications", limit="40"),
        )
        statuses = (
            [item.get("status") for item in body] if isinstance(body, list) else []
        )
        return status_id in _ids([item for item in statuses if item])
    html_paths = {
        "html_status_page": f"/@alice/{status_id}",
        "html_thread_replies": f"/@alice/{world.root_id}",
        "html_profile": "/@alice",
        "html_tag_page": f"/tags/{TAG}",
        "html_local_timeline": "/local",
        "html_notifications": "/notifications",
    }
    page_path = html_paths[path]
    status, body = await cached(
        world, (page_path, reader), lambda: html_get(world, reader, page_path)
    )
    return status == 200 and text in body


async def fetched_remotely(
    world: World, path: str, visibility: str, reader: str
) -> bool:
    """Return whether an ActivityPub GET by ``reader`` shows the status."""
    uri = world.status_uris[visibility]
    root_uri = uri.rsplit("/", 1)[0] + f"/{world.root_id}"
    if path == "ap_object":
        status, _ = await ap_get(world, reader, uri)
        return status == 200
    if path == "ap_create_activity":
        status, body = await ap_get(world, reader, world.activity_uris[visibility])
        return status == 200 and body.get("object", {}).get("id") == uri
    if path == "ap_replies_collection":
        _, body = await cached(
            world,
            (path, reader),
            lambda: ap_get(world, reader, f"{root_uri}/replies?page=true"),
        )
        return isinstance(body, dict) and uri in body.get("orderedItems", [])
    outbox = f"{world.school.url}/users/alice/outbox?page=true"
    _, body = await cached(world, (path, reader), lambda: ap_get(world, reader, outbox))
    items = body.get("orderedItems", []) if isinstance(body, dict) else []
    return any(
        isinstance(item.get("object"), dict) and item["object"].get("id") == uri
        for item in items
    )


LOCAL_CASES = [
    pytest.param(path, visibility, reader, id=f"{path}-{visibility}-{reader}")
    for path in LOCAL_PATHS
    for visibility in VISIBILITIES
    for reader in LOCAL_READERS
]
REMOTE_CASES = [
    pytest.param(path, visibility, reader, id=f"{path}-{visibility}-{reader}")
    for path in ACTIVITYPUB_PATHS
    for visibility in VISIBILITIES
    for reader in REMOTE_READERS
]


@pytest.mark.parametrize(("path", "visibility", "reader"), LOCAL_CASES)
async def test_local_read(
    world: World, path: str, visibility: str, reader: str
) -> None:
    expected = LOCAL_PATHS[path](visibility, reader)
    seen = await seen_locally(world, path, visibility, reader)
    assert seen == expected, (
        f"{path}: a {visibility} status {'hidden from' if expected else 'shown to'}"
        f" {reader}"
    )


@pytest.mark.parametrize(("path", "visibility", "reader"), REMOTE_CASES)
async def test_activitypub_read(
    world: World, path: str, visibility: str, reader: str
) -> None:
    expected = ACTIVITYPUB_PATHS[path](visibility, reader)
    seen = await fetched_remotely(world, path, visibility, reader)
    assert seen == expected, (
        f"{path}: a {visibility} status {'hidden from' if expected else 'served to'}"
        f" {reader}"
    )


# Delivery


async def _remote_status(world: World, uri: str) -> Any:
    connection = await world.district.db()
    try:
        return await connection.fetchrow(
            "SELECT visibility FROM statuses WHERE uri = $1", uri
        )
    finally:
        await connection.close()


async def test_group_status_reaches_remote_member(world: World) -> None:
    uri = world.status_uris["group"]
    row = await eventually(lambda: _remote_status(world, uri))
    assert row is not None, "the group-only status never reached bob's instance"


async def test_local_status_never_delivered(world: World) -> None:
    # The group-only status was posted after the local-only one and goes to
    # bob's instance, so once it is there the local-only one had its chance.
    assert await eventually(lambda: _remote_status(world, world.status_uris["group"]))
    assert await _remote_status(world, world.status_uris["local"]) is None


async def test_local_status_has_no_deliveries(world: World) -> None:
    connection = await world.school.db()
    try:
        count = await connection.fetchval(
            "SELECT count(*) FROM deliveries d JOIN activities a ON a.id = d.activity_id"
            " WHERE a.uri = $1",
            world.activity_uris["local"],
        )
    finally:
        await connection.close()
    assert count == 0


async def test_local_status_marked_local_only(world: World) -> None:
    status, body = await world.readers["follower"].request(
        "GET", f"/api/v1/statuses/{world.status_ids['local']}"
    )
    assert status == 200
    assert body["visibility"] == "public"
    assert body["local_only"] is True


async def test_outbox_total_excludes_local(world: World) -> None:
    status, body = await ap_get(
        world, "anonymous", f"{world.school.url}/users/alice/outbox"
    )
    # The root, public and unlisted posts.
    assert status == 200
    assert body["totalItems"] == 3


async def test_bad_signature_on_fetch_rejected(world: World) -> None:
    uri = world.status_uris["public"]
    bob = world.remote["remote_addressed"]
    headers = {"Accept": ACTIVITY_JSON}
    headers.update(
        httpsig.sign_request(
            "GET",
            uri,
            headers,
            None,
            await private_key_of(bob),
            f"{bob.actor_id}#main-key",
        )
    )
    # A signature made for another path does not verify for this one.
    tampered_uri = re.sub(r"/statuses/\d+$", f"/statuses/{world.root_id}", uri)
    async with (
        open_session(world.school, world.district) as session,
        session.get(tampered_uri, headers=headers) as response,
    ):
        status = response.status
    assert status == 401


async def test_group_post_by_non_member_rejected(world: World) -> None:
    status, body = await world.readers["follower"].request(
        "POST",
        "/api/v1/statuses",
        json={
            "status": "Not a member",
            "visibility": "group",
            "group_id": await _group_id(world),
        },
    )
    assert status == 422, body


async def _group_id(world: World) -> str:
    found = await world.readers["author"].get(
        "/api/pedagogue/v1/groups/lookup", params={"acct": "matrixgroup"}
    )
    return str(found["id"])


@pytest.mark.parametrize("visibility", VISIBILITIES)
async def test_status_entity_documented(world: World, visibility: str) -> None:
    status_id = world.status_ids[visibility]
    _, body = await world.readers["author"].request(
        "GET", f"/api/v1/statuses/{status_id}"
    )
    validate_response("statuses", "/api/v1/statuses/{id}", "GET", 200, body)


async def test_favourited_by_documented(world: World) -> None:
    status_id = world.status_ids["group"]
    _, body = await world.readers["author"].request(
        "GET", f"/api/v1/statuses/{status_id}/favourited_by"
    )
    path = "/api/v1/statuses/{id}/favourited_by"
    validate_response("statuses", path, "GET", 200, body)


async def test_group_status_names_its_group(world: World) -> None:
    _, body = await world.readers["group_member"].request(
        "GET", f"/api/v1/statuses/{world.status_ids['group']}"
    )
    assert body["visibility"] == "private"
    assert body["group_id"] == await _group_id(world)
