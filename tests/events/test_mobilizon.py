"""Mobilizon-shaped events and RSVP activities through the real inbox path.

Each test signs a payload from tests/fixtures/mobilizon with the Mobilizon
actor's key, posts it to the shared inbox of an in-process instance, runs the
inbox worker and reads the database.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from outbox.events import EventActions, EventError, NewEvent
from storage import social
from tests.inbox.conftest import LOCAL_HOST, InboxHarness, MakeHarness

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mobilizon"
EVENT_PATH = "/events/7d4a9c3e-5b61-4f8a-a2d0-1e9c8b7a6f54"


def mobilizon(harness: InboxHarness, flow: str, **values: str) -> dict[str, Any]:
    """Load a Mobilizon fixture with its placeholders filled in."""
    replacements = {
        "REMOTE_HOST": harness.peer.host,
        "LOCAL_HOST": LOCAL_HOST,
        "PUBLIC_KEY_PEM": harness.keys.public_pem,
        **values,
    }
    text = (FIXTURES / f"{flow}.json").read_text(encoding="utf-8")
    # Longer names first, so LOCAL_JOINER is not read as LOCAL_JOIN + "ER".
    for name in sorted(replacements, key=len, reverse=True):
        text = text.replace(name, json.dumps(replacements[name])[1:-1])
    document: dict[str, Any] = json.loads(text)
    return document


@pytest.fixture
async def mz(make_harness: MakeHarness) -> InboxHarness:
    harness = await make_harness("mastodon")
    actor = mobilizon(harness, "actor")
    harness._serve_actor(actor)
    return harness


def marguerite(harness: InboxHarness) -> str:
    return harness.peer.url("/@marguerite")


async def local_event(harness: InboxHarness, **changes: Any) -> Any:
    fields = {
        "name": "Science fair judging, online briefing",
        "starts_at": "2031-06-01T16:00:00",
        "ends_at": "2031-06-01T17:00:00",
        "timezone": "Europe/London",
        "online_url": "https://video.school-a.test/rooms/fair",
        **changes,
    }
    return await EventActions(harness.runtime).create_event(
        harness.alice, NewEvent(**fields)
    )


async def event_row(harness: InboxHarness, path: str = EVENT_PATH) -> Any:
    return await harness.pool.fetchrow(
        "SELECT * FROM events WHERE uri = $1", harness.peer.url(path)
    )


async def participant_row(harness: InboxHarness, event: Any, actor_id: str) -> Any:
    return await harness.pool.fetchrow(
        "SELECT p.* FROM event_participants p JOIN accounts a ON a.id = p.account_id"
        " WHERE p.event_id = $1 AND a.actor_id = $2",
        event["status_id"],
        actor_id,
    )


async def sent(harness: InboxHarness, kind: str) -> list[dict[str, Any]]:
    rows = await harness.pool.fetch(
        "SELECT body FROM activities WHERE type = $1 ORDER BY id", kind
    )
    return [
        json.loads(row["body"]) if isinstance(row["body"], str) else row["body"]
        for row in rows
    ]


async def test_mobilizon_event_stored_with_its_fields(mz: InboxHarness) -> None:
    await mz.deliver(mobilizon(mz, "create_event"))

    event = await event_row(mz)

    assert event["name"] == "Maths circle: teaching fractions with paper strips"
    assert event["starts_at"] == datetime.fromisoformat("2031-05-12T15:30:00+00:00")
    assert event["timezone"] == "Europe/Paris"
    assert event["capacity"] == 30
    assert event["remote_participant_count"] == 3
    assert event["online_url"] == f"https://meet.{mz.peer.host}/maths-circle"
    assert json.loads(event["place"])["addressLocality"] == "Lyon"
    assert event["join_mode"] == "free"
    assert event["local"] is False


async def test_mobilizon_event_is_a_status_without_link_media(mz: InboxHarness) -> None:
    await mz.deliver(mobilizon(mz, "create_event"))

    status = await mz.status(mz.peer.url(EVENT_PATH))
    media = await mz.pool.fetchval(
        "SELECT count(*) FROM media_attachments WHERE status_id = $1", status["id"]
    )

    assert status["object_type"] == "Event"
    assert media == 0


async def test_mobilizon_event_wrong_types_dropped_and_logged(
    mz: InboxHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="inbox.handlers.event")

    await mz.deliver(mobilizon(mz, "create_event_bad_fields"))
    event = await event_row(mz, "/events/0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d")

    assert event["name"] == "Reading workshop with broken fields"
    assert event["capacity"] is None
    assert event["remote_participant_count"] is None
    assert event["join_mode"] == "free"
    assert event["timezone"] is None
    assert event["ends_at"] == event["starts_at"]
    assert event["place"] is None
    assert event["online_url"] is None
    assert event["status"] == "CONFIRMED"
    logged = " ".join(record.getMessage() for record in caplog.records)
    for name in (
        "maximumAttendeeCapacity",
        "participantCount",
        "joinMode",
        "timezone",
        "endTime",
        "location",
        "attachment",
        "ical:status",
    ):
        assert name in logged


async def test_mobilizon_update_moves_event(mz: InboxHarness) -> None:
    await mz.deliver(mobilizon(mz, "create_event"))

    await mz.deliver(mobilizon(mz, "update_event"))
    event = await event_row(mz)

    assert event["starts_at"] == datetime.fromisoformat("2031-05-19T15:30:00+00:00")
    assert event["remote_participant_count"] == 5


async def test_mobilizon_join_of_local_event_accepted(mz: InboxHarness) -> None:
    event = await local_event(mz)
    join = mobilizon(
        mz, "join", LOCAL_EVENT=event["uri"], LOCAL_ORGANISER=mz.alice["actor_id"]
    )

    await mz.deliver(join)
    participant = await participant_row(mz, event, marguerite(mz))
    [accept] = await sent(mz, "Accept")

    assert participant["state"] == "accepted"
    assert participant["uri"] == join["id"]
    assert participant["message"] == "I teach Year 5 and would like to join."
    assert accept["object"]["type"] == "Join"
    assert accept["object"]["id"] == join["id"]
    assert accept["to"] == [join["actor"]]


async def test_mobilizon_join_sends_update_with_count(mz: InboxHarness) -> None:
    event = await local_event(mz)
    join = mobilizon(
        mz, "join", LOCAL_EVENT=event["uri"], LOCAL_ORGANISER=mz.alice["actor_id"]
    )

    await mz.deliver(join)
    [update] = await sent(mz, "Update")

    assert update["object"]["type"] == "Event"
    assert update["object"]["participantCount"] == 1


async def test_mobilizon_join_of_restricted_event_pending(mz: InboxHarness) -> None:
    event = await local_event(mz, join_mode="restricted")
    join = mobilizon(
        mz, "join", LOCAL_EVENT=event["uri"], LOCAL_ORGANISER=mz.alice["actor_id"]
    )

    await mz.deliver(join)
    participant = await participant_row(mz, event, join["actor"])
    notice = await mz.pool.fetchval(
        "SELECT type FROM notifications WHERE account_id = $1", mz.alice["id"]
    )

    assert participant["state"] == "pending"
    assert await sent(mz, "Accept") == []
    assert notice == "event_join_request"


async def test_mobilizon_join_of_full_event_rejected(mz: InboxHarness) -> None:
    event = await local_event(mz, capacity=1)
    bob = await mz.runtime.pool.fetchrow(
        "INSERT INTO accounts (id, username, actor_id) VALUES"
        " (777, 'bob', 'https://school-a.test/users/bob') RETURNING *"
    )
    await EventActions(mz.runtime).join(bob, event)
    join = mobilizon(
        mz, "join", LOCAL_EVENT=event["uri"], LOCAL_ORGANISER=mz.alice["actor_id"]
    )

    await mz.deliver(join)
    [reject] = await sent(mz, "Reject")

    assert reject["object"]["id"] == join["id"]
    assert (await participant_row(mz, event, join["actor"]))["state"] == "rejected"


async def test_mobilizon_leave_removes_participant(mz: InboxHarness) -> None:
    event = await local_event(mz)
    values = {"LOCAL_EVENT": event["uri"], "LOCAL_ORGANISER": mz.alice["actor_id"]}
    await mz.deliver(mobilizon(mz, "join", **values))

    await mz.deliver(mobilizon(mz, "leave", **values))

    assert await participant_row(mz, event, marguerite(mz)) is None


async def test_join_of_mobilizon_event_sent_in_its_shape(mz: InboxHarness) -> None:
    await mz.deliver(mobilizon(mz, "create_event"))
    event = await event_row(mz)

    participation = await EventActions(mz.runtime).join(
        mz.alice, event, "Year 4 teacher here"
    )
    [join] = await sent(mz, "Join")

    assert participation["state"] == "pending"
    assert join["object"] == event["uri"]
    assert join["participationMessage"] == "Year 4 teacher here"
    assert join["id"] == participation["uri"]


@pytest.mark.parametrize(
    ("flow", "state"), [("accept_join", "accepted"), ("reject_join", "rejected")]
)
async def test_mobilizon_answer_to_our_join_applied(
    mz: InboxHarness, flow: str, state: str
) -> None:
    await mz.deliver(mobilizon(mz, "create_event"))
    event = await event_row(mz)
    participation = await EventActions(mz.runtime).join(mz.alice, event)

    await mz.deliver(
        mobilizon(
            mz, flow, LOCAL_JOIN=participation["uri"], LOCAL_JOINER=mz.alice["actor_id"]
        )
    )
    row = await participant_row(mz, event, mz.alice["actor_id"])

    assert row["state"] == state


async def test_answer_from_another_actor_ignored(mz: InboxHarness) -> None:
    await mz.deliver(mobilizon(mz, "create_event"))
    event = await event_row(mz)
    participation = await EventActions(mz.runtime).join(mz.alice, event)
    accept = mobilizon(
        mz,
        "accept_join",
        LOCAL_JOIN=participation["uri"],
        LOCAL_JOINER=mz.alice["actor_id"],
    )
    stranger = mz.add_actor("stranger")
    accept["actor"] = stranger

    await mz.deliver(accept)
    row = await participant_row(mz, event, mz.alice["actor_id"])

    assert row["state"] == "pending"
    assert (await mz.queue_row(accept["id"]))["state"] == "ignored"


async def test_followers_only_event_hidden_from_strangers(mz: InboxHarness) -> None:
    create = mobilizon(mz, "create_event")
    followers = create["object"]["cc"]
    for document in (create, create["object"]):
        document["to"] = followers
        document["cc"] = []
    await mz.deliver(create)
    event = await event_row(mz)

    response = await mz.client.get(f"/api/pedagogue/v1/events/{event['status_id']}")
    listed = await mz.client.get("/api/pedagogue/v1/events")

    assert response.status_code == 404
    assert await listed.get_json() == []


# Edits, cancellation and deletion


async def joined_mobilizon_event(mz: InboxHarness) -> Any:
    """Store marguerite's event and make alice an accepted participant."""
    await mz.deliver(mobilizon(mz, "create_event"))
    event = await event_row(mz)
    participation = await EventActions(mz.runtime).join(mz.alice, event)
    await mz.deliver(
        mobilizon(
            mz,
            "accept_join",
            LOCAL_JOIN=participation["uri"],
            LOCAL_JOINER=mz.alice["actor_id"],
        )
    )
    return event


