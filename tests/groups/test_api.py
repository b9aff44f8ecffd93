"""The groups client API and the group actor, in process: input checks,
permissions and the ActivityPub documents, validated against the OpenAPI file."""

from __future__ import annotations

import secrets
from typing import Any

from pedagogue.accounts import create_teacher
from tests.inbox.conftest import InboxHarness
from tests.support.openapi import validate_response
from web.api import hash_token

GROUPS = "/api/pedagogue/v1/groups"
ACTIVITY_JSON = "application/activity+json"


async def token_for(harness: InboxHarness, account: Any) -> dict[str, str]:
    token = secrets.token_urlsafe(24)
    await harness.pool.execute(
        "INSERT INTO tokens (account_id, token_hash) VALUES ($1, $2)",
        account["id"],
        hash_token(token),
    )
    return {"Authorization": f"Bearer {token}"}


async def call(
    harness: InboxHarness,
    method: str,
    path: str,
    headers: dict[str, str],
    **kwargs: Any,
) -> tuple[int, Any]:
    response = await harness.client.open(path, method=method, headers=headers, **kwargs)
    return response.status_code, await response.get_json()


async def alice_group(harness: InboxHarness, **fields: Any) -> tuple[dict, dict]:
    headers = await token_for(harness, harness.alice)
    status, group = await call(
        harness, "POST", GROUPS, headers, json={"name": "maths", **fields}
    )
    assert status == 200, group
    return headers, group


async def test_create_group_returns_profile(harness: InboxHarness) -> None:
    _, group = await alice_group(
        harness,
        display_name="Maths teachers",
        description="Lessons and questions.",
        rules="Be kind.",
        subjects=["Mathematics", "mathematics", "Statistics"],
        grade_levels=["7"],
    )

    validate_response("groups", GROUPS, "POST", 200, group)
    assert group["acct"] == "maths"
    assert group["subjects"] == ["mathematics", "statistics"]
    assert group["members_count"] == 1
    assert group["moderators"] == [
        {"id": str(harness.alice["id"]), "acct": "alice", "role": "owner"}
    ]


async def test_create_group_invalid_fields_rejected(harness: InboxHarness) -> None:
    headers = await token_for(harness, harness.alice)
    cases = {
        "name is missing": {},
        "name must be": {"name": "no spaces"},
        "description is over 2000": {"name": "ok", "description": "x" * 2001},
        "subjects entries must be": {"name": "ok", "subjects": [""]},
        "grade_levels has over 20": {
            "name": "ok",
            "grade_levels": list(map(str, range(21))),
        },
    }
    for expected, body in cases.items():
        status, error = await call(harness, "POST", GROUPS, headers, json=body)
        validate_response("groups", GROUPS, "POST", 422, error)
        assert status == 422, body
        assert expected in error["error"], error
    count = await harness.pool.fetchval("SELECT count(*) FROM group_profiles")
    assert count == 0


async def test_create_group_name_taken_rejected(harness: InboxHarness) -> None:
    headers = await token_for(harness, harness.alice)

    status, error = await call(harness, "POST", GROUPS, headers, json={"name": "Alice"})

    assert status == 422
    assert "already taken" in error["error"]


async def test_create_group_without_token_rejected(harness: InboxHarness) -> None:
    status, error = await call(harness, "POST", GROUPS, {}, json={"name": "maths"})

    validate_response("groups", GROUPS, "POST", 401, error)
    assert status == 401


async def test_non_moderator_cannot_remove_member(harness: InboxHarness) -> None:
    _, group = await alice_group(harness)
    bob = await create_teacher(
        harness.pool, harness.runtime.settings, username="bob", password=None
    )
    bob_headers = await token_for(harness, bob)
    await call(harness, "POST", f"{GROUPS}/{group['id']}/join", bob_headers)

    path = f"{GROUPS}/{group['id']}/members/{harness.alice['id']}"
    status, error = await call(harness, "DELETE", path, bob_headers)

    validate_response(
        "groups", f"{GROUPS}/{{id}}/members/{{account_id}}", "DELETE", 403, error
    )
    assert status == 403
    assert "moderator" in error["error"]


async def test_owner_cannot_be_removed(harness: InboxHarness) -> None:
    headers, group = await alice_group(harness)

    path = f"{GROUPS}/{group['id']}/members/{harness.alice['id']}"
    status, error = await call(harness, "DELETE", path, headers)

    assert status == 422
    assert "owner" in error["error"]


