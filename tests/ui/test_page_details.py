"""Details of the web pages in a real browser: plural counts, confirmation
before deleting (with and without JavaScript), hashtag links, the phone
layout, event coordinates and groups, and collection names and audiences.

Two live instances are kept for the whole module."""

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

PLAN_URL = re.compile(r"/plans/\d+$")
EVENT_URL = re.compile(r"/events/\d+$")
GROUP_URL = re.compile(r"/groups/\d+$")
DELIVERY_TIMEOUT = 30.0
# One word with no break opportunity, longer than a phone screen is wide.
UNBROKEN = "x" * 300


@pytest.fixture(scope="module")
async def network(databases: Any, pki: Any, tmp_path_factory: Any) -> AsyncIterator[tuple[UiInstance, UiInstance]]:
    school, district = await start_ui_instances(
        databases,
        pki,
        tmp_path_factory.mktemp("ui-details"),
        ("school-a.test", "district-b.test"),
    )
    await school.add_teacher("alice", admin=True)
    await school.add_teacher("carol")
    await district.add_teacher("bob")
    yield school, district
    await stop_ui_instances(databases, [school, district])


@pytest.fixture
async def alice(network: Any, context: Any) -> Any:
    page = await context.new_page()
    await sign_in(page, network[0], "alice")
    return page


async def _signed_in_page(browser: Any, instance: UiInstance, username: str, **options: Any) -> tuple[Any, Any]:
    created = await browser.new_context(ignore_https_errors=True, **options)
    created.set_default_timeout(15_000)
    page = await created.new_page()
    await sign_in(page, instance, username)
    return created, page


@pytest.fixture
async def carol(network: Any, browser: Any) -> AsyncIterator[Any]:
    created, page = await _signed_in_page(browser, network[0], "carol")
    yield page
    await created.close()


@pytest.fixture
async def bob(network: Any, browser: Any) -> AsyncIterator[Any]:
    created, page = await _signed_in_page(browser, network[1], "bob")
    yield page
    await created.close()


@pytest.fixture
async def alice_without_js(network: Any, browser: Any) -> AsyncIterator[Any]:
    """Alice in a browser with JavaScript turned off."""
    created, page = await _signed_in_page(browser, network[0], "alice", java_script_enabled=False)
    yield page
    await created.close()


