"""Events and RSVP between two live instances over HTTPS.

alice organises events on school-a.test. bob and carol on district-b.test
follow her and see her events arrive. They join and leave with Join, Accept,
Reject and Leave.
"""

from __future__ import annotations

from typing import Any

from tests.e2e.peers import follow
from tests.support.live import Teacher, eventually
from tests.support.openapi import validate_response

EVENTS = "/api/pedagogue/v1/events"


def webinar(**changes: Any) -> dict[str, Any]:
    return {
        "name": "Questioning in science lessons",
        "description": "A one-hour webinar with examples from Year 9 chemistry.",
        "starts_at": "2031-02-10T16:00:00",
        "ends_at": "2031-02-10T17:00:00",
        "timezone": "America/New_York",
        "online_url": "https://video.school-a.test/rooms/questioning",
        **changes,
    }


async def arrived(teacher: Teacher, uri: str) -> dict[str, Any] | None:
    """Wait until ``teacher``'s instance lists the event ``uri``; return it."""

    async def find() -> dict[str, Any] | None:
        listed = await teacher.get(EVENTS)
        return next((item for item in listed if item["uri"] == uri), None)

    return await eventually(find)


async def state_of(teacher: Teacher, event_id: str, expected: str) -> str | None:
    """Wait until ``teacher``'s participation has the expected state; return it."""

    async def check() -> str | None:
        event = await teacher.get(f"{EVENTS}/{event_id}")
        state = (event["participation"] or {}).get("state")
        return state if state == expected else None

    result = await eventually(check)
    if result is None:
        event = await teacher.get(f"{EVENTS}/{event_id}")
        return (event["participation"] or {}).get("state")
    return result


async def count_of(teacher: Teacher, event_id: str, expected: int) -> int:
    """Wait until the event shows ``expected`` participants; return the count."""

    async def check() -> bool:
        event = await teacher.get(f"{EVENTS}/{event_id}")
        return event["participants_count"] == expected

    await eventually(check)
    return int((await teacher.get(f"{EVENTS}/{event_id}"))["participants_count"])


async def test_event_rsvp_join_capacity_and_leave(start_instances) -> None:
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    bob = await district.create_teacher("bob")
    carol = await district.create_teacher("carol")
    await follow(bob, alice)
    await follow(carol, alice)

    created = await alice.post(EVENTS, json=webinar(capacity=1))
    seen = await arrived(bob, created["uri"])
    assert seen is not None
    validate_response("events", f"{EVENTS}/{{id}}", "GET", 200, seen)
    assert seen["local"] is False
    assert seen["starts_at"] == "2031-02-10T16:00:00-05:00"
    assert seen["timezone"] == "America/New_York"
    assert seen["online_url"] == "https://video.school-a.test/rooms/questioning"
    assert seen["capacity"] == 1

    joined = await bob.post(f"{EVENTS}/{seen['id']}/join", json={"message": "Hello"})
    assert joined["state"] == "pending"
    assert await state_of(bob, seen["id"], "accepted") == "accepted"
    assert await count_of(alice, created["id"], 1) == 1
    assert await count_of(bob, seen["id"], 1) == 1

    await carol.post(f"{EVENTS}/{seen['id']}/join")
    assert await state_of(carol, seen["id"], "rejected") == "rejected"

    await bob.post(f"{EVENTS}/{seen['id']}/leave")
    assert await count_of(alice, created["id"], 0) == 0
    participants = await alice.get(f"{EVENTS}/{created['id']}/participants")
    assert [(p["account"]["acct"], p["state"]) for p in participants] == [
        (carol.handle, "rejected")
    ]


