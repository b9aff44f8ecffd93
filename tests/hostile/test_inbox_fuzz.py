"""Random and mutated activities, signed with a real key, POSTed to a live inbox.

Each example is one signed POST. The inbox must respond with 202 or a 4xx with
a JSON error. A 202 activity must then be processed by the worker without a
handler crash (a row whose last error is an internal error), and the stored
rows must keep the invariants in INVARIANTS. Hypothesis drives the examples
from a thread, because its test function is synchronous. Every request goes
to the instance on loopback, and the confinement in fuzzing.py keeps every
URL in the examples on the hosts of this test.

The run is reproducible (derandomised, no example database) and bounded by
MAX_EXAMPLES. Each test took about half a minute on two idle cores, and
several times that on a loaded machine.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.keys import generate_key_pair
from tests.e2e.peers import post_raw, signed_headers
from tests.fixtures import list_fixtures, load_fixture
from tests.hostile.conftest import OpenWorld
from tests.hostile.fuzzing import (
    Confinement,
    encode,
    mutated_activities,
    random_activities,
)
from tests.hostile.world import OTHER_NAME, PEER_NAME, HostileWorld, PeerActor

MAX_EXAMPLES = 120
# A processed activity leaves the due queue within milliseconds. The timeout
# bounds the wait when a handler fetches from a slow peer.
PROCESS_TIMEOUT = 15.0
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
# The server flows that carry actor documents, served by the peer instead of
# being POSTed.
ACTOR_FLOWS = {"actor", "actor_community", "actor_channel", "webfinger"}

# Each query returns the rows that break one invariant.
INVARIANTS = {
    "remote status stored under an account of another host": (
        "SELECT s.uri FROM statuses s JOIN accounts a ON a.id = s.account_id"
        " WHERE NOT s.local AND lower(substring(s.uri FROM '^[a-zA-Z]+://([^/?#]*)'))"
        " IS DISTINCT FROM lower(a.domain)"
    ),
    "remote account stored without its domain": (
        "SELECT actor_id FROM accounts WHERE domain IS NULL AND actor_id NOT LIKE $1"
    ),
    "status counter below zero": (
        "SELECT uri FROM statuses"
        " WHERE replies_count < 0 OR reblogs_count < 0 OR favourites_count < 0"
    ),
    "notification addressed to a remote account": (
        "SELECT n.id FROM notifications n JOIN accounts a ON a.id = n.account_id"
        " WHERE a.domain IS NOT NULL"
    ),
    "mention, favourite or reblog notification without its status": (
        "SELECT id FROM notifications"
        " WHERE type IN ('mention', 'favourite', 'reblog') AND status_id IS NULL"
    ),
    "reply linked to a parent with another uri": (
        "SELECT c.uri FROM statuses c JOIN statuses p ON p.id = c.in_reply_to_id"
        " WHERE c.in_reply_to_uri IS DISTINCT FROM p.uri"
    ),
    "boost of a boost": (
        "SELECT s.uri FROM statuses s JOIN statuses b ON b.id = s.reblog_of_id"
        " WHERE b.reblog_of_id IS NOT NULL"
    ),
    "finished inbox row without its processing time": (
        "SELECT activity_id FROM inbox_queue"
        " WHERE state <> 'queued' AND processed_at IS NULL"
    ),
}


class Fuzzer:
    """Signs and POSTs examples and checks the instance after each one."""

    def __init__(
        self,
        world: HostileWorld,
        signer: PeerActor,
        connection: asyncpg.Connection,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.world = world
        self.signer = signer
        self.connection = connection
        self.loop = loop
        self.peer_host = f"{PEER_NAME}:{world.peer.port}"
        self.hosts = [self.peer_host, f"{OTHER_NAME}:{world.peer.port}"]
        self.confinement = Confinement(
            {*self.hosts, world.instance.host}, self.peer_host
        )
        self._serial = itertools.count()

    def run(self, coroutine: Awaitable[Any]) -> Any:
        """Run ``coroutine`` on the test's event loop from the Hypothesis thread."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)  # type: ignore[arg-type]
        return future.result(timeout=PROCESS_TIMEOUT * 2)

    def prepare(self, document: dict[str, Any]) -> dict[str, Any]:
        """Confine ``document`` to the test's hosts and give it a fresh id."""
        document = self.confinement.confine(document)
        activity_id = document.get("id")
        if isinstance(activity_id, str) and activity_id.startswith("https://"):
            document["id"] = f"{activity_id}-fuzz{next(self._serial)}-{time.time_ns()}"
        return document

    def check(self, document: dict[str, Any]) -> None:
        self.run(self._check(self.prepare(document)))

    async def _check(self, document: dict[str, Any]) -> None:
        body = encode(document)
        headers = signed_headers(
            self.world.inbox_url,
            body,
            key_id=self.signer.key_id,
            private_key=self.signer.private_key,
        )
        status, answer = await post_raw(
            self.world.session, self.world.inbox_url, body, headers
        )
        assert status < 500, f"inbox returned {status}: {answer!r}"
        if status != 202:
            assert 400 <= status < 500, f"inbox returned {status}: {answer!r}"
            assert isinstance(answer, dict), (
                f"{status} without a JSON error: {answer!r}"
            )
            assert "error" in answer, f"{status} without an error member: {answer!r}"
            return
        error = await self._processed(document.get("id"))
        assert not (error or "").startswith("internal error"), error
        await self._check_invariants()

    async def _processed(self, activity_id: Any) -> str | None:
        """Wait until the worker has taken the activity and return its last error."""
        deadline = time.monotonic() + PROCESS_TIMEOUT
        while True:
            row = await self.connection.fetchrow(
                "SELECT state = 'queued' AND next_attempt_at <= now() AS due,"
                " last_error FROM inbox_queue WHERE activity_id = $1",
                activity_id,
            )
            # No row: the inbox dropped the activity on purpose (a Delete of
            # an actor it never stored).
            if row is None or not row["due"]:
                return row["last_error"] if row else None
            assert time.monotonic() < deadline, f"{activity_id} was not processed"
            await asyncio.sleep(0.01)

    async def _check_invariants(self) -> None:
        local_prefix = f"{self.world.instance.url}/%"
        for name, query in INVARIANTS.items():
            arguments = (local_prefix,) if "$1" in query else ()
            broken = await self.connection.fetch(query, *arguments)
            assert broken == [], f"{name}: {[tuple(row) for row in broken]}"


