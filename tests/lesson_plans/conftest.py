"""An in-process instance with two teachers and bearer tokens, for the lesson
plan client API tests that need no second instance."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from pedagogue.accounts import create_teacher
from pedagogue.config import load_settings
from pedagogue.runtime import Runtime
from web.api import hash_token

MAX_ATTACHMENT_BYTES = 4096


@dataclass
class ApiUser:
    """A teacher on the in-process instance, calling the API through the app."""

    client: Any
    account: asyncpg.Record
    token: str

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """Send one request; return (status, parsed JSON or text)."""
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        response = await self.client.open(
            path, method=method, headers=headers, **kwargs
        )
        if response.mimetype == "application/json":
            return response.status_code, await response.get_json()
        return response.status_code, await response.get_data(as_text=True)


@dataclass
class PlanInstance:
    runtime: Runtime
    alice: ApiUser
    bob: ApiUser

    @property
    def pool(self) -> asyncpg.Pool:
        return self.runtime.pool

    async def counts(self) -> dict[str, int]:
        """Count the rows that creating a plan writes."""
        return {
            table: await self.pool.fetchval(f"SELECT count(*) FROM {table}")
            for table in (
                "statuses",
                "lesson_plans",
                "activities",
                "lesson_plan_attachments",
            )
        }


async def _user(runtime: Runtime, client: Any, username: str) -> ApiUser:
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
    return ApiUser(client, account, token)


@pytest.fixture
async def plan_instance(database: str, tmp_path: Path) -> AsyncIterator[PlanInstance]:
    from web.app import create_app

    settings = load_settings(
        None,
        overrides={
            "instance": {"url": "https://school-a.test", "data_dir": str(tmp_path)},
            "lesson_plans": {"max_attachment_bytes": MAX_ATTACHMENT_BYTES},
        },
        environ={},
    )
    runtime = Runtime(settings, database)
    await runtime.start()
    client = create_app(runtime).test_client()
    alice = await _user(runtime, client, "alice")
    bob = await _user(runtime, client, "bob")
    yield PlanInstance(runtime, alice, bob)
    await runtime.stop()


# The inbox harness (a fake peer on loopback and a runtime that reaches it),
# for feeding received Articles through the real inbox.
from tests.inbox.conftest import make_harness, peer_keys, peer_pki  # noqa: F401