async def test_restricted_event_pending_until_organiser_accepts(
    start_instances,
) -> None:
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    bob = await district.create_teacher("bob")
    await follow(bob, alice)
    created = await alice.post(EVENTS, json=webinar(join_mode="restricted"))
    seen = await arrived(bob, created["uri"])
    assert seen is not None
    assert seen["join_mode"] == "restricted"

    await bob.post(f"{EVENTS}/{seen['id']}/join", json={"message": "Year 9 teacher"})

    async def requested() -> list[Any]:
        return await alice.get(f"{EVENTS}/{created['id']}/participants")

    pending = await eventually(requested)
    assert [(p["account"]["acct"], p["state"], p["message"]) for p in pending] == [
        (bob.handle, "pending", "Year 9 teacher")
    ]
    assert (await bob.get(f"{EVENTS}/{seen['id']}"))["participation"][
        "state"
    ] == "pending"
    notices = await alice.get("/api/v1/notifications")
    assert [n["type"] for n in notices] == ["event_join_request", "follow"]

    remote_bob = pending[0]["account"]["id"]
    answer = await alice.post(
        f"{EVENTS}/{created['id']}/participants/{remote_bob}/authorize"
    )
    assert answer["state"] == "accepted"
    assert await state_of(bob, seen["id"], "accepted") == "accepted"

    status = await bob.get(f"/api/v1/statuses/{seen['id']}")
    assert status["card"]["title"] == "Questioning in science lessons"


async def notified(teacher: Teacher, kind: str) -> list[dict[str, Any]]:
    """Wait until ``teacher`` has a notification of ``kind``; return those."""

    async def check() -> list[dict[str, Any]]:
        listed = await teacher.get("/api/v1/notifications")
        return [item for item in listed if item["type"] == kind]

    return await eventually(check)


async def test_event_edit_cancel_and_delete_reach_participant(
    start_instances,
) -> None:
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    bob = await district.create_teacher("bob")
    await follow(bob, alice)
    created = await alice.post(EVENTS, json=webinar())
    seen = await arrived(bob, created["uri"])
    assert seen is not None
    await bob.post(f"{EVENTS}/{seen['id']}/join")
    assert await state_of(bob, seen["id"], "accepted") == "accepted"

    # An invalid edit changes nothing and names the field.
    status, error = await alice.request(
        "PATCH", f"{EVENTS}/{created['id']}", json={"ends_at": "2031-02-10T15:00:00"}
    )
    assert status == 422
    validate_response("events", f"{EVENTS}/{{id}}", "PATCH", 422, error)
    assert error["field"] == "ends_at"

    # The edit reaches bob's instance, and bob hears of it.
    status, edited = await alice.request(
        "PATCH",
        f"{EVENTS}/{created['id']}",
        json={
            "name": "Questioning in science, part 1",
            "starts_at": "2031-02-10T15:30:00",
        },
    )
    assert status == 200
    validate_response("events", f"{EVENTS}/{{id}}", "PATCH", 200, edited)

    async def renamed() -> dict[str, Any] | None:
        event = await bob.get(f"{EVENTS}/{seen['id']}")
        return event if event["name"] == "Questioning in science, part 1" else None

    copy = await eventually(renamed)
    assert copy is not None
    assert copy["starts_at"] == "2031-02-10T15:30:00-05:00"
    updates = await notified(bob, "event_updated")
    assert [item["status"]["id"] for item in updates] == [seen["id"]]

    # The cancellation arrives as an Update with ical:status CANCELLED.
    cancelled = await alice.post(f"{EVENTS}/{created['id']}/cancel")
    assert cancelled["status"] == "CANCELLED"

    async def cancelled_copy() -> bool:
        event = await bob.get(f"{EVENTS}/{seen['id']}")
        return event["status"] == "CANCELLED"

    assert await eventually(cancelled_copy) is True
    assert len(await notified(bob, "event_cancelled")) == 1
    _, feed = await alice.request("GET", "/ical/instance.ics")
    assert "STATUS:CANCELLED" in feed
    assert "SEQUENCE:2" in feed

    # The deletion removes bob's copy, and bob's notification names the event.
    status, _ = await alice.request("DELETE", f"{EVENTS}/{created['id']}")
    assert status == 200

    async def gone() -> bool:
        status, _ = await bob.request("GET", f"{EVENTS}/{seen['id']}")
        return status == 404

    assert await eventually(gone) is True
    [deleted] = await notified(bob, "event_deleted")
    assert deleted["event"]["name"] == "Questioning in science, part 1"
