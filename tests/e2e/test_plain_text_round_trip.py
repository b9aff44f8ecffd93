"""Plain text keeps its characters between two live instances.

A content warning is plain text on both sides, but AS2 ``summary`` is HTML:
the sender escapes it and the receiver reads it back as text, so
"x<y>z" and "<b>bold</b>" arrive as typed. AS2 ``name`` is plain text and
is kept literally.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from actors.note import parse_note, render_note
from inbox.handlers.create import object_name
from tests.e2e.peers import arrives_home, follow, post

WARNING = "maths: a < b and x<y>z, <3 kids & <b>bold</b> &amp; more"
TITLE = "Ratios: x<y>z & <b>bold</b>"


def _status_row(spoiler_text: str) -> dict[str, Any]:
    return {
        "uri": "https://school-a.test/users/alice/statuses/1",
        "object_type": "Note",
        "content": "<p>Hello</p>",
        "created_at": datetime(2026, 1, 5, tzinfo=UTC),
        "to_uris": ["https://www.w3.org/ns/activitystreams#Public"],
        "cc_uris": [],
        "sensitive": True,
        "spoiler_text": spoiler_text,
        "language": None,
        "edited_at": None,
    }


def test_note_summary_escapes_content_warning() -> None:
    note = render_note(
        _status_row(WARNING),
        actor_id="https://school-a.test/users/alice",
        url="https://school-a.test/@alice/1",
        in_reply_to_uri=None,
        mentions=[],
        tags=[],
    )

    assert note["summary"] == (
        "maths: a &lt; b and x&lt;y&gt;z, &lt;3 kids &amp; &lt;b&gt;bold&lt;/b&gt;"
        " &amp;amp; more"
    )


def test_object_name_kept_literally() -> None:
    note = parse_note(
        {
            "id": "https://lemmy.test/post/1",
            "type": "Page",
            "attributedTo": "https://lemmy.test/u/kim",
            "name": "Fractions: x<y>z & <b>bold</b>",
            "content": "",
        }
    )

    assert object_name(note) == "Fractions: x<y>z & <b>bold</b>"


async def test_content_warning_arrives_as_typed(start_instances: Any) -> None:
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    bob = await district.create_teacher("bob")
    await follow(alice, bob)

    sent = await post(bob, "Lesson notes", spoiler_text=WARNING)
    received = await arrives_home(alice, sent["uri"])

    assert sent["spoiler_text"] == WARNING
    assert received is not None
    assert received["spoiler_text"] == WARNING


async def test_plan_and_event_titles_arrive_as_typed(start_instances: Any) -> None:
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    bob = await district.create_teacher("bob")
    await follow(alice, bob)

    plan = await bob.post(
        "/api/pedagogue/v1/lesson_plans",
        json={
            "title": TITLE,
            "summary": "Scaling recipes.",
            "body": "Double a pancake recipe.",
        },
    )
    event = await bob.post(
        "/api/pedagogue/v1/events",
        json={
            "name": TITLE,
            "description": "Exit tickets.",
            "starts_at": "2031-03-04T18:00:00",
            "ends_at": "2031-03-04T19:30:00",
            "timezone": "Europe/Paris",
            "online_url": "https://video.district-b.test/rooms/ratios",
        },
    )
    plan_status = await arrives_home(alice, plan["uri"])
    event_status = await arrives_home(alice, event["uri"])

    assert plan_status is not None
    assert plan_status["card"]["title"] == TITLE
    assert event_status is not None
    assert event_status["card"]["title"] == TITLE
