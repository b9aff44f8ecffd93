"""Rate limits of a live instance: inbox POSTs per remote host and client API
writes per account, answered with 429 and Retry-After."""

from __future__ import annotations

import pytest

from tests.hostile.conftest import OpenWorld
from tests.hostile.world import OTHER_NAME, HostileWorld, note, wrap

BURST = 3


@pytest.fixture(scope="module")
async def world(open_world: OpenWorld) -> HostileWorld:
    # A rate this low refills no token while the module runs.
    return await open_world(
        {
            "PEDAGOGUE_FEDERATION__INBOX_RATE_PER_HOST": "0.001",
            "PEDAGOGUE_FEDERATION__INBOX_BURST_PER_HOST": str(BURST),
            "PEDAGOGUE_WEB__API_WRITE_RATE": "0.001",
            "PEDAGOGUE_WEB__API_WRITE_BURST": str(BURST),
        }
    )


async def test_inbox_host_over_limit_gets_429(world: HostileWorld) -> None:
    sender = world.peer.add_actor("chatty")
    statuses = []
    for number in range(BURST):
        create = wrap("Create", sender, note(sender, number))
        statuses.append((await world.post_with_headers(create, sender))[0])
    extra = wrap("Create", sender, note(sender, "extra"))

    status, text, headers = await world.post_with_headers(extra, sender)

    assert statuses == [202] * BURST
    assert status == 429
    assert "too many requests" in text
    assert int(headers["Retry-After"]) >= 1
    assert (
        await world.fetchval(
            "SELECT count(*) FROM inbox_queue WHERE activity_id = $1", extra["id"]
        )
        == 0
    )


async def test_inbox_limit_counts_hosts_apart(world: HostileWorld) -> None:
    quiet = world.peer.add_actor("quiet", host=OTHER_NAME)
    create = wrap("Create", quiet, note(quiet, "other-host"))

    status, _, _ = await world.post_with_headers(create, quiet)

    assert status == 202


async def test_api_writes_over_limit_get_429(world: HostileWorld) -> None:
    teacher = world.teacher
    statuses = []
    for number in range(BURST):
        code, _ = await teacher.request(
            "POST", "/api/v1/statuses", json={"status": f"post {number}"}
        )
        statuses.append(code)

    code, body = await teacher.request(
        "POST", "/api/v1/statuses", json={"status": "one too many"}
    )

    assert statuses == [200] * BURST
    assert code == 429
    assert body == {"error": "Too many requests, retry later"}


async def test_api_429_carries_retry_after(world: HostileWorld) -> None:
    async with world.session.post(
        f"{world.instance.url}/api/v1/statuses",
        json={"status": "still too many"},
        headers={"Authorization": f"Bearer {world.teacher.token}"},
    ) as response:
        status, retry_after = response.status, response.headers.get("Retry-After")

    assert status == 429
    assert retry_after is not None
    assert int(retry_after) >= 1


async def test_api_reads_not_limited(world: HostileWorld) -> None:
    code, _ = await world.teacher.request("GET", "/api/v1/timelines/home")

    assert code == 200
