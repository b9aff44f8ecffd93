"""Teacher profiles, images, followed hashtags and teacher search across live
instances."""

import io
from typing import Any

import aiohttp
from PIL import Image, PngImagePlugin

from tests.e2e.peers import arrives_home, follow, home_status, post
from tests.support.live import Teacher, eventually
from tests.support.openapi import validate_response

UPDATE = "/api/v1/accounts/update_credentials"
PROFILE = "/api/pedagogue/v1/profile"


async def update_credentials(teacher: Teacher, **fields: Any) -> dict[str, Any]:
    status, body = await teacher.request("PATCH", UPDATE, **fields)
    assert status == 200, body
    validate_response("profiles", UPDATE, "PATCH", 200, body)
    return body


def png_with_text(text: str) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", text)
    output = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(output, format="PNG", pnginfo=info)
    return output.getvalue()


async def test_profile_fields_verify_and_federate(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    bob = await district.create_teacher("bob")
    alice_page = f"{school.url}/@alice"
    bob_page = f"{district.url}/@bob"
    # bob links to alice first; alice's page does not link back yet.
    linked = await update_credentials(
        bob, json={"fields_attributes": [{"name": "Colleague", "value": alice_page}]}
    )
    assert linked["fields"][0]["verified_at"] is None

    updated = await update_credentials(
        alice,
        json={
            "display_name": "Alice Adams",
            "note": "Maths teacher, #fractions fan",
            "fields_attributes": [
                {"name": "Colleague", "value": bob_page},
                {"name": "Room", "value": "12 <b>east</b>"},
            ],
        },
    )
    profile_status, profile = await alice.request(
        "PATCH",
        PROFILE,
        json={
            "subjects": ["Maths"],
            "grade_levels": ["6", "7"],
            "school": "Northside Middle",
            "role": "Teacher",
            "pronouns": "she/her",
        },
    )

    assert updated["display_name"] == "Alice Adams"
    assert updated["fields"][0]["verified_at"] is not None
    assert f'href="{bob_page}"' in updated["fields"][0]["value"]
    assert updated["fields"][1]["verified_at"] is None
    assert updated["fields"][1]["value"] == "12 &lt;b&gt;east&lt;/b&gt;"
    assert updated["source"]["fields"][1]["value"] == "12 <b>east</b>"
    assert "fractions" in updated["note"]
    assert profile_status == 200
    validate_response("profiles", PROFILE, "PATCH", 200, profile)
    assert profile["pronouns"] == "she/her"

    remote = await bob.resolve(f"@{alice.handle}")
    assert remote["display_name"] == "Alice Adams"
    assert [f["name"] for f in remote["fields"]] == ["Colleague", "Room"]
    assert bob_page in remote["fields"][0]["value"]
    assert remote["fields"][1]["value"] == "12 &lt;b&gt;east&lt;/b&gt;"
    remote_profile = await bob.get(f"/api/pedagogue/v1/profiles/{remote['id']}")
    validate_response(
        "profiles", "/api/pedagogue/v1/profiles/{id}", "GET", 200, remote_profile
    )
    assert remote_profile["subjects"] == ["Maths"]
    assert remote_profile["grade_levels"] == ["6", "7"]
    assert remote_profile["school"] == "Northside Middle"

    # A later change reaches followers as Update(Person).
    await follow(bob, alice)
    await update_credentials(alice, json={"display_name": "Ms Adams"})

    async def renamed() -> bool:
        account = await bob.get(f"/api/v1/accounts/{remote['id']}")
        return account["display_name"] == "Ms Adams"

    assert await eventually(renamed)


async def test_profile_images_stored_without_metadata(start_instances):
    (school,) = await start_instances(
        "school-a.test",
        extra_env={"PEDAGOGUE_INSTANCE__PROFILE_IMAGE_MAX_BYTES": "20000"},
    )
    alice = await school.create_teacher("alice")
    form = aiohttp.FormData()
    form.add_field(
        "avatar",
        png_with_text("secret-location"),
        filename="a.png",
        content_type="image/png",
    )
    form.add_field(
        "header",
        png_with_text("header-note"),
        filename="h.png",
        content_type="image/png",
    )

    updated = await update_credentials(alice, data=form)
    status, stored = await alice.request(
        "GET", updated["avatar"].replace(school.url, "")
    )

    assert updated["avatar"].startswith(f"{school.url}/media/")
    assert updated["header"].startswith(f"{school.url}/media/")
    assert status == 200
    assert isinstance(stored, bytes)
    assert stored.startswith(b"\x89PNG")
    assert b"secret-location" not in stored

    not_image = aiohttp.FormData()
    not_image.add_field("avatar", b"%PDF-1.4 not an image", filename="a.png")
    status, body = await alice.request("PATCH", UPDATE, data=not_image)
    assert status == 422
    assert body["error"] == "avatar must be a PNG, JPEG, GIF or WebP image"
    validate_response("profiles", UPDATE, "PATCH", 422, body)

    too_large = aiohttp.FormData()
    too_large.add_field("header", b"\x89PNG\r\n\x1a\n" + b"0" * 30000, filename="h.png")
    status, body = await alice.request("PATCH", UPDATE, data=too_large)
    assert status == 422
    assert body["error"] == "header is over the limit of 20000 bytes"


async def test_followed_tag_brings_posts_home(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    dave = await school.create_teacher("dave")
    bob = await district.create_teacher("bob")
    await follow(dave, bob)
    followed = await alice.post("/api/v1/tags/Fractions/follow")
    validate_response("profiles", "/api/v1/tags/{name}/follow", "POST", 200, followed)
    assert followed["following"] is True

    tagged = await post(bob, "Fraction strips work well #fractions")
    untagged = await post(bob, "Staff meeting at four")
    local = await post(dave, "My #Fractions wall is up")
    at_alice = await arrives_home(alice, tagged["uri"])
    assert await arrives_home(dave, untagged["uri"]) is not None

    assert at_alice is not None
    assert await home_status(alice, untagged["uri"]) is None
    assert await home_status(alice, local["uri"]) is not None

    timeline = await alice.get("/api/v1/timelines/tag/fractions")
    validate_response("profiles", "/api/v1/timelines/tag/{name}", "GET", 200, timeline)
    assert {s["uri"] for s in timeline} == {tagged["uri"], local["uri"]}
    local_only = await alice.get(
        "/api/v1/timelines/tag/fractions", params={"local": "true"}
    )
    assert [s["uri"] for s in local_only] == [local["uri"]]
    listed = await alice.get("/api/v1/followed_tags")
    assert [t["name"] for t in listed] == ["fractions"]
    status, page = await alice.request("GET", "/tags/fractions")
    assert status == 200
    assert "Fraction strips work well" in page

    await alice.post("/api/v1/tags/fractions/unfollow")
    later = await post(bob, "More #fractions ideas")
    assert await arrives_home(dave, later["uri"]) is not None
    assert await home_status(alice, later["uri"]) is None
    status, body = await alice.request("POST", "/api/v1/tags/no-dashes/follow")
    assert status == 422
    assert "invalid hashtag" in body["error"]


async def test_teacher_search_by_name_and_handle(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice", display_name="Alice Adams")
    await school.create_teacher("adam", display_name="Adam Brown")
    bob = await district.create_teacher("bob", display_name="Bob Carter")

    by_name = await alice.get("/api/pedagogue/v1/teachers", params={"q": "adam"})
    validate_response("profiles", "/api/pedagogue/v1/teachers", "GET", 200, by_name)
    by_handle = await alice.get(
        "/api/pedagogue/v1/teachers", params={"q": f"@{bob.handle}", "resolve": "true"}
    )
    known_remote = await alice.get("/api/pedagogue/v1/teachers", params={"q": "carter"})
    status, body = await alice.request("GET", "/api/pedagogue/v1/teachers")

    assert [a["username"] for a in by_name] == ["adam", "alice"]
    assert [a["acct"] for a in by_handle] == [bob.handle]
    assert [a["acct"] for a in known_remote] == [bob.handle]
    assert status == 422
    assert body["error"] == "q is missing"


PLAN = {
    "title": "Ratios with recipe cards",
    "summary": "Students scale recipes.",
    "body": "Double a pancake recipe.",
    "subjects": ["Mathematics"],
    "grade_levels": ["6"],
    "alignments": [{"framework": "CCSS", "code": "6.RP.A.1"}],
}


async def test_followed_standard_brings_remote_plans_home(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    dave = await school.create_teacher("dave")
    bob = await district.create_teacher("bob")
    await follow(dave, bob)
    followed = await alice.post("/api/pedagogue/v1/standards/CCSS.6.RP.A.1/follow")
    validate_response(
        "profiles", "/api/pedagogue/v1/standards/{code}/follow", "POST", 200, followed
    )

    aligned = await bob.post("/api/pedagogue/v1/lesson_plans", json=PLAN)
    other = await bob.post(
        "/api/pedagogue/v1/lesson_plans",
        json={
            **PLAN,
            "title": "Area models",
            "alignments": [{"framework": "CCSS", "code": "6.G.A.1"}],
        },
    )
    at_alice = await arrives_home(alice, aligned["uri"])
    assert await arrives_home(dave, other["uri"]) is not None

    assert at_alice is not None
    assert await home_status(alice, other["uri"]) is None
    listed = await alice.get("/api/pedagogue/v1/followed_standards")
    assert listed == [{"code": "CCSS.6.RP.A.1", "following": True}]


async def test_profile_and_tags_through_mastodon_py(start_instances):
    from tests.web.test_mastodon_py import call, client_for

    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")
    dave = await school.create_teacher("dave")
    api = client_for(alice)

    updated = await call(
        api.account_update_credentials,
        display_name="Alice A.",
        note="Science lead",
        fields=[("Subject", "Chemistry"), ("Pronouns", "she/her")],
    )
    tag = await call(api.tag_follow, "chemistry")
    await post(dave, "Titration lab tomorrow #chemistry")
    hashtag = await call(api.timeline_hashtag, "chemistry")
    home = await call(api.timeline_home)

    assert updated.display_name == "Alice A."
    assert [(f.name, f.value) for f in updated.fields] == [
        ("Subject", "Chemistry"),
        ("Pronouns", "she/her"),
    ]
    assert updated.source.note == "Science lead"
    assert tag.following is True
    assert [s.account.acct for s in hashtag] == ["dave"]
    assert [s.account.acct for s in home] == ["dave"]
