"""Search with resolve=true by the URL of a remote event or lesson plan that
this instance has not stored: the object is fetched from its origin (a test
peer over HTTPS), stored, and returned."""

from __future__ import annotations

import secrets
from typing import Any

from tests.events.test_mobilizon import EVENT_PATH, event_row, mobilizon, mz  # noqa: F401
from tests.inbox.conftest import InboxHarness
from web.api import hash_token

SEARCH = "/api/v2/search"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


async def search(harness: InboxHarness, query: str, **params: str) -> tuple[int, Any]:
    token = secrets.token_urlsafe(24)
    await harness.pool.execute(
        "INSERT INTO tokens (account_id, token_hash) VALUES ($1, $2)",
        harness.alice["id"],
        hash_token(token),
    )
    response = await harness.client.get(
        SEARCH,
        query_string={"q": query, "resolve": "true", **params},
        headers={"Authorization": f"Bearer {token}"},
    )
    return response.status_code, await response.get_json()


def serve_event(harness: InboxHarness) -> str:
    event = mobilizon(harness, "create_event")["object"]
    event["@context"] = mobilizon(harness, "create_event")["@context"]
    harness.peer.serve(event["id"], event)
    return str(event["id"])


async def test_event_url_resolved_and_stored(mz: InboxHarness) -> None:  # noqa: F811
    url = serve_event(mz)

    status, body = await search(mz, url)

    assert status == 200
    assert [item["uri"] for item in body["events"]] == [url]
    assert [item["uri"] for item in body["statuses"]] == [url]
    assert (await event_row(mz, EVENT_PATH))["capacity"] == 30


async def test_event_url_not_resolved_without_flag(mz: InboxHarness) -> None:  # noqa: F811
    url = serve_event(mz)

    status, body = await search(mz, url, resolve="false")

    assert status == 200
    assert body["events"] == []
    assert await event_row(mz, EVENT_PATH) is None


async def test_lesson_plan_url_resolved_and_stored(mz: InboxHarness) -> None:  # noqa: F811
    actor_id = mz.add_actor("rosa")
    url = f"{actor_id}/plans/1"
    mz.peer.serve(
        url,
        {
            "@context": [
                "https://www.w3.org/ns/activitystreams",
                {"schema": "http://schema.org/"},
            ],
            "id": url,
            "type": "Article",
            "attributedTo": actor_id,
            "name": "Density towers",
            "content": "<p>Pour syrup, then water, then oil.</p>",
            "to": [PUBLIC],
            "published": "2026-03-02T10:00:00Z",
            "schema:educationalLevel": ["6-8"],
        },
    )

    status, body = await search(mz, url)
    plan = await mz.pool.fetchrow("SELECT * FROM lesson_plans WHERE uri = $1", url)

    assert status == 200
    assert [item["uri"] for item in body["statuses"]] == [url]
    assert plan is not None


async def test_object_under_other_id_not_stored(mz: InboxHarness) -> None:  # noqa: F811
    event = mobilizon(mz, "create_event")["object"]
    alias = mz.peer.url("/events/alias")
    mz.peer.serve(alias, event)

    status, body = await search(mz, alias)

    assert status == 200
    assert body["statuses"] == []
    assert await mz.status(event["id"]) is None
