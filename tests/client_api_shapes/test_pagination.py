"""Link-header pagination of every list endpoint that Mastodon pages.

Each test seeds more items than one page holds, walks the ``next`` links
with a small ``limit``, and checks that the walk returns every item once in
the order of a single large page. It then follows the ``prev`` link of the
third page back to the second page. ``limit`` is clamped as in Mastodon 4.3:
20 by default and at most 40 for statuses, 40 and 80 for accounts.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from tests.client_api_shapes.conftest import GROUPS
from tests.support.live import LiveInstance, Teacher, eventually

# Items seeded per endpoint and the page size of the walk: five items in
# pages of two make three pages, the last one short.
SEEDED = 5
WALK_LIMIT = 2
# Upper bound on the pages one walk follows, so a link loop fails the test.
MAX_PAGES = 30


async def get_page(teacher: Teacher, url: str) -> tuple[list[Any], dict[str, str]]:
    """GET one page; return its items and its Link header's URLs by rel."""
    instance = teacher.instance
    if url.startswith(instance.url):
        url = instance.client_url + url[len(instance.url) :]
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            url,
            headers={"Authorization": f"Bearer {teacher.token}"},
            ssl=instance.ssl_context(),
        ) as response,
    ):
        body = await response.json(content_type=None)
        assert response.status == 200, f"GET {url} answered {response.status}: {body}"
        links = {
            str(link.get("rel")): str(link["url"]) for link in response.links.values()
        }
        return body, links


def item_ids(items: list[Any]) -> list[str]:
    return [str(item["id"]) for item in items]


def with_query(path: str, **params: Any) -> str:
    separator = "&" if "?" in path else "?"
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"{path}{separator}{query}"


async def walk(teacher: Teacher, path: str) -> list[list[str]]:
    """Follow ``next`` links from the first page; return the ids of each page."""
    url = teacher.instance.client_url + with_query(path, limit=WALK_LIMIT)
    pages = []
    for _ in range(MAX_PAGES):
        items, links = await get_page(teacher, url)
        if not items:
            break
        pages.append(item_ids(items))
        if "next" not in links:
            break
        url = links["next"]
    else:
        raise AssertionError(f"{path} still had a next link after {MAX_PAGES} pages")
    return pages


async def check_pagination(
    teacher: Teacher, path: str, seeded: list[str], max_limit: int = 40
) -> None:
    """Walk ``path`` and check it against one page of ``max_limit`` items."""
    whole, _ = await get_page(
        teacher, teacher.instance.client_url + with_query(path, limit=max_limit)
    )
    pages = await walk(teacher, path)
    walked = [item for page in pages for item in page]

    assert len(walked) == len(set(walked)), f"{path} repeated items: {walked}"
    assert walked == item_ids(whole), f"{path} walk differs from one page"
    assert set(seeded) <= set(walked), f"{path} left out seeded items"
    assert all(len(page) == WALK_LIMIT for page in pages[:-1])

    # The prev link of the third page must lead to the second page, not to
    # the newest items, which the first page already returned.
    _, links = await get_page(
        teacher, teacher.instance.client_url + with_query(path, limit=WALK_LIMIT)
    )
    _, second_links = await get_page(teacher, links["next"])
    _, third_links = await get_page(teacher, second_links["next"])
    back, _ = await get_page(teacher, third_links["prev"])
    assert "max_id" in parse_qs(urlsplit(links["next"]).query)
    assert "min_id" in parse_qs(urlsplit(third_links["prev"]).query)
    assert item_ids(back) == pages[1], f"{path} prev link missed the second page"


async def post_statuses(
    teacher: Teacher, count: int, text: str, **extra: Any
) -> list[str]:
    ids = []
    for number in range(count):
        body = await teacher.post(
            "/api/v1/statuses", data={"status": f"{text} {number}", **extra}
        )
        ids.append(body["id"])
    return ids


async def follow(follower: Teacher, target: Teacher) -> None:
    await follower.post(f"/api/v1/accounts/{target.account_id}/follow")


# Timelines


async def test_home_timeline_pages(teachers) -> None:
    author, reader = await teachers("pghomeauthor", "pghomereader")
    await follow(reader, author)
    seeded = await post_statuses(author, SEEDED, "home page")

    await check_pagination(reader, "/api/v1/timelines/home", seeded)