async def test_unknown_group_not_found(harness: InboxHarness) -> None:
    status, error = await call(harness, "GET", f"{GROUPS}/{harness.alice['id']}", {})

    validate_response("groups", f"{GROUPS}/{{id}}", "GET", 404, error)
    assert status == 404


async def test_group_actor_document(harness: InboxHarness) -> None:
    _, group = await alice_group(
        harness, description="Lessons.", approval_required=True
    )

    response = await harness.client.get(
        "/users/maths", headers={"Accept": ACTIVITY_JSON}
    )
    actor = await response.get_json()

    assert actor["type"] == "Group"
    assert actor["attributedTo"] == f"{group['actor_id']}/moderators"
    assert actor["followers"] == f"{group['actor_id']}/followers"
    assert actor["manuallyApprovesFollowers"] is True
    assert actor["summary"] == "<p>Lessons.</p>"
    assert actor["publicKey"]["id"] == f"{group['actor_id']}#main-key"


async def test_group_moderators_collection(harness: InboxHarness) -> None:
    await alice_group(harness)

    response = await harness.client.get(
        "/users/maths/moderators", headers={"Accept": ACTIVITY_JSON}
    )
    collection = await response.get_json()

    assert collection["type"] == "OrderedCollection"
    assert collection["orderedItems"] == [harness.alice["actor_id"]]


async def test_webfinger_finds_group(harness: InboxHarness) -> None:
    _, group = await alice_group(harness)

    response = await harness.client.get(
        "/.well-known/webfinger", query_string={"resource": "acct:maths@school-a.test"}
    )
    document = await response.get_json()

    self_links = [link["href"] for link in document["links"] if link["rel"] == "self"]
    assert response.status_code == 200
    assert self_links == [group["actor_id"]]


async def test_malformed_ids_not_found(harness: InboxHarness) -> None:
    headers, group = await alice_group(harness)
    # A superscript two passes str.isdigit but is no row id; the others are
    # past PostgreSQL's bigint or not digits at all.
    bad_ids = ["\u00b2", "\u0663", str(2**63), "9" * 40, "-1", "1e3"]
    for bad in bad_ids:
        status, error = await call(harness, "GET", f"{GROUPS}/{bad}", {})
        validate_response("groups", f"{GROUPS}/{{id}}", "GET", 404, error)
        assert status == 404, bad
    for bad in bad_ids:
        path = f"{GROUPS}/{group['id']}/members/{bad}"
        status, error = await call(harness, "DELETE", path, headers)
        assert status == 404, bad
        path = f"{GROUPS}/{group['id']}/statuses/{bad}"
        status, error = await call(harness, "DELETE", path, headers)
        assert status == 404, bad


async def test_remove_moderator_by_owner(harness: InboxHarness) -> None:
    headers, group = await alice_group(harness)
    bob = await create_teacher(
        harness.pool, harness.runtime.settings, username="bob", password=None
    )
    await call(
        harness, "POST", f"{GROUPS}/{group['id']}/join", await token_for(harness, bob)
    )
    added_status, added = await call(
        harness,
        "POST",
        f"{GROUPS}/{group['id']}/moderators",
        headers,
        json={"account_id": str(bob["id"])},
    )
    path = f"{GROUPS}/{group['id']}/moderators/{bob['id']}"

    status, body = await call(harness, "DELETE", path, headers)
    again_status, again = await call(harness, "DELETE", path, headers)

    template = f"{GROUPS}/{{id}}/moderators/{{account_id}}"
    validate_response("groups", template, "DELETE", 200, body)
    validate_response("groups", template, "DELETE", 404, again)
    assert added_status == 200
    assert [m["acct"] for m in added["moderators"]] == ["alice", "bob"]
    assert status == 200
    assert [m["acct"] for m in body["moderators"]] == ["alice"]
    assert again_status == 404


async def test_last_owner_cannot_be_unmade(harness: InboxHarness) -> None:
    headers, group = await alice_group(harness)
    path = f"{GROUPS}/{group['id']}/moderators/{harness.alice['id']}"

    status, error = await call(harness, "DELETE", path, headers)

    validate_response(
        "groups", f"{GROUPS}/{{id}}/moderators/{{account_id}}", "DELETE", 422, error
    )
    assert status == 422
    assert "last owner" in error["error"]
