"""Authorized fetch (secure mode) between two live instances.

school-a.test runs with ``federation.authorized_fetch = true``; district-b.test
runs without it. Requests to school-a are sent unsigned, or signed by
federation.httpsig with the real key of bob on district-b. The fetches that
district-b makes itself show that an instance signs what it fetches.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from federation import httpsig
from storage.moderation import POLICY_CHANNEL
from tests.e2e.peers import (
    ACTIVITY_JSON,
    BROWSER_ACCEPT,
    arrives_home,
    follow,
    logged,
    open_session,
    private_key_of,
)
from tests.support.live import LiveInstance, Teacher, eventually

SECURE_ENV = {"PEDAGOGUE_FEDERATION__AUTHORIZED_FETCH": "true"}


class Pair:
    def __init__(self, school: LiveInstance, district: LiveInstance) -> None:
        self.school = school
        self.district = district
        self.alice: Teacher
        self.bob: Teacher
        self.public_status: dict[str, Any]
        self.private_status: dict[str, Any]

    async def get(
        self, url: str, *, signer: Teacher | None = None, accept: str = ACTIVITY_JSON
    ) -> tuple[int, Any]:
        """GET ``url``, signed with ``signer``'s key when given."""
        headers = {"Accept": accept}
        if signer is not None:
            headers.update(
                httpsig.sign_request(
                    "GET",
                    url,
                    headers,
                    None,
                    await private_key_of(signer),
                    f"{signer.actor_id}#main-key",
                )
            )
        async with (
            open_session(self.school, self.district) as session,
            session.get(url, headers=headers, allow_redirects=False) as response,
        ):
            text = await response.text()
            try:
                return response.status, json.loads(text)
            except ValueError:
                return response.status, text


@pytest.fixture(scope="module")
async def pair(start_module_instances: Any) -> Pair:
    school, district = await start_module_instances(
        "school-a.test", "district-b.test", extra_env={"school-a.test": SECURE_ENV}
    )
    pair = Pair(school, district)
    pair.alice = await school.create_teacher("alice")
    pair.bob = await district.create_teacher("bob")
    # bob's instance fetches alice's actor (signed as its instance actor) and
    # delivers the Follow; alice's instance fetches bob's key to verify it.
    await follow(pair.bob, pair.alice)
    pair.public_status = await pair.alice.post(
        "/api/v1/statuses", json={"status": "Open to all"}
    )
    pair.private_status = await pair.alice.post(
        "/api/v1/statuses", json={"status": "Followers only", "visibility": "private"}
    )
    return pair


async def test_unsigned_status_fetch_rejected(pair: Pair) -> None:
    status, _ = await pair.get(pair.public_status["uri"])
    assert status == 401


async def test_signed_status_fetch_served(pair: Pair) -> None:
    status, body = await pair.get(pair.public_status["uri"], signer=pair.bob)
    assert status == 200
    assert body["id"] == pair.public_status["uri"]


async def test_private_fetch_by_follower_served(pair: Pair) -> None:
    status, body = await pair.get(pair.private_status["uri"], signer=pair.bob)
    assert status == 200
    assert body["id"] == pair.private_status["uri"]


async def test_unsigned_outbox_rejected(pair: Pair) -> None:
    status, _ = await pair.get(f"{pair.school.url}/users/alice/outbox")
    assert status == 401


async def test_unsigned_followers_rejected(pair: Pair) -> None:
    status, _ = await pair.get(f"{pair.school.url}/users/alice/followers")
    assert status == 401


async def test_unsigned_activity_rejected(pair: Pair) -> None:
    connection = await pair.school.db()
    try:
        activity_uri = await connection.fetchval(
            "SELECT activity_uri FROM statuses WHERE uri = $1",
            pair.public_status["uri"],
        )
    finally:
        await connection.close()
    status, _ = await pair.get(activity_uri)
    assert status == 401


async def test_unsigned_instance_actor_served(pair: Pair) -> None:
    status, body = await pair.get(f"{pair.school.url}/actor")
    assert status == 200
    assert body["id"] == f"{pair.school.url}/actor"


async def test_unsigned_webfinger_served(pair: Pair) -> None:
    url = f"{pair.school.url}/.well-known/webfinger?resource=acct:{pair.alice.handle}"
    status, _ = await pair.get(url, accept="application/jrd+json")
    assert status == 200


