"""Event test helpers: a client API session on an in-process instance, and the
inbox harness of tests/inbox for Mobilizon-shaped payloads."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from pedagogue.accounts import create_teacher
from pedagogue.runtime import Runtime
from tests.inbox.conftest import make_harness, peer_keys, peer_pki  # noqa: F401
from web.api import hash_token


@dataclass
class ApiUser:
    """A local teacher with a bearer token, calling the client API in process."""

    client: Any
    account: asyncpg.Record
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def post(
        self, path: str, body: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        response = await self.client.post(path, json=body or {}, headers=self.headers)
        return response.status_code, await response.get_json()

    async def get(self, path: str, **params: Any) -> tuple[int, Any]:
        response = await self.client.get(
            path, query_string=params, headers=self.headers
        )
        return response.status_code, await response.get_json()


@dataclass
class EventsSite:
    runtime: Runtime
    client: Any

    async def teacher(self, username: str) -> ApiUser:
        account = await create_teacher(
            self.runtime.pool,
            self.runtime.settings,
            username=username,
            password=None,
            display_name=username.title(),
        )
        token = secrets.token_urlsafe(24)
        await self.runtime.pool.execute(
            "INSERT INTO tokens (account_id, token_hash) VALUES ($1, $2)",
            account["id"],
            hash_token(token),
        )
        return ApiUser(self.client, account, token)


@pytest.fixture
async def site(runtime: Runtime) -> AsyncIterator[EventsSite]:
    """The client API of an in-process school-a.test."""
    from web.app import create_app

    yield EventsSite(runtime, create_app(runtime).test_client())
