"""Local plan input at its edges. Covers numbers that are not whole minutes,
codes in other scripts or spellings, form-encoded standards, control characters,
licences of adaptations, YAML aliases in imports and the render budget. Also
covers the HTML of a plan's Article: an escaped summary, linked hashtags and
URLs."""

from __future__ import annotations

import math
from io import BytesIO
from typing import Any

import pytest
from werkzeug.datastructures import FileStorage

from actors.lesson_plan import InvalidPlan, parse_alignment, parse_fields
from outbox import lesson_plans as plan_outbox
from tests.lesson_plans.conftest import PlanInstance
from tests.support.openapi import validate_response

PLANS = "/api/pedagogue/v1/lesson_plans"
CCSS_LONG = "CCSS.MATH.CONTENT.3.NF.A.2"


def markdown_file(text: str) -> dict[str, FileStorage]:
    return {"file": FileStorage(BytesIO(text.encode()), filename="plan.md")}


async def article_of(instance: PlanInstance, plan: dict[str, Any]) -> dict[str, Any]:
    response = await instance.alice.client.get(
        plan["uri"].removeprefix("https://school-a.test"),
        headers={"Accept": "application/activity+json"},
    )
    return await response.get_json()


@pytest.mark.parametrize(
    "value", [math.inf, -math.inf, math.nan, 1e300, 45.7, "1e3", "\u0664\u0665", True]
)
def test_duration_field_rejects_non_minutes(value: Any) -> None:
    # JSON bodies with NaN or Infinity are rejected before the fields are read,
    # but imported front matter (.inf) and other callers reach this check.
    with pytest.raises(InvalidPlan) as raised:
        parse_fields({"title": "x", "duration_minutes": value})
    assert raised.value.field == "duration_minutes"


@pytest.mark.parametrize(
    "raw",
    [
        '{"title": "x", "duration_minutes": 45.7}',
        '{"title": "x", "duration_minutes": "\u0664\u0665"}',
    ],
)
async def test_duration_not_whole_minutes_rejected(
    plan_instance: PlanInstance, raw: str
) -> None:
    before = await plan_instance.counts()
    status, body = await plan_instance.alice.call(
        "POST", PLANS, data=raw, headers={"Content-Type": "application/json"}
    )
    assert status == 422
    assert body["field"] == "duration_minutes"
    assert await plan_instance.counts() == before


async def test_integral_float_duration_accepted(plan_instance: PlanInstance) -> None:
    status, plan = await plan_instance.alice.call(
        "POST", PLANS, json={"title": "x", "duration_minutes": 45.0}
    )
    assert status == 200
    assert plan["duration_minutes"] == 45


@pytest.mark.parametrize(
    ("params", "field"),
    [
        (
            {"alignments": [{"framework": "NGSS", "code": "3-PS2-1\u0663"}]},
            "alignments",
        ),
        ({"age_range": "\u0663-\u0665"}, "age_range"),
        ({"title": "a\n---\nlicense: x"}, "title"),
        ({"title": "tab\there"}, "title"),
        ({"subjects": ["Math\r\nScience"]}, "subjects"),
        ({"summary": "bell\x07"}, "summary"),
    ],
)
def test_unusable_characters_named(params: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidPlan) as raised:
        parse_fields({"title": "x", **params})
    assert raised.value.field == field


async def test_title_with_line_break_rejected_and_nothing_stored(
    plan_instance: PlanInstance,
) -> None:
    before = await plan_instance.counts()
    status, body = await plan_instance.alice.call(
        "POST", PLANS, json={"title": "a\n---\nlicense: x"}
    )
    assert status == 422
    assert body["field"] == "title"
    assert await plan_instance.counts() == before


async def test_summary_keeps_line_breaks(plan_instance: PlanInstance) -> None:
    status, plan = await plan_instance.alice.call(
        "POST", PLANS, json={"title": "x", "summary": "one\ntwo"}
    )
    assert status == 200
    assert plan["summary"] == "one\ntwo"


@pytest.mark.parametrize(
    "code", [CCSS_LONG, "3.NF.A.2", "ccss.math.content.3.nf.a.2", "CCSS.3.NF.A.2"]
)
def test_common_core_code_stored_in_one_form(code: str) -> None:
    alignment = parse_alignment({"framework": "CCSS", "code": code})
    assert alignment == {"framework": "CCSS", "code": "3.NF.A.2"}


