"""Events through the client API of one in-process instance: creation and its
validation, the Mastodon view, the ActivityStreams form, search, local RSVP,
the iCalendar feeds and reminders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import icalendar
import pytest

from outbox.events import EventReminders
from storage import social
from tests.events.conftest import ApiUser, EventsSite
from tests.support.openapi import validate_response

EVENTS = "/api/pedagogue/v1/events"


def later(hours: float) -> str:
    """Return a UTC time ``hours`` from now, ISO 8601."""
    return (
        (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0).isoformat()
    )


def webinar(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Formative assessment webinar",
        "description": "Exit tickets, hinge questions and what to do with the answers.",
        "starts_at": "2031-03-04T18:00:00",
        "ends_at": "2031-03-04T19:30:00",
        "timezone": "Europe/Paris",
        "online_url": "https://video.school-a.test/rooms/formative",
        "capacity": 40,
    }
    body.update(changes)
    return body


async def stored_counts(site: EventsSite) -> tuple[int, int, int]:
    pool = site.runtime.pool
    return (
        await pool.fetchval("SELECT count(*) FROM events"),
        await pool.fetchval(
            "SELECT count(*) FROM statuses WHERE object_type = 'Event'"
        ),
        await pool.fetchval("SELECT count(*) FROM activities"),
    )


async def create(user: ApiUser, **changes: Any) -> dict[str, Any]:
    status, body = await user.post(EVENTS, webinar(**changes))
    assert status == 200, body
    return body


async def test_event_created_with_times_in_its_zone(site: EventsSite) -> None:
    alice = await site.teacher("alice")

    status, body = await alice.post(EVENTS, webinar())

    assert status == 200
    validate_response("events", EVENTS, "POST", 200, body)
    assert body["starts_at"] == "2031-03-04T18:00:00+01:00"
    assert body["ends_at"] == "2031-03-04T19:30:00+01:00"
    assert body["timezone"] == "Europe/Paris"
    assert body["remaining_capacity"] == 40
    assert body["organiser"]["acct"] == "alice"


async def test_event_ending_before_start_names_ends_at(site: EventsSite) -> None:
    alice = await site.teacher("alice")

    status, body = await alice.post(
        EVENTS, webinar(starts_at="2031-03-04T18:00:00", ends_at="2031-03-04T17:00:00")
    )

    assert status == 422
    validate_response("events", EVENTS, "POST", 422, body)
    assert body["field"] == "ends_at"
    assert "ends before it starts" in body["error"]
    assert await stored_counts(site) == (0, 0, 0)


BAD_FIELDS = [
    ("name", {"name": "  "}),
    ("starts_at", {"starts_at": "next Tuesday"}),
    ("ends_at", {"ends_at": None}),
    ("timezone", {"timezone": "Mars/Olympus_Mons"}),
    ("online_url", {"online_url": "ftp://files.school-a.test/room"}),
    ("capacity", {"capacity": 0}),
    ("capacity", {"capacity": "many"}),
    ("join_mode", {"join_mode": "lottery"}),
    ("place", {"place": "the library"}),
    ("place.latitude", {"place": {"name": "Library", "latitude": 200}}),
    ("registration_open", {"registration_open": "perhaps"}),
    ("visibility", {"visibility": "direct"}),
]


@pytest.mark.parametrize(("field", "changes"), BAD_FIELDS)
async def test_invalid_event_field_named_and_nothing_stored(
    site: EventsSite, field: str, changes: dict[str, Any]
) -> None:
    alice = await site.teacher("alice")

    status, body = await alice.post(EVENTS, webinar(**changes))

    assert status == 422
    assert body["field"] == field
    assert await stored_counts(site) == (0, 0, 0)


async def test_event_without_token_unauthorized(site: EventsSite) -> None:
    response = await site.client.post(EVENTS, json=webinar())

    assert response.status_code == 401


async def test_event_status_has_card(
    site: EventsSite,
) -> None:
    alice = await site.teacher("alice")
    event = await create(alice)

    status, body = await alice.get(f"/api/v1/statuses/{event['id']}")

    assert status == 200
    assert body["card"]["title"] == "Formative assessment webinar"
    assert "2031-03-04 18:00" in body["card"]["description"]
    assert "<strong>Formative assessment webinar</strong>" in body["content"]


async def test_event_in_organisers_home_timeline(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    event = await create(alice)

    _, timeline = await alice.get("/api/v1/timelines/home")

    assert [item["id"] for item in timeline] == [event["id"]]


async def test_event_served_as_activitystreams_event(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    event = await create(alice, place={"name": "Library", "addressLocality": "Lyon"})
    path = event["uri"].removeprefix("https://school-a.test")

    response = await site.client.get(
        path, headers={"Accept": "application/activity+json"}
    )
    document = await response.get_json()

    assert document["type"] == "Event"
    assert document["startTime"] == "2031-03-04T18:00:00+01:00"
    assert document["timezone"] == "Europe/Paris"
    assert document["joinMode"] == "free"
    assert document["maximumAttendeeCapacity"] == 40
    assert document["location"]["address"]["addressLocality"] == "Lyon"
    assert (
        document["attachment"][0]["href"]
        == "https://video.school-a.test/rooms/formative"
    )


async def test_events_searched_by_name_prefix(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    await create(alice)
    await create(alice, name="Phonics for early readers")

    _, found = await alice.get(EVENTS, q="phon")
    _, missing = await alice.get(EVENTS, q="astronomy")

    validate_response("events", EVENTS, "GET", 200, found)
    assert [item["name"] for item in found] == ["Phonics for early readers"]
    assert missing == []


async def test_local_join_accepted_and_counted(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    bob = await site.teacher("bob")
    event = await create(alice)

    status, joined = await bob.post(f"{EVENTS}/{event['id']}/join", {"message": "Hi"})
    _, seen = await bob.get(f"{EVENTS}/{event['id']}")

    assert status == 200
    validate_response("events", f"{EVENTS}/{{id}}/join", "POST", 200, joined)
    assert joined["state"] == "accepted"
    assert seen["participants_count"] == 1
    assert seen["participation"]["state"] == "accepted"


async def test_local_join_past_capacity_rejected(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    bob = await site.teacher("bob")
    carol = await site.teacher("carol")
    event = await create(alice, capacity=1)
    await bob.post(f"{EVENTS}/{event['id']}/join")

    _, joined = await carol.post(f"{EVENTS}/{event['id']}/join")

    assert joined["state"] == "rejected"


async def test_restricted_join_pending_until_organiser_authorizes(
    site: EventsSite,
) -> None:
    alice = await site.teacher("alice")
    bob = await site.teacher("bob")
    event = await create(alice, join_mode="restricted")
    _, pending = await bob.post(f"{EVENTS}/{event['id']}/join")

    _, listed = await alice.get(f"{EVENTS}/{event['id']}/participants")
    path = f"{EVENTS}/{event['id']}/participants/{bob.account['id']}/authorize"
    _, answered = await alice.post(path)

    assert pending["state"] == "pending"
    validate_response("events", f"{EVENTS}/{{id}}/participants", "GET", 200, listed)
    assert [(item["account"]["acct"], item["state"]) for item in listed] == [
        ("bob", "pending")
    ]
    assert answered["state"] == "accepted"


async def test_participants_hidden_from_others(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    bob = await site.teacher("bob")
    event = await create(alice)

    status, body = await bob.get(f"{EVENTS}/{event['id']}/participants")

    assert status == 403
    validate_response("events", f"{EVENTS}/{{id}}/participants", "GET", 403, body)


async def test_leave_removes_participation(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    bob = await site.teacher("bob")
    event = await create(alice)
    await bob.post(f"{EVENTS}/{event['id']}/join")

    status, body = await bob.post(f"{EVENTS}/{event['id']}/leave")

    assert status == 200
    validate_response("events", f"{EVENTS}/{{id}}/leave", "POST", 200, body)
    assert body["participants_count"] == 0
    assert body["participation"] is None


async def test_closed_registration_rejects_join(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    bob = await site.teacher("bob")
    event = await create(alice, registration_open=False)

    _, joined = await bob.post(f"{EVENTS}/{event['id']}/join")

    assert joined["state"] == "rejected"


async def feed(site: EventsSite, path: str) -> icalendar.Calendar:
    response = await site.client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    return icalendar.Calendar.from_ical(await response.get_data())


async def test_instance_feed_parses_back_with_zone(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    event = await create(alice)

    calendar = await feed(site, "/ical/instance.ics")
    [vevent] = calendar.walk("VEVENT")

    assert str(vevent["uid"]) == event["uri"]
    assert str(vevent["summary"]) == "Formative assessment webinar"
    assert vevent.decoded("dtstart").isoformat() == "2031-03-04T18:00:00+01:00"
    assert str(vevent.decoded("dtstart").tzinfo) == "Europe/Paris"
    assert str(vevent["location"]) == "https://video.school-a.test/rooms/formative"
    assert [str(tz["tzid"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Paris"]


async def test_teacher_feed_lists_only_their_events(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    bob = await site.teacher("bob")
    await create(alice)
    await create(bob, name="Bob's reading circle")

    calendar = await feed(site, "/ical/users/bob.ics")

    assert [str(v["summary"]) for v in calendar.walk("VEVENT")] == [
        "Bob's reading circle"
    ]


async def test_unlisted_event_left_out_of_feeds(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    await create(alice, visibility="unlisted")

    calendar = await feed(site, "/ical/instance.ics")

    assert calendar.walk("VEVENT") == []


async def test_group_feed_lists_group_events(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    group_id = await site.runtime.pool.fetchval(
        "INSERT INTO accounts (id, username, actor_id, actor_type, display_name)"
        " VALUES (4242, 'scienceteachers', 'https://school-a.test/users/scienceteachers',"
        " 'Group', 'Science teachers') RETURNING id"
    )
    await social.upsert_follow(
        site.runtime.pool, alice.account["id"], group_id, None, True
    )
    await create(alice, name="Lab safety refresher", group_id=str(group_id))
    await create(alice, name="Not a group event")

    calendar = await feed(site, "/ical/groups/scienceteachers.ics")

    assert [str(v["summary"]) for v in calendar.walk("VEVENT")] == [
        "Lab safety refresher"
    ]


async def test_feed_of_unknown_group_not_found(site: EventsSite) -> None:
    response = await site.client.get("/ical/groups/nobody.ics")

    assert response.status_code == 404


async def test_reminder_notification_created_once(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    bob = await site.teacher("bob")
    soon = await create(alice, starts_at=later(0.5), ends_at=later(1.5), timezone="UTC")
    distant = await create(
        alice, starts_at=later(30), ends_at=later(31), timezone="UTC"
    )
    await bob.post(f"{EVENTS}/{soon['id']}/join")
    await bob.post(f"{EVENTS}/{distant['id']}/join")
    reminders = EventReminders(site.runtime)

    first = await reminders.run_once()
    second = await reminders.run_once()
    _, notices = await bob.get("/api/v1/notifications")

    assert first == 1
    assert second == 0
    reminded = [n for n in notices if n["type"] == "event_reminder"]
    assert [n["status"]["id"] for n in reminded] == [soon["id"]]


async def test_deleted_event_gone_from_api_and_feed(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    event = await create(alice)

    deleted = await site.client.delete(
        f"/api/v1/statuses/{event['id']}", headers=alice.headers
    )
    status, _ = await alice.get(f"{EVENTS}/{event['id']}")
    calendar = await feed(site, "/ical/instance.ics")

    assert deleted.status_code == 200
    assert status == 404
    assert calendar.walk("VEVENT") == []
