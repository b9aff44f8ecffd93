"""Reports name only statuses the reporter may read.

The report form quotes the reported post, and a report is shown to
moderators and forwarded to the author's server, so a followers-only or
direct post must not reach a teacher through it. The web form, its POST and
the client API's POST /api/v1/reports return 404 for such a post, as the
thread page does. Requests go through the Quart test client of an
in-process runtime on a fresh database.
"""

from __future__ import annotations

from typing import Any

import pytest

from outbox.actions import Actions, NewStatus
from pedagogue.runtime import Runtime
from tests.support.pages import PageClient, sign_in_teacher
from web.app import create_app


@pytest.fixture
async def people(runtime: Runtime) -> dict[str, Any]:
    """Return carol's posts and three signed-in teachers. The direct post
    mentions alice, and erin neither follows carol nor is mentioned."""
    app = create_app(runtime)
    carol = await sign_in_teacher(runtime, app, "carol")
    alice = await sign_in_teacher(runtime, app, "alice")
    erin = await sign_in_teacher(runtime, app, "erin")
    actions = Actions(runtime)
    direct = await actions.post_status(
        carol.account, NewStatus(text="SECRET-direct hello @alice", visibility="direct")
    )
    private = await actions.post_status(
        carol.account, NewStatus(text="SECRET-private hello", visibility="private")
    )
    public = await actions.post_status(carol.account, NewStatus(text="Open hello"))
    return {
        "carol": carol,
        "alice": alice,
        "erin": erin,
        "direct": direct,
        "private": private,
        "public": public,
    }


async def report_count(runtime: Runtime) -> int:
    return int(await runtime.pool.fetchval("SELECT count(*) FROM reports"))


@pytest.mark.parametrize("post", ["direct", "private"])
async def test_report_form_hides_unreadable_post(people: dict[str, Any], post: str) -> None:
    erin: PageClient = people["erin"]

    status, page, _headers = await erin.get(f"/statuses/{people[post]['id']}/report")

    assert status == 404
    assert "SECRET" not in page


async def test_report_form_quotes_post_to_mentioned_teacher(people: dict[str, Any]) -> None:
    alice: PageClient = people["alice"]

    status, page, _headers = await alice.get(f"/statuses/{people['direct']['id']}/report")

    assert status == 200
    assert "SECRET-direct hello" in page


async def test_report_form_of_public_post_shown(people: dict[str, Any]) -> None:
    erin: PageClient = people["erin"]

    status, page, _headers = await erin.get(f"/statuses/{people['public']['id']}/report")

    assert status == 200
    assert "Open hello" in page


@pytest.mark.parametrize("category", ["other", "violation"])
async def test_report_post_of_unreadable_status_rejected(
    runtime: Runtime, people: dict[str, Any], category: str
) -> None:
    erin: PageClient = people["erin"]
    carol_id = people["carol"].account["id"]

    status, page, _headers = await erin.post(
        f"/accounts/{carol_id}/report",
        {"status_ids": str(people["private"]["id"]), "category": category},
    )

    assert status == 404
    assert "SECRET" not in page
    assert await report_count(runtime) == 0


async def test_report_post_of_public_status_stored(
    runtime: Runtime, people: dict[str, Any]
) -> None:
    erin: PageClient = people["erin"]
    carol_id = people["carol"].account["id"]

    status, _page, headers = await erin.post(
        f"/accounts/{carol_id}/report",
        {"status_ids": str(people["public"]["id"]), "category": "spam"},
    )

    assert status == 303
    assert "reported=" in headers["Location"]
    assert await report_count(runtime) == 1


async def test_api_report_of_unreadable_status_rejected(
    runtime: Runtime, people: dict[str, Any]
) -> None:
    erin: PageClient = people["erin"]

    status, body = await erin.api(
        "POST",
        "/api/v1/reports",
        json={
            "account_id": str(people["carol"].account["id"]),
            "status_ids": [str(people["public"]["id"]), str(people["direct"]["id"])],
        },
    )

    assert status == 404
    assert body["error"] == f"status {people['direct']['id']} of the reported account not found"
    assert await report_count(runtime) == 0


async def test_api_report_by_mentioned_teacher_stored(
    runtime: Runtime, people: dict[str, Any]
) -> None:
    alice: PageClient = people["alice"]

    status, body = await alice.api(
        "POST",
        "/api/v1/reports",
        json={
            "account_id": str(people["carol"].account["id"]),
            "status_ids": [str(people["direct"]["id"])],
        },
    )

    assert status == 200
    assert body["status_ids"] == [str(people["direct"]["id"])]
    assert await report_count(runtime) == 1
