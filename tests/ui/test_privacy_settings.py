"""Posting defaults and muted words in a real browser: the compose form starts
from the stored visibility, hide filters drop posts of a followed teacher,
warn filters collapse them, and the content warning length limit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.ui.conftest import (
    UiInstance,
    screenshot,
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
        databases, pki, tmp_path_factory.mktemp("ui-privacy"), ("school-a.test",)
    )
    for name in ("alice", "bob", "erin", "frank"):
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


async def _post(page: Any, school: UiInstance, text: str) -> None:
    await page.goto(f"{school.url}/home")
    await page.get_by_label("Post", exact=True).fill(text)
    await page.get_by_role("button", name="Post", exact=True).click()
    await page.wait_for_url(f"{school.url}/home")


async def _follow(page: Any, school: UiInstance, username: str) -> None:
    await page.goto(f"{school.url}/@{username}")
    if await page.get_by_role("button", name="Unfollow").count() == 0:
        await page.get_by_role("button", name="Follow", exact=True).click()
        await page.get_by_role("button", name="Unfollow").wait_for()


async def _mute(
    page: Any, school: UiInstance, word: str, *, hide: bool, only: str = ""
) -> None:
    await page.goto(f"{school.url}/settings/muted-words")
    await page.get_by_label("Word or phrase", exact=True).fill(word)
    await page.get_by_label(
        "Hide completely" if hide else "Collapse behind a warning"
    ).check()
    if only:
        for label in (
            "Home timeline",
            "Notifications",
            "Local and federated timelines",
            "Threads",
            "Profiles",
        ):
            if label != only:
                await page.get_by_label(label).uncheck()
    await page.get_by_role("button", name="Mute", exact=True).click()
    await page.get_by_text("The word is muted.").wait_for()


async def _statuses(school: UiInstance) -> int:
    return int(await school.fetchval("SELECT count(*) FROM statuses"))


# Posting defaults


async def test_default_visibility_preselected_in_compose(
    school: UiInstance, browser: Any
) -> None:
    erin = await _page_of(browser, school, "erin")
    await erin.goto(f"{school.url}/settings/privacy")
    await erin.get_by_label("Who can see new posts").select_option("private")
    await erin.get_by_label("Mark new posts as sensitive").check()
    await erin.get_by_role("button", name="Save posting defaults").click()
    await erin.get_by_text("Your posting defaults have been saved.").wait_for()
    await screenshot(erin, "privacy-settings")
    assert await serious_violations(erin) == []

    await erin.goto(f"{school.url}/compose")
    assert await erin.get_by_label("Who can see it").input_value() == "private"
    assert await erin.get_by_label("Mark as sensitive").is_checked()
    await erin.goto(f"{school.url}/home")
    assert await erin.get_by_label("Who can see it").input_value() == "private"

    await _post(erin, school, "Staff room plans for Friday")
    stored = await school.fetchval(
        "SELECT visibility || ' ' || sensitive FROM statuses WHERE source_text = $1",
        "Staff room plans for Friday",
    )
    assert stored == "private true"
    await erin.context.close()


async def test_reply_keeps_more_private_visibility(
    school: UiInstance, browser: Any
) -> None:
    frank = await _page_of(browser, school, "frank")
    await frank.goto(f"{school.url}/settings/privacy")
    await frank.get_by_label("Who can see new posts").select_option("unlisted")
    await frank.get_by_role("button", name="Save posting defaults").click()
    await frank.get_by_text("Your posting defaults have been saved.").wait_for()
    await _post(frank, school, "Unlisted note on seating charts")
    status_id = await school.fetchval(
        "SELECT id FROM statuses WHERE source_text = 'Unlisted note on seating charts'"
    )
    await frank.goto(f"{school.url}/compose?in_reply_to={status_id}")
    assert await frank.get_by_label("Who can see it").input_value() == "unlisted"
    await frank.context.close()


async def test_bad_language_code_stores_nothing(school: UiInstance, alice: Any) -> None:
    await alice.goto(f"{school.url}/settings/privacy")
    await alice.get_by_label("Who can see new posts").select_option("direct")
    await alice.get_by_label(
        "Language of new posts (ISO 639 code such as en, optional)"
    ).fill("e1")
    await alice.get_by_role("button", name="Save posting defaults").click()
    await alice.get_by_role("alert").wait_for()
    assert "ISO 639" in await alice.get_by_role("alert").inner_text()
    stored = await school.fetchval(
        "SELECT default_visibility FROM accounts WHERE username = 'alice' AND domain IS NULL"
    )
    assert stored == "public"


# Muted words


async def test_hidden_word_removes_post_from_home(
    school: UiInstance, alice: Any, bob: Any
) -> None:
    await _follow(alice, school, "bob")
    await _post(bob, school, "Inspection week starts Monday")
    await _post(bob, school, "Garden club meets at lunch")
    await alice.goto(f"{school.url}/home")
    assert await alice.get_by_text("Inspection week starts Monday").count() == 1

    await _mute(alice, school, "inspection", hide=True)
    await alice.goto(f"{school.url}/home")
    assert await alice.get_by_text("Garden club meets at lunch").count() == 1
    assert await alice.get_by_text("Inspection week starts Monday").count() == 0


async def test_warn_word_collapses_post(
    school: UiInstance, alice: Any, bob: Any
) -> None:
    await _follow(alice, school, "bob")
    await _mute(alice, school, "marking", hide=False)
    await _post(bob, school, "Marking piles up before the holidays")
    await alice.goto(f"{school.url}/home")
    collapsed = alice.locator("details.filtered", has_text="Filtered: marking")
    assert await collapsed.count() == 1
    body = alice.get_by_text("Marking piles up before the holidays")
    assert not await body.is_visible()
    await collapsed.locator("summary").click()
    assert await body.is_visible()
    await screenshot(alice, "home-filtered")
    assert await serious_violations(alice) == []


async def test_whole_word_lets_longer_words_through(
    school: UiInstance, alice: Any, bob: Any
) -> None:
    await _follow(alice, school, "bob")
    await _mute(alice, school, "quiz", hide=True)
    await _post(bob, school, "Quizzes for the science unit are ready")
    await alice.goto(f"{school.url}/home")
    assert (
        await alice.get_by_text("Quizzes for the science unit are ready").count() == 1
    )


async def test_profile_context_only_hides_on_profile(
    school: UiInstance, alice: Any, bob: Any
) -> None:
    await _follow(alice, school, "bob")
    await _mute(alice, school, "robotics", hide=True, only="Profiles")
    await _post(bob, school, "Robotics club needs volunteers")
    await alice.goto(f"{school.url}/home")
    assert await alice.get_by_text("Robotics club needs volunteers").count() == 1
    await alice.goto(f"{school.url}/@bob")
    assert await alice.get_by_text("Robotics club needs volunteers").count() == 0


async def test_thread_focus_collapsed_not_hidden(
    school: UiInstance, alice: Any, bob: Any
) -> None:
    await _mute(alice, school, "detention", hide=True)
    await _post(bob, school, "Detention rota for next term")
    status_id = await school.fetchval(
        "SELECT id FROM statuses WHERE source_text = 'Detention rota for next term'"
    )
    await alice.goto(f"{school.url}/statuses/{status_id}")
    collapsed = alice.locator("details.filtered", has_text="Filtered: detention")
    assert await collapsed.count() == 1


async def test_removed_word_shows_post_again(
    school: UiInstance, alice: Any, bob: Any
) -> None:
    await _follow(alice, school, "bob")
    await _mute(alice, school, "fundraiser", hide=True)
    await _post(bob, school, "Fundraiser raffle results")
    await alice.goto(f"{school.url}/home")
    assert await alice.get_by_text("Fundraiser raffle results").count() == 0
    await alice.goto(f"{school.url}/settings/muted-words")
    await alice.get_by_role("button", name="Remove fundraiser").click()
    await alice.get_by_text("The word is no longer muted.").wait_for()
    await alice.goto(f"{school.url}/home")
    assert await alice.get_by_text("Fundraiser raffle results").count() == 1


async def test_muted_word_without_context_stores_nothing(
    school: UiInstance, alice: Any
) -> None:
    before = await school.fetchval("SELECT count(*) FROM filters")
    await alice.goto(f"{school.url}/settings/muted-words")
    assert await serious_violations(alice) == []
    await alice.get_by_label("Word or phrase", exact=True).fill("uniform")
    for label in (
        "Home timeline",
        "Notifications",
        "Local and federated timelines",
        "Threads",
        "Profiles",
    ):
        await alice.get_by_label(label).uncheck()
    await alice.get_by_role("button", name="Mute", exact=True).click()
    await alice.get_by_role("alert").wait_for()
    assert "Choose at least one place" in await alice.get_by_role("alert").inner_text()
    assert (
        await alice.get_by_label("Word or phrase", exact=True).input_value()
        == "uniform"
    )
    assert await school.fetchval("SELECT count(*) FROM filters") == before


# Content warning limit


async def test_long_content_warning_rejected_in_form(
    school: UiInstance, alice: Any
) -> None:
    before = await _statuses(school)
    await alice.goto(f"{school.url}/compose")
    # A browser stops at the field's maxlength, but a hand-made request does not.
    await alice.evaluate(
        "document.getElementById('compose-cw').removeAttribute('maxlength')"
    )
    await alice.get_by_label("Content warning (optional)").fill("w" * 501)
    await alice.get_by_label("Post", exact=True).fill("Body under a long warning")
    await alice.get_by_role("button", name="Post", exact=True).click()
    await alice.get_by_role("alert").wait_for()
    assert (
        "Content warning is over 500 characters"
        in await alice.get_by_role("alert").inner_text()
    )
    assert (
        await alice.get_by_label("Post", exact=True).input_value()
        == "Body under a long warning"
    )
    assert await _statuses(school) == before
