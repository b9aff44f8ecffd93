"""Direct conversations through Mastodon.py and raw HTTP: threads, unread
state, reading, removing, and paging by the last status."""

from __future__ import annotations

from tests.client_api.conftest import checked, client_for, raw
from tests.web.test_mastodon_py import call


async def _direct(author, text, *, reply_to=None):
    body = {"status": text, "visibility": "direct"}
    if reply_to is not None:
        body["in_reply_to_id"] = reply_to
    return await author.post("/api/v1/statuses", json=body)


async def test_conversation_listed_for_both_sides(teachers):
    alice, bruno, carla = await teachers("alice", "bruno", "carla")
    first = await _direct(alice, f"@{bruno.username} @{carla.username} Planning day?")
    answer = await _direct(
        bruno, f"@{alice.username} Thursday works", reply_to=first["id"]
    )

    (of_alice,) = await call(client_for(alice).conversations)
    of_bruno = await checked(
        bruno, "GET", "/api/v1/conversations", "/api/v1/conversations"
    )

    assert str(of_alice.id) == first["id"]
    assert str(of_alice.last_status.id) == answer["id"]
    assert of_alice.unread is True
    assert sorted(account.acct for account in of_alice.accounts) == sorted(
        [bruno.username, carla.username]
    )
    assert [item["id"] for item in of_bruno] == [first["id"]]
    # Bruno wrote the last status, so nothing is unread for him.
    assert of_bruno[0]["unread"] is False


async def test_conversation_read_by_mastodon_py(teachers):
    alice, bruno = await teachers("alice", "bruno")
    first = await _direct(bruno, f"@{alice.username} Can you cover period 3?")
    api = client_for(alice)

    read = await call(api.conversations_read, first["id"])
    listed = await call(api.conversations)
    await _direct(bruno, f"@{alice.username} Thanks!", reply_to=first["id"])
    again = await call(api.conversations)

    assert read.unread is False
    assert listed[0].unread is False
    assert again[0].unread is True


async def test_conversation_removed_until_new_status(teachers):
    alice, bruno = await teachers("alice", "bruno")
    first = await _direct(bruno, f"@{alice.username} Old thread")

    removed = await checked(
        alice,
        "DELETE",
        f"/api/v1/conversations/{first['id']}",
        "/api/v1/conversations/{id}",
    )
    after_removal = await alice.get("/api/v1/conversations")
    reply = await _direct(bruno, f"@{alice.username} Reviving it", reply_to=first["id"])
    revived = await alice.get("/api/v1/conversations")

    assert removed == {}
    assert after_removal == []
    assert [item["last_status"]["id"] for item in revived] == [reply["id"]]


async def test_conversation_excludes_other_visibilities(teachers):
    alice, bruno = await teachers("alice", "bruno")
    await bruno.post(
        "/api/v1/statuses", json={"status": f"@{alice.username} public mention"}
    )

    assert await alice.get("/api/v1/conversations") == []


async def test_conversation_of_others_not_found(teachers):
    alice, bruno, carla = await teachers("alice", "bruno", "carla")
    first = await _direct(alice, f"@{bruno.username} Just us")

    read = await checked(
        carla,
        "POST",
        f"/api/v1/conversations/{first['id']}/read",
        "/api/v1/conversations/{id}/read",
        404,
    )
    removed = await checked(
        carla,
        "DELETE",
        f"/api/v1/conversations/{first['id']}",
        "/api/v1/conversations/{id}",
        404,
    )

    assert read == {"error": "Record not found"}
    assert removed == {"error": "Record not found"}


async def test_conversations_paged_with_link_header(teachers):
    alice, bruno, carla = await teachers("alice", "bruno", "carla")
    older = await _direct(bruno, f"@{alice.username} First thread")
    newer = await _direct(carla, f"@{alice.username} Second thread")

    status, headers, first_page = await raw(
        alice, "GET", "/api/v1/conversations?limit=1"
    )
    next_query = headers["Link"].split(">")[0].split("?", 1)[1]
    second_page = await alice.get(f"/api/v1/conversations?{next_query}")
    since = await alice.get(f"/api/v1/conversations?since_id={older['id']}")

    assert status == 200
    assert [item["id"] for item in first_page] == [newer["id"]]
    assert [item["id"] for item in second_page] == [older["id"]]
    assert [item["id"] for item in since] == [newer["id"]]
