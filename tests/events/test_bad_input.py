"""Bad event input. Local input gets 422 (or 403) naming the field, and nothing
is stored. A remote Event keeps its usable fields and drops the rest, so the
inbox worker never retries it."""

from __future__ import annotations

import copy
import logging
import math
from typing import Any

import icalendar
import pytest

from actors.event import is_web_url, parse_event
from outbox.events import EventError, NewEvent, validate
from storage import groups, social
from tests.events.conftest import EventsSite
from tests.events.test_api import EVENTS, create, stored_counts, webinar
from tests.events.test_mobilizon import EVENT_PATH, event_row, mobilizon, mz  # noqa: F401
from tests.inbox.conftest import InboxHarness

# Client API


BAD_FIELDS = [
    ("starts_at", {"starts_at": "9999-12-31T23:00:00-14:00"}),
    ("starts_at", {"starts_at": "0001-01-01T00:00:00+14:00"}),
    ("ends_at", {"ends_at": "9999-12-31T23:00:00-14:00"}),
    ("starts_at", {"starts_at": "2026-03-08T02:30:00", "timezone": "America/New_York"}),
    ("group_id", {"group_id": "99999999999999999999999"}),
    ("group_id", {"group_id": "-4"}),
    ("name", {"name": "Webinar\r\nEND:VEVENT"}),
    ("place.name", {"place": {"name": "Hall\u0007"}}),
    ("online_url", {"online_url": 'https://a.example/"><script>alert(1)</script>'}),
    ("online_url", {"online_url": "https://a.example/room one"}),
    ("foo", {"foo": 1}),
]


@pytest.mark.parametrize(("field", "changes"), BAD_FIELDS)
async def test_bad_event_input_named_not_stored(
    site: EventsSite, field: str, changes: dict[str, Any]
) -> None:
    alice = await site.teacher("alice")

    status, body = await alice.post(EVENTS, webinar(**changes))

    assert status == 422
    assert body["field"] == field
    assert await stored_counts(site) == (0, 0, 0)


NON_FINITE = [
    ("capacity", NewEvent(capacity=math.inf)),
    ("capacity", NewEvent(capacity=-math.inf)),
    ("capacity", NewEvent(capacity=40.0)),
    ("place.latitude", NewEvent(place={"name": "Hall", "latitude": math.nan})),
    ("place.longitude", NewEvent(place={"name": "Hall", "longitude": math.inf})),
]


@pytest.mark.parametrize(("field", "new"), NON_FINITE)
def test_non_finite_number_named(field: str, new: NewEvent) -> None:
    new.name = "Webinar"
    new.starts_at = "2031-03-04T18:00:00"
    new.ends_at = "2031-03-04T19:00:00"

    with pytest.raises(EventError) as raised:
        validate(new)

    assert raised.value.status == 422
    assert raised.value.field == field


async def local_group(site: EventsSite) -> int:
    return int(
        await site.runtime.pool.fetchval(
            "INSERT INTO accounts (id, username, actor_id, actor_type, display_name)"
            " VALUES (4242, 'mathteachers',"
            " 'https://school-a.test/users/mathteachers', 'Group', 'Maths')"
            " RETURNING id"
        )
    )


async def test_group_event_by_outsider_forbidden(site: EventsSite) -> None:
    carol = await site.teacher("carol")
    group_id = await local_group(site)

    status, body = await carol.post(EVENTS, webinar(group_id=str(group_id)))

    assert status == 403
    assert body["field"] == "group_id"
    assert await stored_counts(site) == (0, 0, 0)


async def test_group_event_by_pending_member_forbidden(site: EventsSite) -> None:
    carol = await site.teacher("carol")
    group_id = await local_group(site)
    await social.upsert_follow(
        site.runtime.pool, carol.account["id"], group_id, None, False
    )

    status, _ = await carol.post(EVENTS, webinar(group_id=str(group_id)))

    assert status == 403


