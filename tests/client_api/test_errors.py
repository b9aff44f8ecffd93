"""Error codes of the list, marker, conversation, bookmark, filter, media and
notification endpoints over raw HTTP: 401 without a valid token, 403 for a
token without the scope, 404 for unknown ids, 400 for a body that is not
JSON."""

from __future__ import annotations

import secrets

import pytest

from tests.client_api.conftest import raw
from tests.support.live import Teacher
from web.api import hash_token

WRITES = [
    ("POST", "/api/v1/lists", "write:lists"),
    ("POST", "/api/v1/markers", "write:statuses"),
    ("POST", "/api/v1/statuses/1/bookmark", "write:bookmarks"),
    ("POST", "/api/v2/filters", "write:filters"),
    ("POST", "/api/v2/media", "write:media"),
    ("POST", "/api/v1/conversations/1/read", "write:conversations"),
    ("POST", "/api/v1/notifications/clear", "write:notifications"),
]
READS = [
    "/api/v1/lists",
    "/api/v1/markers",
    "/api/v1/conversations",
    "/api/v1/bookmarks",
    "/api/v1/favourites",
    "/api/v2/filters",
    "/api/v1/filters",
    "/api/v1/preferences",
    "/api/v1/notifications/unread_count",
]
UNKNOWN = [
    ("GET", "/api/v1/lists/123"),
    ("GET", "/api/v1/lists/x/accounts"),
    ("GET", "/api/v1/timelines/list/99999999999999999999"),
    ("GET", "/api/v1/accounts/123/lists"),
    ("POST", "/api/v1/conversations/123/read"),
    ("DELETE", "/api/v1/conversations/abc"),
    ("POST", "/api/v1/statuses/123/bookmark"),
    ("GET", "/api/v2/filters/123"),
    ("GET", "/api/v2/filters/keywords/123"),
    ("GET", "/api/v2/filters/statuses/123"),
    ("GET", "/api/v1/filters/123"),
    ("GET", "/api/v1/media/123"),
    ("GET", "/api/v1/notifications/123"),
    ("POST", "/api/v1/notifications/123/dismiss"),
]


async def _token(school, teacher: Teacher, scopes: str) -> Teacher:
    """Return the teacher with a new token limited to ``scopes``."""
    token = secrets.token_urlsafe(24)
    connection = await school.db()
    try:
        await connection.execute(
            "INSERT INTO tokens (account_id, token_hash, scopes) VALUES ($1, $2, $3)",
            int(teacher.account_id),
            hash_token(token),
            scopes,
        )
    finally:
        await connection.close()
    return Teacher(school, teacher.username, teacher.account_id, token)


@pytest.mark.parametrize("path", READS)
async def test_read_without_token_unauthorized(school, path):
    stranger = Teacher(school, "nobody", "0", "not-a-token")

    status, headers, body = await raw(stranger, "GET", path)

    assert status == 401
    assert body == {"error": "The access token is invalid"}
    assert headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


@pytest.mark.parametrize(("method", "path", "scope"), WRITES)
async def test_write_with_read_scope_forbidden(school, teachers, method, path, scope):
    (alice,) = await teachers("alice")
    reader = await _token(school, alice, "read")

    status, headers, body = await raw(reader, method, path, json={})

    assert status == 403
    assert "scope" in body["error"]
    assert scope in headers["WWW-Authenticate"]


async def test_granular_read_scope_allowed(school, teachers):
    (alice,) = await teachers("alice")
    reader = await _token(school, alice, "read:lists read:filters")

    lists, _, _ = await raw(reader, "GET", "/api/v1/lists")
    filters, _, _ = await raw(reader, "GET", "/api/v2/filters")
    bookmarks, _, _ = await raw(reader, "GET", "/api/v1/bookmarks")

    assert lists == 200
    assert filters == 200
    assert bookmarks == 403


@pytest.mark.parametrize(("method", "path"), UNKNOWN)
async def test_unknown_id_not_found(teachers, method, path):
    (alice,) = await teachers("alice")

    status, _, body = await raw(alice, method, path)

    assert status == 404
    assert body == {"error": "Record not found"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/lists",
        "/api/v2/filters",
        "/api/v1/markers",
        "/api/v1/notifications/dismiss",
    ],
)
async def test_malformed_json_body_rejected(teachers, path):
    (alice,) = await teachers("alice")

    status, _, body = await raw(
        alice,
        "POST",
        path,
        data=b'{"title": ',
        headers={"Content-Type": "application/json"},
    )

    assert status == 400
    assert body == {"error": "request body is not valid JSON"}