async def notice_types(mz: InboxHarness) -> list[str]:
    rows = await mz.pool.fetch(
        "SELECT type FROM notifications WHERE account_id = $1 ORDER BY id",
        mz.alice["id"],
    )
    return [row["type"] for row in rows]


async def test_mobilizon_update_notifies_participant(mz: InboxHarness) -> None:
    await joined_mobilizon_event(mz)

    await mz.deliver(mobilizon(mz, "update_event"))
    event = await event_row(mz)

    assert await notice_types(mz) == ["event_updated"]
    assert event["sequence"] == 1


async def test_mobilizon_count_update_notifies_nobody(mz: InboxHarness) -> None:
    await joined_mobilizon_event(mz)
    update = mobilizon(mz, "update_event")
    create = mobilizon(mz, "create_event")
    # Only the participant count differs from the stored event.
    update["object"] = {**create["object"], "participantCount": 4}

    await mz.deliver(update)
    event = await event_row(mz)

    assert await notice_types(mz) == []
    assert event["sequence"] == 0
    assert event["remote_participant_count"] == 4


async def test_mobilizon_cancel_marks_event_cancelled(mz: InboxHarness) -> None:
    await joined_mobilizon_event(mz)

    await mz.deliver(mobilizon(mz, "cancel_event"))
    event = await event_row(mz)

    assert event["status"] == "CANCELLED"
    assert await notice_types(mz) == ["event_cancelled"]


