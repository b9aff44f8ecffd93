"""Hashtag pages in a real browser: posts and lesson plans with the hashtag,
the follow button, visibility for visitors and teachers, a remote post that
arrived by federation, pagination, and the ActivityPub collection at the same
URL. Two live instances are kept for the whole module."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.support.live import Teacher, eventually
from tests.ui.conftest import (
    UiInstance,
    screenshot,
    serious_violations,
    sign_in,
    start_ui_instances,
    stop_ui_instances,
)

ACTIVITY_JSON = "application/activity+json"
# Posts per page of the web interface's timelines.
PAGE_SIZE = 20
# How long a post may take to travel from the district to the school.
DELIVERY_TIMEOUT = 20.0


@pytest.fixture(scope="module")
async def network(
    databases: Any, pki: Any, tmp_path_factory: Any
) -> AsyncIterator[tuple[UiInstance, UiInstance]]:
    school, district = await start_ui_instances(
        databases,
        pki,
        tmp_path_factory.mktemp("ui-tag-pages"),
        ("school-a.test", "district-b.test"),
    )
    await school.add_teacher("alice")
    yield school, district
    await stop_ui_instances(databases, [school, district])


@pytest.fixture(scope="module")
async def bob(network: Any) -> Teacher:
    """A school teacher who posts through the client API."""
    return await network[0].create_teacher("bob")


@pytest.fixture
async def alice(network: Any, context: Any) -> Any:
    page = await context.new_page()
    await sign_in(page, network[0], "alice")
    return page


@pytest.fixture
async def visitor(context: Any) -> Any:
    return await context.new_page()


async def _post(teacher: Teacher, text: str, visibility: str = "public") -> Any:
    return await teacher.post(
        "/api/v1/statuses", data={"status": text, "visibility": visibility}
    )


async def _get(
    instance: UiInstance, path: str, accept: str
) -> tuple[int, dict[str, str], str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{instance.client_url}{path}",
            headers={"Accept": accept},
            ssl=instance.ssl_context(),
        ) as response,
    ):
        return response.status, dict(response.headers), await response.text()


def _feed(page: Any) -> Any:
    return page.locator("section.feed")


async def test_tag_page_passes_axe(network: Any, bob: Teacher, alice: Any) -> None:
    school, _ = network
    await _post(bob, "Number talks every morning #numbertalks")
    await alice.goto(f"{school.url}/tags/numbertalks")
    await _feed(alice).get_by_text("Number talks every morning").wait_for()
    await screenshot(alice, "tag-page")
    assert await serious_violations(alice) == []


async def test_tag_page_for_visitor_passes_axe(
    network: Any, bob: Teacher, visitor: Any
) -> None:
    school, _ = network
    await _post(bob, "Visitors read this #openday")
    await visitor.goto(f"{school.url}/tags/openday")
    await _feed(visitor).get_by_text("Visitors read this").wait_for()
    assert await serious_violations(visitor) == []


async def test_tag_page_fits_phone_width(
    network: Any, bob: Teacher, browser: Any
) -> None:
    school, _ = network
    await _post(bob, "A long hashtag on a small screen #reallylongclassroomhashtagname")
    phone = await browser.new_context(
        ignore_https_errors=True, viewport={"width": 360, "height": 740}
    )
    try:
        page = await phone.new_page()
        await sign_in(page, school, "alice")
        await page.goto(f"{school.url}/tags/reallylongclassroomhashtagname")
        await _feed(page).get_by_text("A long hashtag").wait_for()
        await screenshot(page, "tag-page-phone")
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360
    finally:
        await phone.close()


async def test_tag_page_has_site_navigation(network: Any, alice: Any) -> None:
    school, _ = network
    await alice.goto(f"{school.url}/tags/navigation")
    main_nav = alice.get_by_role("navigation", name="Main")
    assert await main_nav.get_by_role("link", name="Home").count() == 1
    assert await alice.get_by_role("heading", level=1).inner_text() == "#navigation"


async def test_follow_button_follows_and_unfollows(network: Any, alice: Any) -> None:
    school, _ = network
    query = (
        "SELECT count(*) FROM tag_follows f JOIN accounts a ON a.id = f.account_id"
        " WHERE a.username = 'alice' AND a.domain IS NULL AND f.name = 'phonics'"
    )
    await alice.goto(f"{school.url}/tags/phonics")
    await alice.get_by_role("button", name="Follow hashtag #phonics").click()
    await alice.get_by_role("button", name="Unfollow hashtag #phonics").wait_for()
    assert alice.url == f"{school.url}/tags/phonics"
    assert await school.fetchval(query) == 1

    await alice.get_by_role("button", name="Unfollow hashtag #phonics").click()
    await alice.get_by_role("button", name="Follow hashtag #phonics").wait_for()
    assert await school.fetchval(query) == 0


async def test_visitor_sees_no_follow_button(network: Any, visitor: Any) -> None:
    school, _ = network
    await visitor.goto(f"{school.url}/tags/phonics")
    assert (
        await visitor.get_by_role("button", name="Follow hashtag #phonics").count() == 0
    )
    sign_in_link = visitor.get_by_role("link", name="Sign in to follow this hashtag")
    assert await sign_in_link.count() == 1


async def test_signed_in_teacher_can_like_from_tag_page(
    network: Any, bob: Teacher, alice: Any
) -> None:
    school, _ = network
    await _post(bob, "Like this from the hashtag page #likeable")
    await alice.goto(f"{school.url}/tags/likeable")
    card = _feed(alice).locator("article.status", has_text="Like this from the hashtag")
    await card.get_by_role("button", name="Like").click()
    await card.get_by_role("button", name="Liked").wait_for()
    assert alice.url == f"{school.url}/tags/likeable"
    assert await card.get_by_role("link", name="Reply to this post").count() == 1


async def test_visitor_sees_only_public_posts(
    network: Any, bob: Teacher, visitor: Any
) -> None:
    school, _ = network
    await _post(bob, "Public staffroom note #staffroom")
    await _post(bob, "Local staffroom note #staffroom", visibility="local")
    await _post(bob, "Followers staffroom note #staffroom", visibility="private")
    await visitor.goto(f"{school.url}/tags/staffroom")
    feed = _feed(visitor)
    await feed.get_by_text("Public staffroom note").wait_for()
    assert await feed.get_by_text("Local staffroom note").count() == 0
    assert await feed.get_by_text("Followers staffroom note").count() == 0


async def test_local_teacher_sees_local_only_posts(
    network: Any, bob: Teacher, alice: Any
) -> None:
    school, _ = network
    await _post(bob, "Local planning day #planningday", visibility="local")
    await _post(bob, "Followers planning day #planningday", visibility="private")
    await alice.goto(f"{school.url}/tags/planningday")
    feed = _feed(alice)
    await feed.get_by_text("Local planning day").wait_for()
    assert await feed.get_by_text("Followers planning day").count() == 0


async def test_muted_word_hides_post_on_tag_page(
    network: Any, bob: Teacher, alice: Any
) -> None:
    school, _ = network
    await _post(bob, "Kept on the page #recess")
    await _post(bob, "Dodgeball results are in #recess")
    await alice.goto(f"{school.url}/settings/muted-words")
    await alice.get_by_role("textbox", name="Word or phrase").fill("dodgeball")
    await alice.get_by_label("Hide completely").check()
    await alice.get_by_role("button", name="Mute", exact=True).click()
    await alice.locator("ul.muted-words", has_text="dodgeball").wait_for()
    await alice.goto(f"{school.url}/tags/recess")
    feed = _feed(alice)
    await feed.get_by_text("Kept on the page").wait_for()
    assert await feed.get_by_text("Dodgeball results").count() == 0


async def test_remote_post_with_tag_appears(
    network: Any, bob: Teacher, visitor: Any
) -> None:
    school, district = network
    erin = await district.create_teacher("erin")
    found = await bob.resolve(erin.handle)
    await bob.post(f"/api/v1/accounts/{found['id']}/follow")

    async def accepted() -> bool:
        relationship = await bob.get(
            f"/api/v1/accounts/relationships?id[]={found['id']}"
        )
        return bool(relationship[0]["following"])

    assert await eventually(accepted, timeout=DELIVERY_TIMEOUT)
    await _post(erin, "Erin's fraction strips #fractionstrips")

    async def shown() -> bool:
        await visitor.goto(f"{school.url}/tags/fractionstrips")
        return await _feed(visitor).get_by_text("Erin's fraction strips").count() == 1

    assert await eventually(shown, timeout=DELIVERY_TIMEOUT, interval=0.5)
    hashtag = _feed(visitor).get_by_role("link", name="#fractionstrips")
    assert await hashtag.get_attribute("href") == "/tags/fractionstrips"


async def test_tagged_lesson_plan_listed(
    network: Any, bob: Teacher, visitor: Any
) -> None:
    school, _ = network
    await bob.post(
        "/api/pedagogue/v1/lesson_plans",
        json={
            "title": "Pizza fractions",
            "summary": "Slices as fractions.",
            "body": "Cut paper pizzas into eighths. #pizzafractions",
            "subjects": ["Mathematics"],
            "grade_levels": ["3"],
        },
    )
    await visitor.goto(f"{school.url}/tags/pizzafractions")
    plans = visitor.locator(
        "section", has=visitor.get_by_role("heading", name="Lesson plans")
    )
    assert await plans.get_by_role("link", name="Pizza fractions").count() == 1


async def test_tag_page_paginates(network: Any, bob: Teacher, visitor: Any) -> None:
    school, _ = network
    for number in range(PAGE_SIZE + 1):
        await _post(bob, f"Spelling list {number} #spellinglists")
    await visitor.goto(f"{school.url}/tags/spellinglists")
    feed = _feed(visitor)
    oldest = feed.locator("article.status", has_text=re.compile(r"Spelling list 0\b"))
    assert await feed.locator("article.status").count() == PAGE_SIZE
    assert await oldest.count() == 0

    await visitor.get_by_role("link", name="Older").click()
    await oldest.wait_for()
    assert await feed.locator("article.status").count() == 1


async def test_tag_page_links_activitypub_collection(
    network: Any, visitor: Any
) -> None:
    school, _ = network
    await visitor.goto(f"{school.url}/tags/phonics")
    alternate = visitor.locator(
        'link[rel="alternate"][type="application/activity+json"]'
    )
    assert await alternate.get_attribute("href") == f"{school.url}/tags/phonics"
    og_title = visitor.locator('meta[property="og:title"]')
    assert await og_title.get_attribute("content") == "#phonics"


async def test_tag_collection_served_as_activitypub(network: Any, bob: Teacher) -> None:
    school, _ = network
    public = await _post(bob, "Collected post #collected")
    local_only = await _post(bob, "Not federated #collected", visibility="local")
    status, headers, body = await _get(school, "/tags/collected", ACTIVITY_JSON)
    assert status == 200
    assert headers["Content-Type"].startswith(ACTIVITY_JSON)
    assert headers["Vary"] == "Accept"
    document = json.loads(body)
    assert document["type"] == "OrderedCollection"
    assert document["id"] == f"{school.url}/tags/collected"
    assert document["orderedItems"] == [public["uri"]]
    assert local_only["uri"] not in document["orderedItems"]
    assert document["totalItems"] == 1


async def test_tag_page_served_as_html_by_default(network: Any) -> None:
    school, _ = network
    status, headers, body = await _get(school, "/tags/collected", "text/html")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert headers["Vary"] == "Accept"
    assert "<h1" in body


async def test_invalid_hashtag_rejected(network: Any) -> None:
    school, _ = network
    status, _, body = await _get(school, "/tags/no-dashes", "text/html")
    assert status == 422
    assert "invalid hashtag" in body
