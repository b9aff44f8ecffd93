"""Lesson plans between two live instances: adapting a plan the adapter's
instance has never seen, followers-only plans on every read path, and
collections federated with Create, Update, Add, Remove and Delete."""

from __future__ import annotations

import io
from typing import Any

import aiohttp
from PIL import Image

from federation import httpsig
from tests.e2e.peers import fetch, follow, open_session, private_key_of
from tests.support.live import LiveInstance, Teacher, eventually
from tests.support.openapi import validate_response

PLANS = "/api/pedagogue/v1/lesson_plans"
COLLECTIONS = "/api/pedagogue/v1/lesson_plan_collections"


def _png() -> bytes:
    """Return a 4x4 PNG without metadata, which the upload re-encoding keeps byte for byte."""
    output = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(output, format="PNG")
    return output.getvalue()


PNG = _png()

SEASONS: dict[str, Any] = {
    "title": "Why we have seasons",
    "summary": "Model the Earth's tilt with a lamp and a globe.",
    "body": "Tilt the globe and measure the light on a card.",
    "subjects": ["Science"],
    "grade_levels": ["6-8"],
    "alignments": [{"framework": "NGSS", "code": "MS-ESS1-1"}],
    "license": "CC-BY-SA-4.0",
}


async def plan_at(teacher: Teacher, uri: str) -> dict[str, Any] | None:
    status, body = await teacher.request("GET", f"{PLANS}/lookup", params={"uri": uri})
    return body if status == 200 else None


async def signed_get(
    instances: tuple[LiveInstance, ...], url: str, signer: Teacher | None
) -> int:
    """GET ``url`` as ActivityStreams, signed with the teacher's key (unsigned
    when ``signer`` is None); return the status code."""
    headers = {"Accept": "application/activity+json"}
    if signer is not None:
        key = await private_key_of(signer)
        headers.update(
            httpsig.sign_request(
                "GET", url, headers, None, key, f"{signer.actor_id}#main-key"
            )
        )
    async with (
        open_session(*instances) as session,
        session.get(url, headers=headers) as response,
    ):
        return response.status


async def collection_row(instance: LiveInstance, uri: str) -> dict[str, Any] | None:
    """Return a stored collection with its item uris, or None."""
    connection = await instance.db()
    try:
        row = await connection.fetchrow(
            "SELECT * FROM lesson_plan_collections WHERE uri = $1", uri
        )
        if row is None:
            return None
        items = await connection.fetch(
            "SELECT p.uri FROM lesson_plan_collection_items i JOIN lesson_plans p"
            " ON p.status_id = i.status_id WHERE i.collection_id = $1",
            row["id"],
        )
    finally:
        await connection.close()
    return {**dict(row), "items": [item["uri"] for item in items]}


async def test_unseen_remote_plan_fetched_adapted_and_attributed(
    start_instances,
) -> None:
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    carol = await school.create_teacher("carol")
    bob = await district.create_teacher("bob")
    original = await alice.post(PLANS, json=SEASONS)
    # Nobody on the district follows alice, so her plan never arrived there.
    assert await plan_at(bob, original["uri"]) is None

    status, resolved = await bob.request(
        "GET", f"{PLANS}/lookup", params={"uri": original["uri"], "resolve": "true"}
    )
    validate_response(
        "lesson_plans", "/api/pedagogue/v1/lesson_plans/lookup", "GET", status, resolved
    )
    assert status == 200
    assert resolved["local"] is False
    assert resolved["alignments"] == [{"framework": "NGSS", "code": "MS-ESS1-1"}]
    assert resolved["license"]["key"] == "CC-BY-SA-4.0"
    home = await bob.get("/api/v1/timelines/home")
    assert [item["uri"] for item in home] == []

    # A second teacher's plan is adapted straight from its URI.
    other = await alice.post(PLANS, json={**SEASONS, "title": "Day length"})
    adaptation = await bob.post(
        PLANS,
        json={
            **SEASONS,
            "title": "Day length, southern hemisphere",
            "license": None,
            "adapted_from": other["uri"],
        },
    )
    assert adaptation["adapted_from"]["uri"] == other["uri"]
    assert adaptation["adapted_from"]["author_uri"] == alice.actor_id
    assert adaptation["license"]["key"] == "CC-BY-SA-4.0"

    async def adaptations() -> list[Any]:
        return await alice.get(f"{PLANS}/{other['id']}/adaptations")

    listed = await eventually(adaptations)
    assert [item["uri"] for item in listed] == [adaptation["uri"]]

    async def notified() -> list[Any]:
        items = await alice.get("/api/v1/notifications")
        return [item for item in items if item["type"] == "adaptation"]

    notes = await eventually(notified)
    assert notes[0]["account"]["acct"] == bob.handle

    # The third generation names both earlier ones, nearest first.
    third = await carol.post(
        PLANS,
        json={
            **SEASONS,
            "title": "Day length with a sundial",
            "license": None,
            "adapted_from": adaptation["uri"],
        },
    )
    assert [item["uri"] for item in third["attribution"]] == [
        adaptation["uri"],
        other["uri"],
    ]
    assert third["attribution"][1]["author_uri"] == alice.actor_id

    # Only https URIs of plans are fetched.
    status, refused = await bob.request(
        "POST", PLANS, json={**SEASONS, "adapted_from": "ftp://school-a.test/x"}
    )
    assert status == 422
    assert refused["field"] == "adapted_from"
    status, refused = await bob.request(
        "POST", PLANS, json={**SEASONS, "adapted_from": alice.actor_id}
    )
    assert status == 422
    assert refused["field"] == "adapted_from"


