"""Lesson plans and events as Mastodon apps see them: a status whose preview
card carries the title, a short description and a link to the object's page.

Mastodon.py reads the statuses, as an app would, from every timeline and from
search, context and account statuses.
"""

from __future__ import annotations

from typing import Any

from tests.client_api_shapes.conftest import (
    EVENT,
    EVENTS,
    PLANS,
    client_for,
    fetch_page,
    png,
    upload_plan_file,
)
from tests.support.live import LiveInstance, Teacher
from tests.web.test_mastodon_py import call


async def new_plan(teacher: Teacher, tag: str, **extra: Any) -> dict[str, Any]:
    return await teacher.post(
        PLANS,
        json={
            "title": f"Volcano models {tag}",
            "summary": f"Build and test a baking soda volcano. #{tag}",
            "body": f"## Steps\n\nMix, pour, observe. #{tag}",
            "subjects": ["Science"],
            "grade_levels": ["3-5"],
            **extra,
        },
    )


def by_id(statuses: list[Any], status_id: str) -> Any:
    found = [status for status in statuses if str(status["id"]) == status_id]
    assert found, f"status {status_id} missing from {[s['id'] for s in statuses]}"
    return found[0]


async def test_plan_card_in_home_timeline(school: LiveInstance, teachers) -> None:
    (author,) = await teachers("cardauthor")
    plan = await new_plan(author, "cardhome")

    home = await call(client_for(author).timeline_home)
    status = by_id(home, plan["id"])
    card = status["card"]

    assert card["type"] == "link"
    assert card["title"] == "Volcano models cardhome"
    assert card["description"] == "Build and test a baking soda volcano. #cardhome"
    assert card["url"] == plan["url"]
    assert card["provider_name"] == "Pedagogue"
    assert card["provider_url"] == school.url
    assert card["author_name"] == author.username.title()
    assert card["image"] is None


async def test_plan_card_url_is_html_page(school: LiveInstance, teachers) -> None:
    (author,) = await teachers("cardpage")
    plan = await new_plan(author, "cardpage")

    status = await call(client_for(author).status, plan["id"])
    code, content_type, body = await fetch_page(school, status["card"]["url"])

    assert code == 200
    assert content_type.startswith("text/html")
    assert "Volcano models cardpage" in body


async def test_plan_content_summary_with_link(school: LiveInstance, teachers) -> None:
    (author,) = await teachers("cardcontent")
    plan = await new_plan(author, "cardcontent")

    status = await call(client_for(author).status, plan["id"])

    assert "Volcano models cardcontent" in status["content"]
    assert "Build and test a baking soda volcano." in status["content"]
    assert f'href="{plan["url"]}"' in status["content"]


async def test_plan_card_image_from_attachment(school: LiveInstance, teachers) -> None:
    (author,) = await teachers("cardimage")
    worksheet = await upload_plan_file(author, b"%PDF-1.4\n%%EOF\n", "sheet.pdf")
    picture = await upload_plan_file(author, png(), "volcano.png")
    plan = await new_plan(author, "cardimage", attachment_ids=[worksheet, picture])

    status = await call(client_for(author).status, plan["id"])
    image = status["card"]["image"]
    code, content_type, _ = await fetch_page(school, image)

    assert image.startswith(f"{school.url}/lesson_plans/files/")
    assert code == 200
    assert content_type == "image/png"


async def test_plan_card_everywhere(school: LiveInstance, teachers) -> None:
    author, reader = await teachers("cardwhere", "cardreader")
    plan = await new_plan(author, "cardwhere")
    reply = await author.post(
        "/api/v1/statuses",
        data={"status": "Works with grade 4 too", "in_reply_to_id": plan["id"]},
    )
    client = client_for(reader)

    public = await call(client.timeline_public, local=True)
    tagged = await call(client.timeline_hashtag, "cardwhere")
    posted = await call(client.account_statuses, author.account_id)
    context = await call(client.status_context, reply["id"])
    # Search finds a status by its URL only, as Mastodon does without a
    # full-text index.
    found = await call(client.search_v2, plan["url"], result_type="statuses")
    card = await call(client.status_card, plan["id"])

    assert by_id(public, plan["id"])["card"]["title"] == "Volcano models cardwhere"
    assert by_id(tagged, plan["id"])["card"]["title"] == "Volcano models cardwhere"
    assert by_id(posted, plan["id"])["card"]["title"] == "Volcano models cardwhere"
    assert by_id(context["ancestors"], plan["id"])["card"]["url"] == plan["url"]
    assert by_id(found["statuses"], plan["id"])["card"]["type"] == "link"
    assert card["title"] == "Volcano models cardwhere"


async def test_event_card_links_event_page(school: LiveInstance, teachers) -> None:
    (organiser,) = await teachers("cardevent")
    event = await organiser.post(EVENTS, json={**EVENT, "name": "Hinge questions"})

    status = await call(client_for(organiser).status, event["id"])
    card = status["card"]
    code, content_type, body = await fetch_page(school, card["url"])

    assert card["type"] == "link"
    assert card["title"] == "Hinge questions"
    assert card["url"] == f"{school.url}/events/{event['id']}"
    assert "2031-03-04 18:00" in card["description"]
    assert "online" in card["description"]
    assert card["provider_name"] == "Pedagogue"
    assert card["author_name"] == organiser.username.title()
    assert code == 200
    assert content_type.startswith("text/html")
    assert "Hinge questions" in body


async def test_event_content_summary_with_link(school: LiveInstance, teachers) -> None:
    (organiser,) = await teachers("cardeventtext")
    event = await organiser.post(EVENTS, json={**EVENT, "name": "Exit tickets"})

    status = await call(client_for(organiser).status, event["id"])

    assert "Exit tickets" in status["content"]
    assert "2031-03-04 18:00" in status["content"]
    assert f'href="{school.url}/events/{event["id"]}"' in status["content"]


async def test_event_card_in_timelines(school: LiveInstance, teachers) -> None:
    organiser, reader = await teachers("cardeventtl", "cardeventreader")
    await reader.post(f"/api/v1/accounts/{organiser.account_id}/follow")
    event = await organiser.post(EVENTS, json={**EVENT, "name": "Cold calling"})
    client = client_for(reader)

    home = await call(client.timeline_home)
    public = await call(client.timeline_public)
    posted = await call(client.account_statuses, organiser.account_id)

    assert by_id(home, event["id"])["card"]["title"] == "Cold calling"
    assert by_id(public, event["id"])["card"]["title"] == "Cold calling"
    assert by_id(posted, event["id"])["card"]["title"] == "Cold calling"
