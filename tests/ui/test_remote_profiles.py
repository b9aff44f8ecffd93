"""Profiles in a real browser: a remote teacher's profile lists the posts read
from their outbox, and a suspended teacher's profile, actor document, outbox
and posts are withheld."""

from __future__ import annotations

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

# How long a page may take to show what the outbox fetch stored.
FETCH_TIMEOUT = 20.0
ACTIVITY_JSON = {"Accept": "application/activity+json"}


@pytest.fixture(scope="module")
async def network(
    databases: Any, pki: Any, tmp_path_factory: Any
) -> AsyncIterator[tuple[UiInstance, UiInstance]]:
    school, district = await start_ui_instances(
        databases,
        pki,
        tmp_path_factory.mktemp("ui-remote-profiles"),
        ("school-a.test", "district-b.test"),
    )
    await school.add_teacher("alice")
    yield school, district
    await stop_ui_instances(databases, [school, district])


@pytest.fixture
async def alice(network: Any, context: Any) -> Any:
    page = await context.new_page()
    await sign_in(page, network[0], "alice")
    return page


async def _remote_teacher(district: UiInstance, username: str, posts: list[str]) -> Any:
    """Create a teacher on the district who posts ``posts`` publicly and has
    no followers on the school."""
    teacher = await district.create_teacher(username)
    for text in posts:
        await teacher.post(
            "/api/v1/statuses", data={"status": text, "visibility": "public"}
        )
    return teacher


async def _open_profile(alice: Any, school: UiInstance, handle: str) -> str:
    """Look the handle up through search, which stores the account without
    following it, and open its profile; return the profile's URL."""
    await alice.goto(f"{school.url}/search?q=@{handle}")
    url = f"{school.url}/@{handle}"
    await alice.goto(url)
    return url


async def _shown(page: Any, url: str, text: str) -> bool:
    async def check() -> bool:
        await page.goto(url)
        return await page.locator("section.feed", has_text=text).count() > 0

    return bool(await eventually(check, timeout=FETCH_TIMEOUT, interval=0.5))


async def test_remote_profile_lists_outbox_posts(network: Any, alice: Any) -> None:
    school, district = network
    await _remote_teacher(
        district, "erin", ["Erin's fractions wall.", "Erin's spelling game."]
    )
    url = await _open_profile(alice, school, f"erin@{district.host}")
    assert await _shown(alice, url, "Erin's fractions wall.")
    assert (
        await alice.locator("section.feed", has_text="Erin's spelling game.").count()
        == 1
    )
    await screenshot(alice, "profile-remote")
    assert await serious_violations(alice) == []


async def test_remote_profile_links_their_server(network: Any, alice: Any) -> None:
    school, district = network
    await _remote_teacher(district, "frank", ["Frank's first post."])
    await _open_profile(alice, school, f"frank@{district.host}")
    link = alice.get_by_role("link", name="See more on their server")
    assert await link.get_attribute("href") == f"{district.url}/@frank"


async def test_remote_outbox_fetched_once_per_interval(
    network: Any, alice: Any
) -> None:
    school, district = network
    teacher = await _remote_teacher(district, "gina", ["Gina's timetable."])
    url = await _open_profile(alice, school, f"gina@{district.host}")
    assert await _shown(alice, url, "Gina's timetable.")
    query = "SELECT outbox_fetched_at FROM accounts WHERE actor_id = $1"
    fetched_at = await school.fetchval(query, teacher.actor_id)
    await teacher.post(
        "/api/v1/statuses",
        data={"status": "Gina's later post.", "visibility": "public"},
    )
    await alice.goto(url)
    assert await school.fetchval(query, teacher.actor_id) == fetched_at
    assert (
        await alice.locator("section.feed", has_text="Gina's later post.").count() == 0
    )


async def test_remote_followers_only_post_not_fetched(network: Any, alice: Any) -> None:
    school, district = network
    teacher = await _remote_teacher(district, "hugo", [])
    await teacher.post(
        "/api/v1/statuses",
        data={"status": "Hugo's private note.", "visibility": "private"},
    )
    await teacher.post(
        "/api/v1/statuses",
        data={"status": "Hugo's public note.", "visibility": "public"},
    )
    url = await _open_profile(alice, school, f"hugo@{district.host}")
    assert await _shown(alice, url, "Hugo's public note.")
    stored = await school.fetchval(
        "SELECT count(*) FROM statuses WHERE content LIKE '%Hugo''s private note.%'"
    )
    assert stored == 0


async def _suspended_teacher(school: UiInstance, username: str, text: str) -> Any:
    """Create a teacher on the school who posts ``text`` publicly, then suspend them."""
    teacher = await school.create_teacher(username)
    status = await teacher.post(
        "/api/v1/statuses", data={"status": text, "visibility": "public"}
    )
    await school.fetchval(
        "UPDATE accounts SET suspended_at = now() WHERE id = $1 RETURNING id",
        int(teacher.account_id),
    )
    return status


async def test_suspended_profile_page_gone(network: Any, context: Any) -> None:
    school, _ = network
    await _suspended_teacher(school, "ivan", "Ivan's worksheet.")
    visitor = await context.new_page()
    response = await visitor.goto(f"{school.url}/@ivan")
    assert response.status == 410
    assert (
        await visitor.get_by_role("alert").inner_text() == "This account is suspended."
    )
    assert await visitor.get_by_text("Ivan's worksheet.").count() == 0
    assert await serious_violations(visitor) == []


@pytest.mark.parametrize(
    "path", ["/users/jane", "/users/jane/outbox", "/users/jane/followers"]
)
async def test_suspended_actor_documents_gone(
    network: Any, context: Any, path: str
) -> None:
    school, _ = network
    if await school.fetchval("SELECT 1 FROM accounts WHERE username = 'jane'") is None:
        await _suspended_teacher(school, "jane", "Jane's rubric.")
    # Playwright's request client does not use Chromium's host rules, so it
    # connects by address.
    response = await context.request.get(
        f"{school.client_url}{path}", headers=ACTIVITY_JSON
    )
    assert response.status == 410


async def test_suspended_post_hidden_from_timeline(network: Any, alice: Any) -> None:
    school, _ = network
    await _suspended_teacher(school, "karl", "Karl's lab safety poster.")
    await alice.goto(f"{school.url}/local")
    assert await alice.get_by_text("Karl's lab safety poster.").count() == 0


async def test_suspended_post_page_not_found(network: Any, context: Any) -> None:
    school, _ = network
    status = await _suspended_teacher(school, "lena", "Lena's reading list.")
    visitor = await context.new_page()
    response = await visitor.goto(f"{school.url}/statuses/{status['id']}")
    assert response.status == 404
