"""Two instances in a real browser: following by handle across servers,
posting with content warnings, liking, boosting and replying, notifications,
keyboard-only composing, a phone-sized screen and axe-core on the main pages."""

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

# How long a post may take to travel between the two instances.
DELIVERY_TIMEOUT = 30.0


@pytest.fixture(scope="module")
async def network(databases: Any, pki: Any, tmp_path_factory: Any) -> AsyncIterator[tuple[UiInstance, UiInstance]]:
    school, district = await start_ui_instances(
        databases,
        pki,
        tmp_path_factory.mktemp("ui-network"),
        ("school-a.test", "district-b.test"),
    )
    await school.add_teacher("alice")
    await school.add_teacher("carol", approve_followers=True)
    await district.add_teacher("bob")
    yield school, district
    await stop_ui_instances(databases, [school, district])


@pytest.fixture
async def alice(network: Any, context: Any) -> Any:
    school, _ = network
    page = await context.new_page()
    await sign_in(page, school, "alice")
    return page


@pytest.fixture
async def bob(network: Any, browser: Any) -> AsyncIterator[Any]:
    _, district = network
    bob_context = await browser.new_context(ignore_https_errors=True)
    page = await bob_context.new_page()
    await sign_in(page, district, "bob")
    yield page
    await bob_context.close()


async def _post(page: Any, instance: UiInstance, text: str, warning: str = "") -> None:
    await page.goto(f"{instance.url}/home")
    if warning:
        await page.get_by_label("Content warning (optional)").fill(warning)
    await page.get_by_label("Post", exact=True).fill(text)
    await page.get_by_role("button", name="Post", exact=True).click()
    await page.wait_for_url(f"{instance.url}/home")


async def _shows(page: Any, url: str, text: str) -> bool:
    await page.goto(url)
    return await page.get_by_text(text).count() > 0


async def _follow_bob(alice: Any, school: UiInstance, district: UiInstance) -> None:
    await alice.goto(f"{school.url}/follow")
    await alice.get_by_label("Handle").fill(f"@bob@{district.host}")
    await alice.get_by_role("button", name="Follow", exact=True).click()
    await alice.wait_for_url(re.compile(r"/@bob@"))


async def test_follow_by_handle_and_see_post_arrive(network: Any, alice: Any, bob: Any) -> None:
    school, district = network
    await _follow_bob(alice, school, district)
    assert await alice.get_by_role("heading", name="Bob").is_visible()

    async def accepted() -> bool:
        await alice.reload()
        return await alice.get_by_role("button", name="Unfollow").count() > 0

    assert await eventually(accepted, timeout=DELIVERY_TIMEOUT, interval=0.5)
    await _post(bob, district, "Fractions with paper strips worked well today")

    async def arrived() -> bool:
        return await _shows(alice, f"{school.url}/home", "Fractions with paper strips")

    assert await eventually(arrived, timeout=DELIVERY_TIMEOUT, interval=0.5)
    await screenshot(alice, "home")
    assert await serious_violations(alice) == []


async def test_like_boost_and_reply_notify_the_author(network: Any, alice: Any, bob: Any) -> None:
    school, district = network
    await _follow_bob(alice, school, district)
    await _post(bob, district, "Who has tried exit tickets in year 7?")

    async def arrived() -> bool:
        return await _shows(alice, f"{school.url}/home", "exit tickets in year 7")

    assert await eventually(arrived, timeout=DELIVERY_TIMEOUT, interval=0.5)
    post = alice.locator("article.status", has_text="exit tickets in year 7").first
    await post.locator("p.meta a").first.click()
    await alice.wait_for_url(re.compile(r"/statuses/\d+$"))
    thread_url = alice.url
    # With JavaScript, like and boost update the buttons without a reload.
    await alice.get_by_role("button", name="Like", exact=True).first.click()
    await alice.get_by_role("button", name="Liked").wait_for()
    assert alice.url == thread_url
    assert await alice.get_by_role("button", name="Liked").count() == 1
    await alice.get_by_role("button", name="Boost", exact=True).first.click()
    await alice.get_by_role("button", name="Boosted").wait_for()
    assert await alice.get_by_role("button", name="Boosted").count() == 1
    await alice.get_by_label("Post", exact=True).fill("Every Friday, three questions each.")
    await alice.get_by_role("button", name="Reply", exact=True).click()
    await alice.wait_for_url(thread_url)
    assert await alice.get_by_text("Every Friday, three questions each.").count() == 1
    await screenshot(alice, "thread")
    assert await serious_violations(alice) == []

    async def notified() -> bool:
        await bob.goto(f"{district.url}/notifications")
        texts = await bob.locator("li.notification").all_inner_texts()
        joined = "\n".join(texts)
        return all(
            phrase in joined for phrase in ("liked your post", "boosted your post", "replied to you")
        )

    assert await eventually(notified, timeout=DELIVERY_TIMEOUT, interval=0.5)
    await screenshot(bob, "notifications")
    assert await serious_violations(bob) == []


async def test_compose_with_content_warning(network: Any, alice: Any) -> None:
    school, _ = network
    await _post(alice, school, "Details of the moderation meeting", warning="Staff matters")
    post = alice.locator("article.status", has_text="Staff matters").first
    summary = post.locator("details summary")
    assert "Staff matters" in await summary.inner_text()
    body = post.get_by_text("Details of the moderation meeting")
    assert not await body.is_visible()
    await summary.click()
    assert await body.is_visible()


