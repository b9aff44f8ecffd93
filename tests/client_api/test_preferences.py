"""Preferences, posting defaults, trends and custom emojis through Mastodon.py
and raw HTTP."""

from __future__ import annotations

from tests.client_api.conftest import checked, client_for
from tests.web.test_mastodon_py import call


async def _set_defaults(school, teacher, visibility, sensitive, language):
    connection = await school.db()
    try:
        await connection.execute(
            "UPDATE accounts SET default_visibility = $2, default_sensitive = $3,"
            " default_language = $4 WHERE id = $1",
            int(teacher.account_id),
            visibility,
            sensitive,
            language,
        )
    finally:
        await connection.close()


async def test_preferences_by_mastodon_py(school, teachers):
    (alice,) = await teachers("alice")
    await _set_defaults(school, alice, "unlisted", True, "fr")

    preferences = await call(client_for(alice).preferences)
    document = await checked(alice, "GET", "/api/v1/preferences", "/api/v1/preferences")

    assert preferences["posting:default:visibility"] == "unlisted"
    assert preferences["posting:default:sensitive"] is True
    assert preferences["posting:default:language"] == "fr"
    assert document["reading:expand:spoilers"] is False


async def test_new_status_uses_posting_defaults(school, teachers):
    (alice,) = await teachers("alice")
    await _set_defaults(school, alice, "private", False, "de")

    defaulted = await call(client_for(alice).status_post, "Hausaufgaben")
    chosen = await alice.post(
        "/api/v1/statuses",
        json={"status": "Homework", "visibility": "public", "language": "en"},
    )

    assert defaulted.visibility == "private"
    assert defaulted.language == "de"
    assert chosen["visibility"] == "public"
    assert chosen["language"] == "en"


async def test_trends_and_custom_emojis_empty(teachers):
    (alice,) = await teachers("alice")
    api = client_for(alice)

    tags = await call(api.trending_tags)
    statuses = await call(api.trending_statuses)
    links = await call(api.trending_links)
    emojis = await call(api.custom_emojis)
    for path in (
        "/api/v1/trends/tags",
        "/api/v1/trends/statuses",
        "/api/v1/trends/links",
    ):
        await checked(alice, "GET", path, path)
    await checked(alice, "GET", "/api/v1/custom_emojis", "/api/v1/custom_emojis")

    assert tags == []
    assert statuses == []
    assert links == []
    assert emojis == []


async def test_preferences_need_token(school):
    from tests.support.live import Teacher

    stranger = Teacher(school, "nobody", "0", "wrong")

    status, body = await stranger.request("GET", "/api/v1/preferences")

    assert status == 401
    assert "error" in body