async def test_unsigned_nodeinfo_served(pair: Pair) -> None:
    status, _ = await pair.get(
        f"{pair.school.url}/nodeinfo/2.0", accept="application/json"
    )
    assert status == 200


async def test_unsigned_actor_reduced(pair: Pair) -> None:
    status, body = await pair.get(pair.alice.actor_id)
    assert status == 200
    assert set(body) == {
        "@context",
        "id",
        "type",
        "preferredUsername",
        "inbox",
        "outbox",
        "publicKey",
        "endpoints",
    }


async def test_signed_actor_served_whole(pair: Pair) -> None:
    status, body = await pair.get(pair.alice.actor_id, signer=pair.bob)
    assert status == 200
    assert "followers" in body


async def test_browser_status_page_served(pair: Pair) -> None:
    status, body = await pair.get(pair.public_status["url"], accept=BROWSER_ACCEPT)
    assert status == 200
    assert "Open to all" in body


async def test_bad_signature_rejected(pair: Pair) -> None:
    headers = {"Accept": ACTIVITY_JSON}
    headers.update(
        httpsig.sign_request(
            "GET",
            pair.private_status["uri"],
            headers,
            None,
            await private_key_of(pair.bob),
            f"{pair.bob.actor_id}#main-key",
        )
    )
    # Signed for one status, sent for another.
    async with (
        open_session(pair.school, pair.district) as session,
        session.get(pair.public_status["uri"], headers=headers) as response,
    ):
        status = response.status
    assert status == 401


async def test_remote_search_fetches_status(pair: Pair) -> None:
    """district-b fetches an unknown post of school-a through search, signing
    the GET, and stores it."""
    late = await pair.alice.post("/api/v1/statuses", json={"status": "Fetched later"})
    found = await pair.bob.get(
        "/api/v2/search",
        params={"q": late["uri"], "resolve": "true", "type": "statuses"},
    )
    assert [status["uri"] for status in found["statuses"]] == [late["uri"]]


async def test_delivery_to_remote_follower(pair: Pair) -> None:
    """A follower on district-b receives alice's post: delivery and the key
    fetches it needs work under authorized fetch."""
    assert await arrives_home(pair.bob, pair.public_status["uri"]) is not None


async def test_instance_actor_signs_fetches(pair: Pair) -> None:
    """district-b fetched alice's actor signed by its instance actor: school-a
    verified that signature and served the whole document, followers included."""
    connection = await pair.district.db()
    try:
        followers_url = await connection.fetchval(
            "SELECT followers_url FROM accounts WHERE actor_id = $1",
            pair.alice.actor_id,
        )
    finally:
        await connection.close()
    assert followers_url == f"{pair.alice.actor_id}/followers"
    line = await logged(pair.school, "signed GET /users/alice by", "/actor")
    assert line is not None


async def test_suspended_domain_fetch_rejected(
    pair: Pair, start_module_instances: Any
) -> None:
    """A GET signed by an actor on a domain school-a suspended gets 403, and
    school-a never fetches that actor's key."""
    (college,) = await start_module_instances("college-c.test")
    carl = await college.create_teacher("carl")
    connection = await pair.school.db()
    try:
        await connection.execute(
            "INSERT INTO domain_blocks (id, domain, severity) VALUES (1, $1, 'suspend')",
            college.host,
        )
        await connection.execute(f"NOTIFY {POLICY_CHANNEL}")
    finally:
        await connection.close()
    headers = {"Accept": ACTIVITY_JSON}
    headers.update(
        httpsig.sign_request(
            "GET",
            pair.public_status["uri"],
            headers,
            None,
            await private_key_of(carl),
            f"{carl.actor_id}#main-key",
        )
    )

    async def refused() -> bool:
        async with (
            open_session(pair.school, college) as session,
            session.get(pair.public_status["uri"], headers=headers) as response,
        ):
            return response.status == 403

    assert await eventually(refused, timeout=5.0)
    connection = await pair.school.db()
    try:
        stored = await connection.fetchval(
            "SELECT count(*) FROM accounts WHERE actor_id = $1", carl.actor_id
        )
    finally:
        await connection.close()
    # The domain is checked before the key: carl's actor was never fetched.
    assert stored == 0
