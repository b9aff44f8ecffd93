"""Lesson plans between two live instances: the Article with its LRMI fields,
edits with history, deletion, adaptation of a remote plan with the author
notified on the origin, and the licence rules for remote originals."""

from __future__ import annotations

from typing import Any

from tests.e2e.peers import follow, home_status, open_session
from tests.support.live import Teacher, eventually
from tests.support.openapi import validate_response

PLANS = "/api/pedagogue/v1/lesson_plans"

FRACTIONS: dict[str, Any] = {
    "title": "Fraction walls",
    "summary": "Build a fraction wall to compare unit fractions.",
    "body": "1. Cut strips.\n2. Fold into halves, thirds and quarters.",
    "subjects": ["Mathematics"],
    "grade_levels": ["3-4"],
    "age_range": "8-10",
    "duration_minutes": 50,
    "objectives": ["Compare unit fractions"],
    "materials": ["Paper strips", "Scissors"],
    "alignments": [{"framework": "CCSS", "code": "3.NF.A.3"}],
    "license": "CC-BY-SA-4.0",
}


async def remote_plan(teacher: Teacher, uri: str) -> dict[str, Any] | None:
    status, body = await teacher.request("GET", f"{PLANS}/lookup", params={"uri": uri})
    return body if status == 200 else None


async def test_plan_travels_with_lrmi_edits_and_deletion(start_instances) -> None:
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    bob = await district.create_teacher("bob")
    await follow(bob, alice)

    plan = await alice.post(PLANS, json=FRACTIONS)
    seen = await eventually(lambda: remote_plan(bob, plan["uri"]))
    validate_response(
        "lesson_plans", "/api/pedagogue/v1/lesson_plans/lookup", "GET", 200, seen
    )
    assert seen is not None
    assert seen["local"] is False
    assert seen["title"] == "Fraction walls"
    assert seen["account"]["acct"] == alice.handle
    assert seen["subjects"] == ["Mathematics"]
    assert seen["grade_levels"] == ["3-4"]
    assert seen["age_range"] == "8-10"
    assert seen["duration_minutes"] == 50
    assert seen["objectives"] == ["Compare unit fractions"]
    assert seen["materials"] == ["Paper strips", "Scissors"]
    assert seen["alignments"] == [{"framework": "CCSS", "code": "3.NF.A.3"}]
    assert seen["license"]["key"] == "CC-BY-SA-4.0"
    assert "Fold into halves" in seen["body_html"]

    # The Mastodon-API view on the receiving side: a status with a card.
    status = await home_status(bob, plan["uri"])
    assert status is not None
    assert status["card"]["title"] == "Fraction walls"
    assert status["spoiler_text"] == ""
    assert FRACTIONS["summary"] in status["content"]

    # Search on the receiving side finds the remote plan.
    found = await bob.get(f"{PLANS}/search", params={"standard": "3.NF.A.3"})
    assert [item["uri"] for item in found] == [plan["uri"]]

    # An edit federates, and both sides keep the earlier version.
    await alice.request(
        "PUT", f"{PLANS}/{plan['id']}", json={"title": "Fraction walls, v2"}
    )

    async def edited() -> bool:
        current = await remote_plan(bob, plan["uri"])
        return current is not None and current["title"] == "Fraction walls, v2"

    assert await eventually(edited)
    history = await alice.get(f"{PLANS}/{plan['id']}/revisions")
    assert [item["title"] for item in history] == ["Fraction walls"]
    connection = await district.db()
    try:
        remote_revisions = await connection.fetchval(
            "SELECT count(*) FROM lesson_plan_revisions r JOIN lesson_plans p"
            " ON p.status_id = r.status_id WHERE p.uri = $1",
            plan["uri"],
        )
    finally:
        await connection.close()
    assert remote_revisions == 1

    # A delete federates: the remote copy disappears.
    await alice.request("DELETE", f"{PLANS}/{plan['id']}")

    async def gone() -> bool:
        return await remote_plan(bob, plan["uri"]) is None

    assert await eventually(gone)


async def test_remote_adaptation_notifies_origin_and_checks_licence(
    start_instances,
) -> None:
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    bob = await district.create_teacher("bob")
    await follow(bob, alice)
    original = await alice.post(PLANS, json=FRACTIONS)
    locked = await alice.post(
        PLANS, json={**FRACTIONS, "title": "Locked plan", "license": "CC-BY-ND-4.0"}
    )
    assert await eventually(lambda: remote_plan(bob, original["uri"]))
    assert await eventually(lambda: remote_plan(bob, locked["uri"]))

    # NoDerivatives: refused on the adapter's instance, nothing sent.
    status, refused = await bob.request(
        "POST",
        PLANS,
        json={**FRACTIONS, "adapted_from": locked["uri"], "license": None},
    )
    assert status == 422
    assert refused["field"] == "adapted_from"

    # ShareAlike: the adaptation keeps the licence and names the original.
    adaptation = await bob.post(
        PLANS,
        json={
            **FRACTIONS,
            "title": "Fraction walls for Year 4",
            "license": None,
            "adapted_from": original["uri"],
        },
    )
    assert adaptation["license"]["key"] == "CC-BY-SA-4.0"
    assert adaptation["adapted_from"]["uri"] == original["uri"]
    assert adaptation["adapted_from"]["author_uri"] == alice.actor_id

    async def notified() -> list[Any]:
        items = await alice.get("/api/v1/notifications")
        return [item for item in items if item["type"] == "adaptation"]

    notes = await eventually(notified)
    assert len(notes) == 1
    assert notes[0]["account"]["acct"] == bob.handle
    assert notes[0]["status"]["uri"] == adaptation["uri"]

    listed = await alice.get(f"{PLANS}/{original['id']}/adaptations")
    validate_response(
        "lesson_plans",
        "/api/pedagogue/v1/lesson_plans/{id}/adaptations",
        "GET",
        200,
        listed,
    )
    assert [item["uri"] for item in listed] == [adaptation["uri"]]
    assert listed[0]["account"]["acct"] == bob.handle
    at_origin = await remote_plan(alice, adaptation["uri"])
    assert at_origin is not None
    assert at_origin["attribution"][0]["uri"] == original["uri"]

    # The Article on the wire carries the LRMI terms in schema.org's context.
    async with (
        open_session(school, district) as session,
        session.get(
            adaptation["uri"], headers={"Accept": "application/activity+json"}
        ) as response,
    ):
        article = await response.json(content_type=None)
    assert article["type"] == "Article"
    assert article["isBasedOn"][0]["id"] == original["uri"]
    assert article["license"] == "https://creativecommons.org/licenses/by-sa/4.0/"
    assert article["educationalLevel"] == ["3-4"]
