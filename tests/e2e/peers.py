"""Helpers for tests across live instances: HTTPS by domain name, signed POSTs,
and the client API steps that several tests share (follow, wait for a post)."""

from __future__ import annotations

import io
import json
import socket
import ssl
from typing import Any

import aiohttp
import asyncpg
from aiohttp.abc import AbstractResolver, ResolveResult

from federation import httpsig
from tests.support.live import LiveInstance, Teacher, eventually

ACTIVITY_JSON = "application/activity+json"
LD_JSON = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


class LoopbackResolver(AbstractResolver):
    """Resolve the test domains to 127.0.0.1 so that URLs keep their real host.

    Any other host name fails, so a URL naming a host that no test started stays
    on this machine. aiohttp connects to IP literals without asking a resolver.
    """

    def __init__(self, domains: set[str]) -> None:
        self.domains = domains

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host.lower() not in self.domains:
            raise OSError(f"{host} is not one of the test instances")
        return [
            {
                "hostname": host,
                "host": "127.0.0.1",
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        return None


def open_session(*instances: LiveInstance) -> aiohttp.ClientSession:
    """Return a session that reaches the instances at their public URLs over HTTPS."""
    context = ssl.create_default_context(cafile=str(instances[0].pki.ca_file))
    connector = aiohttp.TCPConnector(
        resolver=LoopbackResolver({instance.domain for instance in instances}),
        ssl=context,
    )
    return aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=15)
    )


async def fetch(
    session: aiohttp.ClientSession,
    url: str,
    accept: str = ACTIVITY_JSON,
    **kwargs: Any,
) -> tuple[int, str, Any]:
    """GET ``url``; return (status, content type, parsed JSON or text)."""
    async with session.get(url, headers={"Accept": accept}, **kwargs) as response:
        text = await response.text()
        content_type = response.headers.get("Content-Type", "")
        try:
            return response.status, content_type, json.loads(text)
        except ValueError:
            return response.status, content_type, text


async def private_key_of(teacher: Teacher) -> Any:
    """Load a teacher's private key from its instance's database."""
    connection = await teacher.instance.db()
    try:
        pem = await connection.fetchval(
            "SELECT private_key_pem FROM accounts WHERE id = $1",
            int(teacher.account_id),
        )
    finally:
        await connection.close()
    return httpsig.load_private_key(pem)


def signed_headers(
    url: str,
    body: bytes,
    *,
    key_id: str,
    private_key: Any,
    scheme: str = httpsig.CAVAGE,
    now: float | None = None,
) -> dict[str, str]:
    """Return the headers of a POST of ``body`` to ``url``, signature included."""
    headers = {"Content-Type": ACTIVITY_JSON}
    headers.update(
        httpsig.sign_request(
            "POST", url, headers, body, private_key, key_id, scheme=scheme, now=now
        )
    )
    return headers


async def post_raw(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]
) -> tuple[int, Any]:
    """POST ``body`` with exactly ``headers``; return (status, parsed JSON or text)."""
    # A stream, because aiohttp warns about large bodies given as bytes.
    async with session.post(url, data=io.BytesIO(body), headers=headers) as response:
        text = await response.text()
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, text


async def post_signed(
    session: aiohttp.ClientSession,
    url: str,
    activity: dict[str, Any],
    *,
    key_id: str | None,
    private_key: Any = None,
    scheme: str = httpsig.CAVAGE,
    now: float | None = None,
    sent_body: bytes | None = None,
) -> tuple[int, Any]:
    """POST an activity signed with ``private_key`` (unsigned when key_id is None).

    ``sent_body``, when given, replaces the signed body on the wire.
    """
    body = json.dumps(activity).encode()
    if key_id is None:
        headers = {"Content-Type": ACTIVITY_JSON}
    else:
        headers = signed_headers(
            url, body, key_id=key_id, private_key=private_key, scheme=scheme, now=now
        )
    return await post_raw(
        session, url, body if sent_body is None else sent_body, headers
    )


async def inbox_rows(instance: LiveInstance) -> list[asyncpg.Record]:
    """Return every row of the instance's inbox queue."""
    connection = await instance.db()
    try:
        return await connection.fetch("SELECT * FROM inbox_queue ORDER BY id")
    finally:
        await connection.close()


async def logged(instance: LiveInstance, *fragments: str) -> str | None:
    """Wait for a log line of ``instance`` containing every fragment; return it."""

    async def find() -> str | None:
        for line in instance.log_text().splitlines():
            if all(fragment in line for fragment in fragments):
                return line
        return None

    return await eventually(find, timeout=5.0)


async def relationship(teacher: Teacher, account_id: str) -> dict[str, Any]:
    relations = await teacher.get(
        "/api/v1/accounts/relationships", params={"id[]": account_id}
    )
    return relations[0]


async def follow(follower: Teacher, followed: Teacher) -> dict[str, Any]:
    """Follow ``followed`` from ``follower`` and wait for the Accept; return the
    followed account as the follower's instance shows it."""
    remote = await follower.resolve(f"@{followed.handle}")
    await follower.post(f"/api/v1/accounts/{remote['id']}/follow")

    async def accepted() -> bool:
        return (await relationship(follower, remote["id"]))["following"]

    assert await eventually(accepted), (
        f"{follower.handle} never followed {followed.handle}"
    )
    return remote


async def post(teacher: Teacher, text: str, **fields: Any) -> dict[str, Any]:
    """Publish a status through the client API and return it."""
    return await teacher.post("/api/v1/statuses", json={"status": text, **fields})


async def home_status(teacher: Teacher, uri: str) -> dict[str, Any] | None:
    """Return the status with ``uri`` from the teacher's home timeline, or None."""
    home = await teacher.get("/api/v1/timelines/home", params={"limit": "40"})
    return next((status for status in home if status["uri"] == uri), None)


async def arrives_home(teacher: Teacher, uri: str) -> dict[str, Any] | None:
    """Wait until the status with ``uri`` is on the teacher's home timeline."""
    return await eventually(lambda: home_status(teacher, uri))


async def notification(
    teacher: Teacher, kind: str, status_uri: str | None = None
) -> dict[str, Any] | None:
    """Return the teacher's newest notification of ``kind``, about ``status_uri``
    when given."""
    found = await teacher.get("/api/v1/notifications", params={"types[]": kind})
    for item in found:
        if status_uri is None or (item["status"] or {}).get("uri") == status_uri:
            return item
    return None


async def status_by_id(teacher: Teacher, status_id: str) -> tuple[int, Any]:
    return await teacher.request("GET", f"/api/v1/statuses/{status_id}")