async def test_compose_with_keyboard_only(network: Any, alice: Any) -> None:
    school, _ = network
    await alice.goto(f"{school.url}/compose")
    await screenshot(alice, "compose")
    assert await serious_violations(alice) == []
    # Tab from the top of the page until the content warning field has focus.
    for _ in range(40):
        await alice.keyboard.press("Tab")
        if await alice.evaluate("document.activeElement.id") == "compose-cw":
            break
    assert await alice.evaluate("document.activeElement.id") == "compose-cw"
    outline = await alice.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    await alice.keyboard.type("Typed with keys")
    await alice.keyboard.press("Tab")
    assert await alice.evaluate("document.activeElement.id") == "compose-text"
    await alice.keyboard.type("No mouse was used for this post")
    await alice.keyboard.press("Tab")
    assert await alice.evaluate("document.activeElement.id") == "compose-visibility"
    await alice.keyboard.press("ArrowDown")  # Only this instance
    await alice.keyboard.press("ArrowDown")  # Unlisted
    await alice.keyboard.press("Tab")
    await alice.keyboard.press("Enter")
    await alice.wait_for_url(f"{school.url}/home")
    visibility = await school.fetchval(
        "SELECT visibility FROM statuses WHERE source_text = 'No mouse was used for this post'"
    )
    assert visibility == "unlisted"


async def test_follow_request_approval(network: Any, context: Any, bob: Any) -> None:
    school, district = network
    await bob.goto(f"{district.url}/follow")
    await bob.get_by_label("Handle").fill(f"@carol@{school.host}")
    await bob.get_by_role("button", name="Follow", exact=True).click()
    await bob.wait_for_url(re.compile(r"/@carol@"))
    assert await bob.get_by_role("button", name="Cancel follow request").count() == 1

    carol = await context.new_page()
    await sign_in(carol, school, "carol")

    async def requested() -> bool:
        return await _shows(carol, f"{school.url}/follow-requests", "@bob@")

    assert await eventually(requested, timeout=DELIVERY_TIMEOUT, interval=0.5)
    assert await serious_violations(carol) == []
    await carol.get_by_role("button", name=re.compile("^Approve")).click()
    await carol.wait_for_url(f"{school.url}/follow-requests")

    async def approved() -> bool:
        await bob.reload()
        return await bob.get_by_role("button", name="Unfollow").count() > 0

    assert await eventually(approved, timeout=DELIVERY_TIMEOUT, interval=0.5)


async def test_main_pages_pass_axe(network: Any, alice: Any) -> None:
    school, district = network
    pages = {
        "local": f"{school.url}/local",
        "federated": f"{school.url}/federated",
        "profile": f"{school.url}/@alice",
        "remote-profile": f"{school.url}/@bob@{district.host}",
        "follow": f"{school.url}/follow",
        "followers": f"{school.url}/@alice/followers",
        "settings": f"{school.url}/settings/account",
    }
    for name, url in pages.items():
        response = await alice.goto(url)
        assert response.status == 200, name
        if name == "profile":
            await screenshot(alice, "profile")
        assert await serious_violations(alice) == [], name


async def test_phone_sized_screen(network: Any, browser: Any) -> None:
    school, _ = network
    phone = await browser.new_context(
        ignore_https_errors=True,
        viewport={"width": 360, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    try:
        page = await phone.new_page()
        await sign_in(page, school, "alice")
        for path in ("/home", "/@alice", "/notifications"):
            await page.goto(f"{school.url}{path}")
            overflow = await page.evaluate(
                "document.documentElement.scrollWidth - window.innerWidth"
            )
            assert overflow <= 0, path
        await page.goto(f"{school.url}/home")
        assert await page.get_by_label("Post", exact=True).is_visible()
        await screenshot(page, "home-phone")
        assert await serious_violations(page) == []
    finally:
        await phone.close()


async def test_markup_in_posts_is_shown_as_text(network: Any, alice: Any, bob: Any) -> None:
    school, district = network
    await _follow_bob(alice, school, district)
    payload = '<img src=x onerror="window.injected=1">Staff <b>bold</b> claim'
    await _post(bob, district, payload)

    async def arrived() -> bool:
        return await _shows(alice, f"{school.url}/home", "Staff <b>bold</b> claim")

    assert await eventually(arrived, timeout=DELIVERY_TIMEOUT, interval=0.5)
    post = alice.locator("article.status", has_text="Staff <b>bold</b> claim").first
    assert await post.locator(".content img").count() == 0
    assert await post.locator(".content b").count() == 0
    assert await alice.evaluate("window.injected === undefined")


async def test_times_show_in_chosen_zone(network: Any, alice: Any) -> None:
    school, _ = network
    await alice.goto(f"{school.url}/settings/account")
    await alice.get_by_label("Show times in").select_option("Asia/Tokyo")
    await alice.get_by_role("button", name="Save time zone").click()
    await alice.wait_for_url(f"{school.url}/settings/account?done=time-zone")
    try:
        await _post(alice, school, "What time is it in Tokyo?")
        post = alice.locator("article.status", has_text="What time is it in Tokyo?").first
        assert await post.locator("time").first.get_attribute("title") == "Asia/Tokyo"
        assert await alice.get_by_text("Times are shown in Asia/Tokyo.").is_visible()
    finally:
        await alice.goto(f"{school.url}/settings/account")
        await alice.get_by_label("Show times in").select_option("")
        await alice.get_by_role("button", name="Save time zone").click()
