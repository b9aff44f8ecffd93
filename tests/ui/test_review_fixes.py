"""Web pages in a real browser: admin pages on a phone, like and boost in
place with JavaScript, a group's handle typed into "Follow someone", and a
remote profile right after following it.

Two live instances are kept for the whole module.
"""

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

GROUP_URL = re.compile(r"/groups/\d+$")
# How long an activity or an outbox fetch may take between the instances.
DELIVERY_TIMEOUT = 30.0
PHONE_WIDTH = 360


@pytest.fixture(scope="module")
async def network(
    databases: Any, pki: Any, tmp_path_factory: Any
) -> AsyncIterator[tuple[UiInstance, UiInstance]]:
    school, district = await start_ui_instances(
        databases,
        pki,
        tmp_path_factory.mktemp("ui-review-fixes"),
        ("school-a.test", "district-b.test"),
    )
    await school.add_teacher("alice", admin=True)
    await school.add_teacher("carol")
    await district.add_teacher("olivia")
    yield school, district
    await stop_ui_instances(databases, [school, district])


async def _signed_in(browser: Any, instance: UiInstance, username: str, **options: Any) -> tuple[Any, Any]:
    created = await browser.new_context(ignore_https_errors=True, **options)
    created.set_default_timeout(15_000)
    page = await created.new_page()
    await sign_in(page, instance, username)
    return created, page


@pytest.fixture
async def alice(network: Any, browser: Any) -> AsyncIterator[Any]:
    created, page = await _signed_in(browser, network[0], "alice")
    yield page
    await created.close()


@pytest.fixture
async def phone(network: Any, browser: Any) -> AsyncIterator[Any]:
    """Alice, an admin, on a 360 by 740 px phone screen."""
    created, page = await _signed_in(
        browser,
        network[0],
        "alice",
        viewport={"width": PHONE_WIDTH, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    yield page
    await created.close()


@pytest.fixture
async def olivia(network: Any, browser: Any) -> AsyncIterator[Any]:
    created, page = await _signed_in(browser, network[1], "olivia")
    yield page
    await created.close()


async def _scroll_width(page: Any) -> int:
    return int(await page.evaluate("document.documentElement.scrollWidth"))


# Admin pages on a phone


@pytest.mark.parametrize("path", ["/admin/invites", "/admin/instance", "/admin/users"])
async def test_phone_admin_page_fits(network: Any, phone: Any, path: str) -> None:
    school, _district = network
    if path == "/admin/invites":
        # The invites table gets a row with a long note.
        await phone.goto(f"{school.url}/admin/invites")
        await phone.get_by_label("Note for admins (optional)").fill("x" * 200)
        await phone.get_by_role("button", name="Create invite").click()
    await phone.goto(f"{school.url}{path}")
    await screenshot(phone, "phone" + path.replace("/", "-"))

    assert await _scroll_width(phone) <= PHONE_WIDTH
    assert await serious_violations(phone) == []


async def test_invites_table_region_focusable(network: Any, phone: Any) -> None:
    school, _district = network
    await phone.goto(f"{school.url}/admin/invites")
    region = phone.get_by_role("region", name="Recent invites")

    assert await region.get_attribute("tabindex") == "0"


# Like and boost with JavaScript


async def _post_many(page: Any, instance: UiInstance, texts: list[str]) -> None:
    for text in texts:
        await page.goto(f"{instance.url}/home")
        await page.get_by_label("Post", exact=True).fill(text)
        await page.get_by_role("button", name="Post", exact=True).click()
        await page.wait_for_url(f"{instance.url}/home")


async def test_like_updates_in_place(network: Any, alice: Any, browser: Any) -> None:
    school, _district = network
    created, carol = await _signed_in(browser, school, "carol")
    await _post_many(carol, school, [f"Carol's note {number}" for number in range(12)])
    await created.close()
    await alice.goto(f"{school.url}/local")
    article = alice.locator("article.status", has_text="Carol's note 0")
    await article.scroll_into_view_if_needed()
    scrolled = await alice.evaluate("window.scrollY")
    navigations: list[str] = []
    alice.on("framenavigated", lambda frame: navigations.append(frame.url))

    await article.get_by_role("button", name="Like").click()
    await article.get_by_role("button", name="Liked").wait_for()

    assert navigations == []
    assert await alice.evaluate("window.scrollY") == scrolled
    assert await article.get_by_role("button", name="Liked").get_attribute("aria-pressed") == "true"
    assert "1 like" in await article.locator(".counts").inner_text()


async def test_boost_toggles_in_place(network: Any, alice: Any) -> None:
    school, _district = network
    await _post_many(alice, school, ["Alice's boostable note"])
    await alice.goto(f"{school.url}/home")
    article = alice.locator("article.status", has_text="Alice's boostable note").first

    await article.get_by_role("button", name="Boost").click()
    await article.get_by_role("button", name="Boosted").wait_for()
    await article.get_by_role("button", name="Boosted").click()
    await article.get_by_role("button", name="Boost", exact=True).wait_for()

    assert "0 boosts" in await article.locator(".counts").inner_text()


# A group's handle in "Follow someone"


async def test_group_handle_leads_to_group_page(
    network: Any, alice: Any, olivia: Any
) -> None:
    school, district = network
    await olivia.goto(f"{district.url}/groups")
    await olivia.get_by_label("Name in the handle").fill("field_trips")
    await olivia.get_by_label("Display name").fill("Field Trips")
    await olivia.get_by_label("Description").fill("Planning trips together.")
    await olivia.get_by_role("button", name="Create group").click()
    await olivia.wait_for_url(GROUP_URL)

    await alice.goto(f"{school.url}/follow")
    await alice.get_by_label(re.compile("Handle")).fill(f"@field_trips@{district.host}")
    await alice.get_by_role("button", name=re.compile("Follow")).click()
    await alice.wait_for_url(GROUP_URL)

    assert alice.url.startswith(school.url)
    assert await alice.get_by_role("heading", name="Field Trips").count() == 1
    assert await alice.get_by_role("button", name=re.compile("Join")).count() == 1
    assert await alice.get_by_text("Follow request sent").count() == 0
    assert await alice.get_by_text("olivia", exact=False).count() > 0


# A remote profile right after following


async def test_followed_profile_lists_earlier_posts(
    network: Any, alice: Any, olivia: Any
) -> None:
    school, district = network
    await _post_many(olivia, district, ["Olivia's earlier public note"])

    await alice.goto(f"{school.url}/follow")
    await alice.get_by_label(re.compile("Handle")).fill(f"@olivia@{district.host}")
    await alice.get_by_role("button", name=re.compile("Follow")).click()
    profile = f"{school.url}/@olivia@{district.host}"
    await alice.wait_for_url(profile)

    async def listed() -> bool:
        await alice.goto(profile)
        return await alice.locator("article.status", has_text="Olivia's earlier public note").count() > 0

    assert await eventually(listed, timeout=DELIVERY_TIMEOUT, interval=0.5)
    assert await alice.get_by_text("No public posts yet").count() == 0
