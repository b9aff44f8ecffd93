"""The XSS corpus sent through a live instance's inbox, read back through the
client API and the HTML pages.

Each payload goes into every text field of a remote actor (name, summary and a
profile field) and of an Article (name, summary, content). No executable
markup may survive in the API's HTML fields nor anywhere in the thread page.
The profile page of a remote account is not read yet: its path for an account
on a host with a port answers 404.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.hostile.conftest import OpenWorld
from tests.hostile.world import HostileWorld, PeerActor, note, wrap
from tests.hostile.xss_corpus import PAYLOADS, executable_markup


@pytest.fixture(scope="module")
async def world(open_world: OpenWorld) -> HostileWorld:
    return await open_world()


def hostile_actor(world: HostileWorld, number: int, payload: str) -> PeerActor:
    return world.peer.add_actor(
        f"xss{number}",
        name=payload,
        summary=payload,
        attachment=[{"type": "PropertyValue", "name": payload, "value": payload}],
    )


async def deliver_article(
    world: HostileWorld, actor: PeerActor, number: int, payload: str
) -> int:
    """Deliver an Article carrying ``payload``; return its status row id."""
    article = note(
        actor, number, type="Article", name=payload, summary=payload, content=payload
    )
    status, body = await world.post(wrap("Create", actor, article), actor)
    assert status == 202, body
    await world.drain()
    status_id = await world.fetchval(
        "SELECT id FROM statuses WHERE uri = $1", article["id"]
    )
    assert status_id is not None, "the Article was not stored"
    return int(status_id)


def api_html_fields(status: dict[str, Any]) -> dict[str, str]:
    account = status["account"]
    fields = {"content": status["content"], "account note": account["note"]}
    for index, field in enumerate(account["fields"]):
        fields[f"field {index} value"] = field["value"]
    return fields


@pytest.mark.parametrize("number", range(len(PAYLOADS)))
async def test_payload_neutralised_everywhere(world: HostileWorld, number: int) -> None:
    payload = PAYLOADS[number]
    actor = hostile_actor(world, number, payload)
    status_id = await deliver_article(world, actor, number, payload)

    status = await world.api(f"/api/v1/statuses/{status_id}")
    account = await world.api(f"/api/v1/accounts/{status['account']['id']}")
    thread_status, thread_page = await world.get(f"/statuses/{status_id}")

    for name, html in api_html_fields(status).items():
        assert executable_markup(html) == [], f"API {name}: {html!r}"
    assert executable_markup(account["note"]) == []
    assert thread_status == 200
    assert executable_markup(thread_page) == []


async def test_display_name_escaped_not_stripped(world: HostileWorld) -> None:
    name = "<b>Bold</b> & co"
    actor = world.peer.add_actor("plainname", name=name)
    status_id = await deliver_article(world, actor, 0, "<p>hello</p>")

    status = await world.api(f"/api/v1/statuses/{status_id}")
    _, page = await world.get(f"/statuses/{status_id}")

    assert status["account"]["display_name"] == name
    assert "&lt;b&gt;Bold&lt;/b&gt; &amp; co" in page
    assert "<b>Bold</b>" not in page


def test_checker_flags_raw_payloads() -> None:
    # The checker must see the attacks that Python's tokeniser can see, or the
    # tests above would pass on unsanitised output.
    flagged = [payload for payload in PAYLOADS if executable_markup(payload)]

    assert len(flagged) >= len(PAYLOADS) - 6
