"""Filters v2 through Mastodon.py and raw HTTP: CRUD with keywords and
statuses, the ``filtered`` field in each context, hide filters, and the
legacy v1 list."""

from __future__ import annotations

import pytest
from mastodon import MastodonNotFoundError

from tests.client_api.conftest import checked, client_for
from tests.support.openapi import validate_response
from tests.web.test_mastodon_py import call


async def _follows(follower, *others):
    for other in others:
        await follower.post(f"/api/v1/accounts/{other.account_id}/follow")


async def test_filter_crud_by_mastodon_py(teachers):
    (alice,) = await teachers("alice")
    api = client_for(alice)

    created = await call(
        api.create_filter_v2,
        "Spoilers",
        ["home", "public"],
        "warn",
        keywords_attributes=[{"keyword": "finale", "whole_word": True}],
    )
    listed = await call(api.filters_v2)
    changed = await call(
        api.update_filter_v2,
        created.id,
        title="Show spoilers",
        filter_action="hide",
        keywords_attributes=[
            {"id": created.keywords[0].id, "_destroy": True},
            {"keyword": "season", "whole_word": False},
        ],
    )
    added = await call(
        api.add_filter_keyword_v2, created.id, "episode", whole_word=True
    )
    keywords = await call(api.filter_keywords_v2, created.id)
    await call(api.delete_filter_keyword_v2, added.id)
    after_delete = await call(api.filter_v2, created.id)
    await call(api.delete_filter_v2, created.id)

    assert created.title == "Spoilers"
    assert sorted(created.context) == ["home", "public"]
    assert created.filter_action == "warn"
    assert [item.keyword for item in created.keywords] == ["finale"]
    assert [item.id for item in listed] == [created.id]
    assert changed.title == "Show spoilers"
    assert changed.filter_action == "hide"
    assert [(k.keyword, k.whole_word) for k in changed.keywords] == [("season", False)]
    assert sorted(item.keyword for item in keywords) == ["episode", "season"]
    assert [item.keyword for item in after_delete.keywords] == ["season"]
    with pytest.raises(MastodonNotFoundError):
        await call(api.filter_v2, created.id)


async def test_filter_created_from_form_body(teachers):
    (alice,) = await teachers("alice")

    created = await checked(
        alice,
        "POST",
        "/api/v2/filters",
        "/api/v2/filters",
        data=[
            ("title", "Grading"),
            ("context[]", "home"),
            ("context[]", "thread"),
            ("filter_action", "warn"),
            ("expires_in", "3600"),
            ("keywords_attributes[][keyword]", "rubric"),
            ("keywords_attributes[][whole_word]", "false"),
            ("keywords_attributes[][keyword]", "report card"),
        ],
    )

    assert created["context"] == ["home", "thread"]
    assert created["expires_at"] is not None
    assert [(k["keyword"], k["whole_word"]) for k in created["keywords"]] == [
        ("rubric", False),
        ("report card", True),
    ]


async def test_filter_update_clears_expiry(teachers):
    (alice,) = await teachers("alice")
    created = await checked(
        alice,
        "POST",
        "/api/v2/filters",
        "/api/v2/filters",
        json={"title": "Soon", "context": ["home"], "expires_in": 600},
    )

    changed = await checked(
        alice,
        "PUT",
        f"/api/v2/filters/{created['id']}",
        "/api/v2/filters/{id}",
        json={"expires_in": ""},
    )

    assert created["expires_at"] is not None
    assert changed["expires_at"] is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"title": "", "context": ["home"]}, "Title can't be blank"),
        ({"title": "T", "context": []}, "Choose at least one context"),
        ({"title": "T", "context": ["inbox"]}, "Invalid context 'inbox'"),
        (
            {"title": "T", "context": ["home"], "filter_action": "blur"},
            "Invalid filter action",
        ),
        (
            {"title": "T", "context": ["home"], "expires_in": "soon"},
            "expires_in must be",
        ),
        (
            {
                "title": "T",
                "context": ["home"],
                "keywords_attributes": [{"keyword": " "}],
            },
            "Keyword can't be blank",
        ),
    ],
)
async def test_filter_invalid_input_rejected(teachers, body, message):
    (alice,) = await teachers("alice")

    error = await checked(
        alice, "POST", "/api/v2/filters", "/api/v2/filters", 422, json=body
    )

    assert message in error["error"]


async def test_filter_of_another_account_not_found(teachers):
    alice, bruno = await teachers("alice", "bruno")
    created = await checked(
        alice,
        "POST",
        "/api/v2/filters",
        "/api/v2/filters",
        json={
            "title": "Mine",
            "context": ["home"],
            "keywords_attributes": [{"keyword": "a"}],
        },
    )
    keyword_id = created["keywords"][0]["id"]

    read = await checked(
        bruno, "GET", f"/api/v2/filters/{created['id']}", "/api/v2/filters/{id}", 404
    )
    changed = await checked(
        bruno,
        "PUT",
        f"/api/v2/filters/{created['id']}",
        "/api/v2/filters/{id}",
        404,
        json={"title": "Theirs"},
    )
    keyword = await checked(
        bruno,
        "DELETE",
        f"/api/v2/filters/keywords/{keyword_id}",
        "/api/v2/filters/keywords/{id}",
        404,
    )

    assert read["error"] == "Record not found"
    assert changed["error"] == "Record not found"
    assert keyword["error"] == "Record not found"


