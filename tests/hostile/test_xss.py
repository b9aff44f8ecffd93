"""The XSS corpus sent through a live instance's inbox, read back through the
client API and the HTML pages.

Each payload goes into every text field of a remote actor (name, summary and a
profile field) and of an Article (name, summary, content). It also goes into a
group (name, summary), an Event (name, content, place name and address) and a
lesson plan (name, summary, content, objectives, subjects, alignment framework
and code, attachment name). No executable markup may survive in the API's HTML
fields nor anywhere in the pages that show them. Remote profile and group pages
are read by a signed-in teacher, because only signed-in teachers see remote
profiles. Remote groups carry no rules.
"""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from storage.sessions import create_session
from tests.hostile.conftest import OpenWorld
from tests.hostile.world import PUBLIC, HostileWorld, PeerActor, note, wrap
from tests.hostile.xss_corpus import MARKER, PAYLOADS, executable_markup


@pytest.fixture(scope="module")
async def world(open_world: OpenWorld) -> HostileWorld:
    return await open_world()


def hostile_actor(world: HostileWorld, number: int, payload: str) -> PeerActor:
    return world.peer.add_actor(
        f"xss{number}",
        name=payload,
        summary=payload,
        attachment=[{"type": "PropertyValue", "name": payload, "value": payload}],
    )


async def deliver_article(
    world: HostileWorld, actor: PeerActor, number: int, payload: str
) -> int:
    """Deliver an Article carrying ``payload``; return its status row id."""
    article = note(
        actor, number, type="Article", name=payload, summary=payload, content=payload
    )
    status, body = await world.post(wrap("Create", actor, article), actor)
    assert status == 202, body
    await world.drain()
    status_id = await world.fetchval(
        "SELECT id FROM statuses WHERE uri = $1", article["id"]
    )
    assert status_id is not None, "the Article was not stored"
    return int(status_id)


async def signed_in_get(world: HostileWorld, path: str) -> tuple[int, str]:
    """GET an HTML page as the local teacher, with a web session cookie."""
    connection = await world.instance.db()
    try:
        token, _ = await create_session(
            connection,
            int(world.teacher.account_id),
            lifetime=timedelta(hours=1),
            user_agent="hostile tests",
            address="127.0.0.1",
        )
    finally:
        await connection.close()
    async with world.session.get(
        f"{world.instance.url}{path}",
        headers={"Accept": "text/html", "Cookie": f"__Host-pedagogue_session={token}"},
    ) as response:
        return response.status, await response.text()


def profile_path(actor: PeerActor) -> str:
    username = actor.document["preferredUsername"]
    return f"/@{username}@{actor.actor_id.split('/')[2]}"


def api_html_fields(status: dict[str, Any]) -> dict[str, str]:
    account = status["account"]
    fields = {"content": status["content"], "account note": account["note"]}
    for index, field in enumerate(account["fields"]):
        fields[f"field {index} value"] = field["value"]
    return fields


@pytest.mark.parametrize("number", range(len(PAYLOADS)))
async def test_payload_neutralised_everywhere(world: HostileWorld, number: int) -> None:
    payload = PAYLOADS[number]
    actor = hostile_actor(world, number, payload)
    status_id = await deliver_article(world, actor, number, payload)

    status = await world.api(f"/api/v1/statuses/{status_id}")
    account = await world.api(f"/api/v1/accounts/{status['account']['id']}")
    thread_status, thread_page = await world.get(f"/statuses/{status_id}")
    profile_status, profile_page = await signed_in_get(world, profile_path(actor))

    for name, html in api_html_fields(status).items():
        assert executable_markup(html) == [], f"API {name}: {html!r}"
    assert executable_markup(account["note"]) == []
    assert thread_status == 200
    assert executable_markup(thread_page) == []
    assert profile_status == 200
    assert executable_markup(profile_page) == []


