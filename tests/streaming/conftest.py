"""Two live instances for the streaming tests, and clients for their streams.

school-a.test allows three streaming connections per account, so the
connection cap can be reached quickly. district-b.test requires a token for
public streams. Both send a heartbeat every second. Both follow the instance URL in their ``streaming_api``, a
test domain that only the instances' host maps resolve, so the HTTP clients
here send requests for it to 127.0.0.1, whose address the test certificate
names as well.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import pytest
import requests
from mastodon import Mastodon, StreamListener

from tests.support.live import LiveInstance, Teacher
from web.api import hash_token

# Seconds a test waits for an event before it fails.
EVENT_TIMEOUT = 20.0
SCHOOL_CONNECTION_CAP = 3
# A short heartbeat wakes Mastodon.py's reading thread soon after a test
# closes its stream, because the thread notices the close only on new data.
HEARTBEAT_SECONDS = 1.0


class LoopbackSession(requests.Session):
    """A requests session that trusts the test CA and sends the instance's
    public host to 127.0.0.1."""

    def __init__(self, instance: LiveInstance) -> None:
        super().__init__()
        self.instance = instance
        self.verify = str(instance.pki.ca_file)
        # REQUESTS_CA_BUNDLE in the environment would replace ``verify``.
        self.trust_env = False

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        public = self.instance.url
        if url.startswith(public):
            url = self.instance.client_url + url[len(public) :]
        return super().request(method, url, *args, **kwargs)


def client_for(teacher: Teacher | None, instance: LiveInstance) -> Mastodon:
    """Return a Mastodon.py client, anonymous when ``teacher`` is None."""
    return Mastodon(
        access_token=None if teacher is None else teacher.token,
        api_base_url=instance.client_url,
        session=LoopbackSession(instance),
    )


class Recorder(StreamListener):
    """A Mastodon.py listener that keeps every event it gets, for the test thread."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, Any]] = []
        self.lock = threading.Lock()
        self.heartbeats = 0

    def on_any_event(self, name: str, data: Any = None) -> None:
        with self.lock:
            self.events.append((name, data))

    def on_update(self, status: Any) -> None:
        pass

    def on_delete(self, status_id: Any) -> None:
        pass

    def on_notification(self, notification: Any) -> None:
        pass

    def on_status_update(self, status: Any) -> None:
        pass

    def on_conversation(self, conversation: Any) -> None:
        pass

    def on_filters_changed(self) -> None:
        pass

    def handle_heartbeat(self) -> None:
        self.heartbeats += 1

    def named(self, name: str) -> list[Any]:
        with self.lock:
            return [data for event, data in self.events if event == name]

    async def wait_for(
        self, name: str, check: Any, timeout: float = EVENT_TIMEOUT
    ) -> Any:
        """Return the first ``name`` event whose data passes ``check``, or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for data in self.named(name):
                if check(data):
                    return data
            await asyncio.sleep(0.1)
        return None


async def open_stream(method: Any, *args: Any, **kwargs: Any) -> tuple[Any, Recorder]:
    """Start a Mastodon.py stream in its thread; return the handle and the recorder.

    Waits for the first heartbeat line, which the server sends once the
    stream is registered, so that no event posted afterwards is missed.
    """
    recorder = Recorder()
    handle = await asyncio.to_thread(method, *args, recorder, run_async=True, **kwargs)
    deadline = time.monotonic() + EVENT_TIMEOUT
    while recorder.heartbeats == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert recorder.heartbeats > 0, "the stream sent no first heartbeat"
    return handle, recorder


async def close_stream(handle: Any) -> None:
    handle.close()
    # The reading thread ends once the socket is closed.
    await asyncio.to_thread(handle.join, 10)


async def add_token(instance: LiveInstance, teacher: Teacher, scopes: str) -> str:
    """Create another token of ``teacher`` with only ``scopes``; return it."""
    token = secrets.token_urlsafe(24)
    connection = await asyncpg.connect(instance.dsn)
    try:
        await connection.execute(
            "INSERT INTO tokens (account_id, token_hash, scopes) VALUES ($1, $2, $3)",
            int(teacher.account_id),
            hash_token(token),
            scopes,
        )
    finally:
        await connection.close()
    return token


class EventSource:
    """A server-sent event stream read with aiohttp: its status and parsed events."""

    def __init__(self, instance: LiveInstance, path: str, token: str | None) -> None:
        self.instance = instance
        self.path = path
        self.headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        self.session = aiohttp.ClientSession()
        self.response: aiohttp.ClientResponse | None = None
        self.events: list[tuple[str, str]] = []
        self.comments: list[str] = []
        self.reader: asyncio.Task[None] | None = None

    async def open(self) -> int:
        """Connect; return the status. On 200 wait for the first comment line."""
        self.response = await self.session.get(
            self.instance.client_url + self.path,
            headers=self.headers,
            ssl=self.instance.ssl_context(),
            timeout=aiohttp.ClientTimeout(total=None, sock_read=None),
        )
        if self.response.status != 200:
            return self.response.status
        self.reader = asyncio.create_task(self._read())
        deadline = time.monotonic() + EVENT_TIMEOUT
        while not self.comments and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return self.response.status

    async def body(self) -> Any:
        assert self.response is not None
        return json.loads(await self.response.read())

    async def _read(self) -> None:
        assert self.response is not None
        event: dict[str, str] = {}
        async for raw in self.response.content:
            line = raw.decode().rstrip("\n")
            if line.startswith(":"):
                self.comments.append(line)
            elif line:
                key, _, value = line.partition(": ")
                event[key] = value
            elif event:
                self.events.append((event.get("event", ""), event.get("data", "")))
                event = {}

    async def wait_for(
        self, name: str, check: Any, timeout: float = EVENT_TIMEOUT
    ) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event, data in self.events:
                if event == name and check(data):
                    return data
            await asyncio.sleep(0.1)
        return None

    def ended(self) -> bool:
        return self.reader is not None and self.reader.done()

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
            await asyncio.gather(self.reader, return_exceptions=True)
        if self.response is not None:
            self.response.close()
        await self.session.close()


@pytest.fixture(scope="module")
async def instances(
    databases: Any, pki: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[LiveInstance, LiveInstance]]:
    """school-a.test with a cap of three streams per account, and
    district-b.test, whose public streams need a token."""
    directory = tmp_path_factory.mktemp("streaming")
    host_map = {"school-a.test": "127.0.0.1", "district-b.test": "127.0.0.1"}
    school = LiveInstance(
        domain="school-a.test",
        dsn=await databases.create(),
        directory=directory / "school-a.test",
        pki=pki,
        host_map=host_map,
        extra_env={
            "PEDAGOGUE_STREAMING__MAX_CONNECTIONS_PER_ACCOUNT": str(
                SCHOOL_CONNECTION_CAP
            ),
            "PEDAGOGUE_STREAMING__HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
        },
    )
    district = LiveInstance(
        domain="district-b.test",
        dsn=await databases.create(),
        directory=directory / "district-b.test",
        pki=pki,
        host_map=host_map,
        extra_env={
            "PEDAGOGUE_STREAMING__PUBLIC_REQUIRES_TOKEN": "true",
            "PEDAGOGUE_STREAMING__HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
        },
    )
    started = [school, district]
    try:
        await asyncio.gather(*(instance.start() for instance in started))
        yield school, district
    finally:
        for instance in started:
            instance.terminate()
        for instance in started:
            instance.stop()
            await databases.drop(instance.dsn)