async def test_join_of_cancelled_mobilizon_event_refused(mz: InboxHarness) -> None:
    await mz.deliver(mobilizon(mz, "create_event"))
    await mz.deliver(mobilizon(mz, "cancel_event"))
    event = await event_row(mz)

    with pytest.raises(EventError) as raised:
        await EventActions(mz.runtime).join(mz.alice, event)

    assert raised.value.field == "status"
    assert await sent(mz, "Join") == []


async def test_update_from_another_actor_rejected_and_logged(
    mz: InboxHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="inbox.handlers.event")
    await mz.deliver(mobilizon(mz, "create_event"))
    update = mobilizon(mz, "cancel_event")
    update["actor"] = mz.add_actor("stranger")

    await mz.deliver(update)
    event = await event_row(mz)

    assert event["status"] == "CONFIRMED"
    assert (await mz.queue_row(update["id"]))["state"] == "ignored"
    assert f"rejected Update of event {event['uri']}" in caplog.text
    assert update["id"] in caplog.text


async def test_mobilizon_delete_of_event_applied(mz: InboxHarness) -> None:
    await joined_mobilizon_event(mz)

    await mz.deliver(mobilizon(mz, "delete_event"))
    status = await mz.status(mz.peer.url(EVENT_PATH))
    listed = await mz.client.get("/api/pedagogue/v1/events")

    assert status["deleted_at"] is not None
    assert await listed.get_json() == []
    assert await notice_types(mz) == ["event_deleted"]


