"""The compose form's local-only and group-only levels in a real browser:
posting with each, the label each status shows, and who can read it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.ui.conftest import (
    UiInstance,
    serious_violations,
    sign_in,
    start_ui_instances,
    stop_ui_instances,
)


@pytest.fixture(scope="module")
async def school(
    databases: Any, pki: Any, tmp_path_factory: Any
) -> AsyncIterator[UiInstance]:
    (instance,) = await start_ui_instances(
        databases, pki, tmp_path_factory.mktemp("ui-compose-levels"), ("school-a.test",)
    )
    for name in ("alice", "bob"):
        await instance.add_teacher(name)
    yield instance
    await stop_ui_instances(databases, [instance])


async def _page_of(browser: Any, school: UiInstance, username: str) -> Any:
    created = await browser.new_context(ignore_https_errors=True)
    created.set_default_timeout(15_000)
    page = await created.new_page()
    await sign_in(page, school, username)
    return page


@pytest.fixture
async def alice(school: UiInstance, browser: Any) -> AsyncIterator[Any]:
    page = await _page_of(browser, school, "alice")
    yield page
    await page.context.close()


@pytest.fixture
async def bob(school: UiInstance, browser: Any) -> AsyncIterator[Any]:
    page = await _page_of(browser, school, "bob")
    yield page
    await page.context.close()


async def _create_group(page: Any, school: UiInstance, name: str) -> None:
    await page.goto(f"{school.url}/groups")
    await page.get_by_label(
        "Name in the handle (letters, digits and underscores)"
    ).fill(name)
    await page.get_by_label("Display name").fill(name.title())
    await page.get_by_role("button", name="Create group").click()
    await page.wait_for_url(f"{school.url}/groups/*")


async def _compose(
    page: Any, school: UiInstance, text: str, level: str, group: str = ""
) -> None:
    await page.goto(f"{school.url}/compose")
    await page.get_by_label("Post", exact=True).fill(text)
    await page.get_by_label("Who can see it").select_option(label=level)
    if group:
        await page.get_by_label("Group", exact=True).select_option(label=group)
    await page.get_by_role("button", name="Post", exact=True).click()
    await page.wait_for_url(f"{school.url}/home")


async def _label_of(page: Any, text: str) -> str:
    article = page.locator("article.status", has_text=text)
    return (await article.locator(".visibility").inner_text()).strip()


async def test_local_only_post_labelled(school, alice):
    await _compose(alice, school, "Staff room only", "Only this instance")

    stored = await school.fetchval(
        "SELECT visibility FROM statuses WHERE source_text = 'Staff room only'"
    )
    label = await _label_of(alice, "Staff room only")

    assert stored == "local"
    assert label == "Only this instance"


async def test_group_only_post_reaches_group_alone(school, alice, bob):
    await _create_group(alice, school, "chemistry")
    await _compose(
        alice, school, "Titration worksheet", "Group members", group="Chemistry"
    )

    stored = await school.fetchval(
        "SELECT a.username FROM statuses s JOIN accounts a ON a.id = s.audience_id"
        " WHERE s.source_text = 'Titration worksheet' AND s.visibility = 'group'"
    )
    label = await _label_of(alice, "Titration worksheet")
    await bob.goto(f"{school.url}/@alice")
    seen_by_outsider = await bob.get_by_text("Titration worksheet").count()

    assert stored == "chemistry"
    assert label == "Group members"
    assert seen_by_outsider == 0


async def test_group_choice_hidden_without_groups(school, bob):
    await bob.goto(f"{school.url}/compose")
    levels = (
        await bob.get_by_label("Who can see it").locator("option").all_inner_texts()
    )

    assert "Only this instance" in levels
    assert "Group members" not in levels
    assert await bob.get_by_label("Group", exact=True).count() == 0


async def test_compose_form_accessible(school, alice):
    await alice.goto(f"{school.url}/compose")
    assert await serious_violations(alice) == []
