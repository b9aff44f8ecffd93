"""The lesson plan client API on one instance: create, read, edit with history,
validation errors naming the field, attachments, collections, licences,
search, export and import, and the plan's Status with a card."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import pytest
from PIL import Image
from werkzeug.datastructures import FileStorage

from tests.lesson_plans.conftest import MAX_ATTACHMENT_BYTES, ApiUser, PlanInstance
from tests.support.openapi import validate_response

PLANS = "/api/pedagogue/v1/lesson_plans"


def _png() -> bytes:
    """Return a 4x4 PNG without metadata, which the upload re-encoding keeps byte for byte."""
    output = BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(output, format="PNG")
    return output.getvalue()


PNG = _png()

RATIOS: dict[str, Any] = {
    "title": "Ratios with recipe cards",
    "summary": "Students scale recipes to reason about equivalent ratios.",
    "body": "## Warm-up\n\nDouble a pancake recipe.\n\n<script>alert(1)</script>",
    "subjects": ["Mathematics"],
    "grade_levels": ["6-8"],
    "age_range": "11-14",
    "duration_minutes": 45,
    "objectives": ["Use ratio language to describe a relationship"],
    "materials": ["Recipe cards", "Measuring cups"],
    "alignments": [{"framework": "CCSS", "code": "6.RP.A.1"}],
}


async def create(user: ApiUser, **overrides: Any) -> tuple[int, Any]:
    return await user.call("POST", PLANS, json={**RATIOS, **overrides})


async def created(user: ApiUser, **overrides: Any) -> dict[str, Any]:
    status, body = await create(user, **overrides)
    assert status == 200, body
    return body


def upload(data: bytes, name: str = "file.bin") -> dict[str, FileStorage]:
    return {"file": FileStorage(BytesIO(data), filename=name)}


async def test_plan_create_returns_documented_entity(
    plan_instance: PlanInstance,
) -> None:
    status, plan = await create(plan_instance.alice)
    validate_response(
        "lesson_plans", "/api/pedagogue/v1/lesson_plans", "POST", status, plan
    )
    assert status == 200
    assert plan["title"] == RATIOS["title"]
    assert plan["grade_levels"] == ["6-8"]
    assert plan["age_range"] == "11-14"
    assert plan["alignments"] == [{"framework": "CCSS", "code": "6.RP.A.1"}]
    assert plan["license"]["key"] == "CC-BY-4.0"
    assert "<strong>Warm-up</strong>" in plan["body_html"]
    assert "<script>" not in plan["body_html"]


async def test_plan_get_by_id_matches_schema(plan_instance: PlanInstance) -> None:
    plan = await created(plan_instance.alice)
    status, body = await plan_instance.bob.call("GET", f"{PLANS}/{plan['id']}")
    validate_response(
        "lesson_plans", "/api/pedagogue/v1/lesson_plans/{id}", "GET", status, body
    )
    assert body["uri"] == plan["uri"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": None}, "title"),
        ({"license": "CC-BY-9.9"}, "license"),
        ({"grade_levels": ["grade thirteen"]}, "grade_levels"),
        ({"grade_levels": ["8-6"]}, "grade_levels"),
        ({"alignments": [{"framework": "CCSS", "code": "not a code"}]}, "alignments"),
        ({"alignments": [{"framework": "NGSS", "code": "MS-XX9-1"}]}, "alignments"),
        ({"age_range": "old"}, "age_range"),
        ({"duration_minutes": "an hour"}, "duration_minutes"),
        ({"subjects": "Maths" * 200}, "subjects"),
        ({"attachment_ids": ["123"]}, "attachment_ids"),
        ({"adapted_from": "999"}, "adapted_from"),
    ],
)
async def test_plan_invalid_field_named_and_nothing_stored(
    plan_instance: PlanInstance, overrides: dict[str, Any], field: str
) -> None:
    before = await plan_instance.counts()
    status, body = await create(plan_instance.alice, **overrides)
    after = await plan_instance.counts()
    validate_response(
        "lesson_plans", "/api/pedagogue/v1/lesson_plans", "POST", status, body
    )
    assert status == 422
    assert body["field"] == field
    assert field in body["error"]
    assert after == before


async def test_attachment_over_limit_rejected(plan_instance: PlanInstance) -> None:
    data = PNG + b"\x00" * MAX_ATTACHMENT_BYTES
    status, body = await plan_instance.alice.call(
        "POST", f"{PLANS}/attachments", files=upload(data, "big.png")
    )
    validate_response(
        "lesson_plans",
        "/api/pedagogue/v1/lesson_plans/attachments",
        "POST",
        status,
        body,
    )
    assert status == 422
    assert body["field"] == "file"
    assert str(MAX_ATTACHMENT_BYTES) in body["error"]
    assert (await plan_instance.counts())["lesson_plan_attachments"] == 0


async def test_attachment_type_sniffed_not_named(plan_instance: PlanInstance) -> None:
    # An executable named like an image: the content decides, and it is refused.
    data = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff"
    status, body = await plan_instance.alice.call(
        "POST", f"{PLANS}/attachments", files=upload(data, "worksheet.png")
    )
    assert status == 422
    assert body["field"] == "file"
    assert "not allowed" in body["error"]


async def test_attachment_stored_served_and_attached(
    plan_instance: PlanInstance,
) -> None:
    alice = plan_instance.alice
    status, stored = await alice.call(
        "POST", f"{PLANS}/attachments", files=upload(PNG, "diagram.png")
    )
    validate_response(
        "lesson_plans",
        "/api/pedagogue/v1/lesson_plans/attachments",
        "POST",
        status,
        stored,
    )
    plan = await created(alice, attachment_ids=[stored["id"]])
    path = stored["url"].removeprefix("https://school-a.test")
    response = await alice.client.get(path)
    assert stored["mime_type"] == "image/png"
    assert [item["id"] for item in plan["attachments"]] == [stored["id"]]
    assert response.status_code == 200
    assert await response.get_data() == PNG


async def test_attachment_of_other_teacher_rejected(
    plan_instance: PlanInstance,
) -> None:
    _, stored = await plan_instance.bob.call(
        "POST", f"{PLANS}/attachments", files=upload(b"Exit ticket answers\n", "a.txt")
    )
    status, body = await create(plan_instance.alice, attachment_ids=[stored["id"]])
    assert stored["mime_type"] == "text/plain"
    assert status == 422
    assert body["field"] == "attachment_ids"
    assert await plan_instance.pool.fetchval("SELECT count(*) FROM lesson_plans") == 0


async def test_edit_keeps_revision_for_author_only(plan_instance: PlanInstance) -> None:
    alice, bob = plan_instance.alice, plan_instance.bob
    plan = await created(alice)
    status, edited = await alice.call(
        "PUT", f"{PLANS}/{plan['id']}", json={"title": "Ratios with recipes, revised"}
    )
    validate_response(
        "lesson_plans", "/api/pedagogue/v1/lesson_plans/{id}", "PUT", status, edited
    )
    status, history = await alice.call("GET", f"{PLANS}/{plan['id']}/revisions")
    validate_response(
        "lesson_plans",
        "/api/pedagogue/v1/lesson_plans/{id}/revisions",
        "GET",
        status,
        history,
    )
    other_status, _ = await bob.call("GET", f"{PLANS}/{plan['id']}/revisions")
    assert edited["title"] == "Ratios with recipes, revised"
    assert edited["subjects"] == ["Mathematics"]
    assert edited["edited_at"] is not None
    assert [item["title"] for item in history] == [RATIOS["title"]]
    assert other_status == 403


async def test_edit_by_other_teacher_forbidden(plan_instance: PlanInstance) -> None:
    plan = await created(plan_instance.alice)
    status, body = await plan_instance.bob.call(
        "PUT", f"{PLANS}/{plan['id']}", json={"title": "Mine now"}
    )
    assert status == 403
    assert "error" in body


async def test_delete_hides_plan(plan_instance: PlanInstance) -> None:
    alice = plan_instance.alice
    plan = await created(alice)
    status, body = await alice.call("DELETE", f"{PLANS}/{plan['id']}")
    validate_response(
        "lesson_plans", "/api/pedagogue/v1/lesson_plans/{id}", "DELETE", status, body
    )
    after, _ = await alice.call("GET", f"{PLANS}/{plan['id']}")
    activity = await plan_instance.pool.fetchval(
        "SELECT type FROM activities ORDER BY id DESC LIMIT 1"
    )
    assert after == 404
    assert activity == "Delete"


async def test_teacher_licence_preference_applies(plan_instance: PlanInstance) -> None:
    alice = plan_instance.alice
    status, body = await alice.call(
        "PUT", f"{PLANS}/preferences", json={"default_license": "CC-BY-SA-4.0"}
    )
    validate_response(
        "lesson_plans",
        "/api/pedagogue/v1/lesson_plans/preferences",
        "PUT",
        status,
        body,
    )
    plan = await created(alice)
    other = await created(plan_instance.bob)
    assert plan["license"]["key"] == "CC-BY-SA-4.0"
    assert other["license"]["key"] == "CC-BY-4.0"


async def test_unknown_licence_preference_rejected(plan_instance: PlanInstance) -> None:
    status, body = await plan_instance.alice.call(
        "PUT", f"{PLANS}/preferences", json={"default_license": "GPL"}
    )
    assert status == 422
    assert body["field"] == "default_license"


async def test_no_derivatives_plan_cannot_be_adapted(
    plan_instance: PlanInstance,
) -> None:
    original = await created(plan_instance.alice, license="CC-BY-ND-4.0")
    status, body = await create(plan_instance.bob, adapted_from=original["id"])
    assert status == 422
    assert body["field"] == "adapted_from"
    assert "forbids adaptations" in body["error"]


async def test_share_alike_adaptation_keeps_licence(
    plan_instance: PlanInstance,
) -> None:
    original = await created(plan_instance.alice, license="CC-BY-SA-4.0")
    adapted = await created(
        plan_instance.bob, adapted_from=original["id"], title="Ratios v2"
    )
    status, body = await create(
        plan_instance.bob, adapted_from=original["id"], license="CC-BY-4.0"
    )
    assert adapted["license"]["key"] == "CC-BY-SA-4.0"
    assert status == 422
    assert body["field"] == "license"


async def test_attribution_kept_through_generations(
    plan_instance: PlanInstance,
) -> None:
    alice, bob = plan_instance.alice, plan_instance.bob
    first = await created(alice)
    second = await created(bob, adapted_from=first["id"], title="Ratios, second take")
    third = await created(alice, adapted_from=second["uri"], title="Ratios, third take")
    status, adaptations = await alice.call("GET", f"{PLANS}/{first['id']}/adaptations")
    validate_response(
        "lesson_plans",
        "/api/pedagogue/v1/lesson_plans/{id}/adaptations",
        "GET",
        status,
        adaptations,
    )
    notified = await plan_instance.pool.fetchval(
        "SELECT count(*) FROM notifications"
        " WHERE account_id = $1 AND type = 'adaptation'",
        alice.account["id"],
    )
    assert [item["uri"] for item in third["attribution"]] == [
        second["uri"],
        first["uri"],
    ]
    assert third["adapted_from"]["title"] == "Ratios, second take"
    assert [item["uri"] for item in adaptations] == [second["uri"]]
    assert notified == 1


async def test_collection_saves_plans_and_serves_collection(
    plan_instance: PlanInstance,
) -> None:
    alice = plan_instance.alice
    plan = await created(plan_instance.bob)
    status, collection = await alice.call(
        "POST",
        "/api/pedagogue/v1/lesson_plan_collections",
        json={"name": "Ratios unit"},
    )
    validate_response(
        "lesson_plans",
        "/api/pedagogue/v1/lesson_plan_collections",
        "POST",
        status,
        collection,
    )
    status, saved = await alice.call(
        "POST",
        f"/api/pedagogue/v1/lesson_plan_collections/{collection['id']}/items",
        json={"lesson_plan_id": plan["id"]},
    )
    validate_response(
        "lesson_plans",
        "/api/pedagogue/v1/lesson_plan_collections/{id}/items",
        "POST",
        status,
        saved,
    )
    duplicate, body = await alice.call(
        "POST",
        "/api/pedagogue/v1/lesson_plan_collections",
        json={"name": "ratios UNIT"},
    )
    response = await alice.client.get(
        collection["uri"].removeprefix("https://school-a.test"),
        headers={"Accept": "application/activity+json"},
    )
    served = await response.get_json()
    assert [item["id"] for item in saved["lesson_plans"]] == [plan["id"]]
    assert duplicate == 422
    assert body["field"] == "name"
    assert served["type"] == "OrderedCollection"
    assert served["orderedItems"] == [plan["uri"]]


async def test_search_filters_and_ranks(plan_instance: PlanInstance) -> None:
    alice = plan_instance.alice
    ratios = await created(alice)
    await created(
        alice,
        title="Photosynthesis lab",
        summary="Leaves, light and oxygen bubbles.",
        body="Count the oxygen bubbles from pondweed under a lamp.",
        subjects=["Science"],
        grade_levels=["7"],
        objectives=["Explain what plants need for photosynthesis"],
        alignments=[{"framework": "NGSS", "code": "MS-LS1-6"}],
        license="CC-BY-NC-4.0",
    )
    await created(
        alice,
        title="Cooking club",
        summary="Weekly club session.",
        body="Bake bread; mention that recipes use ratios.",
        subjects=["Food technology"],
        grade_levels=["10"],
        objectives=["Knead dough"],
        alignments=[],
    )
    searches = {
        "q": {"q": "recipe ratios"},
        "subject": {"subject": "mathematics"},
        "grade": {"grade_level": "7"},
        "standard": {"standard": "MS-LS1-6"},
        "license": {"license": "CC-BY-NC-4.0"},
    }
    found = {}
    for name, params in searches.items():
        status, body = await alice.call("GET", f"{PLANS}/search", query_string=params)
        validate_response(
            "lesson_plans", "/api/pedagogue/v1/lesson_plans/search", "GET", status, body
        )
        found[name] = [item["title"] for item in body]
    # The title match ranks above the plan that names the words only in its body.
    assert found["q"] == [ratios["title"], "Cooking club"]
    assert found["subject"] == [ratios["title"]]
    assert sorted(found["grade"]) == sorted([ratios["title"], "Photosynthesis lab"])
    assert found["standard"] == ["Photosynthesis lab"]
    assert found["license"] == ["Photosynthesis lab"]


async def test_search_pages_with_link_header(plan_instance: PlanInstance) -> None:
    alice = plan_instance.alice
    for number in range(3):
        await created(alice, title=f"Fractions lesson {number}")
    first = await alice.client.get(
        f"{PLANS}/search", query_string={"q": "fractions", "limit": "2"}
    )
    second_status, second = await alice.call(
        "GET",
        f"{PLANS}/search",
        query_string={"q": "fractions", "limit": "2", "offset": "2"},
    )
    assert len(await first.get_json()) == 2
    assert 'rel="next"' in first.headers["Link"]
    assert second_status == 200
    assert len(second) == 1


async def test_search_bad_grade_names_field(plan_instance: PlanInstance) -> None:
    status, body = await plan_instance.alice.call(
        "GET", f"{PLANS}/search", query_string={"grade_level": "thirteen"}
    )
    validate_response(
        "lesson_plans", "/api/pedagogue/v1/lesson_plans/search", "GET", status, body
    )
    assert status == 422
    assert body["field"] == "grade_levels"


async def test_markdown_export_imports_as_new_plan(plan_instance: PlanInstance) -> None:
    alice, bob = plan_instance.alice, plan_instance.bob
    plan = await created(alice)
    status, text = await bob.call("GET", f"{PLANS}/{plan['id']}/export.md")
    assert status == 200
    assert text.startswith("---\ntitle: Ratios with recipe cards\n")
    status, imported = await bob.call(
        "POST", f"{PLANS}/import", files=upload(text.encode(), "plan.md")
    )
    validate_response(
        "lesson_plans",
        "/api/pedagogue/v1/lesson_plans/import",
        "POST",
        status,
        imported,
    )
    compared = (
        "title",
        "summary",
        "subjects",
        "grade_levels",
        "age_range",
        "duration_minutes",
        "objectives",
        "materials",
        "alignments",
        "license",
        "body_html",
    )
    for key in compared:
        assert imported[key] == plan[key], key
    assert imported["id"] != plan["id"]
    assert imported["account"]["acct"] == "bob"


async def test_import_without_front_matter_rejected(
    plan_instance: PlanInstance,
) -> None:
    before = await plan_instance.counts()
    status, body = await plan_instance.alice.call(
        "POST", f"{PLANS}/import", files=upload(b"# Just a heading\n", "plan.md")
    )
    assert status == 422
    assert body["field"] == "file"
    assert await plan_instance.counts() == before


async def test_import_bad_front_matter_field_named(plan_instance: PlanInstance) -> None:
    text = b"---\ntitle: Ratios\nlicense: CC-BY-99\n---\nBody\n"
    status, body = await plan_instance.alice.call(
        "POST", f"{PLANS}/import", files=upload(text, "plan.md")
    )
    assert status == 422
    assert body["field"] == "license"


async def test_html_export_is_standalone_print_page(
    plan_instance: PlanInstance,
) -> None:
    plan = await created(plan_instance.alice)
    status, page = await plan_instance.bob.call(
        "GET", f"{PLANS}/{plan['id']}/export.html"
    )
    assert status == 200
    assert page.startswith("<!DOCTYPE html>")
    assert "@media print" in page
    assert "<title>Ratios with recipe cards</title>" in page
    assert "6.RP.A.1" in page
    assert "<script>" not in page


async def test_plan_is_status_with_card(plan_instance: PlanInstance) -> None:
    plan = await created(plan_instance.alice)
    status, entity = await plan_instance.bob.call(
        "GET", f"/api/v1/statuses/{plan['id']}"
    )
    assert status == 200
    assert entity["uri"] == plan["uri"]
    assert RATIOS["summary"] in entity["content"]
    assert plan["uri"] in entity["content"]
    assert entity["spoiler_text"] == ""
    assert entity["card"]["title"] == RATIOS["title"]
    assert entity["card"]["description"] == RATIOS["summary"]
    assert entity["card"]["url"] == plan["uri"]
    assert entity["card"]["type"] == "link"


async def test_plan_served_as_article_with_lrmi(plan_instance: PlanInstance) -> None:
    plan = await created(plan_instance.alice, license="all-rights-reserved")
    response = await plan_instance.alice.client.get(
        plan["uri"].removeprefix("https://school-a.test"),
        headers={"Accept": "application/activity+json"},
    )
    article = await response.get_json()
    assert article["type"] == "Article"
    assert "https://schema.org/" in article["@context"]
    assert article["name"] == RATIOS["title"]
    assert article["educationalLevel"] == ["6-8"]
    assert article["timeRequired"] == "PT45M"
    assert article["teaches"] == RATIOS["objectives"]
    assert article["educationalAlignment"][0]["targetName"] == "6.RP.A.1"
    assert article["license"] == {"type": "CreativeWork", "name": "All rights reserved"}


@pytest.mark.parametrize(
    "bad_id", ["\u00b2", "\u0663", "99999999999999999999999", "9223372036854775808"]
)
async def test_odd_plan_ids_not_found(plan_instance: PlanInstance, bad_id: str) -> None:
    alice = plan_instance.alice
    collection = (
        await alice.call(
            "POST", "/api/pedagogue/v1/lesson_plan_collections", json={"name": "Odd"}
        )
    )[1]
    for path in (
        f"{PLANS}/{bad_id}",
        f"{PLANS}/{bad_id}/adaptations",
        f"{PLANS}/{bad_id}/export.md",
        f"/lesson_plans/{bad_id}",
        f"/lesson_plans/files/{bad_id}",
        f"/api/pedagogue/v1/lesson_plan_collections/{bad_id}",
        f"/users/alice/lesson_plan_collections/{bad_id}",
    ):
        status, _ = await alice.call("GET", path)
        assert status == 404, path
    status, body = await alice.call(
        "POST",
        f"/api/pedagogue/v1/lesson_plan_collections/{collection['id']}/items",
        json={"lesson_plan_id": bad_id},
    )
    assert status == 404
    status, body = await create(alice, attachment_ids=[bad_id])
    assert status == 422
    assert body["field"] == "attachment_ids"
    status, body = await create(alice, adapted_from=bad_id)
    assert status == 422
    assert body["field"] == "adapted_from"


async def test_followers_only_plan_hidden_from_others(
    plan_instance: PlanInstance,
) -> None:
    alice, bob = plan_instance.alice, plan_instance.bob
    plan = await created(alice, visibility="private", title="Quiz answers")
    status, _ = await bob.call("GET", f"{PLANS}/{plan['id']}")
    assert status == 404
    response = await alice.client.get(f"{PLANS}/{plan['id']}")
    assert response.status_code == 404
    response = await alice.client.get(
        f"/lesson_plans/{plan['id']}", headers={"Accept": "application/activity+json"}
    )
    assert response.status_code == 404
    status, own = await alice.call("GET", f"{PLANS}/{plan['id']}")
    assert status == 200
    assert own["visibility"] == "private"
    found = await bob.call("GET", f"{PLANS}/search", query_string={"q": "quiz"})
    assert found == (200, [])
    status, body = await alice.call(
        "PUT", f"{PLANS}/{plan['id']}", json={"visibility": "public"}
    )
    assert status == 422
    assert body["field"] == "visibility"


async def test_invalid_token_on_open_read_is_401(plan_instance: PlanInstance) -> None:
    plan = await created(plan_instance.alice)
    response = await plan_instance.alice.client.get(
        f"{PLANS}/{plan['id']}", headers={"Authorization": "Bearer nonsense"}
    )
    assert response.status_code == 401


async def test_unknown_plan_visibility_rejected(plan_instance: PlanInstance) -> None:
    status, body = await create(plan_instance.alice, visibility="friends")
    assert status == 422
    assert body["field"] == "visibility"


async def test_collection_rename_to_taken_name(plan_instance: PlanInstance) -> None:
    alice = plan_instance.alice
    collections = "/api/pedagogue/v1/lesson_plan_collections"
    await alice.call("POST", collections, json={"name": "Ratios"})
    _, second = await alice.call("POST", collections, json={"name": "Fractions"})
    status, body = await alice.call(
        "PUT", f"{collections}/{second['id']}", json={"name": "ratios"}
    )
    validate_response("lesson_plans", f"{collections}/{{id}}", "PUT", status, body)
    assert status == 422
    assert body["field"] == "name"
    status, renamed = await alice.call(
        "PUT", f"{collections}/{second['id']}", json={"name": "Fraction walls"}
    )
    assert status == 200
    assert renamed["name"] == "Fraction walls"


async def test_personal_collection_not_federated(plan_instance: PlanInstance) -> None:
    alice = plan_instance.alice
    before = await plan_instance.counts()
    status, personal = await alice.call(
        "POST",
        "/api/pedagogue/v1/lesson_plan_collections",
        json={"name": "To read", "visibility": "direct"},
    )
    response = await alice.client.get(
        personal["uri"].removeprefix("https://school-a.test"),
        headers={"Accept": "application/activity+json"},
    )
    after = await plan_instance.counts()
    assert status == 200
    assert personal["visibility"] == "direct"
    assert response.status_code == 404
    assert after["activities"] == before["activities"]


async def test_markdown_export_keeps_visibility(plan_instance: PlanInstance) -> None:
    alice = plan_instance.alice
    plan = await created(alice, visibility="unlisted")
    status, text = await alice.call("GET", f"{PLANS}/{plan['id']}/export.md")
    assert status == 200
    assert "\nvisibility: unlisted\n" in text
    status, imported = await alice.call(
        "POST", f"{PLANS}/import", files=upload(text.encode(), "plan.md")
    )
    assert status == 200
    assert imported["visibility"] == "unlisted"
    status, body = await alice.call(
        "POST",
        f"{PLANS}/import",
        files=upload(
            text.replace("visibility: unlisted", "visibility: secret").encode()
        ),
    )
    assert status == 422
    assert body["field"] == "visibility"


async def signed_get(
    user: ApiUser, reader: ApiUser, path: str, signed_path: str | None = None
) -> Any:
    """GET ``path`` from the app with ``reader``'s signature over
    ``signed_path`` (by default the same path)."""
    from federation import httpsig

    url = f"https://school-a.test{signed_path or path}"
    headers = {"Accept": "application/activity+json"}
    key = httpsig.load_private_key(reader.account["private_key_pem"])
    key_id = f"https://school-a.test/users/{reader.account['username']}#main-key"
    headers.update(httpsig.sign_request("GET", url, headers, None, key, key_id))
    return await user.client.get(path, headers=headers)


async def test_followers_collection_needs_signed_follower(
    plan_instance: PlanInstance,
) -> None:
    alice, bob = plan_instance.alice, plan_instance.bob
    public_plan = await created(alice)
    private_plan = await created(alice, visibility="private", title="Answer key")
    collections = "/api/pedagogue/v1/lesson_plan_collections"
    _, collection = await alice.call(
        "POST", collections, json={"name": "Unit 3", "visibility": "private"}
    )
    for plan in (public_plan, private_plan):
        status, _ = await alice.call(
            "POST",
            f"{collections}/{collection['id']}/items",
            json={"lesson_plan_id": plan["id"]},
        )
        assert status == 200
    path = collection["uri"].removeprefix("https://school-a.test")

    unsigned = await alice.client.get(
        path, headers={"Accept": "application/activity+json"}
    )
    stranger = await signed_get(alice, bob, path)
    await plan_instance.pool.execute(
        "INSERT INTO follows (id, account_id, target_account_id, accepted)"
        " VALUES (1, $1, $2, true)",
        bob.account["id"],
        alice.account["id"],
    )
    follower = await signed_get(alice, bob, path)
    served = await follower.get_json()
    assert unsigned.status_code == 404
    assert stranger.status_code == 404
    assert follower.status_code == 200
    assert served["orderedItems"] == [private_plan["uri"], public_plan["uri"]]
    assert served["cc"] == []


async def test_bad_signature_on_plan_get_rejected(plan_instance: PlanInstance) -> None:
    alice = plan_instance.alice
    plan = await created(alice, visibility="private")
    path = f"/lesson_plans/{plan['id']}"
    own = await signed_get(alice, alice, path)
    tampered = await signed_get(alice, alice, path, signed_path=f"{path}0")
    assert own.status_code == 200
    assert tampered.status_code == 401
