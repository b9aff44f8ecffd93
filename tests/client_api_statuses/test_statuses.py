"""Statuses through Mastodon.py against a live instance: polls, scheduled
statuses, the Idempotency-Key, edits with their history and source, and pins.

Responses read as raw JSON are also checked against web/openapi/statuses_more.yaml.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from mastodon import MastodonAPIError

from tests.client_api.conftest import client_for, raw
from tests.support.live import eventually
from tests.support.openapi import validate_response
from tests.web.test_mastodon_py import call


def _valid(path: str, method: str, status: int, body: object) -> None:
    validate_response("statuses_more", path, method, status, body)


# Polls


async def test_status_post_with_poll(teachers):
    (alice,) = await teachers("alice")
    api = client_for(alice)
    poll = await call(api.make_poll, ["red", "green", "blue"], expires_in=3600, multiple=True)

    status = await call(api.status_post, "Favourite colour?", poll=poll)

    assert status.poll is not None
    assert [option.title for option in status.poll.options] == ["red", "green", "blue"]
    assert status.poll.multiple is True
    assert status.poll.votes_count == 0
    assert status.poll.expired is False


async def test_poll_vote_counts_choices(teachers):
    alice, bob = await teachers("alice", "bob")
    poll = await call(client_for(alice).make_poll, ["yes", "no"], expires_in=3600)
    status = await call(client_for(alice).status_post, "Field trip?", poll=poll)

    voted = await call(client_for(bob).poll_vote, status.poll.id, [1])
    fetched = await checked_raw(bob, "GET", f"/api/v1/polls/{status.poll.id}")

    assert voted.voted is True
    assert voted.own_votes == [1]
    assert [option.votes_count for option in voted.options] == [0, 1]
    assert fetched["votes_count"] == 1
    assert fetched["voters_count"] == 1


async def test_poll_second_vote_rejected(teachers):
    alice, bob = await teachers("alice", "bob")
    poll = await call(client_for(alice).make_poll, ["yes", "no"], expires_in=3600)
    status = await call(client_for(alice).status_post, "Again?", poll=poll)
    await call(client_for(bob).poll_vote, status.poll.id, [0])

    status_code, _, body = await raw(
        bob, "POST", f"/api/v1/polls/{status.poll.id}/votes", json={"choices": [1]}
    )

    assert status_code == 422
    assert "already voted" in body["error"]


async def test_poll_own_vote_rejected(teachers):
    (alice,) = await teachers("alice")
    poll = await call(client_for(alice).make_poll, ["yes", "no"], expires_in=3600)
    status = await call(client_for(alice).status_post, "Mine?", poll=poll)

    with pytest.raises(MastodonAPIError) as error:
        await call(client_for(alice).poll_vote, status.poll.id, [0])

    assert error.value.args[1] == 422


async def test_poll_single_choice_rejects_two(teachers):
    alice, bob = await teachers("alice", "bob")
    poll = await call(client_for(alice).make_poll, ["a", "b"], expires_in=3600)
    status = await call(client_for(alice).status_post, "One only", poll=poll)

    status_code, _, body = await raw(
        bob, "POST", f"/api/v1/polls/{status.poll.id}/votes", json={"choices": [0, 1]}
    )

    assert status_code == 422
    assert "one choice" in body["error"]


@pytest.mark.parametrize(
    ("poll", "message"),
    [
        ({"options": ["only"], "expires_in": 3600}, "2 to 4 options"),
        ({"options": ["a", "b", "c", "d", "e"], "expires_in": 3600}, "2 to 4 options"),
        ({"options": ["a", "a"], "expires_in": 3600}, "must differ"),
        ({"options": ["a", "b"], "expires_in": 10}, "expires_in"),
        ({"options": ["a", "b"]}, "expires_in"),
        ({"options": ["x" * 51, "b"], "expires_in": 3600}, "over 50"),
    ],
)
async def test_poll_limits_rejected(teachers, poll, message):
    (alice,) = await teachers("alice")

    status_code, _, body = await raw(
        alice, "POST", "/api/v1/statuses", json={"status": "Poll", "poll": poll}
    )

    assert status_code == 422
    assert message in body["error"]


async def test_poll_hide_totals_hides_counts(teachers):
    alice, bob, carol = await teachers("alice", "bob", "carol")
    poll = await call(
        client_for(alice).make_poll, ["a", "b"], expires_in=3600, hide_totals=True
    )
    status = await call(client_for(alice).status_post, "Secret ballot", poll=poll)
    await call(client_for(bob).poll_vote, status.poll.id, [0])

    seen_by_carol = await checked_raw(carol, "GET", f"/api/v1/polls/{status.poll.id}")
    seen_by_alice = await checked_raw(alice, "GET", f"/api/v1/polls/{status.poll.id}")

    assert [o["votes_count"] for o in seen_by_carol["options"]] == [None, None]
    assert [o["votes_count"] for o in seen_by_alice["options"]] == [1, 0]


async def test_poll_served_as_question(teachers, school):
    (alice,) = await teachers("alice")
    poll = await call(client_for(alice).make_poll, ["a", "b"], expires_in=3600, multiple=True)
    status = await call(client_for(alice).status_post, "Question", poll=poll)

    code, document = await alice.request(
        "GET",
        status.uri.replace(school.url, ""),
        headers={"Accept": "application/activity+json"},
    )

    assert code == 200

    assert document["type"] == "Question"
    assert [option["name"] for option in document["anyOf"]] == ["a", "b"]
    assert "endTime" in document


async def test_poll_end_notifies_voter_and_author(teachers, school):
    alice, bob = await teachers("alice", "bob")
    poll = await call(client_for(alice).make_poll, ["a", "b"], expires_in=3600)
    status = await call(client_for(alice).status_post, "Closing soon", poll=poll)
    await call(client_for(bob).poll_vote, status.poll.id, [0])
    connection = await school.db()
    try:
        await connection.execute(
            "UPDATE polls SET expires_at = now() - interval '1 second' WHERE id = $1",
            int(status.poll.id),
        )
    finally:
        await connection.close()

    async def poll_notifications(teacher):
        return await call(client_for(teacher).notifications, types=["poll"])

    bob_seen = await eventually(lambda: poll_notifications(bob), timeout=20)
    alice_seen = await eventually(lambda: poll_notifications(alice), timeout=5)
    ended = await checked_raw(bob, "GET", f"/api/v1/polls/{status.poll.id}")

    assert [n.status.id for n in bob_seen] == [status.id]
    assert [n.status.id for n in alice_seen] == [status.id]
    assert ended["expired"] is True


async def test_poll_vote_after_end_rejected(teachers, school):
    alice, bob = await teachers("alice", "bob")
    poll = await call(client_for(alice).make_poll, ["a", "b"], expires_in=3600)
    status = await call(client_for(alice).status_post, "Ended", poll=poll)
    connection = await school.db()
    try:
        await connection.execute(
            "UPDATE polls SET expires_at = now() - interval '1 second' WHERE id = $1",
            int(status.poll.id),
        )
    finally:
        await connection.close()

    status_code, _, body = await raw(
        bob, "POST", f"/api/v1/polls/{status.poll.id}/votes", json={"choices": [0]}
    )

    assert status_code == 422
    assert "ended" in body["error"]


# Scheduled statuses


async def test_scheduled_status_stored(teachers):
    (alice,) = await teachers("alice")
    api = client_for(alice)
    when = datetime.now(UTC) + timedelta(minutes=30)

    scheduled = await call(api.status_post, "Later", scheduled_at=when)
    listed = await call(api.scheduled_statuses)
    home = await checked_raw(alice, "GET", f"/api/v1/accounts/{alice.account_id}/statuses")

    assert scheduled.params.text == "Later"
    assert [item.id for item in listed] == [scheduled.id]
    assert home == []


async def test_scheduled_status_keeps_poll(teachers):
    (alice,) = await teachers("alice")
    api = client_for(alice)
    poll = await call(api.make_poll, ["a", "b"], expires_in=600, multiple=True)

    scheduled = await call(
        api.status_post,
        "Vote later",
        poll=poll,
        scheduled_at=datetime.now(UTC) + timedelta(minutes=30),
    )
    fetched = await checked_raw(alice, "GET", f"/api/v1/scheduled_statuses/{scheduled.id}")

    assert fetched["params"]["poll"] == {
        "options": ["a", "b"],
        "expires_in": 600,
        "multiple": True,
        "hide_totals": False,
    }


async def test_scheduled_status_too_soon_rejected(teachers):
    (alice,) = await teachers("alice")
    when = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()

    status_code, _, body = await raw(
        alice, "POST", "/api/v1/statuses", json={"status": "Soon", "scheduled_at": when}
    )

    assert status_code == 422
    assert "5 minutes" in body["error"]


async def test_scheduled_status_rescheduled_and_deleted(teachers):
    (alice,) = await teachers("alice")
    api = client_for(alice)
    scheduled = await call(
        api.status_post, "Move me", scheduled_at=datetime.now(UTC) + timedelta(hours=1)
    )
    later = datetime.now(UTC) + timedelta(hours=2)

    moved = await call(api.scheduled_status_update, scheduled.id, later)
    await call(api.scheduled_status_delete, scheduled.id)
    status_code, _, _ = await raw(alice, "GET", f"/api/v1/scheduled_statuses/{scheduled.id}")

    assert abs(moved.scheduled_at - later) < timedelta(seconds=1)
    assert status_code == 404


async def test_scheduled_status_published_when_due(teachers, school):
    (alice,) = await teachers("alice")
    scheduled = await call(
        client_for(alice).status_post,
        "Published by the worker",
        scheduled_at=datetime.now(UTC) + timedelta(minutes=10),
    )
    connection = await school.db()
    try:
        await connection.execute(
            "UPDATE scheduled_statuses SET scheduled_at = now() - interval '1 second'"
            " WHERE id = $1",
            int(scheduled.id),
        )
    finally:
        await connection.close()

    async def published():
        return await alice.get(f"/api/v1/accounts/{alice.account_id}/statuses")

    posted = await eventually(published, timeout=20)
    remaining = await alice.get("/api/v1/scheduled_statuses")

    assert [item["content"] for item in posted] == ["<p>Published by the worker</p>"]
    assert remaining == []


# Idempotency-Key


async def test_idempotency_key_returns_same_status(teachers):
    (alice,) = await teachers("alice")
    api = client_for(alice)

    first = await call(api.status_post, "Once", idempotency_key="key-1")
    second = await call(api.status_post, "Once", idempotency_key="key-1")
    posted = await alice.get(f"/api/v1/accounts/{alice.account_id}/statuses")

    assert second.id == first.id
    assert len(posted) == 1


async def test_idempotency_key_per_account(teachers):
    alice, bob = await teachers("alice", "bob")

    first = await call(client_for(alice).status_post, "Alice", idempotency_key="shared")
    second = await call(client_for(bob).status_post, "Bob", idempotency_key="shared")

    assert second.id != first.id


async def test_idempotency_key_released_after_error(teachers):
    (alice,) = await teachers("alice")
    headers = {"Idempotency-Key": "retry-me"}

    rejected, _, _ = await raw(
        alice, "POST", "/api/v1/statuses", json={"status": ""}, headers=headers
    )
    accepted, _, body = await raw(
        alice, "POST", "/api/v1/statuses", json={"status": "Fixed"}, headers=headers
    )

    assert rejected == 422
    assert accepted == 200
    assert body["content"] == "<p>Fixed</p>"


# Edits, history and source


async def test_status_update_keeps_history(teachers):
    (alice,) = await teachers("alice")
    api = client_for(alice)
    status = await call(api.status_post, "First draft")

    edited = await call(api.status_update, status.id, "Second draft", spoiler_text="cw")
    history = await checked_raw(alice, "GET", f"/api/v1/statuses/{status.id}/history")

    assert edited.content == "<p>Second draft</p>"
    assert edited.edited_at is not None
    assert [item["content"] for item in history] == [
        "<p>First draft</p>",
        "<p>Second draft</p>",
    ]
    assert history[1]["spoiler_text"] == "cw"


async def test_status_history_unedited_has_one_version(teachers):
    (alice,) = await teachers("alice")
    status = await call(client_for(alice).status_post, "Never edited")

    history = await call(client_for(alice).status_history, status.id)

    assert len(history) == 1


async def test_status_source_returns_text(teachers):
    (alice,) = await teachers("alice")
    status = await call(client_for(alice).status_post, "Plain #text", spoiler_text="cw")

    source = await checked_raw(alice, "GET", f"/api/v1/statuses/{status.id}/source")

    assert source == {"id": status.id, "text": "Plain #text", "spoiler_text": "cw"}


async def test_status_update_of_other_account_forbidden(teachers):
    alice, bob = await teachers("alice", "bob")
    status = await call(client_for(alice).status_post, "Mine")

    status_code, _, _ = await raw(
        bob, "PUT", f"/api/v1/statuses/{status.id}", json={"status": "Yours"}
    )

    assert status_code == 403


async def test_status_update_poll_options_reset_votes(teachers):
    alice, bob = await teachers("alice", "bob")
    api = client_for(alice)
    poll = await call(api.make_poll, ["a", "b"], expires_in=3600)
    status = await call(api.status_post, "Vote", poll=poll)
    await call(client_for(bob).poll_vote, status.poll.id, [0])

    new_poll = await call(api.make_poll, ["a", "b", "c"], expires_in=3600)
    edited = await call(api.status_update, status.id, "Vote again", poll=new_poll)

    assert [option.title for option in edited.poll.options] == ["a", "b", "c"]
    assert edited.poll.votes_count == 0


async def test_delete_returns_text_for_redraft(teachers):
    (alice,) = await teachers("alice")
    status = await call(client_for(alice).status_post, "Redraft *me*")

    deleted = await call(client_for(alice).status_delete, status.id)

    assert deleted.text == "Redraft *me*"


# Pins


async def test_pins_listed_and_limited(teachers):
    (alice,) = await teachers("alice")
    api = client_for(alice)
    posts = [await call(api.status_post, f"Post {n}") for n in range(6)]

    for post in posts[:5]:
        await call(api.status_pin, post.id)
    status_code, _, body = await raw(alice, "POST", f"/api/v1/statuses/{posts[5].id}/pin")
    pinned = await call(api.account_statuses, alice.account_id, pinned=True)

    assert status_code == 422
    assert "maximum" in body["error"]
    assert sorted(item.id for item in pinned) == sorted(post.id for post in posts[:5])
    assert all(item.pinned for item in pinned)


async def test_deleted_pin_frees_a_place(teachers):
    (alice,) = await teachers("alice")
    api = client_for(alice)
    posts = [await call(api.status_post, f"Post {n}") for n in range(6)]
    for post in posts[:5]:
        await call(api.status_pin, post.id)

    await call(api.status_delete, posts[0].id)
    pinned = await call(api.status_pin, posts[5].id)

    assert pinned.pinned is True


async def test_unpin_removes_from_pinned(teachers):
    (alice,) = await teachers("alice")
    api = client_for(alice)
    status = await call(api.status_post, "Pin and unpin")
    await call(api.status_pin, status.id)

    unpinned = await call(api.status_unpin, status.id)
    pinned = await call(api.account_statuses, alice.account_id, pinned=True)

    assert unpinned.pinned is False
    assert list(pinned) == []


async def test_pin_of_other_account_rejected(teachers):
    alice, bob = await teachers("alice", "bob")
    status = await call(client_for(alice).status_post, "Not yours")

    status_code, _, _ = await raw(bob, "POST", f"/api/v1/statuses/{status.id}/pin")

    assert status_code == 422


async def test_featured_collection_lists_pins(teachers, school):
    (alice,) = await teachers("alice")
    api = client_for(alice)
    status = await call(api.status_post, "Featured")
    await call(api.status_pin, status.id)

    code, collection = await alice.request(
        "GET",
        f"/users/{alice.username}/collections/featured",
        headers={"Accept": "application/activity+json"},
    )
    actor_code, actor = await alice.request(
        "GET", f"/users/{alice.username}", headers={"Accept": "application/activity+json"}
    )

    assert code == 200
    assert actor_code == 200
    assert actor["featured"] == f"{alice.actor_id}/collections/featured"

    assert collection["totalItems"] == 1
    assert collection["orderedItems"][0]["id"] == status.uri


# Account statuses filters


async def test_account_statuses_tagged_and_only_media(teachers):
    (alice,) = await teachers("alice")
    api = client_for(alice)
    tagged = await call(api.status_post, "About #fractions")
    await call(api.status_post, "About nothing")

    found = await call(api.account_statuses, alice.account_id, tagged="fractions")
    with_media = await call(api.account_statuses, alice.account_id, only_media=True)

    assert [item.id for item in found] == [tagged.id]
    assert list(with_media) == []


async def checked_raw(teacher, method: str, path: str) -> object:
    """Request ``path`` and validate the JSON against the documented schema."""
    status_code, headers, body = await raw(teacher, method, path)
    assert status_code == 200, f"{method} {path} answered {status_code}: {body}"
    template = path
    for prefix, name in (
        ("/api/v1/polls/", "/api/v1/polls/{id}"),
        ("/api/v1/scheduled_statuses/", "/api/v1/scheduled_statuses/{id}"),
    ):
        if path.startswith(prefix):
            template = name
    if path.startswith("/api/v1/statuses/") and path.endswith("/history"):
        template = "/api/v1/statuses/{id}/history"
    if path.startswith("/api/v1/statuses/") and path.endswith("/source"):
        template = "/api/v1/statuses/{id}/source"
    if path.startswith("/api/v1/accounts/") and path.endswith("/statuses"):
        return body
    _valid(template, method, status_code, body)
    return body
