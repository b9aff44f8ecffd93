"""One live instance per test module, with open sign-ups and a body limit of
its own, and helpers for the Pedagogue objects that Mastodon apps see.

Tests in a module share the instance, so each test creates its own teachers
with ``teachers`` and never depends on what another test left behind.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.client_api.conftest import client_for, teachers  # noqa: F401
from tests.conftest import DOMAINS
from tests.support.live import LiveInstance, Teacher

# A body limit other than the default, so the instance document is seen to
# read it from the settings.
MAX_BODY_BYTES = 2_000_000

GROUPS = "/api/pedagogue/v1/groups"
PLANS = "/api/pedagogue/v1/lesson_plans"
EVENTS = "/api/pedagogue/v1/events"

EVENT = {
    "name": "Formative assessment webinar",
    "description": "Exit tickets, hinge questions and what to do with the answers.",
    "starts_at": "2031-03-04T18:00:00",
    "ends_at": "2031-03-04T19:30:00",
    "timezone": "Europe/Paris",
    "online_url": "https://video.school-a.test/rooms/formative",
}


@pytest.fixture(scope="module")
async def school(
    databases: Any, pki: Any, tmp_path_factory: Any
) -> AsyncIterator[LiveInstance]:
    """A live instance shared by the tests of one module."""
    instance = LiveInstance(
        domain="school-a.test",
        dsn=await databases.create(),
        directory=tmp_path_factory.mktemp("client-api-shapes"),
        pki=pki,
        host_map={domain: "127.0.0.1" for domain in DOMAINS},
        extra_env={
            "PEDAGOGUE_INSTANCE__OPEN_REGISTRATIONS": "true",
            "PEDAGOGUE_SERVER__MAX_BODY_BYTES": str(MAX_BODY_BYTES),
        },
    )
    try:
        await instance.start()
        yield instance
    finally:
        instance.stop()
        await databases.drop(instance.dsn)


def png(width: int = 8, height: int = 6) -> bytes:
    """Return a small PNG without metadata."""
    from PIL import Image

    output = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(output, format="PNG")
    return output.getvalue()


async def upload_plan_file(teacher: Teacher, data: bytes, name: str) -> str:
    """Upload a lesson-plan attachment; return its id."""
    form = aiohttp.FormData()
    form.add_field("file", data, filename=name, content_type="application/octet-stream")
    status, body = await teacher.request("POST", f"{PLANS}/attachments", data=form)
    assert status == 200, f"plan attachment upload answered {status}: {body}"
    return str(body["id"])


async def fetch_page(instance: LiveInstance, url: str) -> tuple[int, str, str]:
    """GET a public URL of ``instance`` as a browser; return the status, the
    Content-Type and the body."""
    assert url.startswith(instance.url), url
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            instance.client_url + url[len(instance.url) :],
            headers={"Accept": "text/html"},
            ssl=instance.ssl_context(),
        ) as response,
    ):
        body = await response.read()
        return (
            response.status,
            response.headers.get("Content-Type", ""),
            body.decode(errors="replace"),
        )