async def test_followers_only_plans_and_collections_federate(
    start_instances,
) -> None:
    school, district = await start_instances("school-a.test", "district-b.test")
    instances = (school, district)
    alice = await school.create_teacher("alice")
    bob = await district.create_teacher("bob")
    dave = await district.create_teacher("dave")
    await follow(bob, alice)

    form = aiohttp.FormData()
    form.add_field("file", PNG, filename="orbit.png", content_type="image/png")
    status, upload = await alice.request("POST", f"{PLANS}/attachments", data=form)
    assert status == 200, upload
    private = await alice.post(
        PLANS,
        json={
            **SEASONS,
            "title": "Seasons quiz answers",
            "visibility": "private",
            "attachment_ids": [upload["id"]],
        },
    )
    public = await alice.post(PLANS, json=SEASONS)
    assert private["visibility"] == "private"

    # The Article at its id: to the follower's signed GET only.
    assert await signed_get(instances, private["uri"], None) == 404
    assert await signed_get(instances, private["uri"], dave) == 404
    assert await signed_get(instances, private["uri"], bob) == 200
    assert await signed_get(instances, public["uri"], None) == 200

    seen = await eventually(lambda: plan_at(bob, private["uri"]))
    assert seen is not None
    assert seen["visibility"] == "private"
    assert await plan_at(dave, private["uri"]) is None
    local_id = seen["id"]
    for path in (
        f"{PLANS}/{local_id}",
        f"{PLANS}/{local_id}/export.md",
        f"{PLANS}/{local_id}/export.html",
        f"{PLANS}/{local_id}/adaptations",
    ):
        status, _ = await dave.request("GET", path)
        assert status == 404, path
    status, _ = await bob.request("GET", f"{PLANS}/{local_id}/export.md")
    assert status == 200

    # Search: the follower finds it, another teacher and anonymous readers do not.
    query = {"q": "quiz answers"}
    found = await bob.get(f"{PLANS}/search", params=query)
    assert [item["uri"] for item in found] == [private["uri"]]
    assert await dave.get(f"{PLANS}/search", params=query) == []
    async with open_session(*instances) as session:
        status, _, anonymous = await fetch(
            session, f"{district.url}{PLANS}/search?q=quiz+answers", "application/json"
        )
    assert anonymous == []

    # The attachment travels as a capability link; without its key it is hidden.
    file_url = seen["attachments"][0]["url"]
    with_key = await signed_get(instances, file_url, None)
    without_key = await signed_get(instances, file_url.split("?")[0], None)
    assert with_key == 200
    assert without_key == 404

    # An adaptation may not reach more readers than its original.
    status, refused = await bob.request(
        "POST",
        PLANS,
        json={
            **SEASONS,
            "license": None,
            "adapted_from": private["uri"],
            "visibility": "public",
        },
    )
    assert status == 422
    assert refused["field"] == "visibility"

    # Collections: Create, Add, Update, Remove and Delete reach the follower.
    created = await alice.post(COLLECTIONS, json={"name": "Astronomy unit"})
    validate_response("lesson_plans", COLLECTIONS, "POST", 200, created)
    stored = await eventually(lambda: collection_row(district, created["uri"]))
    assert stored is not None
    assert stored["name"] == "Astronomy unit"
    assert stored["visibility"] == "public"

    status, refused = await alice.request(
        "POST",
        f"{COLLECTIONS}/{created['id']}/items",
        json={"lesson_plan_id": private["id"]},
    )
    assert status == 422
    assert refused["field"] == "lesson_plan_id"
    await alice.post(
        f"{COLLECTIONS}/{created['id']}/items", json={"lesson_plan_id": public["id"]}
    )

    async def holds_plan() -> bool:
        row = await collection_row(district, created["uri"])
        return row is not None and row["items"] == [public["uri"]]

    assert await eventually(holds_plan)

    status, renamed = await alice.request(
        "PUT", f"{COLLECTIONS}/{created['id']}", json={"name": "Sky and seasons"}
    )
    validate_response("lesson_plans", f"{COLLECTIONS}/{{id}}", "PUT", status, renamed)

    async def renamed_there() -> bool:
        row = await collection_row(district, created["uri"])
        return row is not None and row["name"] == "Sky and seasons"

    assert await eventually(renamed_there)

    async with open_session(*instances) as session:
        status, _, served = await fetch(session, created["uri"])
    assert status == 200
    assert served["type"] == "OrderedCollection"
    assert served["orderedItems"] == [public["uri"]]
    assert served["name"] == "Sky and seasons"

    await alice.request("DELETE", f"{COLLECTIONS}/{created['id']}/items/{public['id']}")

    async def emptied() -> bool:
        row = await collection_row(district, created["uri"])
        return row is not None and row["items"] == []

    assert await eventually(emptied)

    status, deleted = await alice.request("DELETE", f"{COLLECTIONS}/{created['id']}")
    validate_response(
        "lesson_plans", f"{COLLECTIONS}/{{id}}", "DELETE", status, deleted
    )

    async def gone() -> bool:
        return await collection_row(district, created["uri"]) is None

    assert await eventually(gone)
    async with open_session(*instances) as session:
        status, _, _ = await fetch(session, created["uri"])
    assert status == 404