@pytest.fixture(scope="module")
async def world(open_world: OpenWorld) -> HostileWorld:
    return await open_world()


@pytest.fixture(scope="module")
async def fuzzer(world: HostileWorld) -> Any:
    signer = world.peer.add_actor("fuzzer")
    connection = await world.instance.db()
    yield Fuzzer(world, signer, connection, asyncio.get_running_loop())
    await connection.close()


def fixture_documents(world: HostileWorld, fuzzer: Fuzzer) -> list[dict[str, Any]]:
    """Load every peer-server fixture, serve its actors and return its activities."""
    _, public_pem = generate_key_pair()
    activities = []
    for server, flow in list_fixtures():
        document = load_fixture(
            server,
            flow,
            remote_host=fuzzer.peer_host,
            local_host=world.instance.host,
            public_key_pem=public_pem,
        )
        if flow in ACTOR_FLOWS:
            if isinstance(document.get("id"), str):
                world.peer.serve(document["id"], document)
        else:
            activities.append(document)
    return activities


async def in_thread(test: Callable[[], None]) -> None:
    await asyncio.to_thread(test)


async def test_random_activities_never_crash_inbox(
    world: HostileWorld, fuzzer: Fuzzer
) -> None:
    actor_ids = [fuzzer.signer.actor_id, world.peer.add_actor("fuzzed").actor_id]
    hosts = fuzzer.hosts + [world.instance.host]
    local_ids = [world.teacher.actor_id, f"{world.teacher.actor_id}/followers"]

    @FUZZ_SETTINGS
    @given(random_activities(hosts, actor_ids, local_ids))
    def post_random(document: dict[str, Any]) -> None:
        actor = document["actor"]
        document["id"] = f"{actor}/activities/random"
        fuzzer.check(document)

    await in_thread(post_random)


async def test_mutated_fixtures_never_crash_inbox(
    world: HostileWorld, fuzzer: Fuzzer
) -> None:
    fixtures = fixture_documents(world, fuzzer)
    hosts = fuzzer.hosts + [world.instance.host]

    @FUZZ_SETTINGS
    @given(st.data())
    def post_mutated(data: st.DataObject) -> None:
        fuzzer.check(data.draw(mutated_activities(fixtures, hosts)))

    await in_thread(post_mutated)
