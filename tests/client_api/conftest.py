"""One live instance per test module, and helpers for driving the client API
with Mastodon.py and with raw HTTP.

Tests in a module share the instance, so each test creates its own teachers
with ``teachers`` and never depends on what another test left behind.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from mastodon import Mastodon

from tests.conftest import DOMAINS
from tests.support.live import LiveInstance, Teacher
from tests.support.openapi import validate_response
from tests.web.test_mastodon_py import ca_session

_names = itertools.count(1)

NewTeachers = Callable[..., Awaitable[list[Teacher]]]


@pytest.fixture(scope="module")
async def school(
    databases: Any, pki: Any, tmp_path_factory: Any
) -> AsyncIterator[LiveInstance]:
    """A live instance shared by the tests of one module."""
    instance = LiveInstance(
        domain="school-a.test",
        dsn=await databases.create(),
        directory=tmp_path_factory.mktemp("client-api"),
        pki=pki,
        host_map={domain: "127.0.0.1" for domain in DOMAINS},
    )
    try:
        await instance.start()
        yield instance
    finally:
        instance.stop()
        await databases.drop(instance.dsn)


@pytest.fixture
def teachers(school: LiveInstance) -> NewTeachers:
    """Return a function that creates teachers with names no other test uses."""

    async def create(*prefixes: str) -> list[Teacher]:
        return [
            await school.create_teacher(f"{prefix}{next(_names)}")
            for prefix in prefixes
        ]

    return create


def client_for(teacher: Teacher) -> Mastodon:
    """Return a Mastodon.py client with the teacher's bearer token."""
    return Mastodon(
        access_token=teacher.token,
        api_base_url=teacher.instance.client_url,
        session=ca_session(teacher.instance),
    )


async def checked(
    teacher: Teacher,
    method: str,
    path: str,
    template: str,
    expected: int = 200,
    **kwargs: Any,
) -> Any:
    """Call the API, assert the status, and validate the body against
    ``web/openapi/client.yaml`` for the path ``template``."""
    status, body = await teacher.request(method, path, **kwargs)
    assert status == expected, f"{method} {path} answered {status}: {body}"
    validate_response("client", template, method, status, body)
    return body


async def raw(teacher: Teacher, method: str, path: str, **kwargs: Any) -> Any:
    """Return the aiohttp response headers, status and body of one request."""
    import aiohttp

    headers = {"Authorization": f"Bearer {teacher.token}", **kwargs.pop("headers", {})}
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method,
            f"{teacher.instance.client_url}{path}",
            headers=headers,
            ssl=teacher.instance.ssl_context(),
            **kwargs,
        ) as response,
    ):
        return response.status, response.headers, await response.json(content_type=None)
