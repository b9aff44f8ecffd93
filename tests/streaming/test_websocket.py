"""The multiplexed WebSocket at /api/v1/streaming, driven with aiohttp's client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.streaming.conftest import EVENT_TIMEOUT
from tests.support.live import LiveInstance, Teacher


@pytest.fixture(scope="module")
async def writers(
    instances: tuple[LiveInstance, LiveInstance],
) -> AsyncIterator[dict[str, Teacher]]:
    """ines and jon on school-a; jon follows ines."""
    school, _ = instances
    ines = await school.create_teacher("ines")
    jon = await school.create_teacher("jon")
    await jon.post(f"/api/v1/accounts/{ines.account_id}/follow")
    yield {"ines": ines, "jon": jon}


def socket_url(instance: LiveInstance, query: str = "") -> str:
    base = instance.client_url.replace("https://", "wss://")
    return f"{base}/api/v1/streaming{query}"


async def next_message(socket: aiohttp.ClientWebSocketResponse, event: str) -> Any:
    """Return the next message of ``event``, or None after EVENT_TIMEOUT seconds."""
    deadline = asyncio.get_running_loop().time() + EVENT_TIMEOUT
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            return None
        try:
            message = await socket.receive(timeout=remaining)
        except TimeoutError:
            return None
        if message.type != aiohttp.WSMsgType.TEXT:
            return None
        document = json.loads(message.data)
        if document.get("event") == event or (event == "error" and "error" in document):
            return document


async def test_websocket_hashtag_subscription(writers: dict[str, Teacher]) -> None:
    ines = writers["ines"]
    instance = ines.instance
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            socket_url(instance, f"?access_token={ines.token}"),
            ssl=instance.ssl_context(),
        ) as socket,
    ):
        await socket.send_json(
            {"type": "subscribe", "stream": "hashtag", "tag": "Phonics"}
        )
        # The server applies the subscription in its receiving task, so
        # the post waits a moment to come after it.
        await asyncio.sleep(0.3)
        posted = await ines.post(
            "/api/v1/statuses", data={"status": "New #phonics cards"}
        )
        message = await next_message(socket, "update")
    assert message is not None
    assert message["stream"] == ["hashtag", "phonics"]
    assert isinstance(message["payload"], str)
    assert json.loads(message["payload"])["id"] == posted["id"]


async def test_websocket_token_in_protocol(writers: dict[str, Teacher]) -> None:
    ines, jon = writers["ines"], writers["jon"]
    instance = jon.instance
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            socket_url(instance, "?stream=user"),
            protocols=(jon.token,),
            ssl=instance.ssl_context(),
        ) as socket,
    ):
        protocol = socket.protocol
        await asyncio.sleep(0.3)
        posted = await ines.post("/api/v1/statuses", data={"status": "Library visit"})
        message = await next_message(socket, "update")
    assert protocol == jon.token
    assert message is not None
    assert message["stream"] == ["user"]
    assert json.loads(message["payload"])["id"] == posted["id"]


async def test_websocket_unsubscribe_stops_stream(writers: dict[str, Teacher]) -> None:
    ines = writers["ines"]
    instance = ines.instance
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            socket_url(instance),
            headers={"Authorization": f"Bearer {ines.token}"},
            ssl=instance.ssl_context(),
        ) as socket,
    ):
        for tag in ("chemistry", "biology"):
            await socket.send_json(
                {"type": "subscribe", "stream": "hashtag", "tag": tag}
            )
        await socket.send_json(
            {"type": "unsubscribe", "stream": "hashtag", "tag": "chemistry"}
        )
        await asyncio.sleep(0.3)
        await ines.post("/api/v1/statuses", data={"status": "Titration #chemistry"})
        await ines.post("/api/v1/statuses", data={"status": "Cells #biology"})
        message = await next_message(socket, "update")
    assert message is not None
    assert message["stream"] == ["hashtag", "biology"]


async def test_websocket_unknown_stream_error(writers: dict[str, Teacher]) -> None:
    ines = writers["ines"]
    instance = ines.instance
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            socket_url(instance, f"?access_token={ines.token}"),
            ssl=instance.ssl_context(),
        ) as socket,
    ):
        await socket.send_json({"type": "subscribe", "stream": "everything"})
        error = await next_message(socket, "error")
    assert error is not None
    assert error["status"] == 404
    assert error["stream"] == ["everything"]


async def test_websocket_user_stream_needs_token(writers: dict[str, Teacher]) -> None:
    instance = writers["ines"].instance
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(socket_url(instance), ssl=instance.ssl_context()) as socket,
    ):
        await socket.send_json({"type": "subscribe", "stream": "user"})
        error = await next_message(socket, "error")
    assert error is not None
    assert error["status"] == 401


async def test_websocket_invalid_token_rejected(writers: dict[str, Teacher]) -> None:
    instance = writers["ines"].instance
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as raised:
            await session.ws_connect(
                socket_url(instance, "?access_token=not-a-token"),
                ssl=instance.ssl_context(),
            )
    assert raised.value.status == 401
