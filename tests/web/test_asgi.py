"""The ASGI layer that handles inbox POSTs before Quart routes them.

Requests go through the Quart test client, which calls the application's
ASGI entry point, so each one passes through the layer as a served request
does.
"""

from __future__ import annotations

import json

import pytest

from pedagogue.runtime import Runtime
from web.app import create_app
from web.asgi import inbox_owner


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/inbox", (True, None)),
        ("/actor/inbox", (True, None)),
        ("/users/alice/inbox", (True, "alice")),
        ("/users//inbox", (False, None)),
        ("/users/alice/outbox", (False, None)),
        ("/users/alice/inbox/extra", (False, None)),
        ("/inbox/", (False, None)),
        ("/api/v1/inbox", (False, None)),
    ],
)
def test_inbox_owner_matches_inbox_paths(
    path: str, expected: tuple[bool, str | None]
) -> None:
    assert inbox_owner(path) == expected


async def test_unsigned_post_gets_json_401(runtime: Runtime) -> None:
    client = create_app(runtime).test_client()
    response = await client.post(
        "/inbox",
        data=json.dumps({"id": "https://remote.test/a/1", "type": "Create"}),
        headers={"Content-Type": "application/activity+json"},
    )
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/json"
    assert await response.get_data() == b'{"error":"Signature header missing"}\n'


async def test_unknown_actor_inbox_gets_404(runtime: Runtime) -> None:
    client = create_app(runtime).test_client()
    response = await client.post("/users/nobody/inbox", data=b"{}")
    assert response.status_code == 404
    body = json.loads(await response.get_data())
    assert body == {"error": "no account nobody on this instance"}


async def test_body_over_cap_gets_413(runtime: Runtime) -> None:
    client = create_app(runtime).test_client()
    limit = runtime.settings.server.max_body_bytes
    response = await client.post("/inbox", data=b" " * (limit + 1))
    assert response.status_code == 413
    body = json.loads(await response.get_data())
    assert body == {"error": f"request body is over the limit of {limit} bytes"}


async def test_other_methods_reach_quart(runtime: Runtime) -> None:
    client = create_app(runtime).test_client()
    response = await client.get("/inbox")
    assert response.status_code == 405