async def test_public_timeline_pages(teachers) -> None:
    (author,) = await teachers("pgpublic")
    seeded = await post_statuses(author, SEEDED, "public page")

    await check_pagination(author, "/api/v1/timelines/public", seeded)
    await check_pagination(author, "/api/v1/timelines/public?local=true", seeded)


async def test_tag_timeline_pages(teachers) -> None:
    (author,) = await teachers("pgtag")
    seeded = await post_statuses(author, SEEDED, "#pagedtag")

    await check_pagination(author, "/api/v1/timelines/tag/pagedtag", seeded)


async def test_list_timeline_pages(teachers) -> None:
    author, reader = await teachers("pglistauthor", "pglistreader")
    await follow(reader, author)
    created = await reader.post("/api/v1/lists", data={"title": "Paged"})
    await reader.post(
        f"/api/v1/lists/{created['id']}/accounts",
        data={"account_ids[]": author.account_id},
    )
    seeded = await post_statuses(author, SEEDED, "list page")

    await check_pagination(reader, f"/api/v1/timelines/list/{created['id']}", seeded)


# Accounts and their statuses


async def test_account_statuses_pages(teachers) -> None:
    (author,) = await teachers("pgauthor")
    seeded = await post_statuses(author, SEEDED, "account page")

    await check_pagination(
        author, f"/api/v1/accounts/{author.account_id}/statuses", seeded
    )


async def test_followers_following_pages(teachers) -> None:
    (target,) = await teachers("pgfollowed")
    others = await teachers(*["pgfollower"] * SEEDED)
    for other in others:
        await follow(other, target)
        await follow(target, other)
    seeded = [other.account_id for other in others]

    await check_pagination(
        target, f"/api/v1/accounts/{target.account_id}/followers", seeded, 80
    )
    await check_pagination(
        target, f"/api/v1/accounts/{target.account_id}/following", seeded, 80
    )


async def test_follow_requests_pages(school: LiveInstance, teachers) -> None:
    locked = await school.create_teacher("pglocked", approve_followers=True)
    others = await teachers(*["pgrequester"] * SEEDED)
    for other in others:
        await follow(other, locked)
    seeded = [other.account_id for other in others]

    await check_pagination(locked, "/api/v1/follow_requests", seeded, 80)


async def test_blocks_mutes_pages(teachers) -> None:
    (owner,) = await teachers("pgblocker")
    others = await teachers(*["pgblocked"] * SEEDED)
    for other in others:
        await owner.post(f"/api/v1/accounts/{other.account_id}/block")
        await owner.post(f"/api/v1/accounts/{other.account_id}/mute")
    seeded = [other.account_id for other in others]

    await check_pagination(owner, "/api/v1/blocks", seeded, 80)
    await check_pagination(owner, "/api/v1/mutes", seeded, 80)


async def test_list_accounts_pages(teachers) -> None:
    (owner,) = await teachers("pglistowner")
    others = await teachers(*["pglistmember"] * SEEDED)
    created = await owner.post("/api/v1/lists", data={"title": "Members"})
    for other in others:
        await follow(owner, other)
        await owner.post(
            f"/api/v1/lists/{created['id']}/accounts",
            data={"account_ids[]": other.account_id},
        )
    seeded = [other.account_id for other in others]

    await check_pagination(owner, f"/api/v1/lists/{created['id']}/accounts", seeded, 80)


async def test_group_members_pages(teachers) -> None:
    (owner,) = await teachers("pggroupowner")
    others = await teachers(*["pggroupmember"] * SEEDED)
    group = await owner.post(GROUPS, json={"name": "pagedgroup"})
    for other in others:
        await other.post(f"{GROUPS}/{group['id']}/join")
    seeded = [other.account_id for other in others]

    await check_pagination(owner, f"{GROUPS}/{group['id']}/members", seeded, 80)


# Statuses marked by the viewer


async def test_bookmarks_favourites_pages(teachers) -> None:
    author, reader = await teachers("pgmarkauthor", "pgmarkreader")
    seeded = await post_statuses(author, SEEDED, "marked page")
    for status_id in seeded:
        await reader.post(f"/api/v1/statuses/{status_id}/bookmark")
        await reader.post(f"/api/v1/statuses/{status_id}/favourite")

    await check_pagination(reader, "/api/v1/bookmarks", seeded)
    await check_pagination(reader, "/api/v1/favourites", seeded)


