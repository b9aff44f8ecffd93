"""Request input that PostgreSQL or JSON cannot hold, rejected before any view.

The web tests use the in-process client of ``test_newcomer_findings``: the real
Quart app of a runtime on a fresh database, with alice's bearer token. The
inbox tests POST activities signed with the fixture actor's key through the
inbox harness.
"""

# Fixtures are imported by name so pytest finds them here, and the test
# parameters that use them shadow those names.
# ruff: noqa: F811

from __future__ import annotations

import json
import logging

import pytest

from federation import strict_json
from tests.inbox.conftest import (  # noqa: F401 - fixtures of the inbox harness
    InboxHarness,
    harness,
    make_harness,
    peer_keys,
    peer_pki,
)
from tests.regressions.test_newcomer_findings import (  # noqa: F401 - fixture
    Client,
    client,
    status_count,
)
from web.app import create_app

P = "/api/pedagogue/v1"

# Paths whose views passed a NUL from the query string or path to PostgreSQL.
NUL_PARAMETERS = [
    (f"{P}/lesson_plans/search?q=%00", "q"),
    (f"{P}/lesson_plans/search?q=a%00b", "q"),
    (f"{P}/lesson_plans/search?subject=%00", "subject"),
    (f"{P}/lesson_plans/search?standard=%00", "standard"),
    (f"{P}/lesson_plans/lookup?uri=%00", "uri"),
    (f"{P}/groups/search?q=%00", "q"),
    (f"{P}/teachers?q=%00", "q"),
    (f"{P}/mentors?subject=%00", "subject"),
    ("/ical/users/%00.ics", "username"),
    ("/api/v1/timelines/tag/a%00", "name"),
]


@pytest.mark.parametrize(("path", "name"), NUL_PARAMETERS)
async def test_nul_parameter_answers_400(client: Client, path: str, name: str) -> None:
    status, body = await client.request("GET", path)

    assert status == 400
    assert body == {"error": f"{name} must not contain NUL characters"}


async def test_nul_parameter_name_answers_400(client: Client) -> None:
    status, body = await client.request("GET", f"{P}/teachers?a%00=1")

    assert status == 400
    assert body == {"error": "a query parameter name must not contain NUL characters"}


async def test_nul_parameter_page_answers_html(client: Client) -> None:
    headers = {"Accept": "text/html"}
    app = client.app
    response = await app.test_client().get("/local?max_id=%00", headers=headers)
    page = await response.get_data(as_text=True)

    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "max_id must not contain NUL characters" in page


async def test_nul_parameter_rejection_logged(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="web.app"):
        await client.request("GET", f"{P}/teachers?q=%00")

    assert "query parameter q" in caplog.text


# Non-finite numbers in JSON request bodies


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
async def test_status_body_non_finite_answers_400(client: Client, number: str) -> None:
    body = f'{{"status": "hello", "poll": {{"expires_in": {number}}}}}'

    status, document = await client.request(
        "POST",
        "/api/v1/statuses",
        data=body,
        headers={"Content-Type": "application/json"},
    )

    assert status == 400
    expected = f"request body is not valid JSON: {number} is not a finite number"
    assert document == {"error": expected}
    assert await status_count(client.runtime) == 0


async def test_plan_duration_infinity_answers_400(client: Client) -> None:
    status, document = await client.request(
        "POST",
        f"{P}/lesson_plans",
        data='{"title": "x", "duration_minutes": Infinity}',
        headers={"Content-Type": "application/json"},
    )

    assert status == 400
    assert "Infinity is not a finite number" in document["error"]


async def test_quart_json_provider_rejects_nan(client: Client) -> None:
    app = create_app(client.runtime)

    with pytest.raises(strict_json.NonFiniteNumber):
        app.json.loads('{"latitude": NaN}')


def test_strict_json_keeps_finite_numbers() -> None:
    assert strict_json.loads('[1.5, -2e10, 1e-400, 12345678901234567890]') == [
        1.5,
        -2e10,
        0.0,
        12345678901234567890,
    ]


# Non-finite numbers in signed inbox POSTs


def _with_latitude(document: dict[str, object], number: str) -> bytes:
    text = json.dumps(document)
    return (text[:-1] + f', "latitude": {number}}}').encode()


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
async def test_inbox_non_finite_number_rejected(
    harness: InboxHarness, number: str
) -> None:
    follow = harness.fixture("follow")
    body = _with_latitude(follow, number)

    response = await harness.post(body, key_id=harness.key_ids[follow["actor"]])
    document = json.loads(await response.get_data(as_text=True))

    assert response.status_code == 400
    expected = f"body is not valid JSON: {number} is not a finite number"
    assert document == {"error": expected}
    assert await harness.queue_count() == 0


async def test_inbox_finite_float_accepted(harness: InboxHarness) -> None:
    follow = harness.fixture("follow")
    body = _with_latitude(follow, "48.5")

    response = await harness.post(body, key_id=harness.key_ids[follow["actor"]])

    assert response.status_code == 202


# Rejection log lines


async def test_rejected_read_logs_token_account(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="web.api"):
        status, _ = await client.request("GET", "/api/v1/statuses/1")

    assert status == 404
    assert f"from account {client.alice['id']}:" in caplog.text


async def test_nul_form_field_page_answers_400(client: Client) -> None:
    headers = {"Accept": "text/html"}
    form = {"username": "alice\x00", "password": "secret"}
    response = await client.app.test_client().post("/sign-in", form=form, headers=headers)
    page = await response.get_data(as_text=True)

    assert response.status_code == 400
    assert "username must not contain NUL characters" in page
