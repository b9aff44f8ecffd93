"""Malformed ids in the mentorship and profile endpoints: digits that are not
ASCII and numbers beyond bigint get 404 or 422, never a server error."""

from tests.support.openapi import validate_response

MENTORSHIPS = "/api/pedagogue/v1/mentorships"
PROFILES = "/api/pedagogue/v1/profiles"
# "²" passes str.isdigit() but int() rejects it; "٣" (ARABIC-INDIC DIGIT
# THREE) is a decimal digit that int() accepts; the last is over 2**63 - 1.
BAD_PATH_IDS = ["%C2%B2", "%D9%A3", "99999999999999999999"]


async def test_malformed_ids_not_server_errors(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")

    for bad in BAD_PATH_IDS:
        status, body = await alice.request("GET", f"{MENTORSHIPS}/{bad}")
        assert status == 404, (bad, body)
        validate_response("mentorship", f"{MENTORSHIPS}/{{id}}", "GET", 404, body)
        status, body = await alice.request("POST", f"{MENTORSHIPS}/{bad}/accept")
        assert status == 404, (bad, body)
        status, body = await alice.request("GET", f"{PROFILES}/{bad}")
        assert status == 404, (bad, body)
        validate_response("profiles", f"{PROFILES}/{{id}}", "GET", 404, body)

    for bad in ["²", "٣", "99999999999999999999", 2**70, -1, True, 1.5]:
        status, body = await alice.request("POST", MENTORSHIPS, json={"mentor_id": bad})
        assert status == 422, (bad, body)
        assert body["error"].startswith("mentor_id must be an account id"), body
        validate_response("mentorship", MENTORSHIPS, "POST", 422, body)

    # PostgreSQL text cannot store NUL, so the API rejects it naming the field.
    status, body = await alice.request(
        "POST", MENTORSHIPS, json={"mentor_id": alice.account_id, "message": "a\x00b"}
    )
    assert status == 422
    assert "message" in body["error"]
    assert "NUL" in body["error"]
    status, body = await alice.request(
        "GET", "/api/pedagogue/v1/mentors", params={"subject": "a\x00b"}
    )
    assert status == 400
    assert body["error"] == "subject must not contain NUL characters"
    status, body = await alice.request(
        "PATCH", "/api/pedagogue/v1/profile", json={"subjects": ["a\x00b"]}
    )
    assert status == 422
    assert "subjects" in body["error"]
    assert "NUL" in body["error"]

    # Profile field positions given as object keys sort without int().
    status, body = await alice.request(
        "PATCH",
        "/api/pedagogue/v1/profile",
        json={
            "fields_attributes": {
                "²": {"name": "Website", "value": "example"},
                "0": {"name": "School", "value": "Hill"},
            }
        },
    )
    assert status == 200, body
    assert [field["name"] for field in body["account"]["fields"]] == [
        "Website",
        "School",
    ]