async def test_delete_from_another_actor_rejected(mz: InboxHarness) -> None:
    await mz.deliver(mobilizon(mz, "create_event"))
    delete = mobilizon(mz, "delete_event")
    delete["actor"] = mz.add_actor("stranger")

    await mz.deliver(delete)
    status = await mz.status(mz.peer.url(EVENT_PATH))

    assert status["deleted_at"] is None
    assert (await mz.queue_row(delete["id"]))["state"] == "ignored"


async def test_mobilizon_join_of_cancelled_event_rejected(mz: InboxHarness) -> None:
    event = await local_event(mz)
    await EventActions(mz.runtime).cancel_event(mz.alice, event)
    join = mobilizon(
        mz, "join", LOCAL_EVENT=event["uri"], LOCAL_ORGANISER=mz.alice["actor_id"]
    )

    await mz.deliver(join)
    [reject] = await sent(mz, "Reject")

    assert reject["object"]["id"] == join["id"]
    assert (await participant_row(mz, event, join["actor"]))["state"] == "rejected"


async def remote_group(mz: InboxHarness) -> Any:
    group_id = mz.peer.url("/@fractions_club")
    return await mz.pool.fetchrow(
        "INSERT INTO accounts (id, username, domain, actor_id, actor_type, inbox_url)"
        " VALUES (9001, 'fractions_club', $1, $2, 'Group', $3) RETURNING *",
        mz.peer.host,
        group_id,
        f"{group_id}/inbox",
    )