async def test_group_event_by_member_accepted(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    group_id = await local_group(site)
    await social.upsert_follow(
        site.runtime.pool, alice.account["id"], group_id, None, True
    )

    body = await create(alice, group_id=str(group_id))

    assert body["group"]["acct"] == "mathteachers"


async def test_group_event_by_moderator_accepted(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    group_id = await local_group(site)
    pool = site.runtime.pool
    await groups.insert_profile(
        pool,
        group_id,
        description="",
        rules="",
        subjects=[],
        grade_levels=[],
        created_by=alice.account["id"],
    )
    await groups.add_moderator(pool, group_id, alice.account["id"], "owner")

    body = await create(alice, group_id=str(group_id))

    assert body["group"]["acct"] == "mathteachers"


async def test_feed_description_keeps_line_breaks(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    await create(alice, description="first line\nsecond line")

    response = await site.client.get("/ical/users/alice.ics")
    calendar = icalendar.Calendar.from_ical(await response.get_data())
    [event] = calendar.walk("VEVENT")

    assert str(event["description"]) == "first line\nsecond line"


async def test_feed_time_zone_covers_late_event(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    await create(alice, starts_at="2045-07-01T18:00:00", ends_at="2045-07-01T19:00:00")

    response = await site.client.get("/ical/users/alice.ics")
    calendar = icalendar.Calendar.from_ical(await response.get_data())
    [zone] = calendar.walk("VTIMEZONE")

    # The 2045 daylight-saving transitions are listed as RDATE values.
    unfolded = zone.to_ical().replace(b"\r\n ", b"")
    assert b"2045" in unfolded


async def test_local_join_logged_as_local(
    site: EventsSite, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="outbox.events")
    alice = await site.teacher("alice")
    bob = await site.teacher("bob")
    event = await create(alice)

    await bob.post(f"{EVENTS}/{event['id']}/join")
    logged = [
        r.getMessage() for r in caplog.records if r.getMessage().startswith("Join")
    ]

    assert len(logged) == 1
    assert "Join None" not in logged[0]
    assert "local join" in logged[0]


def test_web_url_with_quote_rejected() -> None:
    assert not is_web_url('https://a.example/"x')


# Remote Events


def remote_event(harness: InboxHarness, **changes: Any) -> dict[str, Any]:
    activity = copy.deepcopy(mobilizon(harness, "create_event"))
    activity["object"].update(changes)
    return activity


@pytest.mark.parametrize(
    "place",
    [
        {"type": "Place", "name": "Hall", "latitude": math.nan},
        {"type": "Place", "name": "Hall", "longitude": math.inf},
        {"type": "Place", "name": "Hall", "latitude": 1e300},
    ],
)
def test_remote_non_finite_coordinates_dropped(place: dict[str, Any]) -> None:
    document = {
        "id": "https://mobilizon.example/events/1",
        "type": "Event",
        "startTime": "2031-05-12T17:30:00+02:00",
        "location": place,
    }

    fields = parse_event(document)

    assert fields.place == {"name": "Hall"}
    assert any(name.startswith("location.") for name in fields.dropped)


async def test_remote_huge_coordinate_dropped_and_logged(
    mz: InboxHarness,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="inbox.handlers.event")
    activity = remote_event(
        mz, location={"type": "Place", "name": "Hall", "latitude": 1e300}
    )

    await mz.deliver(activity)
    event = await event_row(mz)

    assert event is not None
    assert "latitude" not in (event["place"] or "")
    assert activity["id"] in caplog.text


async def test_remote_huge_capacity_dropped_and_stored(
    mz: InboxHarness,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="inbox.handlers.event")
    activity = remote_event(mz, maximumAttendeeCapacity=99999999999)

    await mz.deliver(activity)
    event = await event_row(mz)

    assert event is not None
    assert event["capacity"] is None
    assert "maximumAttendeeCapacity" in caplog.text
    assert (await mz.queue_row(activity["id"]))["state"] == "done"


async def test_remote_huge_participant_count_dropped(mz: InboxHarness) -> None:  # noqa: F811
    await mz.deliver(remote_event(mz, participantCount=2**40))
    event = await event_row(mz)

    assert event is not None
    assert event["remote_participant_count"] is None


async def test_remote_out_of_range_start_kept_as_status(
    mz: InboxHarness,  # noqa: F811
) -> None:
    activity = remote_event(
        mz, startTime="9999-12-31T23:00:00-14:00", endTime="9999-12-31T23:30:00-14:00"
    )

    await mz.deliver(activity)

    assert await event_row(mz) is None
    assert await mz.status(mz.peer.url(EVENT_PATH)) is not None
    assert (await mz.queue_row(activity["id"]))["state"] == "done"


async def test_remote_out_of_range_end_dropped(mz: InboxHarness) -> None:  # noqa: F811
    await mz.deliver(remote_event(mz, endTime="9999-12-31T23:30:00-14:00"))
    event = await event_row(mz)

    assert event is not None
    assert event["ends_at"] == event["starts_at"]


async def test_join_message_may_span_lines(site: EventsSite) -> None:
    alice = await site.teacher("alice")
    bob = await site.teacher("bob")
    event = await create(alice)

    status, body = await bob.post(
        f"{EVENTS}/{event['id']}/join", {"message": "Hello,\nI teach Year 5."}
    )

    assert status == 200
    assert body["message"] == "Hello,\nI teach Year 5."