async def test_display_name_escaped_not_stripped(world: HostileWorld) -> None:
    name = "<b>Bold</b> & co"
    actor = world.peer.add_actor("plainname", name=name)
    status_id = await deliver_article(world, actor, 0, "<p>hello</p>")

    status = await world.api(f"/api/v1/statuses/{status_id}")
    _, page = await world.get(f"/statuses/{status_id}")

    assert status["account"]["display_name"] == name
    assert "&lt;b&gt;Bold&lt;/b&gt; &amp; co" in page
    assert "<b>Bold</b>" not in page


async def test_display_name_literal_after_update_person(world: HostileWorld) -> None:
    actor = world.peer.add_actor("renamed", name="<b>First</b>")
    status_id = await deliver_article(world, actor, 0, "<p>hello</p>")
    new_name = "<i>Second</i> & <3 maths"
    update = wrap("Update", actor, {**actor.document, "name": new_name})

    status, body = await world.post(update, actor)
    assert status == 202, body
    assert await world.queue_state(update["id"]) == "done"
    status_entity = await world.api(f"/api/v1/statuses/{status_id}")
    _, page = await signed_in_get(world, profile_path(actor))

    assert status_entity["account"]["display_name"] == new_name
    assert "&lt;i&gt;Second&lt;/i&gt; &amp; &lt;3 maths" in page
    assert "<i>Second</i>" not in page


async def test_remote_profile_with_port_found(world: HostileWorld) -> None:
    actor = world.peer.add_actor("ported")
    await deliver_article(world, actor, 0, "<p>hello</p>")

    status, page = await signed_in_get(world, profile_path(actor))

    assert ":" in profile_path(actor)
    assert status == 200, page[:300]
    assert "Ported" in page


# Groups, events and lesson plans: every payload in every text field of each,
# one object per payload, read back through the pedagogue API and the page.

MOBILIZON_EVENT = (
    Path(__file__).resolve().parents[1] / "fixtures" / "mobilizon" / "create_event.json"
)


def event_activity(
    world: HostileWorld, actor: PeerActor, number: int, payload: str
) -> dict[str, Any]:
    """Return Mobilizon's Create of an Event, sent by ``actor``, every text field
    carrying ``payload``."""
    text = MOBILIZON_EVENT.read_text(encoding="utf-8")
    text = text.replace("REMOTE_HOST", actor.actor_id.split("/")[2])
    text = text.replace("LOCAL_HOST", world.instance.host)
    template = json.loads(text)
    event = template["object"]
    address = {key: payload for key in event["location"]["address"] if key != "type"}
    event.update(
        id=f"{actor.actor_id}/events/{number}",
        url=f"{actor.actor_id}/events/{number}",
        actor=actor.actor_id,
        attributedTo=actor.actor_id,
        name=payload,
        content=payload,
        location={
            "type": "Place",
            "name": payload,
            "address": {"type": "PostalAddress", **address},
        },
        attachment=[
            {
                "type": "Link",
                "name": "Website",
                "mediaType": "text/html",
                "href": f"{actor.actor_id}/meet",
            }
        ],
        cc=[f"{actor.actor_id}/followers"],
    )
    return {
        **template,
        "id": f"{event['id']}/activity",
        "actor": actor.actor_id,
        "cc": event["cc"],
    }


def plan_activity(actor: PeerActor, number: int, payload: str) -> dict[str, Any]:
    """Return a Create of a lesson plan with ``payload`` in every text field."""
    object_id = f"{actor.actor_id}/plans/{number}"
    plan = {
        "id": object_id,
        "type": "Article",
        "attributedTo": actor.actor_id,
        "name": payload,
        "summary": payload,
        "content": payload,
        "url": object_id,
        "to": [PUBLIC],
        "published": "2026-03-02T10:00:00Z",
        "teaches": [payload],
        "about": [payload],
        "educationalLevel": ["6-8"],
        "educationalAlignment": [
            {
                "type": "AlignmentObject",
                "educationalFramework": payload[:100],
                "targetName": payload,
            },
            {
                "type": "AlignmentObject",
                "educationalFramework": "Next Generation Science Standards",
                "targetName": payload,
            },
        ],
        "attachment": [
            {
                "type": "Document",
                "mediaType": "application/pdf",
                "url": f"{actor.actor_id}/files/{number}.pdf",
                "name": payload,
            }
        ],
    }
    return wrap(
        "Create",
        actor,
        plan,
        **{
            "@context": ["https://www.w3.org/ns/activitystreams", "https://schema.org/"]
        },
    )


