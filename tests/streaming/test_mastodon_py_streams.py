"""The streaming API read by Mastodon.py's stream_user and stream_public.

Mastodon.py reads server-sent events in a thread of its own. Each test opens
streams and acts through the client API of the same or the other instance.
Then it waits a bounded time for the events.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.streaming.conftest import (
    client_for,
    close_stream,
    open_stream,
)
from tests.support.live import LiveInstance, Teacher, eventually

# Seconds to wait for a further event after the one a test waited for. The
# events of one process go out in the order they were committed, so a later
# event arriving first shows an earlier one was left out.
SETTLE = 0.5


@pytest.fixture(scope="module")
async def people(
    instances: tuple[LiveInstance, LiveInstance],
) -> AsyncIterator[dict[str, Teacher]]:
    """alice and bob on school-a (bob follows alice) and carol on district-b,
    whom bob follows across instances."""
    school, district = instances
    alice = await school.create_teacher("alice")
    bob = await school.create_teacher("bob")
    carol = await district.create_teacher("carol")
    await bob.post(f"/api/v1/accounts/{alice.account_id}/follow")
    remote_carol = await bob.resolve(f"carol@{district.host}")
    await bob.post(f"/api/v1/accounts/{remote_carol['id']}/follow")

    async def following_carol() -> bool:
        relations = await bob.get(
            "/api/v1/accounts/relationships", params={"id[]": remote_carol["id"]}
        )
        return bool(relations[0]["following"])

    assert await eventually(following_carol)
    yield {"alice": alice, "bob": bob, "carol": carol}


def status_with(text: str) -> Any:
    return lambda status: text in status["content"]


async def test_user_stream_local_post(people: dict[str, Teacher]) -> None:
    alice, bob = people["alice"], people["bob"]
    handle, events = await open_stream(client_for(bob, bob.instance).stream_user)
    try:
        posted = await alice.post(
            "/api/v1/statuses", data={"status": "Fractions warm-up"}
        )
        update = await events.wait_for("update", status_with("Fractions warm-up"))
    finally:
        await close_stream(handle)
    assert update is not None, events.events
    assert str(update["id"]) == posted["id"]
    assert update["account"]["acct"] == "alice"
    assert update["favourited"] is False


async def test_user_stream_federated_post(people: dict[str, Teacher]) -> None:
    bob, carol = people["bob"], people["carol"]
    handle, events = await open_stream(client_for(bob, bob.instance).stream_user)
    try:
        await carol.post("/api/v1/statuses", data={"status": "Science fair rubric"})
        update = await events.wait_for("update", status_with("Science fair rubric"))
    finally:
        await close_stream(handle)
    assert update is not None, events.events
    assert update["account"]["acct"] == f"carol@{carol.instance.host}"


async def test_user_stream_mention_notification(people: dict[str, Teacher]) -> None:
    alice, bob = people["alice"], people["bob"]
    handle, events = await open_stream(client_for(bob, bob.instance).stream_user)
    try:
        posted = await alice.post(
            "/api/v1/statuses", data={"status": "@bob could you review the quiz?"}
        )
        notification = await events.wait_for(
            "notification", lambda n: n["type"] == "mention"
        )
    finally:
        await close_stream(handle)
    assert notification is not None, events.events
    assert str(notification["status"]["id"]) == posted["id"]
    assert notification["account"]["acct"] == "alice"


async def test_notification_stream_favourite(people: dict[str, Teacher]) -> None:
    alice, bob = people["alice"], people["bob"]
    mine = await bob.post("/api/v1/statuses", data={"status": "Exit ticket ideas"})
    api = client_for(bob, bob.instance)
    handle, events = await open_stream(api.stream_user_notifications)
    try:
        await alice.post(f"/api/v1/statuses/{mine['id']}/favourite")
        notification = await events.wait_for(
            "notification", lambda n: n["type"] == "favourite"
        )
    finally:
        await close_stream(handle)
    assert notification is not None, events.events
    assert str(notification["status"]["id"]) == mine["id"]
    assert events.named("update") == []


async def test_public_stream_delete(people: dict[str, Teacher]) -> None:
    alice = people["alice"]
    api = client_for(None, alice.instance)
    handle, events = await open_stream(api.stream_public)
    try:
        posted = await alice.post(
            "/api/v1/statuses", data={"status": "Draft seating plan"}
        )
        update = await events.wait_for("update", status_with("Draft seating plan"))
        status, _ = await alice.request("DELETE", f"/api/v1/statuses/{posted['id']}")
        deleted = await events.wait_for(
            "delete", lambda value: str(value) == posted["id"]
        )
    finally:
        await close_stream(handle)
    assert update is not None, events.events
    assert status == 200
    assert deleted is not None, events.events


async def test_public_stream_leaves_out_private(people: dict[str, Teacher]) -> None:
    alice = people["alice"]
    api = client_for(people["bob"], alice.instance)
    handle, events = await open_stream(api.stream_public)
    try:
        await alice.post(
            "/api/v1/statuses",
            data={"status": "Followers only: staff meeting", "visibility": "private"},
        )
        await alice.post(
            "/api/v1/statuses",
            data={"status": "Direct: grades", "visibility": "direct"},
        )
        await alice.post("/api/v1/statuses", data={"status": "Public: open day"})
        public = await events.wait_for("update", status_with("open day"))
        await asyncio.sleep(SETTLE)
    finally:
        await close_stream(handle)
    contents = [status["content"] for status in events.named("update")]
    assert public is not None, events.events
    assert not any("staff meeting" in text for text in contents)
    assert not any("grades" in text for text in contents)


async def test_user_stream_private_to_follower_only(people: dict[str, Teacher]) -> None:
    alice, bob = people["alice"], people["bob"]
    stranger = await alice.instance.create_teacher("dana")
    bob_handle, bob_events = await open_stream(
        client_for(bob, bob.instance).stream_user
    )
    dana_handle, dana_events = await open_stream(
        client_for(stranger, bob.instance).stream_user
    )
    try:
        await alice.post(
            "/api/v1/statuses",
            data={"status": "Followers only: timetable swap", "visibility": "private"},
        )
        received = await bob_events.wait_for("update", status_with("timetable swap"))
        await asyncio.sleep(SETTLE)
    finally:
        await close_stream(bob_handle)
        await close_stream(dana_handle)
    assert received is not None, bob_events.events
    assert dana_events.named("update") == []


async def test_public_stream_leaves_out_muted_author(
    people: dict[str, Teacher],
) -> None:
    alice = people["alice"]
    muter = await alice.instance.create_teacher("emil")
    await muter.post(f"/api/v1/accounts/{alice.account_id}/mute")
    muted_handle, muted_events = await open_stream(
        client_for(muter, alice.instance).stream_public
    )
    open_handle, open_events = await open_stream(
        client_for(None, alice.instance).stream_public
    )
    try:
        await alice.post("/api/v1/statuses", data={"status": "Muted: bus duty"})
        await muter.post("/api/v1/statuses", data={"status": "Own: lab safety"})
        seen = await open_events.wait_for("update", status_with("bus duty"))
        own = await muted_events.wait_for("update", status_with("lab safety"))
        await asyncio.sleep(SETTLE)
    finally:
        await close_stream(muted_handle)
        await close_stream(open_handle)
    assert seen is not None, open_events.events
    assert own is not None, muted_events.events
    contents = [status["content"] for status in muted_events.named("update")]
    assert not any("bus duty" in text for text in contents)
