"""fediverse-pasture's actor verifier run against a Pedagogue teacher.

The verifier finds the teacher by WebFinger, fetches the actor and POSTs to its
inbox as six test actors. Four sign with draft-cavage: bob, claire, emily and
frank. Claire and frank also reject unsigned fetches of their own actor
documents, so their posts verify only if Pedagogue signs its key fetches.
Alice and dean send unsigned requests, which the inbox must reject. Alice, bob
and claire can be found by WebFinger; dean, emily and frank cannot.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from tests.external.conftest import ToolServer
from tests.support.live import LiveInstance

SIGNED_ACTORS = ("bob", "claire", "emily", "frank")
UNSIGNED_ACTORS = ("alice", "dean")
# The verifier sends about fifteen requests, each with its own 10 s timeout.
VERIFY_TIMEOUT = 120.0


@dataclass
class Verification:
    """The verifier's response: per-actor results and its step log per actor."""

    result: dict[str, Any]
    steps: dict[str, list[Any]]
    pasture_url: str

    def log_of(self, actor_name: str) -> str:
        return "\n".join(str(step) for step in self.steps.get(actor_name, []))

    def full_log(self) -> str:
        return "\n".join(str(step) for steps in self.steps.values() for step in steps)


def split_steps(steps: list[Any]) -> dict[str, list[Any]]:
    """Group the verifier's step log by the test actor each step belongs to."""
    grouped: dict[str, list[Any]] = {"": []}
    current = ""
    for step in steps:
        if isinstance(step, str) and step.startswith("Running verification for "):
            current = step.removeprefix("Running verification for ")
            grouped[current] = []
        grouped[current].append(step)
    return grouped


@pytest.fixture(scope="module")
async def verification(
    pedagogue: LiveInstance, pasture_server: ToolServer
) -> Verification:
    teacher = await pedagogue.create_teacher("margot")
    form = {"actor_uri": f"acct:{teacher.handle}"}
    timeout = aiohttp.ClientTimeout(total=VERIFY_TIMEOUT)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.post(
            f"http://127.0.0.1:{pasture_server.port}/",
            data=form,
            headers={"Accept": "application/json"},
        ) as response,
    ):
        text = await response.text()
    assert response.status == 200, f"verifier returned {response.status}: {text}"
    answer = json.loads(text)
    steps = json.loads(answer["messages"])["steps"]
    return Verification(answer["result"], split_steps(steps), pasture_server.url)


@pytest.mark.parametrize("actor_name", SIGNED_ACTORS)
async def test_signed_actor_fetches_teacher(
    verification: Verification, actor_name: str
) -> None:
    outcome = verification.result[actor_name]
    assert outcome["get_actor"], verification.log_of(actor_name)


@pytest.mark.parametrize("actor_name", SIGNED_ACTORS)
async def test_signed_actor_post_accepted(
    verification: Verification, actor_name: str
) -> None:
    outcome = verification.result[actor_name]
    assert outcome["post_inbox"], verification.log_of(actor_name)
    # The verifier counts a 400 as delivered too; Pedagogue must store the post.
    assert 202 in verification.steps[actor_name], verification.log_of(actor_name)


@pytest.mark.parametrize("actor_name", SIGNED_ACTORS)
async def test_signed_actor_activity_stored(
    verification: Verification, pedagogue: LiveInstance, actor_name: str
) -> None:
    actor_id = f"{verification.pasture_url}/{actor_name}"
    connection = await pedagogue.db()
    try:
        stored = await connection.fetchval(
            "SELECT count(*) FROM inbox_queue WHERE actor_id = $1 AND activity_type = 'Like'",
            actor_id,
        )
    finally:
        await connection.close()
    assert stored == 1, verification.log_of(actor_name)


@pytest.mark.parametrize("actor_name", UNSIGNED_ACTORS)
async def test_unsigned_actor_fetches_teacher(
    verification: Verification, actor_name: str
) -> None:
    outcome = verification.result[actor_name]
    assert outcome["get_actor"], verification.log_of(actor_name)


@pytest.mark.parametrize("actor_name", UNSIGNED_ACTORS)
async def test_unsigned_post_rejected(
    verification: Verification, actor_name: str
) -> None:
    outcome = verification.result[actor_name]
    assert not outcome["post_inbox"], verification.log_of(actor_name)
    assert "Got 401 for unsigned POST" in verification.steps[actor_name], (
        verification.log_of(actor_name)
    )


async def test_webfinger_round_trip(verification: Verification) -> None:
    assert verification.result["webfinger"] is True, verification.full_log()
