"""Editing, cancelling and deleting events through the client API of one
in-process instance, the search endpoint, id parsing and the reminder loop."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import icalendar
import pytest

from outbox.events import EventReminders
from pedagogue.runtime import Runtime
from tests.events.conftest import ApiUser, EventsSite
from tests.events.test_api import create, later
from tests.support.openapi import validate_response

EVENTS = "/api/pedagogue/v1/events"


async def patch(user: ApiUser, event_id: str, body: dict[str, Any]) -> tuple[int, Any]:
    response = await user.client.patch(
        f"{EVENTS}/{event_id}", json=body, headers=user.headers
    )
    return response.status_code, await response.get_json()


async def delete(user: ApiUser, event_id: str) -> tuple[int, Any]:
    response = await user.client.delete(f"{EVENTS}/{event_id}", headers=user.headers)
    return response.status_code, await response.get_json()


async def notices(user: ApiUser, kind: str) -> list[dict[str, Any]]:
    _, listed = await user.get("/api/v1/notifications")
    return [item for item in listed if item["type"] == kind]


async def sent_updates(site: EventsSite) -> int:
    return int(
        await site.runtime.pool.fetchval(
            "SELECT count(*) FROM activities WHERE type = 'Update'"
        )
    )


async def vevent(site: EventsSite) -> icalendar.Event:
    response = await site.client.get("/ical/instance.ics")
    calendar = icalendar.Calendar.from_ical(await response.get_data())
    [item] = calendar.walk("VEVENT")
    return item


# Editing


async def test_edit_changes_given_fields_only(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    event = await create(alice)

    status, body = await patch(
        alice, event["id"], {"name": "Formative assessment, part 2", "capacity": 60}
    )

    assert status == 200
    validate_response("events", f"{EVENTS}/{{id}}", "PATCH", 200, body)
    assert body["name"] == "Formative assessment, part 2"
    assert body["capacity"] == 60
    assert body["starts_at"] == event["starts_at"]
    assert body["online_url"] == event["online_url"]


async def test_edit_moves_times_in_new_zone(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    event = await create(alice)

    _, body = await patch(
        alice,
        event["id"],
        {
            "timezone": "America/New_York",
            "starts_at": "2031-03-04T10:00:00",
            "ends_at": "2031-03-04T11:00:00",
        },
    )

    assert body["starts_at"] == "2031-03-04T10:00:00-05:00"
    assert body["timezone"] == "America/New_York"


async def test_edit_ending_before_start_names_ends_at(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    event = await create(alice)

    status, body = await patch(alice, event["id"], {"ends_at": "2031-03-04T17:00:00"})
    _, stored = await alice.get(f"{EVENTS}/{event['id']}")

    assert status == 422
    validate_response("events", f"{EVENTS}/{{id}}", "PATCH", 422, body)
    assert body["field"] == "ends_at"
    assert "ends before it starts" in body["error"]
    assert stored["ends_at"] == event["ends_at"]
    assert await sent_updates(site) == 0


EDIT_BAD_FIELDS = [
    ("name", {"name": ""}),
    ("starts_at", {"starts_at": "soon"}),
    ("timezone", {"timezone": "Nowhere/Special"}),
    ("capacity", {"capacity": -3}),
    ("status", {"status": "POSTPONED"}),
    ("visibility", {"visibility": "unlisted"}),
    ("group_id", {"group_id": "5"}),
    ("colour", {"colour": "blue"}),
]


@pytest.mark.parametrize(("field", "changes"), EDIT_BAD_FIELDS)
async def test_invalid_edit_field_named(
    site: EventsSite, field: str, changes: dict[str, Any]
) -> None:
    alice = await site.teacher("alice")
    event = await create(alice)

    status, body = await patch(alice, event["id"], changes)

    assert status == 422
    assert body["field"] == field
    assert await sent_updates(site) == 0


async def test_edit_with_empty_body_rejected(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    event = await create(alice)

    status, body = await patch(alice, event["id"], {})

    assert status == 422
    assert "no field" in body["error"]


async def test_edit_capacity_below_accepted_rejected(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    bob = await site.teacher("bob")
    carol = await site.teacher("carol")
    event = await create(alice)
    await bob.post(f"{EVENTS}/{event['id']}/join")
    await carol.post(f"{EVENTS}/{event['id']}/join")

    status, body = await patch(alice, event["id"], {"capacity": 1})

    assert status == 422
    assert body["field"] == "capacity"
    assert "2 participants" in body["error"]


async def test_edit_by_another_teacher_forbidden(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    bob = await site.teacher("bob")
    event = await create(alice)

    status, body = await patch(bob, event["id"], {"name": "Taken over"})
    _, stored = await alice.get(f"{EVENTS}/{event['id']}")

    assert status == 403
    validate_response("events", f"{EVENTS}/{{id}}", "PATCH", 403, body)
    assert stored["name"] == event["name"]


async def test_edit_without_token_unauthorized(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    event = await create(alice)

    response = await site.client.patch(f"{EVENTS}/{event['id']}", json={"name": "x"})

    assert response.status_code == 401


async def test_edit_sends_update_and_shows_edit(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    event = await create(alice)

    await patch(alice, event["id"], {"description": "Now with *hinge* questions."})
    _, status = await alice.get(f"/api/v1/statuses/{event['id']}")

    assert await sent_updates(site) == 1
    assert status["edited_at"] is not None
    assert "hinge" in status["content"]


async def test_edit_changing_nothing_sends_nothing(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    event = await create(alice)

    status, body = await patch(alice, event["id"], {"name": event["name"]})

    assert status == 200
    assert body["name"] == event["name"]
    assert await sent_updates(site) == 0


async def test_edit_notifies_participants_once_each_time(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    bob = await site.teacher("bob")
    event = await create(alice)
    await bob.post(f"{EVENTS}/{event['id']}/join")

    await patch(alice, event["id"], {"name": "Renamed once"})
    await patch(alice, event["id"], {"name": "Renamed twice"})
    updated = await notices(bob, "event_updated")

    assert [item["status"]["id"] for item in updated] == [event["id"]]
    assert await notices(alice, "event_updated") == []


async def test_edit_bumps_feed_sequence(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    event = await create(alice)
    before = await vevent(site)

    await patch(alice, event["id"], {"name": "Renamed"})
    await patch(alice, event["id"], {"online_url": None})
    after = await vevent(site)

    assert before["sequence"] == 0
    assert after["sequence"] == 2
    assert "last-modified" in after
    assert "conference" not in after


async def test_moved_event_reminds_again(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    bob = await site.teacher("bob")
    event = await create(alice, starts_at=later(0.5), ends_at=later(1), timezone="UTC")
    await bob.post(f"{EVENTS}/{event['id']}/join")
    reminders = EventReminders(site.runtime)
    await reminders.run_once()

    await patch(alice, event["id"], {"starts_at": later(0.75)})
    again = await reminders.run_once()

    assert again == 1


# Cancelling


async def test_cancel_marks_event_and_feed(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    event = await create(alice)

    status, body = await alice.post(f"{EVENTS}/{event['id']}/cancel")
    item = await vevent(site)

    assert status == 200
    validate_response("events", f"{EVENTS}/{{id}}/cancel", "POST", 200, body)
    assert body["status"] == "CANCELLED"
    assert str(item["status"]) == "CANCELLED"
    assert item["sequence"] == 1


async def test_cancel_sends_update_with_ical_status(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    event = await create(alice)

    await alice.post(f"{EVENTS}/{event['id']}/cancel")
    body = await site.runtime.pool.fetchval(
        "SELECT body FROM activities WHERE type = 'Update'"
    )

    assert body["object"]["ical:status"] == "CANCELLED"
    assert body["object"]["status"] == "CANCELLED"


async def test_cancel_notifies_participants(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    bob = await site.teacher("bob")
    event = await create(alice)
    await bob.post(f"{EVENTS}/{event['id']}/join")

    await alice.post(f"{EVENTS}/{event['id']}/cancel")
    cancelled = await notices(bob, "event_cancelled")

    assert [item["status"]["id"] for item in cancelled] == [event["id"]]


async def test_cancelled_event_rejects_join(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    bob = await site.teacher("bob")
    event = await create(alice)
    await alice.post(f"{EVENTS}/{event['id']}/cancel")

    _, joined = await bob.post(f"{EVENTS}/{event['id']}/join")

    assert joined["state"] == "rejected"


async def test_cancelled_event_gets_no_reminders(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    bob = await site.teacher("bob")
    event = await create(alice, starts_at=later(0.5), ends_at=later(1), timezone="UTC")
    await bob.post(f"{EVENTS}/{event['id']}/join")
    await alice.post(f"{EVENTS}/{event['id']}/cancel")

    created = await EventReminders(site.runtime).run_once()

    assert created == 0


async def test_cancel_by_another_teacher_forbidden(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    bob = await site.teacher("bob")
    event = await create(alice)

    status, _ = await bob.post(f"{EVENTS}/{event['id']}/cancel")

    assert status == 403


async def test_new_event_cannot_start_cancelled(site: EventsSite) -> None:
    alice = await site.teacher("alice")

    status, body = await alice.post(
        EVENTS,
        {
            "name": "Never happening",
            "starts_at": "2031-03-04T18:00:00",
            "ends_at": "2031-03-04T19:00:00",
            "status": "CANCELLED",
        },
    )

    assert status == 422
    assert body["field"] == "status"


# Deleting


async def test_delete_removes_event_everywhere(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    event = await create(alice)

    status, body = await delete(alice, event["id"])
    after, _ = await alice.get(f"{EVENTS}/{event['id']}")
    response = await site.client.get("/ical/instance.ics")
    calendar = icalendar.Calendar.from_ical(await response.get_data())

    assert status == 200
    validate_response("events", f"{EVENTS}/{{id}}", "DELETE", 200, body)
    assert body["id"] == event["id"]
    assert after == 404
    assert calendar.walk("VEVENT") == []


async def test_delete_sends_tombstone(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    event = await create(alice)

    await delete(alice, event["id"])
    body = await site.runtime.pool.fetchval(
        "SELECT body -> 'object' FROM activities WHERE type = 'Delete'"
    )

    assert body["type"] == "Tombstone"
    assert body["formerType"] == "Event"
    assert body["id"] == event["uri"]


async def test_delete_notifies_participants_with_name(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    bob = await site.teacher("bob")
    event = await create(alice)
    await bob.post(f"{EVENTS}/{event['id']}/join")

    await delete(alice, event["id"])
    [deleted] = await notices(bob, "event_deleted")

    assert deleted["event"] == {"uri": event["uri"], "name": event["name"]}
    assert deleted["account"]["acct"] == "alice"


async def test_status_delete_of_event_notifies(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    bob = await site.teacher("bob")
    event = await create(alice)
    await bob.post(f"{EVENTS}/{event['id']}/join")

    response = await site.client.delete(
        f"/api/v1/statuses/{event['id']}", headers=alice.headers
    )
    [deleted] = await notices(bob, "event_deleted")

    assert response.status_code == 200
    assert deleted["event"]["uri"] == event["uri"]


async def test_delete_by_another_teacher_forbidden(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    bob = await site.teacher("bob")
    event = await create(alice)

    status, body = await delete(bob, event["id"])
    still, _ = await alice.get(f"{EVENTS}/{event['id']}")

    assert status == 403
    validate_response("events", f"{EVENTS}/{{id}}", "DELETE", 403, body)
    assert still == 200


# Search


async def test_search_finds_past_and_upcoming_by_name(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    await create(alice, name="Phonics for early readers")
    await create(
        alice,
        name="Phonics review",
        starts_at="2020-01-10T10:00:00",
        ends_at="2020-01-10T11:00:00",
    )
    await create(alice, name="Lab safety")

    status, found = await alice.get(f"{EVENTS}/search", q="phon")

    assert status == 200
    validate_response("events", f"{EVENTS}/search", "GET", 200, found)
    assert [item["name"] for item in found] == [
        "Phonics for early readers",
        "Phonics review",
    ]


async def test_search_pages_with_link_header(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    for day in (10, 11, 12):
        await create(
            alice,
            name=f"Reading circle {day}",
            starts_at=f"2031-05-{day}T16:00:00",
            ends_at=f"2031-05-{day}T17:00:00",
        )

    first = await site.client.get(
        f"{EVENTS}/search", query_string={"q": "reading", "limit": 2}
    )
    second = await site.client.get(
        f"{EVENTS}/search", query_string={"q": "reading", "limit": 2, "offset": 2}
    )

    assert [item["name"] for item in await first.get_json()] == [
        "Reading circle 10",
        "Reading circle 11",
    ]
    assert 'rel="next"' in first.headers["Link"]
    assert "offset=2" in first.headers["Link"]
    assert [item["name"] for item in await second.get_json()] == ["Reading circle 12"]
    assert "Link" not in second.headers


async def test_search_leaves_out_unlisted(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    await create(alice, name="Quiet planning session", visibility="unlisted")

    _, found = await alice.get(f"{EVENTS}/search", q="quiet")

    assert found == []


async def test_search_without_query_names_q(site: EventsSite) -> None:
    alice = await site.teacher("alice")

    status, body = await alice.get(f"{EVENTS}/search", q=" ")

    assert status == 422
    validate_response("events", f"{EVENTS}/search", "GET", 422, body)
    assert body["field"] == "q"


async def test_combined_search_lists_events(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    await create(alice, name="Phonics for early readers")

    status, found = await alice.get("/api/v2/search", q="phonics")

    assert status == 200
    assert [item["name"] for item in found["events"]] == ["Phonics for early readers"]
    validate_response("events", f"{EVENTS}/search", "GET", 200, found["events"])


async def test_combined_search_of_events_only(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    await create(alice, name="Alice's reading circle")

    _, found = await alice.get("/api/v2/search", q="alice", type="events")

    assert found["accounts"] == []
    assert [item["name"] for item in found["events"]] == ["Alice's reading circle"]


# Ids


BAD_IDS = ["²", "١٢٣", "99999999999999999999", "-1", "1e3"]


@pytest.mark.parametrize("event_id", BAD_IDS)
async def test_malformed_event_id_not_found(site: EventsSite, event_id: str) -> None:
    alice = await site.teacher("alice")

    got, _ = await alice.get(f"{EVENTS}/{event_id}")
    patched, _ = await patch(alice, event_id, {"name": "x"})
    joined, _ = await alice.post(f"{EVENTS}/{event_id}/join")
    deleted, _ = await delete(alice, event_id)

    assert got == 404
    assert patched == 404
    assert joined == 404
    assert deleted == 404


@pytest.mark.parametrize("account_id", BAD_IDS)
async def test_malformed_participant_id_not_found(
    site: EventsSite, account_id: str
) -> None:
    alice = await site.teacher("alice")
    event = await create(alice, join_mode="restricted")

    status, _ = await alice.post(
        f"{EVENTS}/{event['id']}/participants/{account_id}/authorize"
    )

    assert status == 404


# Reminders


async def test_reminder_pass_survives_failing_row(
    site: EventsSite, caplog: pytest.LogCaptureFixture
) -> None:
    alice = await site.teacher("alice")
    bob = await site.teacher("bob")
    broken = await create(alice, starts_at=later(0.2), ends_at=later(1), timezone="UTC")
    fine = await create(alice, starts_at=later(0.4), ends_at=later(1), timezone="UTC")
    await bob.post(f"{EVENTS}/{broken['id']}/join")
    await bob.post(f"{EVENTS}/{fine['id']}/join")
    # A real database error for one event's reminder: the trigger rejects it.
    await site.runtime.pool.execute(
        f"""
        CREATE FUNCTION reject_reminder() RETURNS trigger AS $$
        BEGIN
            IF NEW.status_id = {int(broken["id"])} THEN
                RAISE EXCEPTION 'reminder storage unavailable';
            END IF;
            RETURN NEW;
        END $$ LANGUAGE plpgsql;
        CREATE TRIGGER reject_reminder BEFORE INSERT ON notifications
            FOR EACH ROW EXECUTE FUNCTION reject_reminder();
        """
    )
    caplog.set_level(logging.ERROR, logger="outbox.events")

    created = await EventReminders(site.runtime).run_once()
    reminded = await notices(bob, "event_reminder")
    marked = await site.runtime.pool.fetchval(
        "SELECT reminded_at FROM event_participants WHERE event_id = $1",
        int(broken["id"]),
    )

    assert created == 1
    assert [item["status"]["id"] for item in reminded] == [fine["id"]]
    assert marked is None
    assert broken["id"] in caplog.text


async def test_reminder_loop_keeps_running_after_error(
    site: EventsSite, caplog: pytest.LogCaptureFixture
) -> None:
    alice = await site.teacher("alice")
    bob = await site.teacher("bob")
    event = await create(alice, starts_at=later(0.5), ends_at=later(1), timezone="UTC")
    await bob.post(f"{EVENTS}/{event['id']}/join")
    await site.runtime.pool.execute("ALTER TABLE event_participants RENAME TO held")
    site.runtime.settings.events.reminder_interval = 0.05
    stopping = asyncio.Event()
    loop = asyncio.create_task(EventReminders(site.runtime).run(stopping))

    await asyncio.sleep(0.2)
    await site.runtime.pool.execute("ALTER TABLE held RENAME TO event_participants")
    for _ in range(100):
        if await notices(bob, "event_reminder"):
            break
        await asyncio.sleep(0.05)
    stopping.set()
    await asyncio.wait_for(loop, 5)

    assert len(await notices(bob, "event_reminder")) == 1
    assert "event reminder pass failed" in caplog.text


async def test_reminders_sent_once_by_two_workers(
    site: EventsSite, database: str
) -> None:
    alice = await site.teacher("alice")
    participants = [await site.teacher(f"teacher{number}") for number in range(12)]
    event = await create(alice, starts_at=later(0.5), ends_at=later(1), timezone="UTC")
    for user in participants:
        await user.post(f"{EVENTS}/{event['id']}/join")
    other = Runtime(site.runtime.settings, database)
    await other.start()
    try:
        counts = await asyncio.gather(
            EventReminders(site.runtime).run_once(),
            EventReminders(other).run_once(),
        )
    finally:
        await other.stop()
    stored = await site.runtime.pool.fetchval(
        "SELECT count(*) FROM notifications WHERE type = 'event_reminder'"
    )

    assert sum(counts) == 12
    assert stored == 12
