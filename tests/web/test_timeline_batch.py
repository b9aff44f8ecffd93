"""Timeline pages render each status exactly as the single-status presenter does.

A timeline page is rendered with a few set-based queries keyed by the page's
status ids, on the connection that read the page. These tests build a page
holding every kind of status the presenter treats apart (plain, reply, boost,
mentions and tags, media, lesson plan, event, the viewer's favourite and
boost) and compare its JSON with the statuses rendered one by one. Pedagogue
has no polls, so ``poll`` is null on every status of both renderings.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest

from pedagogue.accounts import create_teacher
from pedagogue.config import load_settings
from pedagogue.runtime import Runtime
from storage import statuses
from storage.pool import create_pool
from web.api import hash_token
from web.presenters import status_json

PLAN = {
    "title": "Ratios with recipe cards",
    "summary": "Students scale recipes to reason about equivalent ratios.",
    "body": "## Warm-up\n\nDouble a pancake recipe.",
    "subjects": ["Mathematics"],
    "grade_levels": ["6-8"],
    "duration_minutes": 45,
}
EVENT = {
    "name": "Formative assessment webinar",
    "description": "Exit tickets, hinge questions and what to do with the answers.",
    "starts_at": "2031-03-04T18:00:00",
    "ends_at": "2031-03-04T19:30:00",
    "timezone": "Europe/Paris",
    "online_url": "https://video.school-a.test/rooms/formative",
}


@dataclass
class Teacher:
    client: Any
    account: asyncpg.Record
    token: str

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.client.open(
            path,
            method=method,
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
        )
        assert response.status_code == 200, await response.get_data(as_text=True)
        return await response.get_json()


@dataclass
class Site:
    runtime: Runtime
    client: Any
    alice: Teacher
    bob: Teacher


async def _teacher(runtime: Runtime, client: Any, username: str) -> Teacher:
    account = await create_teacher(
        runtime.pool,
        runtime.settings,
        username=username,
        password=None,
        display_name=username.title(),
    )
    token = secrets.token_urlsafe(24)
    await runtime.pool.execute(
        "INSERT INTO tokens (account_id, token_hash) VALUES ($1, $2)",
        account["id"],
        hash_token(token),
    )
    return Teacher(client, account, token)


@pytest.fixture
async def site(database: str, tmp_path: Path) -> AsyncIterator[Site]:
    """An in-process school-a.test where alice's home timeline contains the mix."""
    from web.app import create_app

    settings = load_settings(
        None,
        overrides={
            "instance": {"url": "https://school-a.test", "data_dir": str(tmp_path)}
        },
        environ={},
    )
    runtime = Runtime(settings, database)
    await runtime.start()
    try:
        client = create_app(runtime).test_client()
        alice = await _teacher(runtime, client, "alice")
        bob = await _teacher(runtime, client, "bob")
        await alice.call("POST", f"/api/v1/accounts/{bob.account['id']}/follow")
        plain = await bob.call(
            "POST", "/api/v1/statuses", {"status": "Exit tickets today #assessment @alice"}
        )
        await alice.call(
            "POST",
            "/api/v1/statuses",
            {"status": "@bob Which ones?", "in_reply_to_id": plain["id"]},
        )
        await alice.call("POST", f"/api/v1/statuses/{plain['id']}/reblog")
        await alice.call("POST", f"/api/v1/statuses/{plain['id']}/favourite")
        pictured = await alice.call(
            "POST", "/api/v1/statuses", {"status": "Our anchor chart"}
        )
        await statuses.add_attachment(
            runtime.pool,
            int(pictured["id"]),
            0,
            SimpleNamespace(
                url="https://school-a.test/media/chart.png",
                media_type="image",
                mime_type="image/png",
                description="An anchor chart on ratios",
                blurhash=None,
            ),
        )
        await alice.call("POST", "/api/pedagogue/v1/lesson_plans", PLAN)
        await alice.call("POST", "/api/pedagogue/v1/events", EVENT)
        yield Site(runtime, client, alice, bob)
    finally:
        await runtime.stop()


async def _one_by_one(site: Site, page: list[dict[str, Any]], viewer: Any) -> str:
    rendered = []
    for item in page:
        row = await statuses.by_id(site.runtime.pool, int(item["id"]))
        rendered.append(await status_json(site.runtime, row, viewer))
    return json.dumps(rendered)


async def _page(site: Site, path: str, token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await site.client.get(path, headers=headers)
    assert response.status_code == 200
    return response, await response.get_json()


def _kinds(page: list[dict[str, Any]]) -> set[str]:
    kinds = set()
    for item in page:
        if item["reblog"] is not None:
            kinds.add("reblog")
        if item["in_reply_to_id"] is not None:
            kinds.add("reply")
        if item["media_attachments"]:
            kinds.add("media")
        if item["mentions"] and item["tags"]:
            kinds.add("mentions and tags")
        if item["card"] and item["card"]["title"] == PLAN["title"]:
            kinds.add("lesson plan")
        if item["card"] and item["card"]["title"] == EVENT["name"]:
            kinds.add("event")
        if item.get("favourited"):
            kinds.add("favourited")
        if item.get("reblogged"):
            kinds.add("reblogged")
    return kinds


async def test_home_page_holds_every_kind(site: Site) -> None:
    _, page = await _page(site, "/api/v1/timelines/home", site.alice.token)
    assert _kinds(page) == {
        "reblog",
        "reply",
        "media",
        "mentions and tags",
        "lesson plan",
        "event",
        "favourited",
        "reblogged",
    }


async def test_home_page_equals_single_renders(site: Site) -> None:
    _, page = await _page(site, "/api/v1/timelines/home", site.alice.token)
    expected = await _one_by_one(site, page, site.alice.account)
    assert json.dumps(page) == expected


async def test_public_page_equals_single_renders(site: Site) -> None:
    _, page = await _page(site, "/api/v1/timelines/public", None)
    expected = await _one_by_one(site, page, None)
    assert json.dumps(page) == expected


async def test_local_page_equals_single_renders(site: Site) -> None:
    _, page = await _page(site, "/api/v1/timelines/public?local=true", site.bob.token)
    expected = await _one_by_one(site, page, site.bob.account)
    assert json.dumps(page) == expected


async def test_release_rolls_back_transaction(site: Site) -> None:
    pool = site.runtime.pool
    async with pool.acquire() as connection:
        transaction = connection.transaction()
        await transaction.start()
        await connection.execute("CREATE TEMPORARY TABLE scratch (n int)")
    async with pool.acquire() as connection:
        assert not connection.is_in_transaction()


async def test_session_pool_release_unlocks(database: str) -> None:
    pool = await create_pool(database, min_size=1, max_size=1, reset_session=True)
    try:
        async with pool.acquire() as connection:
            await connection.execute("SELECT pg_advisory_lock(4242)")
        held = await _advisory_locks(database)
    finally:
        await pool.close()
    assert held == 0


async def _advisory_locks(database: str) -> int:
    connection = await asyncpg.connect(database)
    try:
        return await connection.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
        )
    finally:
        await connection.close()