@pytest.fixture
async def phone(network: Any, browser: Any) -> AsyncIterator[Any]:
    """Alice on a 360 by 740 px phone screen."""
    created, page = await _signed_in_page(
        browser,
        network[0],
        "alice",
        viewport={"width": 360, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    yield page
    await created.close()


async def _post(page: Any, instance: UiInstance, text: str) -> str:
    """Post ``text`` from the home page and return the new post's page URL."""
    await page.goto(f"{instance.url}/home")
    await page.get_by_label("Post", exact=True).fill(text)
    await page.get_by_role("button", name="Post", exact=True).click()
    await page.wait_for_url(f"{instance.url}/home")
    card = page.locator("article.status", has_text=text).first
    status_id = (await card.get_attribute("id")).removeprefix("status-")
    return f"{instance.url}/statuses/{status_id}"


async def _publish_plan(page: Any, instance: UiInstance, title: str, visibility: str = "public") -> str:
    await page.goto(f"{instance.url}/plans/new")
    await page.get_by_label("Title").fill(title)
    await page.get_by_label("Summary").fill("Pupils measure shadows through the day.")
    await page.get_by_label("Lesson (Markdown)").fill("Measure the shadow of a stick every hour.")
    await page.get_by_label("Duration in minutes").fill("1")
    await page.get_by_label("Who can see it").select_option(visibility)
    await page.get_by_role("button", name="Publish").click()
    await page.wait_for_url(PLAN_URL)
    return str(page.url)


async def _organise(page: Any, instance: UiInstance, name: str, **fields: str) -> str:
    await page.goto(f"{instance.url}/events/new")
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Starts").fill("2031-03-04T16:00")
    await page.get_by_label("Ends").fill("2031-03-04T17:00")
    await page.get_by_label("Place (optional)").fill(fields.get("place", "Library"))
    for label in ("Latitude", "Longitude"):
        if label.lower() in fields:
            await page.get_by_label(re.compile(f"^{label}")).fill(fields[label.lower()])
    if "group" in fields:
        await page.get_by_label("Group calendar").select_option(label=fields["group"])
    await page.get_by_role("button", name="Publish event").click()
    await page.wait_for_url(EVENT_URL)
    return str(page.url)


async def _scroll_width(page: Any) -> int:
    return int(await page.evaluate("document.documentElement.scrollWidth"))


# Plural forms


async def test_single_like_shows_singular(network: Any, alice: Any, carol: Any) -> None:
    school, _ = network
    url = await _post(alice, school, "Counting the likes on one post")
    await carol.goto(url)
    await carol.get_by_role("button", name="Like", exact=True).click()
    await carol.get_by_role("button", name="Liked").wait_for()
    counts = await carol.locator("article.status.focus .counts").inner_text()
    assert "1 like" in counts
    assert "1 likes" not in counts
    assert "0 replies" in counts


async def test_profile_counts_use_plural_forms(network: Any, alice: Any, carol: Any) -> None:
    school, _ = network
    await carol.goto(f"{school.url}/@alice")
    if await carol.get_by_role("button", name="Follow", exact=True).count():
        await carol.get_by_role("button", name="Follow", exact=True).click()
        await carol.get_by_role("button", name="Unfollow").wait_for()
    await alice.goto(f"{school.url}/@alice")
    stats = await alice.locator(".stats").inner_text()
    assert re.search(r"\b1 follower\b", stats), stats
    assert re.search(r"\b0 following\b", stats), stats


async def test_plan_duration_of_one_minute(network: Any, alice: Any) -> None:
    await _publish_plan(alice, network[0], "Sixty-second starter")
    fields = await alice.locator("dl.plan-fields").inner_text()
    assert "1 minute" in fields
    assert "1 minutes" not in fields


# Confirmation before deleting


async def test_post_delete_without_js_asks_first(network: Any, alice_without_js: Any) -> None:
    school, _ = network
    page = alice_without_js
    url = await _post(page, school, "A post deleted without JavaScript")
    await page.goto(url)
    await page.locator("article.status.focus").get_by_role("button", name="Delete").click()
    await page.get_by_role("heading", name="Delete this post?").wait_for()
    assert re.search(r"/statuses/\d+/delete", page.url)
    assert await page.get_by_text("A post deleted without JavaScript").count() == 1
    await page.get_by_role("button", name="Delete post").click()
    await page.wait_for_url(f"{school.url}/home")
    response = await page.goto(url)
    assert response.status == 404


async def test_post_kept_when_confirmation_left(network: Any, alice_without_js: Any) -> None:
    school, _ = network
    page = alice_without_js
    url = await _post(page, school, "A post that stays")
    await page.goto(f"{url}/delete")
    await page.get_by_role("link", name="Keep it").click()
    await page.wait_for_url(url)
    response = await page.goto(url)
    assert response.status == 200


async def test_post_kept_when_dialog_dismissed(network: Any, alice: Any) -> None:
    school, _ = network
    url = await _post(alice, school, "A post whose dialog is dismissed")
    await alice.goto(url)
    alice.once("dialog", lambda dialog: dialog.dismiss())
    await alice.locator("article.status.focus").get_by_role("button", name="Delete").click()
    await alice.wait_for_timeout(300)
    assert alice.url == url
    response = await alice.goto(url)
    assert response.status == 200


async def test_post_deleted_after_dialog_accepted(network: Any, alice: Any) -> None:
    school, _ = network
    url = await _post(alice, school, "A post whose dialog is accepted")
    await alice.goto(url)
    alice.once("dialog", lambda dialog: dialog.accept())
    await alice.locator("article.status.focus").get_by_role("button", name="Delete").click()
    await alice.wait_for_url(f"{school.url}/home")
    response = await alice.goto(url)
    assert response.status == 404


async def test_confirmation_page_passes_axe(network: Any, alice: Any) -> None:
    school, _ = network
    url = await _post(alice, school, "A post to ask about")
    await alice.goto(f"{url}/delete")
    assert await alice.get_by_role("heading", name="Delete this post?").count() == 1
    await screenshot(alice, "confirm-delete")
    assert await serious_violations(alice) == []


async def test_confirmation_page_rejects_other_authors(network: Any, alice: Any, carol: Any) -> None:
    school, _ = network
    url = await _post(alice, school, "Only Alice may delete this")
    response = await carol.goto(f"{url}/delete")
    assert response.status == 403


async def test_plan_delete_without_js_asks_first(network: Any, alice_without_js: Any) -> None:
    school, _ = network
    page = alice_without_js
    url = await _publish_plan(page, school, "Plan deleted without JavaScript")
    await page.get_by_role("button", name="Delete plan").click()
    await page.get_by_role("heading", name="Delete this lesson plan?").wait_for()
    assert await page.get_by_text("Plan deleted without JavaScript").count() == 1
    await page.get_by_role("button", name="Delete plan").click()
    await page.wait_for_url(re.compile(r"/@alice$"))
    response = await page.goto(url)
    assert response.status == 404


async def test_collection_delete_without_js_asks_first(network: Any, alice: Any, alice_without_js: Any) -> None:
    school, _ = network
    url = await _publish_plan(alice, school, "Plan in a doomed collection")
    await alice.get_by_label("Or a new collection named").fill("Doomed collection")
    await alice.get_by_role("button", name="Save").click()
    await alice.wait_for_url(url)
    page = alice_without_js
    await page.goto(f"{school.url}/collections")
    await page.get_by_role("button", name="Delete collection Doomed collection").click()
    await page.get_by_role("heading", name="Delete this collection?").wait_for()
    await page.get_by_role("button", name="Delete collection").click()
    await page.wait_for_url(f"{school.url}/collections")
    assert await page.get_by_role("heading", name="Doomed collection").count() == 0
    assert await page.get_by_text("Plan in a doomed collection").count() == 0


# Events


async def test_organiser_deletes_event_without_js(network: Any, alice_without_js: Any) -> None:
    school, _ = network
    page = alice_without_js
    url = await _organise(page, school, "Event deleted without JavaScript")
    await page.get_by_role("button", name="Delete event").click()
    await page.get_by_role("heading", name="Delete this event?").wait_for()
    await page.get_by_role("button", name="Delete event").click()
    await page.wait_for_url(f"{school.url}/events")
    assert await page.get_by_role("link", name="Event deleted without JavaScript").count() == 0
    response = await page.goto(url)
    assert response.status == 404


async def test_organiser_deletes_event_after_dialog(network: Any, alice: Any) -> None:
    school, _ = network
    url = await _organise(alice, school, "Event deleted after a dialog")
    alice.once("dialog", lambda dialog: dialog.accept())
    await alice.get_by_role("button", name="Delete event").click()
    await alice.wait_for_url(f"{school.url}/events")
    response = await alice.goto(url)
    assert response.status == 404


async def test_cancel_without_js_asks_first(network: Any, alice_without_js: Any) -> None:
    school, _ = network
    page = alice_without_js
    await _organise(page, school, "Event cancelled without JavaScript")
    await page.get_by_role("button", name="Cancel event").click()
    await page.get_by_role("heading", name="Cancel this event?").wait_for()
    await page.get_by_role("button", name="Cancel event").click()
    await page.get_by_text("This event was cancelled.").wait_for()
    assert EVENT_URL.search(page.url)


async def test_only_organiser_may_delete_event(network: Any, alice: Any, carol: Any) -> None:
    school, _ = network
    url = await _organise(alice, school, "Event only Alice may delete")
    await carol.goto(url)
    assert await carol.get_by_role("button", name="Delete event").count() == 0
    response = await carol.goto(f"{url}/delete")
    assert response.status == 403


async def test_event_shows_its_coordinates(network: Any, alice: Any) -> None:
    await _organise(alice, network[0], "Tide pool survey", place="North beach", latitude="50.7192", longitude="-1.8808")
    details = await alice.locator("dl.plan-fields").inner_text()
    assert "latitude 50.7192, longitude -1.8808" in details
    await alice.get_by_role("link", name="Edit event").click()
    assert await alice.get_by_label(re.compile("^Latitude")).input_value() == "50.7192"


async def test_event_rejects_latitude_out_of_range(network: Any, alice: Any) -> None:
    school, _ = network
    await alice.goto(f"{school.url}/events/new")
    await alice.get_by_label("Name").fill("Event at the wrong pole")
    await alice.get_by_label("Starts").fill("2031-03-04T16:00")
    await alice.get_by_label("Ends").fill("2031-03-04T17:00")
    latitude = alice.get_by_label(re.compile("^Latitude"))
    # The browser's range check would stop the form, so turn it off to reach the server's.
    await latitude.evaluate("field => { field.removeAttribute('min'); field.removeAttribute('max'); }")
    await latitude.fill("91")
    await alice.get_by_label(re.compile("^Longitude")).fill("0")
    await alice.get_by_role("button", name="Publish event").click()
    alert = alice.get_by_role("alert")
    await alert.wait_for()
    assert "place.latitude" in await alert.inner_text()


async def test_event_rejects_latitude_without_longitude(network: Any, alice: Any) -> None:
    school, _ = network
    await alice.goto(f"{school.url}/events/new")
    await alice.get_by_label("Name").fill("Event with half a position")
    await alice.get_by_label("Starts").fill("2031-03-04T16:00")
    await alice.get_by_label("Ends").fill("2031-03-04T17:00")
    await alice.get_by_label(re.compile("^Latitude")).fill("10")
    await alice.get_by_role("button", name="Publish event").click()
    alert = alice.get_by_role("alert")
    await alert.wait_for()
    assert "place.longitude" in await alert.inner_text()


async def test_event_added_to_chosen_group(network: Any, alice: Any) -> None:
    school, _ = network
    await alice.goto(f"{school.url}/groups")
    await alice.get_by_label("Name in the handle").fill("field_trips")
    await alice.get_by_label("Display name").fill("Field Trips")
    await alice.get_by_role("button", name="Create group").click()
    await alice.wait_for_url(GROUP_URL)
    group_url = alice.url
    await _organise(alice, school, "Museum visit planning", group="Field Trips")
    group = alice.locator("dl.plan-fields").get_by_role("link", name="Field Trips")
    assert await group.get_attribute("href") == group_url.removeprefix(school.url)


async def test_event_form_lists_only_joined_groups(network: Any, alice: Any, carol: Any) -> None:
    school, _ = network
    await alice.goto(f"{school.url}/groups")
    await alice.get_by_label("Name in the handle").fill("staff_room")
    await alice.get_by_label("Display name").fill("Staff Room")
    await alice.get_by_role("button", name="Create group").click()
    await alice.wait_for_url(GROUP_URL)
    await carol.goto(f"{school.url}/events/new")
    options = await carol.get_by_label("Group calendar").locator("option").all_inner_texts()
    assert "Staff Room" not in options
    assert await serious_violations(carol) == []


# Collections


async def test_collection_renamed(network: Any, carol: Any, alice: Any) -> None:
    school, _ = network
    url = await _publish_plan(alice, school, "Plan in a renamed collection")
    await carol.goto(url)
    await carol.get_by_label("Or a new collection named").fill("Old name")
    await carol.get_by_role("button", name="Save").click()
    await carol.wait_for_url(url)
    await carol.goto(f"{school.url}/collections")
    await carol.get_by_label("New name for Old name").fill("New name")
    await carol.get_by_role("button", name="Rename Old name").click()
    await carol.wait_for_url(f"{school.url}/collections")
    section = carol.locator("section", has=carol.get_by_role("heading", name="New name"))
    assert await section.get_by_role("link", name="Plan in a renamed collection").count() == 1
    assert await carol.get_by_role("heading", name="Old name").count() == 0
    assert await serious_violations(carol) == []


async def test_collection_rename_rejects_taken_name(network: Any, carol: Any, alice: Any) -> None:
    school, _ = network
    url = await _publish_plan(alice, school, "Plan in two collections")
    for name in ("First shelf", "Second shelf"):
        await carol.goto(url)
        await carol.get_by_label("Or a new collection named").fill(name)
        await carol.get_by_role("button", name="Save").click()
        await carol.wait_for_url(url)
    await carol.goto(f"{school.url}/collections")
    await carol.get_by_label("New name for Second shelf").fill("first shelf")
    await carol.get_by_role("button", name="Rename Second shelf").click()
    assert "already have a collection named first shelf" in await carol.get_by_role("alert").inner_text()


async def test_collection_from_plan_page_is_public(network: Any, carol: Any, alice: Any) -> None:
    school, _ = network
    url = await _publish_plan(alice, school, "Plan in a public collection")
    await carol.goto(url)
    await carol.get_by_label("Or a new collection named").fill("Shared shelf")
    await carol.get_by_label("Who can see the new collection").select_option("public")
    await carol.get_by_role("button", name="Save").click()
    await carol.wait_for_url(url)
    visibility = await network[0].fetchval(
        "SELECT visibility FROM lesson_plan_collections WHERE name = 'Shared shelf'"
    )
    assert visibility == "public"


async def test_followers_plan_leaves_no_public_collection(network: Any, alice: Any) -> None:
    school, _ = network
    await _publish_plan(alice, school, "Plan for followers", visibility="private")
    await alice.get_by_label("Or a new collection named").fill("Too open")
    await alice.get_by_label("Who can see the new collection").select_option("public")
    await alice.get_by_role("button", name="Save").click()
    assert "cannot go into a public collection" in await alice.get_by_role("alert").inner_text()
    created = await school.fetchval("SELECT count(*) FROM lesson_plan_collections WHERE name = 'Too open'")
    assert created == 0


# Hashtags


async def test_hashtag_result_links_to_tag_page(network: Any, alice: Any) -> None:
    school, _ = network
    await _post(alice, school, "Shadow clocks in the playground #sundials")
    await alice.goto(f"{school.url}/search?q=%23sundials")
    results = alice.locator("section", has=alice.get_by_role("heading", name="Hashtag"))
    await results.get_by_role("link", name="#sundials").click()
    await alice.wait_for_url(f"{school.url}/tags/sundials")
    assert await alice.get_by_text("Shadow clocks in the playground").count() == 1


async def test_tag_page_lists_local_and_remote_posts(network: Any, alice: Any, bob: Any) -> None:
    school, district = network
    await alice.goto(f"{school.url}/follow")
    await alice.get_by_label("Handle").fill(f"@bob@{district.host}")
    await alice.get_by_role("button", name="Follow", exact=True).click()
    await alice.wait_for_url(re.compile(r"/@bob@"))

    async def accepted() -> bool:
        await alice.reload()
        return await alice.get_by_role("button", name="Unfollow").count() > 0

    assert await eventually(accepted, timeout=DELIVERY_TIMEOUT, interval=0.5)
    await _post(bob, district, "Pendulum timers from the district #pendulums")
    await _post(alice, school, "Pendulum timers at school #pendulums")

    async def both_listed() -> bool:
        await alice.goto(f"{school.url}/tags/pendulums")
        text = await alice.locator("body").inner_text()
        return "from the district" in text and "at school" in text

    assert await eventually(both_listed, timeout=DELIVERY_TIMEOUT, interval=0.5)


# Phone layout


async def test_phone_profile_with_long_field(network: Any, phone: Any) -> None:
    school, _ = network
    await phone.goto(f"{school.url}/settings/profile")
    value = phone.get_by_label("Content 1")
    # The form caps a field at 255 characters, but the server takes up to 2047.
    await value.evaluate("field => field.removeAttribute('maxlength')")
    await phone.get_by_label("Label 1").fill("Website")
    await value.fill(UNBROKEN)
    await phone.get_by_role("button", name="Save profile").click()
    await phone.get_by_text("Your profile has been saved.").wait_for()
    await phone.goto(f"{school.url}/@alice")
    assert await phone.get_by_text(UNBROKEN).count() == 1
    assert await _scroll_width(phone) <= 360
    await screenshot(phone, "profile-phone")


async def test_phone_admin_users_table(network: Any, phone: Any) -> None:
    await network[0].add_teacher("teacher_with_a_rather_long_nm")
    await phone.goto(f"{network[0].url}/admin/users")
    assert await _scroll_width(phone) <= 360
    assert await serious_violations(phone) == []


async def test_phone_thread_page(network: Any, phone: Any) -> None:
    url = await _post(phone, network[0], f"Long link https://example.test/{UNBROKEN}")
    await phone.goto(url)
    assert await _scroll_width(phone) <= 360


async def test_phone_plan_page(network: Any, phone: Any) -> None:
    await _publish_plan(phone, network[0], f"Plan{UNBROKEN[:190]}")
    assert await _scroll_width(phone) <= 360


async def test_phone_event_page(network: Any, phone: Any) -> None:
    await _organise(phone, network[0], f"Event{UNBROKEN[:190]}", place=UNBROKEN)
    assert await _scroll_width(phone) <= 360
    await screenshot(phone, "event-phone")
