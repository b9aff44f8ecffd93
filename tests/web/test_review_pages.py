"""Web pages without JavaScript: the event form's visibilities, plan and
event cards in timelines, like and boost returning to the post, the site
icon, and the invite form's POST-redirect-GET.

Requests go through the Quart test client of an in-process runtime on a
fresh database, as a signed-in teacher.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from outbox.actions import Actions, NewStatus
from pedagogue.runtime import Runtime
from tests.support.pages import PageClient, sign_in_teacher
from web.app import create_app

PLAN = {
    "title": "Ratios with recipe cards",
    "summary": "Students scale recipes to reason about equivalent ratios.",
    "body": "## Warm-up\n\nDouble a pancake recipe.",
    "subjects": ["Mathematics"],
    "grade_levels": ["6-8"],
}
EVENT = {
    "name": "Formative assessment webinar",
    "description": "Exit tickets and hinge questions.",
    "starts_at": "2031-03-04T18:00:00",
    "ends_at": "2031-03-04T19:30:00",
    "timezone": "Europe/Paris",
    "online_url": "https://video.school-a.test/rooms/formative",
}


@pytest.fixture
async def app(runtime: Runtime) -> Any:
    return create_app(runtime)


@pytest.fixture
async def alice(runtime: Runtime, app: Any) -> PageClient:
    return await sign_in_teacher(runtime, app, "alice")


# Event form


async def test_event_form_offers_accepted_visibilities(alice: PageClient) -> None:
    status, page, _headers = await alice.get("/events/new")
    select = re.search(r'<select id="event-visibility".*?</select>', page, re.DOTALL)

    assert status == 200
    assert select is not None
    assert re.findall(r'<option value="(\w+)"', select.group(0)) == ["public", "unlisted"]


# Plan and event cards


async def test_plan_shown_once_in_timeline(alice: PageClient) -> None:
    status, body = await alice.api("POST", "/api/pedagogue/v1/lesson_plans", json=PLAN)
    assert status == 200, body

    _status, page, _headers = await alice.get("/home")
    article = re.search(r'<article class="status.*?</article>', page, re.DOTALL)

    assert article is not None
    assert article.group(0).count(PLAN["title"]) == 1
    assert article.group(0).count(PLAN["summary"]) == 1
    assert 'class="content"' not in article.group(0)


async def test_event_shown_once_in_timeline(alice: PageClient) -> None:
    status, body = await alice.api("POST", "/api/pedagogue/v1/events", json=EVENT)
    assert status == 200, body

    _status, page, _headers = await alice.get("/home")
    article = re.search(r'<article class="status.*?</article>', page, re.DOTALL)

    assert article is not None
    assert article.group(0).count(EVENT["name"]) == 1
    assert 'class="card"' in article.group(0)


# Like and boost


@pytest.fixture
async def post_id(runtime: Runtime, alice: PageClient) -> str:
    bob = await sign_in_teacher(runtime, alice.app, "bob")
    status = await Actions(runtime).post_status(bob.account, NewStatus(text="Fractions wall"))
    return str(status["id"])


@pytest.mark.parametrize("action", ["favourite", "reblog"])
async def test_action_returns_to_post_anchor(
    alice: PageClient, post_id: str, action: str
) -> None:
    status, _page, headers = await alice.post(
        f"/statuses/{post_id}/{action}", {"next": "/home?max_id=99#top"}
    )

    assert status == 303
    assert headers["Location"] == f"/home?max_id=99#status-{post_id}"


async def test_action_without_next_opens_post(alice: PageClient, post_id: str) -> None:
    status, _page, headers = await alice.post(f"/statuses/{post_id}/favourite", {})

    assert status == 303
    assert headers["Location"] == f"/statuses/{post_id}#status-{post_id}"


async def test_like_from_script_returns_state(alice: PageClient, post_id: str) -> None:
    status, text, headers = await alice.post(
        f"/statuses/{post_id}/favourite", {"next": "/home"}, accept="application/json"
    )
    state = json.loads(text)

    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert state["favourite"] == {
        "pressed": True,
        "label": "Liked",
        "action": f"/statuses/{post_id}/unfavourite",
    }
    assert state["reblog"]["pressed"] is False
    assert state["counts"] == "0 replies · 0 boosts · 1 like"


async def test_unboost_from_script_returns_state(alice: PageClient, post_id: str) -> None:
    await alice.post(f"/statuses/{post_id}/reblog", {})

    status, text, _headers = await alice.post(
        f"/statuses/{post_id}/unreblog", {}, accept="application/json"
    )
    state = json.loads(text)

    assert status == 200
    assert state["reblog"] == {
        "pressed": False,
        "label": "Boost",
        "action": f"/statuses/{post_id}/reblog",
    }
    assert state["counts"] == "0 replies · 0 boosts · 0 likes"


# Site icon


async def test_favicon_served(app: Any) -> None:
    response = await app.test_client().get("/favicon.ico")
    data = await response.get_data()

    assert response.status_code == 200
    assert data.startswith(b"\x00\x00\x01\x00")
    assert "max-age=86400" in response.headers["Cache-Control"]


async def test_pages_link_favicon(app: Any) -> None:
    response = await app.test_client().get("/about", headers={"Accept": "text/html"})
    page = await response.get_data(as_text=True)

    assert '<link rel="icon" href="/favicon.ico"' in page


# Invites


@pytest.fixture
async def admin(runtime: Runtime, app: Any) -> PageClient:
    client = await sign_in_teacher(runtime, app, "ada")
    await runtime.pool.execute(
        "UPDATE accounts SET is_admin = true WHERE id = $1", client.account["id"]
    )
    return client


async def invite_count(runtime: Runtime) -> int:
    return int(await runtime.pool.fetchval("SELECT count(*) FROM invites"))


async def test_invite_creation_redirects(runtime: Runtime, admin: PageClient) -> None:
    status, _page, headers = await admin.post("/admin/invites", {"max_uses": "3"})
    cookie = headers.get("Set-Cookie", "")

    assert status == 303
    assert headers["Location"] == "/admin/invites"
    assert "Path=/admin/invites" in cookie
    assert "HttpOnly" in cookie
    assert await invite_count(runtime) == 1


async def test_new_invite_link_shown_once(runtime: Runtime, admin: PageClient) -> None:
    _status, _page, headers = await admin.post("/admin/invites", {"max_uses": "1"})
    link = re.search(r"pedagogue_new_invite=([^;]+)", headers["Set-Cookie"]).group(1)
    client = admin.app.test_client()
    cookies = f"__Host-pedagogue_session={admin.session}"

    first = await client.get(
        "/admin/invites",
        headers={"Cookie": f"{cookies}; pedagogue_new_invite={link}", "Accept": "text/html"},
    )
    first_page = await first.get_data(as_text=True)

    assert first.status_code == 200
    assert link.strip('"') in first_page
    assert 'id="new-invite-link"' in first_page
    assert "pedagogue_new_invite=;" in first.headers.get("Set-Cookie", "")
    assert await invite_count(runtime) == 1


async def test_foreign_invite_cookie_ignored(admin: PageClient) -> None:
    client = admin.app.test_client()
    cookies = f"__Host-pedagogue_session={admin.session}"

    response = await client.get(
        "/admin/invites",
        headers={
            "Cookie": f"{cookies}; pedagogue_new_invite=https://evil.example/invite/x",
            "Accept": "text/html",
        },
    )
    page = await response.get_data(as_text=True)

    assert response.status_code == 200
    assert "evil.example" not in page