async def test_favourited_reblogged_by_pages(teachers) -> None:
    (author,) = await teachers("pgpopular")
    others = await teachers(*["pgfan"] * SEEDED)
    (status_id,) = await post_statuses(author, 1, "popular page")
    for other in others:
        await other.post(f"/api/v1/statuses/{status_id}/favourite")
        await other.post(f"/api/v1/statuses/{status_id}/reblog")
    seeded = [other.account_id for other in others]

    await check_pagination(
        author, f"/api/v1/statuses/{status_id}/favourited_by", seeded, 80
    )
    await check_pagination(
        author, f"/api/v1/statuses/{status_id}/reblogged_by", seeded, 80
    )


# Notifications and conversations


async def test_notifications_pages(school: LiveInstance, teachers) -> None:
    author, reader = await teachers("pgmentioner", "pgmentioned")
    await post_statuses(author, SEEDED, f"@{reader.username} notification page")

    async def delivered() -> bool:
        _, body = await reader.request("GET", "/api/v1/notifications")
        return len(body) >= SEEDED

    assert await eventually(delivered), "the mentions never became notifications"
    items, _ = await get_page(reader, school.client_url + "/api/v1/notifications")
    await check_pagination(reader, "/api/v1/notifications", item_ids(items))


async def test_conversations_pages(school: LiveInstance, teachers) -> None:
    (sender,) = await teachers("pgsender")
    others = await teachers(*["pgrecipient"] * SEEDED)
    for other in others:
        await sender.post(
            "/api/v1/statuses",
            data={"status": f"@{other.username} private page", "visibility": "direct"},
        )
    items, _ = await get_page(sender, school.client_url + "/api/v1/conversations")

    assert len(items) == SEEDED
    await check_pagination(sender, "/api/v1/conversations", item_ids(items))


# Limits


async def test_status_limit_clamped(school: LiveInstance, teachers) -> None:
    (author,) = await teachers("pgclamp")
    # Posted in concurrent batches of 10, which keeps the test short.
    for start in range(0, 41, 10):
        await asyncio.gather(
            *(
                author.post("/api/v1/statuses", data={"status": f"clamp {n}"})
                for n in range(start, min(start + 10, 41))
            )
        )
    path = f"{school.client_url}/api/v1/accounts/{author.account_id}/statuses"

    default, _ = await get_page(author, path)
    clamped, _ = await get_page(author, path + "?limit=1000")

    assert len(default) == 20
    assert len(clamped) == 40


@pytest.fixture(scope="module")
async def popular(school: LiveInstance) -> Teacher:
    """A teacher with 81 followers, one more than the largest account page."""
    target = await school.create_teacher("pgcrowded")
    followers = [await school.create_teacher(f"pgcrowd{n}") for n in range(81)]
    for start in range(0, 81, 10):
        await asyncio.gather(
            *(follow(follower, target) for follower in followers[start : start + 10])
        )
    return target


async def test_account_limit_clamped(school: LiveInstance, popular: Teacher) -> None:
    path = f"{school.client_url}/api/v1/accounts/{popular.account_id}/followers"

    default, _ = await get_page(popular, path)
    clamped, _ = await get_page(popular, path + "?limit=1000")

    assert len(default) == 40
    assert len(clamped) == 80


# Search, paged by offset


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/api/v2/search?type=accounts&q=pgfound", "accounts"),
        ("/api/v1/accounts/search?q=pgfound", None),
    ],
)
async def test_account_search_offset_pages(
    school: LiveInstance, teachers, path: str, key: str | None
) -> None:
    (searcher,) = await teachers("pgsearcher")
    await teachers(*["pgfound"] * SEEDED)
    whole, _ = await get_page(searcher, f"{school.client_url}{path}&limit=40")
    whole = whole[key] if key else whole

    walked: list[str] = []
    for offset in range(0, len(whole) + WALK_LIMIT, WALK_LIMIT):
        page, _ = await get_page(
            searcher, f"{school.client_url}{path}&limit={WALK_LIMIT}&offset={offset}"
        )
        walked += item_ids(page[key] if key else page)

    assert len(whole) >= SEEDED
    assert walked == item_ids(whole)