async def test_plan_alignment_returned_in_stored_form(
    plan_instance: PlanInstance,
) -> None:
    status, plan = await plan_instance.alice.call(
        "POST",
        PLANS,
        json={"title": "x", "alignments": [{"framework": "CCSS", "code": CCSS_LONG}]},
    )
    assert status == 200
    assert plan["alignments"] == [{"framework": "CCSS", "code": "3.NF.A.2"}]


async def test_search_finds_long_code_by_short_one(plan_instance: PlanInstance) -> None:
    alice = plan_instance.alice
    plan_alignment = [{"framework": "CCSS", "code": CCSS_LONG}]
    await alice.call("POST", PLANS, json={"title": "x", "alignments": plan_alignment})
    status, found = await alice.call("GET", f"{PLANS}/search?standard=3.NF.A.2")
    assert status == 200
    assert len(found) == 1


async def test_search_finds_short_code_by_long_one(plan_instance: PlanInstance) -> None:
    alice = plan_instance.alice
    plan_alignment = [{"framework": "CCSS", "code": "3.NF.A.2"}]
    await alice.call("POST", PLANS, json={"title": "x", "alignments": plan_alignment})
    status, found = await alice.call("GET", f"{PLANS}/search?standard={CCSS_LONG}")
    assert status == 200
    assert len(found) == 1


@pytest.mark.parametrize("followed", [CCSS_LONG, "CCSS%2F3.NF.A.2", "3.nf.a.2"])
async def test_followed_standard_any_spelling_matches(
    plan_instance: PlanInstance, followed: str
) -> None:
    alice, bob = plan_instance.alice, plan_instance.bob
    status, _ = await bob.call("POST", f"/api/pedagogue/v1/standards/{followed}/follow")
    assert status == 200
    plan_alignment = [{"framework": "CCSS", "code": "3.NF.A.2"}]
    _, plan = await alice.call(
        "POST", PLANS, json={"title": "x", "alignments": plan_alignment}
    )
    _, home = await bob.call("GET", "/api/v1/timelines/home")
    assert plan["id"] in [item["id"] for item in home]