async def test_filter_warn_marks_home_status(teachers):
    alice, bruno = await teachers("alice", "bruno")
    await _follows(alice, bruno)
    created = await checked(
        alice,
        "POST",
        "/api/v2/filters",
        "/api/v2/filters",
        json={
            "title": "Exams",
            "context": ["home"],
            "keywords_attributes": [{"keyword": "exam"}, {"keyword": "quiz"}],
        },
    )
    matching = await bruno.post(
        "/api/v1/statuses", json={"status": "The Exam is on Friday"}
    )
    other = await bruno.post(
        "/api/v1/statuses", json={"status": "Field trip on Monday"}
    )

    home = await alice.get("/api/v1/timelines/home")
    # Every status list of the client API shares the Statuses response schema.
    validate_response("client", "/api/v1/bookmarks", "GET", 200, home)
    by_id = {item["id"]: item for item in home}

    (result,) = by_id[matching["id"]]["filtered"]
    assert result["filter"]["id"] == created["id"]
    assert result["keyword_matches"] == ["exam"]
    assert result["status_matches"] is None
    assert by_id[other["id"]]["filtered"] == []


async def test_filter_hide_drops_status(teachers):
    alice, bruno = await teachers("alice", "bruno")
    await _follows(alice, bruno)
    await checked(
        alice,
        "POST",
        "/api/v2/filters",
        "/api/v2/filters",
        json={
            "title": "Politics",
            "context": ["home"],
            "filter_action": "hide",
            "keywords_attributes": [{"keyword": "election"}],
        },
    )
    hidden = await bruno.post(
        "/api/v1/statuses", json={"status": "School board election"}
    )
    shown = await bruno.post("/api/v1/statuses", json={"status": "Lesson on volcanoes"})

    home = await alice.get("/api/v1/timelines/home")
    public = await alice.get("/api/v1/timelines/public")

    assert hidden["id"] not in [item["id"] for item in home]
    assert shown["id"] in [item["id"] for item in home]
    # The filter covers the home context only.
    assert hidden["id"] in [item["id"] for item in public]


async def test_filter_status_match_and_crud(teachers):
    alice, bruno = await teachers("alice", "bruno")
    await _follows(alice, bruno)
    api = client_for(alice)
    created = await checked(
        alice,
        "POST",
        "/api/v2/filters",
        "/api/v2/filters",
        json={"title": "This one", "context": ["home", "account"]},
    )
    target = await bruno.post("/api/v1/statuses", json={"status": "Nothing to match"})

    entry = await call(api.add_filter_status_v2, created["id"], target["id"])
    fetched = await call(api.filter_status_v2, entry.id)
    listed = await call(api.filter_statuses_v2, created["id"])
    again = await checked(
        alice,
        "POST",
        f"/api/v2/filters/{created['id']}/statuses",
        "/api/v2/filters/{id}/statuses",
        422,
        json={"status_id": target["id"]},
    )
    profile = await alice.get(f"/api/v1/accounts/{bruno.account_id}/statuses")
    validate_response("client", "/api/v1/bookmarks", "GET", 200, profile)
    await checked(
        alice,
        "DELETE",
        f"/api/v2/filters/statuses/{entry.id}",
        "/api/v2/filters/statuses/{id}",
    )
    after = await alice.get(f"/api/v1/accounts/{bruno.account_id}/statuses")

    assert str(fetched.status_id) == target["id"]
    assert [item.id for item in listed] == [entry.id]
    assert "already" in again["error"]
    (result,) = profile[0]["filtered"]
    assert result["status_matches"] == [target["id"]]
    assert result["keyword_matches"] is None
    assert after[0]["filtered"] == []


async def test_filter_marks_notification_and_thread(teachers):
    alice, bruno = await teachers("alice", "bruno")
    await checked(
        alice,
        "POST",
        "/api/v2/filters",
        "/api/v2/filters",
        json={
            "title": "Staff room",
            "context": ["notifications", "thread"],
            "keywords_attributes": [{"keyword": "gossip"}],
        },
    )
    first = await alice.post("/api/v1/statuses", json={"status": "Staff meeting notes"})
    reply = await bruno.post(
        "/api/v1/statuses",
        json={
            "status": f"@{alice.username} some gossip",
            "in_reply_to_id": first["id"],
        },
    )

    notifications = await alice.get("/api/v1/notifications?types[]=mention")
    context = await alice.get(f"/api/v1/statuses/{first['id']}/context")

    mention = next(
        item for item in notifications if item["status"]["id"] == reply["id"]
    )
    assert mention["status"]["filtered"][0]["keyword_matches"] == ["gossip"]
    assert context["descendants"][0]["filtered"][0]["keyword_matches"] == ["gossip"]


async def test_filter_v1_lists_keywords(teachers):
    (alice,) = await teachers("alice")
    created = await checked(
        alice,
        "POST",
        "/api/v2/filters",
        "/api/v2/filters",
        json={
            "title": "Two words",
            "context": ["public"],
            "filter_action": "hide",
            "keywords_attributes": [
                {"keyword": "alpha"},
                {"keyword": "beta", "whole_word": False},
            ],
        },
    )

    legacy = await checked(alice, "GET", "/api/v1/filters", "/api/v1/filters")
    one = await checked(
        alice,
        "GET",
        f"/api/v1/filters/{created['keywords'][1]['id']}",
        "/api/v1/filters/{id}",
    )
    by_mastodon_py = await call(client_for(alice).filters)

    assert [item["phrase"] for item in legacy] == ["alpha", "beta"]
    assert all(item["irreversible"] for item in legacy)
    assert one["whole_word"] is False
    assert one["context"] == ["public"]
    assert [item.phrase for item in by_mastodon_py] == ["alpha", "beta"]
