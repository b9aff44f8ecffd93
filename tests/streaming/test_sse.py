"""Server-sent event streams read with aiohttp: framing, access rules and limits."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from tests.streaming.conftest import SCHOOL_CONNECTION_CAP, EventSource, add_token
from tests.support.live import LiveInstance, Teacher
from tests.support.openapi import validate_response

SETTLE = 0.5


@pytest.fixture(scope="module")
async def teachers(
    instances: tuple[LiveInstance, LiveInstance],
) -> AsyncIterator[dict[str, Teacher]]:
    """frank and gina on school-a (gina follows frank), and hugo on district-b."""
    school, district = instances
    frank = await school.create_teacher("frank")
    gina = await school.create_teacher("gina")
    hugo = await district.create_teacher("hugo")
    await gina.post(f"/api/v1/accounts/{frank.account_id}/follow")
    yield {"frank": frank, "gina": gina, "hugo": hugo}


async def opened(instance: LiveInstance, path: str, token: str | None) -> EventSource:
    source = EventSource(instance, path, token)
    status = await source.open()
    if status != 200:
        body = await source.body()
        await source.close()
        raise AssertionError(f"{path} answered {status}: {body}")
    return source


async def open_when_free(instance: LiveInstance, path: str, token: str) -> EventSource:
    """Open a stream, retrying on 429 for up to five seconds, because the
    server unregisters a closed stream only when it reads the disconnect."""
    for _ in range(50):
        source = EventSource(instance, path, token)
        if await source.open() == 200:
            return source
        await source.close()
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path} stayed at the connection limit")


async def rejection(
    instance: LiveInstance, path: str, token: str | None
) -> tuple[int, Any]:
    source = EventSource(instance, path, token)
    try:
        status = await source.open()
        return status, await source.body()
    finally:
        await source.close()


def has_text(text: str) -> Any:
    return lambda data: text in json.loads(data)["content"]


async def test_health_returns_ok(teachers: dict[str, Teacher]) -> None:
    status, body = await teachers["frank"].request("GET", "/api/v1/streaming/health")
    assert status == 200
    assert body == "OK"


async def test_instance_names_streaming_url(teachers: dict[str, Teacher]) -> None:
    frank = teachers["frank"]
    v1 = await frank.get("/api/v1/instance")
    v2 = await frank.get("/api/v2/instance")
    assert v1["urls"]["streaming_api"] == f"wss://{frank.instance.host}"
    assert v2["configuration"]["urls"]["streaming"] == f"wss://{frank.instance.host}"


async def test_local_stream_update_framing(teachers: dict[str, Teacher]) -> None:
    frank = teachers["frank"]
    source = await opened(frank.instance, "/api/v1/streaming/public/local", None)
    try:
        posted = await frank.post("/api/v1/statuses", data={"status": "Reading circle"})
        data = await source.wait_for("update", has_text("Reading circle"))
    finally:
        await source.close()
    assert source.comments[0] == ":)"
    assert data is not None, source.events
    assert json.loads(data)["id"] == posted["id"]
    assert "favourited" not in json.loads(data)


async def test_stream_sends_heartbeats(teachers: dict[str, Teacher]) -> None:
    source = await opened(teachers["frank"].instance, "/api/v1/streaming/public", None)
    try:
        # The test instances send a heartbeat every second.
        for _ in range(50):
            if ":thump" in source.comments:
                break
            await asyncio.sleep(0.1)
    finally:
        await source.close()
    assert ":thump" in source.comments


async def test_hashtag_stream_matches_tag(teachers: dict[str, Teacher]) -> None:
    frank = teachers["frank"]
    path = "/api/v1/streaming/hashtag?tag=Geometry"
    source = await opened(frank.instance, path, None)
    try:
        await frank.post("/api/v1/statuses", data={"status": "No tag: algebra"})
        await frank.post("/api/v1/statuses", data={"status": "Tagged #geometry proofs"})
        data = await source.wait_for("update", has_text("proofs"))
        await asyncio.sleep(SETTLE)
    finally:
        await source.close()
    assert data is not None, source.events
    assert [name for name, _ in source.events] == ["update"]


async def test_user_stream_requires_token(teachers: dict[str, Teacher]) -> None:
    status, body = await rejection(
        teachers["frank"].instance, "/api/v1/streaming/user", None
    )
    assert status == 401
    assert body == {"error": "This stream requires an access token"}
    validate_response("streaming", "/api/v1/streaming/user", "GET", 401, body)


async def test_invalid_token_rejected(teachers: dict[str, Teacher]) -> None:
    instance = teachers["frank"].instance
    status, body = await rejection(instance, "/api/v1/streaming/public", "not-a-token")
    assert status == 401
    assert body == {"error": "The access token is invalid"}


async def test_unknown_stream_not_found(teachers: dict[str, Teacher]) -> None:
    instance = teachers["frank"].instance
    frank = teachers["frank"]
    status, _ = await rejection(instance, "/api/v1/streaming/everything", frank.token)
    assert status == 404


async def test_hashtag_stream_requires_tag(teachers: dict[str, Teacher]) -> None:
    instance = teachers["frank"].instance
    status, body = await rejection(instance, "/api/v1/streaming/hashtag", None)
    assert status == 400
    assert body == {"error": "No tag for stream provided"}


async def test_user_stream_needs_read_scope(teachers: dict[str, Teacher]) -> None:
    frank = teachers["frank"]
    write_only = await add_token(frank.instance, frank, "write")
    status, body = await rejection(frank.instance, "/api/v1/streaming/user", write_only)
    assert status == 403
    assert body == {"error": "The access token lacks the read:statuses scope"}


async def test_notification_stream_granular_scope(teachers: dict[str, Teacher]) -> None:
    frank = teachers["frank"]
    token = await add_token(frank.instance, frank, "read:notifications")
    source = await opened(frank.instance, "/api/v1/streaming/user/notification", token)
    await source.close()
    status, _ = await rejection(frank.instance, "/api/v1/streaming/user", token)
    assert status == 403


async def test_public_stream_token_when_configured(
    teachers: dict[str, Teacher],
) -> None:
    hugo = teachers["hugo"]
    status, body = await rejection(hugo.instance, "/api/v1/streaming/public", None)
    source = await opened(hugo.instance, "/api/v1/streaming/public", hugo.token)
    await source.close()
    assert status == 401
    assert body == {"error": "This instance requires an access token for streams"}


async def test_connection_cap_per_account(teachers: dict[str, Teacher]) -> None:
    frank = teachers["frank"]
    path = "/api/v1/streaming/user"
    sources: list[EventSource] = []
    try:
        for _ in range(SCHOOL_CONNECTION_CAP):
            sources.append(await open_when_free(frank.instance, path, frank.token))
        status, body = await rejection(frank.instance, path, frank.token)
        await sources.pop().close()
        sources.append(await open_when_free(frank.instance, path, frank.token))
        reopened = len(sources) == SCHOOL_CONNECTION_CAP
    finally:
        for source in sources:
            await source.close()
    assert status == 429
    assert "Too many streaming connections" in body["error"]
    assert reopened


async def test_revoked_token_ends_stream(teachers: dict[str, Teacher]) -> None:
    frank = teachers["frank"]
    token = await add_token(frank.instance, frank, "read")
    source = await opened(frank.instance, "/api/v1/streaming/user", token)
    connection = await asyncpg.connect(frank.instance.dsn)
    try:
        await connection.execute(
            "UPDATE tokens SET revoked_at = now() WHERE scopes = 'read'"
            " AND account_id = $1",
            int(frank.account_id),
        )
    finally:
        await connection.close()
    try:
        for _ in range(100):
            if source.ended():
                break
            await asyncio.sleep(0.1)
        ended = source.ended()
    finally:
        await source.close()
    assert ended


async def test_direct_stream_conversation(teachers: dict[str, Teacher]) -> None:
    frank, gina = teachers["frank"], teachers["gina"]
    source = await opened(gina.instance, "/api/v1/streaming/direct", gina.token)
    try:
        posted = await frank.post(
            "/api/v1/statuses",
            data={"status": "@gina your observation notes", "visibility": "direct"},
        )
        data = await source.wait_for("conversation", lambda _data: True)
    finally:
        await source.close()
    assert data is not None, source.events
    conversation = json.loads(data)
    assert conversation["last_status"]["id"] == posted["id"]
    assert [account["acct"] for account in conversation["accounts"]] == ["frank"]
    assert conversation["unread"] is True


async def test_keyword_filter_hides_update(teachers: dict[str, Teacher]) -> None:
    frank, gina = teachers["frank"], teachers["gina"]
    source = await opened(gina.instance, "/api/v1/streaming/user", gina.token)
    try:
        await gina.post(
            "/api/v2/filters",
            json={
                "title": "No marking",
                "context": ["home"],
                "filter_action": "hide",
                "keywords_attributes": [{"keyword": "marking", "whole_word": True}],
            },
        )
        changed = await source.wait_for("filters_changed", lambda data: True)
        await frank.post("/api/v1/statuses", data={"status": "Weekend marking pile"})
        await frank.post("/api/v1/statuses", data={"status": "Choir practice moved"})
        shown = await source.wait_for("update", has_text("Choir practice"))
        await asyncio.sleep(SETTLE)
    finally:
        await source.close()
    contents = [
        json.loads(data)["content"] for name, data in source.events if name == "update"
    ]
    assert changed == "undefined"
    assert shown is not None, source.events
    assert not any("marking" in text for text in contents)


async def test_list_stream_member_post(teachers: dict[str, Teacher]) -> None:
    frank, gina = teachers["frank"], teachers["gina"]
    created = await gina.post("/api/v1/lists", data={"title": "Maths department"})
    await gina.post(
        f"/api/v1/lists/{created['id']}/accounts",
        data={"account_ids[]": frank.account_id},
    )
    path = f"/api/v1/streaming/list?list={created['id']}"
    source = await opened(gina.instance, path, gina.token)
    try:
        await frank.post(
            "/api/v1/statuses", data={"status": "Department meeting notes"}
        )
        data = await source.wait_for("update", has_text("Department meeting"))
    finally:
        await source.close()
    assert data is not None, source.events


async def test_list_stream_other_account_list(teachers: dict[str, Teacher]) -> None:
    frank, gina = teachers["frank"], teachers["gina"]
    created = await gina.post("/api/v1/lists", data={"title": "Private list"})
    path = f"/api/v1/streaming/list?list={created['id']}"
    status, body = await rejection(frank.instance, path, frank.token)
    assert status == 404
    assert body == {"error": "List not found"}


async def test_edited_plan_status_update(teachers: dict[str, Teacher]) -> None:
    frank = teachers["frank"]
    source = await opened(frank.instance, "/api/v1/streaming/public/local", None)
    try:
        plan = await frank.post(
            "/api/pedagogue/v1/lesson_plans",
            json={
                "title": "Volcano models",
                "summary": "Build and test a baking soda volcano.",
                "body": "## Steps\n\nMix, pour, observe.",
                "subjects": ["Science"],
                "grade_levels": ["3-5"],
            },
        )
        created = await source.wait_for("update", lambda data: True)
        status, _ = await frank.request(
            "PUT",
            f"/api/pedagogue/v1/lesson_plans/{plan['id']}",
            json={"title": "Volcano models, revised"},
        )
        edited = await source.wait_for("status.update", lambda data: True)
    finally:
        await source.close()
    assert created is not None, source.events
    assert json.loads(created)["id"] == plan["id"]
    assert status == 200
    assert edited is not None, source.events
    assert json.loads(edited)["id"] == plan["id"]
    assert json.loads(edited)["edited_at"] is not None
