"""Received plans against the same rules as local ones: out-of-range numbers
dropped without failing the inbox row, licence rules of adaptations, and a
plan that names itself as its source."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from actors.lesson_plan import PlanFields
from outbox.lesson_plans import PlanActions
from tests.inbox.conftest import InboxHarness, MakeHarness
from tests.lesson_plans.test_inbox import AS, article_create, stored_plan

SCHEMA = [AS, "https://schema.org/"]


@pytest.fixture
async def harness(make_harness: MakeHarness) -> InboxHarness:
    return await make_harness("mastodon")


def based_on(original: Any) -> list[dict[str, Any]]:
    return [{"id": original["uri"], "type": "CreativeWork"}]


async def adaptation_count(harness: InboxHarness, original: Any) -> int:
    return await harness.pool.fetchval(
        "SELECT count(*) FROM lesson_plan_adaptations WHERE original_uri = $1",
        original["uri"],
    )


async def notification_count(harness: InboxHarness) -> int:
    return await harness.pool.fetchval(
        "SELECT count(*) FROM notifications WHERE account_id = $1"
        " AND type = 'adaptation'",
        harness.alice["id"],
    )


async def local_plan(harness: InboxHarness, licence: str) -> Any:
    return await PlanActions(harness.runtime).create(
        harness.alice, PlanFields(title="Exit tickets", license=licence)
    )


async def test_huge_duration_dropped_and_row_done(
    harness: InboxHarness, caplog: pytest.LogCaptureFixture
) -> None:
    actor_id = harness.add_actor("huge")
    activity = article_create(
        harness,
        actor_id,
        11,
        SCHEMA,
        timeRequired="PT99999999999999999999H",
        teaches=["Estimate"],
    )
    with caplog.at_level(logging.INFO, logger="inbox.handlers.lesson_plan"):
        await harness.deliver(activity)
    plan = await stored_plan(harness, activity["object"]["id"])
    row = await harness.queue_row(activity["id"])
    logged = [
        r.getMessage() for r in caplog.records if "timeRequired" in r.getMessage()
    ]
    assert row["state"] == "done"
    assert plan["duration_minutes"] is None
    assert list(plan["objectives"]) == ["Estimate"]
    assert activity["id"] in logged[0]


async def test_duration_over_limit_dropped(harness: InboxHarness) -> None:
    actor_id = harness.add_actor("long")
    activity = article_create(harness, actor_id, 12, SCHEMA, timeRequired="P9999D")
    await harness.deliver(activity)
    plan = await stored_plan(harness, activity["object"]["id"])
    assert plan["duration_minutes"] is None


async def test_no_derivatives_adaptation_not_recorded(
    harness: InboxHarness,
) -> None:
    original = await local_plan(harness, "CC-BY-ND-4.0")
    actor_id = harness.add_actor("nd")
    activity = article_create(
        harness,
        actor_id,
        13,
        SCHEMA,
        isBasedOn=based_on(original),
        license="https://creativecommons.org/licenses/by/4.0/",
    )
    await harness.deliver(activity)
    assert await adaptation_count(harness, original) == 0


async def test_no_derivatives_adaptation_not_notified(
    harness: InboxHarness,
) -> None:
    original = await local_plan(harness, "CC-BY-ND-4.0")
    actor_id = harness.add_actor("nd2")
    activity = article_create(
        harness, actor_id, 14, SCHEMA, isBasedOn=based_on(original)
    )
    await harness.deliver(activity)
    assert await notification_count(harness) == 0


async def test_remote_adaptation_breaking_share_alike_logged(
    harness: InboxHarness, caplog: pytest.LogCaptureFixture
) -> None:
    original = await local_plan(harness, "CC-BY-SA-4.0")
    actor_id = harness.add_actor("sa")
    activity = article_create(
        harness,
        actor_id,
        15,
        SCHEMA,
        isBasedOn=based_on(original),
        license="https://creativecommons.org/licenses/by/4.0/",
    )
    with caplog.at_level(logging.INFO, logger="inbox.handlers.lesson_plan"):
        await harness.deliver(activity)
    plan = await stored_plan(harness, activity["object"]["id"])
    logged = [
        r.getMessage() for r in caplog.records if "not recorded" in r.getMessage()
    ]
    assert plan["based_on_uri"] is None
    assert activity["id"] in logged[0]


async def test_update_adding_forbidden_source_not_recorded(
    harness: InboxHarness,
) -> None:
    original = await local_plan(harness, "CC-BY-ND-4.0")
    actor_id = harness.add_actor("upd")
    created = article_create(harness, actor_id, 16, SCHEMA, teaches=["Sort"])
    await harness.deliver(created)
    update = {
        **created,
        "id": f"{created['object']['id']}/update",
        "type": "Update",
        "object": {
            **created["object"],
            "isBasedOn": based_on(original),
            "updated": "2026-03-03T10:00:00Z",
        },
    }
    await harness.deliver(update)
    plan = await stored_plan(harness, created["object"]["id"])
    assert plan["based_on_uri"] is None


async def test_remote_adaptation_credits_known_original(
    harness: InboxHarness,
) -> None:
    original = await local_plan(harness, "CC-BY-4.0")
    actor_id = harness.add_actor("credit")
    activity = article_create(
        harness, actor_id, 17, SCHEMA, isBasedOn=based_on(original)
    )
    await harness.deliver(activity)
    plan = await stored_plan(harness, activity["object"]["id"])
    assert plan["attribution"][0] == {
        "uri": original["uri"],
        "title": "Exit tickets",
        "author_uri": harness.alice["actor_id"],
    }


async def test_plan_based_on_itself_stored_without_source(
    harness: InboxHarness,
) -> None:
    actor_id = harness.add_actor("selfie")
    object_id = f"{actor_id}/plans/18"
    activity = article_create(
        harness,
        actor_id,
        18,
        SCHEMA,
        isBasedOn=[{"id": object_id, "type": "CreativeWork"}],
        teaches=["Loop"],
    )
    await harness.deliver(activity)
    plan = await stored_plan(harness, object_id)
    assert plan["based_on_uri"] is None


async def test_received_plan_hashtags_stored(harness: InboxHarness) -> None:
    actor_id = harness.add_actor("tagger")
    activity = article_create(
        harness,
        actor_id,
        19,
        SCHEMA,
        teaches=["Classify rocks"],
        tag=[{"type": "Hashtag", "name": "#Geology", "href": f"{actor_id}/tags/g"}],
    )
    await harness.deliver(activity)
    status = await harness.status(activity["object"]["id"])
    names = await harness.pool.fetch(
        "SELECT name FROM status_tags WHERE status_id = $1", status["id"]
    )
    assert [row["name"] for row in names] == ["geology"]
