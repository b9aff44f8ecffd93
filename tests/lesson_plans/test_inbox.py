"""Received lesson plans through the real inbox: LRMI terms under other
prefixes, fields of the wrong type dropped and logged, and an adaptation of a
local plan recorded with its author notified."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from actors.lesson_plan import PlanFields
from outbox.lesson_plans import PlanActions
from tests.inbox.conftest import InboxHarness, MakeHarness

AS = "https://www.w3.org/ns/activitystreams"
PUBLIC = f"{AS}#Public"


def article_create(
    harness: InboxHarness, actor_id: str, number: int, context: Any, **terms: Any
) -> dict[str, Any]:
    """A Create of an Article from ``actor_id`` with the given extra terms."""
    object_id = f"{actor_id}/plans/{number}"
    return {
        "@context": context,
        "id": f"{object_id}/activity",
        "type": "Create",
        "actor": actor_id,
        "to": [PUBLIC],
        "object": {
            "id": object_id,
            "type": "Article",
            "attributedTo": actor_id,
            "name": "Density towers",
            "summary": "Layer liquids by density.",
            "content": "<p>Pour syrup, then water, then oil.</p><script>x()</script>",
            "url": object_id,
            "to": [PUBLIC],
            "published": "2026-03-02T10:00:00Z",
            **terms,
        },
    }


async def stored_plan(harness: InboxHarness, uri: str) -> Any:
    return await harness.pool.fetchrow("SELECT * FROM lesson_plans WHERE uri = $1", uri)


@pytest.fixture
async def harness(make_harness: MakeHarness) -> InboxHarness:
    return await make_harness("mastodon")


async def test_lrmi_terms_under_other_prefix_understood(harness: InboxHarness) -> None:
    actor_id = harness.add_actor("rosa")
    context = [
        AS,
        {
            "lrmi": "http://schema.org/",
            "sdo": "https://schema.org/",
            "lrmi:isBasedOn": {"@type": "@id"},
        },
    ]
    activity = article_create(
        harness,
        actor_id,
        1,
        context,
        **{
            "lrmi:educationalLevel": ["6-8"],
            "lrmi:teaches": ["Compare densities of liquids"],
            "sdo:about": "Science",
            "lrmi:timeRequired": "PT1H15M",
            "lrmi:typicalAgeRange": "11-14",
            "lrmi:learningResourceType": "lesson plan",
            "sdo:educationalAlignment": {
                "type": "sdo:AlignmentObject",
                "sdo:educationalFramework": "Next Generation Science Standards",
                "sdo:targetName": "MS-PS1-2",
            },
            "lrmi:license": {"id": "http://creativecommons.org/licenses/by-nc/4.0/"},
        },
    )
    await harness.deliver(activity)
    plan = await stored_plan(harness, activity["object"]["id"])
    status = await harness.status(activity["object"]["id"])
    assert plan is not None
    assert list(plan["grade_levels"]) == ["6-8"]
    assert list(plan["grade_numbers"]) == [6, 7, 8]
    assert list(plan["objectives"]) == ["Compare densities of liquids"]
    assert list(plan["subjects"]) == ["Science"]
    assert plan["duration_minutes"] == 75
    assert (plan["age_min"], plan["age_max"]) == (11, 14)
    assert plan["alignments"] == [{"framework": "NGSS", "code": "MS-PS1-2"}]
    assert plan["license"] == "CC-BY-NC-4.0"
    assert "<script>" not in plan["body_html"]
    assert status["spoiler_text"] == ""
    assert status["name"] == "Density towers"


async def test_wrong_lrmi_types_dropped_and_logged(
    harness: InboxHarness, caplog: pytest.LogCaptureFixture
) -> None:
    actor_id = harness.add_actor("sam")
    activity = article_create(
        harness,
        actor_id,
        2,
        [AS, "https://schema.org"],
        educationalLevel=7,
        educationalAlignment="CCSS 6.RP.A.1",
        timeRequired={"hours": 1},
        license="not a licence",
        teaches=["Measure volume"],
    )
    with caplog.at_level(logging.INFO, logger="inbox.handlers.lesson_plan"):
        await harness.deliver(activity)
    plan = await stored_plan(harness, activity["object"]["id"])
    row = await harness.queue_row(activity["id"])
    logged = [r.getMessage() for r in caplog.records if "wrong type" in r.getMessage()]
    assert plan is not None
    assert list(plan["objectives"]) == ["Measure volume"]
    assert list(plan["grade_levels"]) == []
    assert plan["alignments"] == []
    assert plan["duration_minutes"] is None
    assert plan["license"] is None
    assert row["state"] == "done"
    assert len(logged) == 1
    for term in ("educationalLevel", "educationalAlignment", "timeRequired", "license"):
        assert term in logged[0]
    assert activity["id"] in logged[0]


async def test_article_without_lrmi_stays_plain_status(harness: InboxHarness) -> None:
    actor_id = harness.add_actor("tam")
    activity = article_create(harness, actor_id, 3, AS)
    await harness.deliver(activity)
    status = await harness.status(activity["object"]["id"])
    assert status is not None
    assert await stored_plan(harness, activity["object"]["id"]) is None


async def test_article_with_unbundled_context_stays_plain_status(
    harness: InboxHarness,
) -> None:
    actor_id = harness.add_actor("uma")
    activity = article_create(
        harness, actor_id, 4, [AS, "https://contexts.test/unknown"], teaches=["x"]
    )
    await harness.deliver(activity)
    status = await harness.status(activity["object"]["id"])
    assert status is not None
    assert await stored_plan(harness, activity["object"]["id"]) is None


async def test_remote_adaptation_of_local_plan_notifies_author(
    harness: InboxHarness,
) -> None:
    original = await PlanActions(harness.runtime).create(
        harness.alice, PlanFields(title="Exit tickets", license="CC-BY-4.0")
    )
    actor_id = harness.add_actor("vic")
    activity = article_create(
        harness,
        actor_id,
        5,
        [AS, "https://schema.org/"],
        teaches=["Sort exit tickets"],
        isBasedOn=[
            {
                "id": original["uri"],
                "type": "CreativeWork",
                "name": "Exit tickets",
                "author": harness.alice["actor_id"],
            }
        ],
        cc=[harness.alice["actor_id"]],
    )
    await harness.deliver(activity)
    adaptation = await stored_plan(harness, activity["object"]["id"])
    recorded = await harness.pool.fetchval(
        "SELECT count(*) FROM lesson_plan_adaptations WHERE original_uri = $1",
        original["uri"],
    )
    notified = await harness.pool.fetchval(
        "SELECT count(*) FROM notifications"
        " WHERE account_id = $1 AND type = 'adaptation'",
        harness.alice["id"],
    )
    assert adaptation["based_on_uri"] == original["uri"]
    assert adaptation["attribution"][0]["author_uri"] == harness.alice["actor_id"]
    assert recorded == 1
    assert notified == 1


async def test_remote_attachments_kept_as_checked_links(
    harness: InboxHarness, caplog: pytest.LogCaptureFixture
) -> None:
    actor_id = harness.add_actor("wes")
    host = actor_id.split("/users/")[0]
    activity = article_create(
        harness,
        actor_id,
        6,
        [AS, "https://schema.org/"],
        teaches=["Read a map"],
        attachment=[
            {
                "type": "Document",
                "mediaType": "application/pdf",
                "url": f"{host}/files/map.pdf",
                "name": "Map <b>handout</b>",
                "size": 52_000,
            },
            {"type": "Document", "mediaType": "image/png", "url": "javascript:x()"},
            {
                "type": "Document",
                "mediaType": "text/html",
                "url": f"{host}/files/page.html",
            },
            {
                "type": "Document",
                "mediaType": "application/pdf",
                "url": f"{host}/files/huge.pdf",
                "size": 10**12,
            },
            {
                "type": "Document",
                "mediaType": "application/pdf",
                "url": "https://user:secret@files.test/x.pdf",
            },
            {
                "type": "Link",
                "mediaType": "image/png; charset=binary",
                "href": f"{host}/a.png",
            },
        ],
    )

    with caplog.at_level(logging.INFO, logger="inbox.handlers.lesson_plan"):
        await harness.deliver(activity)

    plan = await stored_plan(harness, activity["object"]["id"])
    files = await harness.pool.fetch(
        "SELECT * FROM lesson_plan_attachments WHERE status_id = $1 ORDER BY position",
        plan["status_id"],
    )
    logged = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert [row["remote_url"] for row in files] == [
        f"{host}/files/map.pdf",
        f"{host}/a.png",
    ]
    assert files[0]["file_name"] == "Map handout"
    assert files[0]["size"] == 52_000
    assert files[1]["size"] is None
    assert files[1]["mime_type"] == "image/png"
    assert len(logged) == 1
    assert activity["id"] in logged[0]


async def test_collection_add_from_other_actor_ignored(harness: InboxHarness) -> None:
    owner = harness.add_actor("xia")
    stranger = harness.add_actor("yan")
    collection = {
        "@context": AS,
        "id": f"{owner}/collections/1/create",
        "type": "Create",
        "actor": owner,
        "to": [PUBLIC],
        "object": {
            "id": f"{owner}/collections/1",
            "type": "OrderedCollection",
            "name": "Map skills",
            "attributedTo": owner,
            "to": [PUBLIC],
            "orderedItems": [],
        },
    }
    plan = article_create(harness, owner, 7, [AS, "https://schema.org/"], teaches=["x"])

    await harness.deliver(collection)
    await harness.deliver(plan)
    await harness.deliver(
        {
            "@context": AS,
            "id": f"{stranger}/add/1",
            "type": "Add",
            "actor": stranger,
            "object": plan["object"]["id"],
            "target": f"{owner}/collections/1",
        }
    )

    stored = await harness.pool.fetchrow(
        "SELECT * FROM lesson_plan_collections WHERE uri = $1", f"{owner}/collections/1"
    )
    items = await harness.pool.fetchval(
        "SELECT count(*) FROM lesson_plan_collection_items WHERE collection_id = $1",
        stored["id"],
    )
    row = await harness.queue_row(f"{stranger}/add/1")
    assert stored["name"] == "Map skills"
    assert stored["local"] is False
    assert items == 0
    assert row["state"] == "ignored"
