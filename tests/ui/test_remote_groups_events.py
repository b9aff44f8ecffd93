"""Groups and events across two instances in a real browser: a teacher on one
server finds a group on the other by handle, joins it and posts to it, and
replies Going to an event found by its URL, which its organiser then sees."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.live import eventually
from tests.ui.conftest import (
    UiInstance,
    screenshot,
    serious_violations,
    sign_in,
    start_ui_instances,
    stop_ui_instances,
)

# How long an activity may take to travel between the two instances and back.
DELIVERY_TIMEOUT = 30.0
GROUP_URL = re.compile(r"/groups/\d+$")
EVENT_URL = re.compile(r"/events/\d+$")


@pytest.fixture(scope="module")
async def network(
    databases: Any, pki: Any, tmp_path_factory: Any
) -> AsyncIterator[tuple[UiInstance, UiInstance]]:
    school, district = await start_ui_instances(
        databases,
        pki,
        tmp_path_factory.mktemp("ui-remote-groups"),
        ("school-a.test", "district-b.test"),
    )
    await school.add_teacher("alice")
    await district.add_teacher("olivia")
    yield school, district
    await stop_ui_instances(databases, [school, district])


@pytest.fixture
async def alice(network: Any, context: Any) -> Any:
    page = await context.new_page()
    await sign_in(page, network[0], "alice")
    return page


@pytest.fixture
async def olivia(network: Any, browser: Any) -> AsyncIterator[Any]:
    olivia_context = await browser.new_context(ignore_https_errors=True)
    olivia_context.set_default_timeout(15_000)
    page = await olivia_context.new_page()
    await sign_in(page, network[1], "olivia")
    yield page
    await olivia_context.close()


async def _reload_until(page: Any, url: str, locator: Any) -> bool:
    async def shown() -> bool:
        await page.goto(url)
        return await locator.count() > 0

    return bool(await eventually(shown, timeout=DELIVERY_TIMEOUT, interval=0.5))


async def _create_group(page: Any, instance: UiInstance, name: str) -> str:
    await page.goto(f"{instance.url}/groups")
    await page.get_by_label("Name in the handle").fill(name)
    await page.get_by_label("Display name").fill(name.replace("_", " ").title())
    await page.get_by_label("Description").fill("Teachers from several districts.")
    await page.get_by_role("button", name="Create group").click()
    await page.wait_for_url(GROUP_URL)
    return str(page.url)


async def _find_group(page: Any, instance: UiInstance, handle: str) -> None:
    await page.goto(f"{instance.url}/groups")
    await page.get_by_label("Group handle").fill(handle)
    await page.get_by_role("button", name="Find group").click()


async def test_remote_group_found_by_handle(
    network: Any, alice: Any, olivia: Any
) -> None:
    school, district = network
    await _create_group(olivia, district, "outdoor_learning")
    await _find_group(alice, school, f"@outdoor_learning@{district.host}")
    await alice.wait_for_url(GROUP_URL)
    assert alice.url.startswith(school.url)
    assert await alice.get_by_role("heading", name="Outdoor Learning").count() == 1
    assert await serious_violations(alice) == []


async def test_unknown_group_handle_explained(network: Any, alice: Any) -> None:
    school, district = network
    await _find_group(alice, school, f"@no_such_group@{district.host}")
    assert await alice.get_by_role("alert").inner_text() == (
        f"No group @no_such_group@{district.host} could be found."
        " Type a handle such as @science@school.example."
    )
    assert await serious_violations(alice) == []


async def test_remote_member_post_reaches_group(
    network: Any, alice: Any, olivia: Any
) -> None:
    school, district = network
    group_url = await _create_group(olivia, district, "phonics_network")
    await _find_group(alice, school, f"@phonics_network@{district.host}")
    await alice.wait_for_url(GROUP_URL)
    remote_group_url = str(alice.url)
    await alice.get_by_role("button", name="Join group").click()
    member = alice.get_by_text("You are a member.")
    assert await _reload_until(alice, remote_group_url, member)

    await alice.get_by_label("Post", exact=True).press_sequentially(
        " Decodable readers swap shelf."
    )
    await alice.get_by_role("button", name="Post", exact=True).click()
    await alice.wait_for_url(remote_group_url)
    post = olivia.locator(
        "section.feed article.status", has_text="Decodable readers swap shelf."
    )
    assert await _reload_until(olivia, group_url, post)
    await screenshot(olivia, "group-remote-post")


async def _organise(page: Any, instance: UiInstance, name: str) -> str:
    await page.goto(f"{instance.url}/events/new")
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Description").fill("Open to teachers of every district.")
    await page.get_by_label("Starts").fill("2031-03-04T16:00")
    await page.get_by_label("Ends").fill("2031-03-04T17:00")
    await page.get_by_label("Time zone of these times").select_option("Europe/London")
    await page.get_by_role("button", name="Publish event").click()
    await page.wait_for_url(EVENT_URL)
    return str(page.url)


async def _rsvp_from_school(alice: Any, school: UiInstance, event_id: str) -> str:
    """Find the event by its ActivityPub id on the school's search page and
    answer Going; return the event page's URL on the school."""
    await alice.goto(f"{school.url}/search?q={event_id}")
    results = alice.locator("section", has=alice.get_by_role("heading", name="Events"))
    await results.get_by_role("link").first.click()
    await alice.wait_for_url(EVENT_URL)
    url = str(alice.url)
    await alice.get_by_role("button", name="Going", exact=True).click()
    await alice.wait_for_url(url)
    return url


async def _event_id(page: Any) -> str:
    link = page.locator('link[rel="alternate"][type="application/activity+json"]')
    return str(await link.get_attribute("href"))


async def test_remote_event_found_by_url(network: Any, alice: Any, olivia: Any) -> None:
    school, district = network
    await _organise(olivia, district, "Moderation evening")
    event_id = await _event_id(olivia)
    await alice.goto(f"{school.url}/search?q={event_id}")
    results = alice.locator("section", has=alice.get_by_role("heading", name="Events"))
    assert await results.get_by_role("link", name="Moderation evening").count() == 1
    assert await serious_violations(alice) == []


async def test_remote_rsvp_accepted(network: Any, alice: Any, olivia: Any) -> None:
    school, district = network
    await _organise(olivia, district, "Maths mastery meetup")
    url = await _rsvp_from_school(alice, school, await _event_id(olivia))
    assert await _reload_until(alice, url, alice.get_by_text("You are going."))


async def test_remote_rsvp_listed_for_organiser(
    network: Any, alice: Any, olivia: Any
) -> None:
    school, district = network
    event_url = await _organise(olivia, district, "Science fair planning")
    await _rsvp_from_school(alice, school, await _event_id(olivia))
    participants = olivia.locator(
        "section", has=olivia.get_by_role("heading", name="Participants")
    ).get_by_text(f"alice@{school.host}")
    assert await _reload_until(olivia, event_url, participants)
    await screenshot(olivia, "event-remote-participant")


async def test_remote_rsvp_notifies_organiser(
    network: Any, alice: Any, olivia: Any
) -> None:
    school, district = network
    await _organise(olivia, district, "Reading for pleasure club")
    await _rsvp_from_school(alice, school, await _event_id(olivia))
    notification = olivia.locator(
        "li.notification-event_join", has_text="Reading for pleasure club"
    )
    assert await _reload_until(olivia, f"{district.url}/notifications", notification)
    assert await serious_violations(olivia) == []
