"""Lists through Mastodon.py and raw HTTP: CRUD, members that must be
followed, list timelines with replies policies, exclusive lists."""

from __future__ import annotations

import pytest
from mastodon import MastodonAPIError, MastodonNotFoundError

from tests.client_api.conftest import checked, client_for, raw
from tests.web.test_mastodon_py import call


async def test_list_crud_by_mastodon_py(teachers):
    (alice,) = await teachers("alice")
    api = client_for(alice)

    created = await call(api.list_create, "Maths department", replies_policy="followed")
    updated = await call(
        api.list_update, created.id, "Maths", replies_policy="none", exclusive=True
    )
    fetched = await call(api.list, created.id)
    every = await call(api.lists)
    await call(api.list_delete, created.id)

    assert created.title == "Maths department"
    assert created.replies_policy == "followed"
    assert created.exclusive is False
    assert updated.title == "Maths"
    assert fetched.replies_policy == "none"
    assert fetched.exclusive is True
    assert [item.id for item in every] == [created.id]
    with pytest.raises(MastodonNotFoundError):
        await call(api.list, created.id)


async def test_list_update_keeps_missing_fields(teachers):
    (alice,) = await teachers("alice")
    created = await checked(
        alice,
        "POST",
        "/api/v1/lists",
        "/api/v1/lists",
        json={"title": "Science", "replies_policy": "none", "exclusive": True},
    )

    changed = await checked(
        alice,
        "PUT",
        f"/api/v1/lists/{created['id']}",
        "/api/v1/lists/{id}",
        data={"title": "Physics"},
    )

    assert changed == {**created, "title": "Physics"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"title": "  "}, "Title can't be blank"),
        ({"title": "x" * 201}, "Title is over 200 characters"),
        ({"title": "Ok", "replies_policy": "everyone"}, "replies_policy must be"),
    ],
)
async def test_list_invalid_input_rejected(teachers, body, message):
    (alice,) = await teachers("alice")

    error = await checked(
        alice, "POST", "/api/v1/lists", "/api/v1/lists", 422, json=body
    )

    assert message in error["error"]


async def test_list_of_another_account_not_found(teachers):
    alice, bruno = await teachers("alice", "bruno")
    created = await checked(
        alice, "POST", "/api/v1/lists", "/api/v1/lists", json={"title": "Mine"}
    )

    read = await checked(
        bruno, "GET", f"/api/v1/lists/{created['id']}", "/api/v1/lists/{id}", 404
    )
    deleted = await checked(
        bruno, "DELETE", f"/api/v1/lists/{created['id']}", "/api/v1/lists/{id}", 404
    )
    timeline = await checked(
        bruno,
        "GET",
        f"/api/v1/timelines/list/{created['id']}",
        "/api/v1/timelines/list/{id}",
        404,
    )

    assert read == {"error": "Record not found"}
    assert deleted == {"error": "Record not found"}
    assert timeline == {"error": "Record not found"}


async def test_list_without_token_unauthorized(school):
    from tests.support.live import Teacher

    stranger = Teacher(school, "nobody", "0", "not-a-token")

    status, headers, body = await raw(stranger, "GET", "/api/v1/lists")

    assert status == 401
    assert "error" in body
    assert headers["WWW-Authenticate"].startswith("Bearer")


async def test_list_members_must_be_followed(teachers):
    alice, bruno, carla = await teachers("alice", "bruno", "carla")
    api = client_for(alice)
    created = await call(api.list_create, "Colleagues")
    await call(api.account_follow, bruno.account_id)

    await call(api.list_accounts_add, created.id, [bruno.account_id])
    with pytest.raises(MastodonAPIError) as not_followed:
        await call(api.list_accounts_add, created.id, [carla.account_id])
    with pytest.raises(MastodonAPIError) as twice:
        await call(api.list_accounts_add, created.id, [bruno.account_id])
    with pytest.raises(MastodonNotFoundError):
        await call(api.list_accounts_add, created.id, ["999999"])
    members = await call(api.list_accounts, created.id)
    containing = await call(api.account_lists, bruno.account_id)

    assert not_followed.value.args[1] == 422
    assert twice.value.args[1] == 422
    assert [member.id for member in members] == [bruno.account_id]
    assert [item.id for item in containing] == [created.id]