async def delivered_status_id(
    world: HostileWorld, actor: PeerActor, activity: dict[str, Any]
) -> int:
    status, body = await world.post(activity, actor)
    assert status == 202, body
    assert await world.queue_state(activity["id"]) == "done", activity["id"]
    status_id = await world.fetchval(
        "SELECT id FROM statuses WHERE uri = $1", activity["object"]["id"]
    )
    assert status_id is not None, f"{activity['object']['id']} was not stored"
    return int(status_id)


async def findings_in(
    world: HostileWorld, api_path: str, html_fields: list[str], *page_paths: str
) -> dict[str, list[str]]:
    """Return the executable markup in an API entity's HTML fields and in pages.

    The entity's other strings are plain text, which clients escape.
    """
    entity = await world.api(api_path)
    found = {
        f"API {api_path} {name}": executable_markup(entity[name] or "")
        for name in html_fields
    }
    for path in page_paths:
        page_status, page = await signed_in_get(world, path)
        found[f"page {path}"] = executable_markup(page)
        if MARKER not in page:
            # Every payload contains the marker and every page shows some
            # field as escaped text, so a page without it shows no payload.
            found[f"page {path}"].append("the fields are not shown")
        if page_status != 200:
            found[f"page {path}"].append(f"answered {page_status}")
    return {name: markup for name, markup in found.items() if markup}


async def test_group_fields_neutralised(world: HostileWorld) -> None:
    findings = {}
    for number, payload in enumerate(PAYLOADS):
        group = world.peer.add_actor(
            f"group{number}", type="Group", name=payload, summary=payload
        )
        update = wrap("Update", group, copy.deepcopy(group.document))
        status, body = await world.post(update, group)
        assert status == 202, body
        assert await world.queue_state(update["id"]) == "done", update["id"]
        group_id = await world.fetchval(
            "SELECT id FROM accounts WHERE actor_id = $1", group.actor_id
        )
        findings |= await findings_in(
            world, f"/api/pedagogue/v1/groups/{group_id}", [], f"/groups/{group_id}"
        )
        findings |= await findings_in(
            world, f"/api/v1/accounts/{group_id}", ["note"], profile_path(group)
        )

    assert findings == {}


async def test_event_fields_neutralised(world: HostileWorld) -> None:
    actor = world.peer.add_actor("organiser")
    findings = {}
    for number, payload in enumerate(PAYLOADS):
        activity = event_activity(world, actor, number, payload)
        status_id = await delivered_status_id(world, actor, activity)
        findings |= await findings_in(
            world,
            f"/api/pedagogue/v1/events/{status_id}",
            ["description"],
            f"/events/{status_id}",
        )

    assert findings == {}


async def test_lesson_plan_fields_neutralised(world: HostileWorld) -> None:
    actor = world.peer.add_actor("planner")
    findings = {}
    for number, payload in enumerate(PAYLOADS):
        activity = plan_activity(actor, number, payload)
        status_id = await delivered_status_id(world, actor, activity)
        api_path = f"/api/pedagogue/v1/lesson_plans/{status_id}"
        findings |= await findings_in(
            world,
            api_path,
            ["body_html"],
            f"/plans/{status_id}",
            f"{api_path}/export.html",
        )

    assert findings == {}


def test_checker_flags_raw_payloads() -> None:
    # The checker must see the attacks that Python's tokeniser can see, or the
    # tests above would pass on unsanitised output.
    flagged = [payload for payload in PAYLOADS if executable_markup(payload)]

    assert len(flagged) >= len(PAYLOADS) - 6
