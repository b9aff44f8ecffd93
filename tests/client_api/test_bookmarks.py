"""Bookmarks and the bookmarks and favourites lists through Mastodon.py and
raw HTTP, paged by the bookmark and favourite ids."""

from __future__ import annotations

from tests.client_api.conftest import checked, client_for, raw
from tests.web.test_mastodon_py import call


async def test_bookmark_by_mastodon_py(teachers):
    alice, bruno = await teachers("alice", "bruno")
    api = client_for(alice)
    status = await call(client_for(bruno).status_post, "Worksheet on decimals")

    marked = await call(api.status_bookmark, status.id)
    listed = await call(api.bookmarks)
    unmarked = await call(api.status_unbookmark, status.id)
    after = await call(api.bookmarks)

    assert marked.bookmarked is True
    assert [item.id for item in listed] == [status.id]
    assert unmarked.bookmarked is False
    assert after == []


async def test_bookmark_shows_in_status(teachers):
    alice, bruno = await teachers("alice", "bruno")
    status = await bruno.post("/api/v1/statuses", json={"status": "Reading list"})
    await checked(
        alice,
        "POST",
        f"/api/v1/statuses/{status['id']}/bookmark",
        "/api/v1/statuses/{id}/bookmark",
    )

    seen_by_alice = await alice.get(f"/api/v1/statuses/{status['id']}")
    seen_by_bruno = await bruno.get(f"/api/v1/statuses/{status['id']}")

    assert seen_by_alice["bookmarked"] is True
    assert seen_by_bruno["bookmarked"] is False


async def test_bookmark_twice_keeps_one(teachers):
    alice, bruno = await teachers("alice", "bruno")
    status = await bruno.post("/api/v1/statuses", json={"status": "Twice"})

    for _ in range(2):
        await alice.post(f"/api/v1/statuses/{status['id']}/bookmark")

    assert len(await alice.get("/api/v1/bookmarks")) == 1


async def test_bookmark_of_unreadable_status_not_found(teachers):
    alice, bruno = await teachers("alice", "bruno")
    private = await bruno.post(
        "/api/v1/statuses", json={"status": "Followers only", "visibility": "private"}
    )

    error = await checked(
        alice,
        "POST",
        f"/api/v1/statuses/{private['id']}/bookmark",
        "/api/v1/statuses/{id}/bookmark",
        404,
    )
    missing = await checked(
        alice,
        "POST",
        "/api/v1/statuses/123/unbookmark",
        "/api/v1/statuses/{id}/unbookmark",
        404,
    )

    assert error == {"error": "Record not found"}
    assert missing == {"error": "Record not found"}


async def test_bookmarks_paged_by_bookmark_id(teachers):
    alice, bruno = await teachers("alice", "bruno")
    posted = [
        (await bruno.post("/api/v1/statuses", json={"status": f"Item {n}"}))["id"]
        for n in range(3)
    ]
    # Bookmarked in another order than posted: pages follow the bookmarks.
    for status_id in (posted[1], posted[2], posted[0]):
        await alice.post(f"/api/v1/statuses/{status_id}/bookmark")

    status, headers, first = await raw(alice, "GET", "/api/v1/bookmarks?limit=2")
    next_query = headers["Link"].split(">")[0].split("?", 1)[1]
    second = await checked(
        alice, "GET", f"/api/v1/bookmarks?{next_query}", "/api/v1/bookmarks"
    )
    api = client_for(alice)
    page = await call(api.bookmarks, limit=2)
    following = await call(api.fetch_next, page)

    assert status == 200
    assert [item["id"] for item in first] == [posted[0], posted[2]]
    assert [item["id"] for item in second] == [posted[1]]
    assert [str(item.id) for item in following] == [posted[1]]


async def test_bookmarked_status_hidden_after_block(teachers):
    alice, bruno = await teachers("alice", "bruno")
    status = await bruno.post("/api/v1/statuses", json={"status": "Soon unreadable"})
    await alice.post(f"/api/v1/statuses/{status['id']}/bookmark")

    await bruno.post(f"/api/v1/accounts/{alice.account_id}/block")

    assert await alice.get("/api/v1/bookmarks") == []


async def test_favourites_by_mastodon_py(teachers):
    alice, bruno = await teachers("alice", "bruno")
    api = client_for(alice)
    first = await call(client_for(bruno).status_post, "First")
    second = await call(client_for(bruno).status_post, "Second")
    await call(api.status_favourite, second.id)
    await call(api.status_favourite, first.id)

    favourites = await call(api.favourites)
    page = await call(api.favourites, limit=1)
    older = await call(api.fetch_next, page)
    raw_page = await checked(alice, "GET", "/api/v1/favourites", "/api/v1/favourites")

    assert [item.id for item in favourites] == [first.id, second.id]
    assert [item.id for item in page] == [first.id]
    assert [item.id for item in older] == [second.id]
    assert all(item["favourited"] for item in raw_page)


async def test_bookmarks_need_token(school):
    from tests.support.live import Teacher

    stranger = Teacher(school, "nobody", "0", "wrong")

    status, _, body = await raw(stranger, "GET", "/api/v1/bookmarks")

    assert status == 401
    assert body["error"]