async def test_list_member_removed_on_unfollow(teachers):
    alice, bruno = await teachers("alice", "bruno")
    api = client_for(alice)
    created = await call(api.list_create, "Colleagues")
    await call(api.account_follow, bruno.account_id)
    await call(api.list_accounts_add, created.id, [bruno.account_id])

    await call(api.account_unfollow, bruno.account_id)

    assert await call(api.list_accounts, created.id) == []


async def test_list_members_removed_by_mastodon_py(teachers):
    alice, bruno, carla = await teachers("alice", "bruno", "carla")
    api = client_for(alice)
    created = await call(api.list_create, "Colleagues")
    for other in (bruno, carla):
        await call(api.account_follow, other.account_id)
    await call(api.list_accounts_add, created.id, [bruno.account_id, carla.account_id])

    await call(api.list_accounts_delete, created.id, [bruno.account_id])

    members = await call(api.list_accounts, created.id)
    assert [member.id for member in members] == [carla.account_id]


async def test_list_members_paged_with_link_header(teachers):
    alice, bruno, carla = await teachers("alice", "bruno", "carla")
    created = await checked(
        alice, "POST", "/api/v1/lists", "/api/v1/lists", json={"title": "All"}
    )
    for other in (bruno, carla):
        await alice.post(f"/api/v1/accounts/{other.account_id}/follow")
        await alice.post(
            f"/api/v1/lists/{created['id']}/accounts",
            json={"account_ids": [other.account_id]},
        )

    status, headers, first = await raw(
        alice, "GET", f"/api/v1/lists/{created['id']}/accounts?limit=1"
    )
    next_url = headers["Link"].split(">")[0].lstrip("<")
    query = next_url.split("?", 1)[1]
    second = await checked(
        alice,
        "GET",
        f"/api/v1/lists/{created['id']}/accounts?{query}",
        "/api/v1/lists/{id}/accounts",
    )
    everyone = await checked(
        alice,
        "GET",
        f"/api/v1/lists/{created['id']}/accounts?limit=0",
        "/api/v1/lists/{id}/accounts",
    )

    assert status == 200
    assert 'rel="next"' in headers["Link"]
    assert [item["id"] for item in first] == [carla.account_id]
    assert [item["id"] for item in second] == [bruno.account_id]
    assert len(everyone) == 2


async def test_list_timeline_shows_members_only(teachers):
    alice, bruno, carla = await teachers("alice", "bruno", "carla")
    api = client_for(alice)
    created = await call(api.list_create, "Bruno only")
    for other in (bruno, carla):
        await call(api.account_follow, other.account_id)
    await call(api.list_accounts_add, created.id, [bruno.account_id])
    from_bruno = await call(client_for(bruno).status_post, "Fractions with pizza")
    await call(client_for(carla).status_post, "Chemistry lab safety")

    timeline = await checked(
        alice,
        "GET",
        f"/api/v1/timelines/list/{created.id}",
        "/api/v1/timelines/list/{id}",
    )
    by_mastodon_py = await call(api.timeline_list, created.id)

    assert [item["id"] for item in timeline] == [str(from_bruno.id)]
    assert [item.id for item in by_mastodon_py] == [from_bruno.id]