@pytest.mark.parametrize(
    "form",
    [
        (
            "title=Form+plan&alignments[][framework]=CCSS&alignments[][code]=RL.3.1"
            "&alignments[][framework]=NGSS&alignments[][code]=MS-PS1-2"
        ),
        (
            "title=Form+plan&alignments[1][framework]=NGSS&alignments[1][code]=MS-PS1-2"
            "&alignments[0][code]=RL.3.1&alignments[0][framework]=CCSS"
        ),
    ],
)
async def test_form_encoded_alignments_read(
    plan_instance: PlanInstance, form: str
) -> None:
    status, plan = await plan_instance.alice.call(
        "POST",
        PLANS,
        data=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200
    assert plan["alignments"] == [
        {"framework": "CCSS", "code": "RL.3.1"},
        {"framework": "NGSS", "code": "MS-PS1-2"},
    ]


async def test_form_alignment_key_not_understood_named(
    plan_instance: PlanInstance,
) -> None:
    status, body = await plan_instance.alice.call(
        "POST",
        PLANS,
        data="title=x&alignments[0][standard]=RL.3.1",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 422
    assert body["field"] == "alignments"


async def test_attachment_listed_twice_named_so(plan_instance: PlanInstance) -> None:
    status, body = await plan_instance.alice.call(
        "POST", PLANS, json={"title": "x", "attachment_ids": ["123", "123"]}
    )
    assert status == 422
    assert "listed twice" in body["error"]


async def test_cc0_adaptation_of_attribution_plan_rejected(
    plan_instance: PlanInstance,
) -> None:
    _, original = await plan_instance.alice.call(
        "POST", PLANS, json={"title": "x", "license": "CC-BY-4.0"}
    )
    status, body = await plan_instance.bob.call(
        "POST",
        PLANS,
        json={"title": "y", "adapted_from": original["id"], "license": "CC0-1.0"},
    )
    assert status == 422
    assert body["field"] == "license"


async def test_cc0_adaptation_of_cc0_plan_allowed(plan_instance: PlanInstance) -> None:
    _, original = await plan_instance.alice.call(
        "POST", PLANS, json={"title": "x", "license": "CC0-1.0"}
    )
    status, plan = await plan_instance.bob.call(
        "POST",
        PLANS,
        json={"title": "y", "adapted_from": original["id"], "license": "CC0-1.0"},
    )
    assert status == 200
    assert plan["license"]["key"] == "CC0-1.0"


async def test_adaptation_list_shows_time_of_adaptation(
    plan_instance: PlanInstance,
) -> None:
    pool = plan_instance.pool
    await pool.execute(
        "UPDATE accounts SET created_at = '2020-01-01T00:00:00Z' WHERE id = $1",
        plan_instance.bob.account["id"],
    )
    _, original = await plan_instance.alice.call("POST", PLANS, json={"title": "x"})
    _, adaptation = await plan_instance.bob.call(
        "POST", PLANS, json={"title": "y", "adapted_from": original["id"]}
    )
    status, listed = await plan_instance.alice.call(
        "GET", f"{PLANS}/{original['id']}/adaptations"
    )
    assert status == 200
    assert listed[0]["created_at"] == adaptation["created_at"]


ALIAS_BOMB = (
    "---\ntitle: Bomb\n"
    'a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]\n'
    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    "objectives: *d\n---\nBody\n"
)


async def test_import_with_yaml_aliases_rejected(plan_instance: PlanInstance) -> None:
    status, body = await plan_instance.alice.call(
        "POST", f"{PLANS}/import", files=markdown_file(ALIAS_BOMB)
    )
    assert status == 422
    assert "aliases" in body["error"]


async def test_import_with_nested_list_item_names_field(
    plan_instance: PlanInstance,
) -> None:
    text = "---\ntitle: x\nobjectives: [[a, b], c]\n---\nBody\n"
    status, body = await plan_instance.alice.call(
        "POST", f"{PLANS}/import", files=markdown_file(text)
    )
    assert status == 422
    assert body["field"] == "objectives"


async def test_import_with_infinite_duration_names_field(
    plan_instance: PlanInstance,
) -> None:
    text = "---\ntitle: x\nduration_minutes: .inf\n---\nBody\n"
    status, body = await plan_instance.alice.call(
        "POST", f"{PLANS}/import", files=markdown_file(text)
    )
    assert status == 422
    assert body["field"] == "duration_minutes"


async def test_import_with_huge_front_matter_rejected(
    plan_instance: PlanInstance,
) -> None:
    text = "---\ntitle: x\nsummary: " + "y" * 70_000 + "\n---\nBody\n"
    status, body = await plan_instance.alice.call(
        "POST", f"{PLANS}/import", files=markdown_file(text)
    )
    assert status == 422
    assert body["field"] == "file"


async def test_body_over_render_budget_rejected(
    plan_instance: PlanInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plan_outbox, "RENDER_BUDGET", 0.0)
    before = await plan_instance.counts()
    status, body = await plan_instance.alice.call(
        "POST", PLANS, json={"title": "x", "body": "a*b_" * 2000}
    )
    assert status == 422
    assert body["field"] == "body"
    assert await plan_instance.counts() == before


async def test_article_summary_escaped(plan_instance: PlanInstance) -> None:
    _, plan = await plan_instance.alice.call(
        "POST", PLANS, json={"title": "x", "summary": "<img src=x> a<b"}
    )
    article = await article_of(plan_instance, plan)
    assert article["summary"] == "&lt;img src=x&gt; a&lt;b"


TAGGED_BODY = "Try #Science and #NGSS.\n\nSee https://example.org/b for more."


async def test_plan_hashtags_linked_in_body(plan_instance: PlanInstance) -> None:
    _, plan = await plan_instance.alice.call(
        "POST", PLANS, json={"title": "x", "body": TAGGED_BODY}
    )
    assert 'href="https://school-a.test/tags/science"' in plan["body_html"]


async def test_plan_urls_linked_in_body(plan_instance: PlanInstance) -> None:
    _, plan = await plan_instance.alice.call(
        "POST", PLANS, json={"title": "x", "body": TAGGED_BODY}
    )
    assert '<a href="https://example.org/b"' in plan["body_html"]


async def test_plan_article_carries_hashtags(plan_instance: PlanInstance) -> None:
    _, plan = await plan_instance.alice.call(
        "POST", PLANS, json={"title": "x", "body": TAGGED_BODY}
    )
    article = await article_of(plan_instance, plan)
    assert article["tag"] == [
        {
            "type": "Hashtag",
            "href": "https://school-a.test/tags/ngss",
            "name": "#ngss",
        },
        {
            "type": "Hashtag",
            "href": "https://school-a.test/tags/science",
            "name": "#science",
        },
    ]


async def test_plan_listed_on_tag_timeline(plan_instance: PlanInstance) -> None:
    _, plan = await plan_instance.alice.call(
        "POST", PLANS, json={"title": "x", "body": TAGGED_BODY}
    )
    status, listed = await plan_instance.bob.call(
        "GET", "/api/v1/timelines/tag/science"
    )
    assert status == 200
    assert [item["id"] for item in listed] == [plan["id"]]


async def test_plan_reaches_hashtag_follower(plan_instance: PlanInstance) -> None:
    await plan_instance.bob.call("POST", "/api/v1/tags/science/follow")
    _, plan = await plan_instance.alice.call(
        "POST", PLANS, json={"title": "x", "body": TAGGED_BODY}
    )
    _, home = await plan_instance.bob.call("GET", "/api/v1/timelines/home")
    assert plan["id"] in [item["id"] for item in home]


async def test_edit_replaces_plan_hashtags(plan_instance: PlanInstance) -> None:
    alice = plan_instance.alice
    _, plan = await alice.call("POST", PLANS, json={"title": "x", "body": TAGGED_BODY})
    status, edited = await alice.call(
        "PUT", f"{PLANS}/{plan['id']}", json={"body": "Now #history only."}
    )
    validate_response(
        "lesson_plans", "/api/pedagogue/v1/lesson_plans/{id}", "PUT", status, edited
    )
    article = await article_of(plan_instance, plan)
    assert [item["name"] for item in article["tag"]] == ["#history"]


async def test_collection_name_with_line_break_rejected(
    plan_instance: PlanInstance,
) -> None:
    status, body = await plan_instance.alice.call(
        "POST",
        "/api/pedagogue/v1/lesson_plan_collections",
        json={"name": "Fractions\nunit"},
    )
    assert status == 422
    assert body["field"] == "name"


async def test_default_licence_missing_named(plan_instance: PlanInstance) -> None:
    status, body = await plan_instance.alice.call(
        "PUT", f"{PLANS}/preferences", json={}
    )
    assert status == 422
    assert body["field"] == "default_license"
    assert "is missing" in body["error"]


async def test_public_collection_readable_by_others(
    plan_instance: PlanInstance,
) -> None:
    collections = "/api/pedagogue/v1/lesson_plan_collections"
    _, collection = await plan_instance.alice.call(
        "POST", collections, json={"name": "Fractions"}
    )
    status, body = await plan_instance.bob.call(
        "GET", f"{collections}/{collection['id']}"
    )
    validate_response(
        "lesson_plans",
        "/api/pedagogue/v1/lesson_plan_collections/{id}",
        "GET",
        status,
        body,
    )
    assert status == 200
    assert body["name"] == "Fractions"


async def test_personal_collection_hidden_from_others(
    plan_instance: PlanInstance,
) -> None:
    collections = "/api/pedagogue/v1/lesson_plan_collections"
    _, collection = await plan_instance.alice.call(
        "POST", collections, json={"name": "Mine", "visibility": "direct"}
    )
    status, _ = await plan_instance.bob.call("GET", f"{collections}/{collection['id']}")
    assert status == 404


async def test_revision_uses_plan_entity_shapes(plan_instance: PlanInstance) -> None:
    alice = plan_instance.alice
    _, plan = await alice.call("POST", PLANS, json={"title": "x", "age_range": "8-10"})
    await alice.call("PUT", f"{PLANS}/{plan['id']}", json={"title": "y"})
    status, revisions = await alice.call("GET", f"{PLANS}/{plan['id']}/revisions")
    validate_response(
        "lesson_plans",
        "/api/pedagogue/v1/lesson_plans/{id}/revisions",
        "GET",
        status,
        revisions,
    )
    assert revisions[0]["age_range"] == "8-10"
    assert revisions[0]["edited_at"] == plan["created_at"]