async def delivered_to(mz: InboxHarness, kind: str) -> set[str]:
    rows = await mz.pool.fetch(
        "SELECT d.inbox_url FROM deliveries d JOIN activities a ON a.id = d.activity_id"
        " WHERE a.type = $1",
        kind,
    )
    return {row["inbox_url"] for row in rows}


async def test_local_edit_reaches_participant_and_group(mz: InboxHarness) -> None:
    group = await remote_group(mz)
    await social.upsert_follow(mz.pool, mz.alice["id"], group["id"], None, True)
    event = await local_event(mz, group_id=str(group["id"]))
    join = mobilizon(
        mz, "join", LOCAL_EVENT=event["uri"], LOCAL_ORGANISER=mz.alice["actor_id"]
    )
    await mz.deliver(join)
    await mz.pool.execute("DELETE FROM deliveries")

    await EventActions(mz.runtime).update_event(
        mz.alice, event, {"name": "Science fair judging, new briefing"}
    )
    # The first Update carried the new participant count after the Join.
    update = (await sent(mz, "Update"))[-1]

    assert update["object"]["name"] == "Science fair judging, new briefing"
    assert update["object"]["audience"] == group["actor_id"]
    assert "updated" in update["object"]
    assert await delivered_to(mz, "Update") == {
        mz.peer.url("/inbox"),
        group["inbox_url"],
    }


async def test_local_delete_reaches_participant(mz: InboxHarness) -> None:
    event = await local_event(mz)
    join = mobilizon(
        mz, "join", LOCAL_EVENT=event["uri"], LOCAL_ORGANISER=mz.alice["actor_id"]
    )
    await mz.deliver(join)

    await EventActions(mz.runtime).delete_event(mz.alice, event)
    [delete] = await sent(mz, "Delete")

    assert delete["object"]["type"] == "Tombstone"
    assert delete["object"]["id"] == event["uri"]
    assert await delivered_to(mz, "Delete") == {mz.peer.url("/inbox")}


def serve_group(mz: InboxHarness) -> str:
    """Serve a Mobilizon Group actor on the peer; return its id."""
    group_id = mz.peer.url("/@maths_circle")
    mz._serve_actor(
        {
            "@context": ["https://www.w3.org/ns/activitystreams"],
            "id": group_id,
            "type": "Group",
            "preferredUsername": "maths_circle",
            "inbox": f"{group_id}/inbox",
            "followers": f"{group_id}/followers",
            "publicKey": {
                "id": f"{group_id}#main-key",
                "owner": group_id,
                "publicKeyPem": mz.keys.public_pem,
            },
        }
    )
    return group_id


def as_group_event(document: dict[str, Any], group_id: str) -> dict[str, Any]:
    """Attribute the event of a Create or Update to the group, as Mobilizon
    does for a group's event: ``actor`` stays the organiser."""
    document["object"]["attributedTo"] = group_id
    return document


@pytest.mark.parametrize("sender", ["organiser", "group"])
async def test_group_event_update_accepted_from(mz: InboxHarness, sender: str) -> None:
    group_id = serve_group(mz)
    await mz.deliver(as_group_event(mobilizon(mz, "create_event"), group_id))
    cancel = as_group_event(mobilizon(mz, "cancel_event"), group_id)
    if sender == "group":
        cancel["actor"] = group_id

    await mz.deliver(cancel)
    event = await event_row(mz)

    assert event["status"] == "CANCELLED"
    assert (await mz.queue_row(cancel["id"]))["state"] == "done"
