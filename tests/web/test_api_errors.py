"""Rejected client API requests: status code, ``{"error": ...}``, nothing stored.

These send raw HTTP with aiohttp, because a client library would refuse to
build most of these requests.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from tests.support.live import LiveInstance, Teacher


async def send(
    instance: LiveInstance,
    method: str,
    path: str,
    *,
    token: str | None = None,
    **kwargs: Any,
) -> tuple[int, dict[str, str], Any]:
    """Send one request; return the status, the headers and the parsed JSON body."""
    headers = dict(kwargs.pop("headers", {}))
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method,
            f"{instance.client_url}{path}",
            headers=headers,
            ssl=instance.ssl_context(),
            **kwargs,
        ) as response,
    ):
        text = await response.text()
        return response.status, dict(response.headers), json.loads(text)


async def stored_counts(instance: LiveInstance) -> dict[str, int]:
    """Count the rows a status creation writes: statuses, activities, deliveries."""
    connection = await instance.db()
    try:
        return {
            table: await connection.fetchval(f"SELECT count(*) FROM {table}")
            for table in ("statuses", "activities", "deliveries", "home_feed")
        }
    finally:
        await connection.close()


async def post_status(teacher: Teacher, **kwargs: Any) -> tuple[int, Any]:
    status, _, body = await send(
        teacher.instance, "POST", "/api/v1/statuses", token=teacher.token, **kwargs
    )
    return status, body


# Authentication


async def test_missing_and_bad_tokens_rejected_401(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")
    path = "/api/v1/accounts/verify_credentials"

    before = await stored_counts(school)

    missing = await send(school, "GET", path)
    bad = await send(school, "GET", path, token="not-a-token")
    wrong_scheme = await send(
        school, "GET", path, headers={"Authorization": f"Basic {alice.token}"}
    )
    write = await send(
        school, "POST", "/api/v1/statuses", json={"status": "No token here"}
    )

    for status, headers, body in (missing, bad, wrong_scheme, write):
        assert status == 401
        assert body == {"error": "The access token is invalid"}
        assert headers["WWW-Authenticate"].startswith("Bearer")
    assert await stored_counts(school) == before


async def test_revoked_token_rejected_401(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")
    connection = await school.db()
    try:
        await connection.execute("UPDATE tokens SET revoked_at = now()")
    finally:
        await connection.close()

    status, _, body = await send(
        school, "GET", "/api/v1/timelines/home", token=alice.token
    )

    assert status == 401
    assert "error" in body


# Request bodies


async def test_malformed_json_bodies_rejected_400(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")
    json_header = {"Content-Type": "application/json"}

    unclosed = await post_status(
        alice, data='{"status": "unclosed', headers=json_header
    )
    array = await post_status(alice, json=["status", "hello"])

    assert unclosed == (400, {"error": "request body is not valid JSON"})
    assert array == (400, {"error": "request body must be a JSON object"})


async def test_status_create_accepts_json_and_form_bodies(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")
    fields = {"status": "Parent evenings start at six", "visibility": "unlisted"}
    multipart = aiohttp.FormData(
        {**fields, "sensitive": "1"}, default_to_multipart=True
    )

    from_json = await post_status(alice, json={**fields, "sensitive": True})
    from_form = await post_status(alice, data={**fields, "sensitive": "true"})
    from_multipart = await post_status(alice, data=multipart)

    for status, body in (from_json, from_form, from_multipart):
        assert status == 200, body
        assert body["visibility"] == "unlisted"
        assert body["sensitive"] is True
        assert "Parent evenings start at six" in body["content"]
    assert len({from_json[1]["id"], from_form[1]["id"], from_multipart[1]["id"]}) == 3


async def test_reply_accepts_json_number_and_form_string(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")
    _, parent = await post_status(alice, json={"status": "Staff meeting moved"})

    json_status, json_reply = await post_status(
        alice, json={"status": "To Thursday", "in_reply_to_id": int(parent["id"])}
    )
    form_status, form_reply = await post_status(
        alice, data={"status": "In room 4", "in_reply_to_id": parent["id"]}
    )

    assert json_status == 200
    assert json_reply["in_reply_to_id"] == parent["id"]
    assert form_status == 200
    assert form_reply["in_reply_to_id"] == parent["id"]


# Validation


async def test_blank_status_rejected_422(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")

    for fields in ({"status": "   "}, {"status": ""}, {"visibility": "public"}):
        status, body = await post_status(alice, json=fields)
        assert status == 422, fields
        assert body == {"error": "Validation failed: Text can't be blank"}, fields


async def test_unknown_visibility_rejected_422(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")

    status, body = await post_status(
        alice, data={"status": "Hi", "visibility": "secret"}
    )

    assert status == 422
    assert "secret" in body["error"]


async def test_invalid_pagination_cursor_rejected_400(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")

    status, _, body = await send(
        school, "GET", "/api/v1/timelines/home?max_id=yesterday", token=alice.token
    )

    assert status == 400
    assert "max_id" in body["error"]


REJECTED_CREATES = [
    ({"json": {"status": ""}}, 422, "Text can't be blank"),
    ({"json": {"status": {"text": "nested"}}}, 422, "status must be a string"),
    (
        {"json": {"status": "Hi", "spoiler_text": 7}},
        422,
        "spoiler_text must be a string",
    ),
    ({"json": {"status": "Hi", "visibility": "secret"}}, 422, "secret"),
    ({"data": {"status": "Hi", "visibility": "everyone"}}, 422, "everyone"),
    ({"json": {"status": "x" * 5001}}, 422, "5000"),
    ({"json": {"status": "Hi", "in_reply_to_id": "123456789"}}, 404, "not found"),
    ({"json": {"status": "Hi", "in_reply_to_id": "first"}}, 400, "in_reply_to_id"),
    (
        {"data": '{"status": ', "headers": {"Content-Type": "application/json"}},
        400,
        "JSON",
    ),
]


async def test_rejected_creates_store_nothing(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")
    before = await stored_counts(school)

    for kwargs, expected_status, expected_text in REJECTED_CREATES:
        status, body = await post_status(alice, **kwargs)
        assert status == expected_status, (kwargs, body)
        assert expected_text in body["error"], (kwargs, body)

    assert await stored_counts(school) == before


# Missing and foreign records


async def test_unknown_ids_return_404(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")
    requests = [
        ("GET", "/api/v1/statuses/123456789"),
        ("GET", "/api/v1/statuses/not-a-number"),
        ("DELETE", "/api/v1/statuses/123456789"),
        ("POST", "/api/v1/statuses/123456789/favourite"),
        ("POST", "/api/v1/statuses/123456789/reblog"),
        ("GET", "/api/v1/accounts/123456789"),
        ("POST", "/api/v1/accounts/123456789/follow"),
    ]

    for method, path in requests:
        status, _, body = await send(school, method, path, token=alice.token)
        assert status == 404, (method, path)
        assert body == {"error": "Record not found"}, (method, path)


async def test_private_status_hidden_from_others_404(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")
    carol = await school.create_teacher("carol")
    _, private = await post_status(
        alice, json={"status": "Grades", "visibility": "private"}
    )

    as_carol = await send(
        school, "GET", f"/api/v1/statuses/{private['id']}", token=carol.token
    )
    anonymous = await send(school, "GET", f"/api/v1/statuses/{private['id']}")

    assert as_carol[0] == 404
    assert anonymous[0] == 404


async def test_delete_of_others_status_rejected_403(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")
    carol = await school.create_teacher("carol")
    _, posted = await post_status(alice, json={"status": "Lab safety rules"})

    status, _, body = await send(
        school, "DELETE", f"/api/v1/statuses/{posted['id']}", token=carol.token
    )
    still_there, _, _ = await send(school, "GET", f"/api/v1/statuses/{posted['id']}")

    assert status == 403
    assert body == {"error": "This action is not allowed"}
    assert still_there == 200


async def test_follow_self_rejected_422(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")

    status, _, body = await send(
        school, "POST", f"/api/v1/accounts/{alice.account_id}/follow", token=alice.token
    )

    assert status == 422
    assert "error" in body