@pytest.mark.parametrize(
    ("policy", "shown"),
    [
        ("none", {"own"}),
        ("list", {"own", "to member"}),
        ("followed", {"own", "to member", "to followed"}),
    ],
)
async def test_list_timeline_replies_policy(teachers, policy, shown):
    alice, bruno, carla, dana, erin = await teachers(
        "alice", "bruno", "carla", "dana", "erin"
    )
    created = await checked(
        alice,
        "POST",
        "/api/v1/lists",
        "/api/v1/lists",
        json={"title": "Replies", "replies_policy": policy},
    )
    for other in (bruno, carla, dana):
        await alice.post(f"/api/v1/accounts/{other.account_id}/follow")
    await alice.post(
        f"/api/v1/lists/{created['id']}/accounts",
        json={"account_ids": [bruno.account_id, carla.account_id]},
    )
    by_carla = await carla.post("/api/v1/statuses", json={"status": "Carla's question"})
    by_dana = await dana.post("/api/v1/statuses", json={"status": "Dana's question"})
    by_erin = await erin.post("/api/v1/statuses", json={"status": "Erin's question"})
    first = await bruno.post("/api/v1/statuses", json={"status": "A thread"})
    replies = {
        "own": first["id"],
        "to member": by_carla["id"],
        "to followed": by_dana["id"],
        "to stranger": by_erin["id"],
    }
    posted = {}
    for name, parent in replies.items():
        reply = await bruno.post(
            "/api/v1/statuses",
            json={"status": f"Reply {name}", "in_reply_to_id": parent},
        )
        posted[reply["id"]] = name

    timeline = await alice.get(f"/api/v1/timelines/list/{created['id']}?limit=40")

    names = {posted[item["id"]] for item in timeline if item["id"] in posted}
    assert names == shown


async def test_exclusive_list_members_leave_home(teachers):
    alice, bruno, carla = await teachers("alice", "bruno", "carla")
    created = await checked(
        alice,
        "POST",
        "/api/v1/lists",
        "/api/v1/lists",
        json={"title": "Quiet", "exclusive": True},
    )
    for other in (bruno, carla):
        await alice.post(f"/api/v1/accounts/{other.account_id}/follow")
    await alice.post(
        f"/api/v1/lists/{created['id']}/accounts",
        json={"account_ids": [bruno.account_id]},
    )
    by_bruno = await bruno.post("/api/v1/statuses", json={"status": "Only in the list"})
    by_carla = await carla.post(
        "/api/v1/statuses", json={"status": "In the home timeline"}
    )

    home = await alice.get("/api/v1/timelines/home")
    listed = await alice.get(f"/api/v1/timelines/list/{created['id']}")

    assert by_bruno["id"] not in [item["id"] for item in home]
    assert by_carla["id"] in [item["id"] for item in home]
    assert [item["id"] for item in listed] == [by_bruno["id"]]


async def test_list_timeline_link_header_pages(teachers):
    alice, bruno = await teachers("alice", "bruno")
    created = await checked(
        alice, "POST", "/api/v1/lists", "/api/v1/lists", json={"title": "Pages"}
    )
    await alice.post(f"/api/v1/accounts/{bruno.account_id}/follow")
    await alice.post(
        f"/api/v1/lists/{created['id']}/accounts",
        json={"account_ids": [bruno.account_id]},
    )
    posted = [
        (await bruno.post("/api/v1/statuses", json={"status": f"Post {n}"}))["id"]
        for n in range(3)
    ]

    status, headers, first = await raw(
        alice, "GET", f"/api/v1/timelines/list/{created['id']}?limit=2"
    )
    newer = await alice.get(
        f"/api/v1/timelines/list/{created['id']}?min_id={posted[0]}&limit=1"
    )
    older = await alice.get(
        f"/api/v1/timelines/list/{created['id']}?max_id={posted[1]}"
    )

    assert status == 200
    assert [item["id"] for item in first] == [posted[2], posted[1]]
    assert f"max_id={posted[1]}" in headers["Link"]
    assert f"min_id={posted[2]}" in headers["Link"]
    assert [item["id"] for item in newer] == [posted[1]]
    assert [item["id"] for item in older] == [posted[0]]


async def test_list_accounts_accept_json_integers(teachers):
    alice, bruno = await teachers("alice", "bruno")
    created = await checked(
        alice, "POST", "/api/v1/lists", "/api/v1/lists", json={"title": "Ints"}
    )
    await alice.post(f"/api/v1/accounts/{bruno.account_id}/follow")

    await checked(
        alice,
        "POST",
        f"/api/v1/lists/{created['id']}/accounts",
        "/api/v1/lists/{id}/accounts",
        json={"account_ids": [int(bruno.account_id)]},
    )

    members = await alice.get(f"/api/v1/lists/{created['id']}/accounts")
    assert [member["id"] for member in members] == [bruno.account_id]
