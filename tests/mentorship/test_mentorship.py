"""Mentorship across live instances: offers, acceptance, rejection, withdrawal, capacity,
the private thread and the mentor directory."""

from typing import Any

from tests.e2e.peers import post
from tests.support.live import LiveInstance, Teacher, eventually
from tests.support.openapi import validate_response

MENTORS = "/api/pedagogue/v1/mentors"
MENTORSHIPS = "/api/pedagogue/v1/mentorships"


async def open_mentoring(teacher: Teacher, **offer: Any) -> dict[str, Any]:
    status, body = await teacher.request(
        "PUT", "/api/pedagogue/v1/mentoring", json=offer
    )
    assert status == 200, body
    validate_response("mentorship", "/api/pedagogue/v1/mentoring", "PUT", 200, body)
    return body


async def ask(mentee: Teacher, mentor: Teacher, message: str) -> dict[str, Any]:
    """Resolve the mentor from the mentee's instance and ask to be mentored."""
    remote = await mentee.resolve(f"@{mentor.handle}")
    created = await mentee.post(
        MENTORSHIPS,
        json={"mentor_id": remote["id"], "message": message, "subjects": ["Maths"]},
    )
    validate_response("mentorship", MENTORSHIPS, "POST", 200, created)
    return created


async def mentorship_in_state(
    teacher: Teacher, state: str, uri: str
) -> dict[str, Any] | None:
    """Wait until the teacher's instance shows the mentorship ``uri`` in ``state``."""

    async def find() -> dict[str, Any] | None:
        listed = await teacher.get(MENTORSHIPS)
        return next(
            (m for m in listed if m["uri"] == uri and m["state"] == state), None
        )

    return await eventually(find)


async def thread(teacher: Teacher, mentorship_id: str) -> list[dict[str, Any]]:
    path = f"{MENTORSHIPS}/{mentorship_id}/thread"
    body = await teacher.get(path)
    validate_response("mentorship", f"{MENTORSHIPS}/{{id}}/thread", "GET", 200, body)
    return body


async def thread_of_length(
    teacher: Teacher, mentorship_id: str, length: int
) -> list[dict[str, Any]]:
    async def check() -> list[dict[str, Any]]:
        found = await thread(teacher, mentorship_id)
        return found if len(found) >= length else []

    return await eventually(check)


async def mark_software(instance: LiveInstance, host: str, software: str) -> None:
    """Record in the instance's host cache that ``host`` runs ``software``, as a
    NodeInfo read would."""
    connection = await instance.db()
    try:
        await connection.execute(
            "INSERT INTO hosts (host, software, software_checked_at)"
            " VALUES ($1, $2, now()) ON CONFLICT (host) DO UPDATE"
            " SET software = EXCLUDED.software, software_checked_at = now()",
            host,
            software,
        )
    finally:
        await connection.close()


async def test_mentorship_accepted_opens_private_thread(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    bob = await district.create_teacher("bob")
    carol = await district.create_teacher("carol")
    await open_mentoring(
        alice, subjects=["Maths"], grade_levels=["6"], capacity=1, open=True
    )

    offered = await ask(bob, alice, "I am new to teaching ratios.")
    at_alice = await mentorship_in_state(alice, "pending", offered["uri"])
    assert at_alice is not None
    assert at_alice["role"] == "mentor"
    assert at_alice["mentee"]["acct"] == bob.handle
    assert at_alice["message"] == "I am new to teaching ratios."
    assert offered["state"] == "pending"
    assert offered["role"] == "mentee"

    accepted = await alice.post(f"{MENTORSHIPS}/{at_alice['id']}/accept")
    validate_response(
        "mentorship", f"{MENTORSHIPS}/{{id}}/accept", "POST", 200, accepted
    )
    at_bob = await mentorship_in_state(bob, "accepted", offered["uri"])
    assert accepted["state"] == "accepted"
    assert at_bob is not None

    welcome = await thread_of_length(bob, offered["id"], 1)
    assert len(welcome) == 1
    assert welcome[0]["visibility"] == "direct"
    assert welcome[0]["account"]["acct"] == alice.handle

    reply = await post(
        bob,
        f"@{alice.handle} Thank you! Where should I start?",
        visibility="direct",
        in_reply_to_id=welcome[0]["id"],
    )
    at_alice_thread = await thread_of_length(alice, at_alice["id"], 2)
    # Received statuses are ordered by their published time, which has whole
    # seconds only, so the reply may sort before the welcome.
    assert reply["uri"] in [s["uri"] for s in at_alice_thread]

    status, _ = await carol.request("GET", f"/api/v1/statuses/{welcome[0]['id']}")
    assert status == 404
    status, body = await carol.request("GET", f"{MENTORSHIPS}/{offered['id']}/thread")
    assert status == 404
    validate_response("mentorship", f"{MENTORSHIPS}/{{id}}/thread", "GET", 404, body)


async def test_mentorship_capacity_rejects_remote_offer(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    dave = await school.create_teacher("dave")
    bob = await district.create_teacher("bob")
    erin = await district.create_teacher("erin")
    await open_mentoring(alice, subjects=["Maths"], grade_levels=["6"], capacity=1)

    first = await ask(bob, alice, "Please mentor me.")
    second = await ask(erin, alice, "Me too, please.")
    pending_first = await mentorship_in_state(alice, "pending", first["uri"])
    pending_second = await mentorship_in_state(alice, "pending", second["uri"])
    assert pending_first is not None
    assert pending_second is not None
    await alice.post(f"{MENTORSHIPS}/{pending_first['id']}/accept")
    status, body = await alice.request(
        "POST", f"{MENTORSHIPS}/{pending_second['id']}/accept"
    )
    assert status == 409
    assert "capacity" in body["error"]
    validate_response("mentorship", f"{MENTORSHIPS}/{{id}}/accept", "POST", 409, body)

    # A full mentor's instance rejects a new remote offer at once.
    status, _ = await erin.request("POST", f"{MENTORSHIPS}/{second['id']}/withdraw")
    assert status == 200
    again = await ask(erin, alice, "Asking again.")
    assert await mentorship_in_state(erin, "rejected", again["uri"]) is not None

    # A local teacher asking a full local mentor gets 409 directly.
    alice_account = await dave.get("/api/v1/accounts/lookup", params={"acct": "alice"})
    status, body = await dave.request(
        "POST", MENTORSHIPS, json={"mentor_id": alice_account["id"]}
    )
    assert status == 409
    assert body["error"] == "this mentor has no free place"


async def test_mentorship_reject_and_withdraw(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    bob = await district.create_teacher("bob")
    await open_mentoring(alice, subjects=["Science"], grade_levels=["9"], capacity=3)

    rejected_offer = await ask(bob, alice, "First request.")
    pending = await mentorship_in_state(alice, "pending", rejected_offer["uri"])
    assert pending is not None
    rejected = await alice.post(f"{MENTORSHIPS}/{pending['id']}/reject")
    assert rejected["state"] == "rejected"
    assert await mentorship_in_state(bob, "rejected", rejected_offer["uri"]) is not None

    withdrawn_offer = await ask(bob, alice, "Second request.")
    pending = await mentorship_in_state(alice, "pending", withdrawn_offer["uri"])
    assert pending is not None
    withdrawn = await bob.post(f"{MENTORSHIPS}/{withdrawn_offer['id']}/withdraw")
    validate_response(
        "mentorship", f"{MENTORSHIPS}/{{id}}/withdraw", "POST", 200, withdrawn
    )
    assert withdrawn["state"] == "withdrawn"
    assert (
        await mentorship_in_state(alice, "withdrawn", withdrawn_offer["uri"])
        is not None
    )
    status, body = await alice.request("POST", f"{MENTORSHIPS}/{pending['id']}/accept")
    assert status == 409
    assert body["error"] == "this request is withdrawn, not pending"


async def test_mentorship_request_sent_as_direct_message(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    bob = await district.create_teacher("bob")
    await open_mentoring(alice, subjects=["Maths"], grade_levels=["6"], capacity=2)
    # The mentee's instance believes the mentor's host runs Mastodon, which
    # ignores Offer, so the request also goes out as a direct message.
    await mark_software(district, school.host, "mastodon")

    await ask(bob, alice, "Could you help with classroom routines?")

    async def direct_message() -> dict[str, Any] | None:
        found = await alice.get("/api/v1/notifications", params={"types[]": "mention"})
        return next((n for n in found if n["status"]["visibility"] == "direct"), None)

    message = await eventually(direct_message)
    assert message is not None
    assert message["account"]["acct"] == bob.handle
    assert "Would you mentor me in Maths?" in message["status"]["content"]
    assert f"{district.url}/@bob" in message["status"]["content"]


async def test_mentor_directory_filters(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")
    dave = await school.create_teacher("dave")
    frank = await school.create_teacher("frank")
    await open_mentoring(alice, subjects=["Maths"], grade_levels=["6", "7"], capacity=2)
    await open_mentoring(dave, subjects=["Science"], grade_levels=["9"], capacity=1)
    await open_mentoring(
        frank, subjects=["Maths"], grade_levels=["9"], capacity=1, open=False
    )

    async def directory(**filters: str) -> list[str]:
        body = await alice.get(MENTORS, params=filters)
        validate_response("mentorship", MENTORS, "GET", 200, body)
        return sorted(item["account"]["username"] for item in body)

    assert await directory() == ["alice", "dave"]
    assert await directory(subject="maths") == ["alice"]
    assert await directory(grade_level="9") == ["dave"]
    assert await directory(subject="Maths", grade_level="9") == []


async def test_mentoring_bad_input_rejected(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")
    frank = await school.create_teacher("frank")

    status, body = await alice.request(
        "PUT", "/api/pedagogue/v1/mentoring", json={"capacity": 500}
    )
    assert status == 422
    assert body["error"] == "capacity must be a whole number from 0 to 100, not '500'"
    assert body["field"] == "capacity"
    validate_response("mentorship", "/api/pedagogue/v1/mentoring", "PUT", 422, body)
    status, body = await alice.request(
        "PUT",
        "/api/pedagogue/v1/mentoring",
        json={"capacity": 2, "subjects": "x" * 101},
    )
    assert status == 422
    assert "subjects" in body["error"]
    status, body = await alice.request(
        "POST", MENTORSHIPS, json={"mentor_id": frank.account_id}
    )
    assert status == 409
    assert body["error"] == "this teacher is not open to mentoring"
    status, body = await alice.request(
        "POST", MENTORSHIPS, json={"mentor_id": alice.account_id}
    )
    assert status == 422
    status, body = await alice.request("POST", MENTORSHIPS, json={})
    assert status == 422
    assert body["error"] == "mentor_id is missing"


async def test_local_mentorship_accepted_opens_thread(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")
    dave = await school.create_teacher("dave")
    frank = await school.create_teacher("frank")
    await open_mentoring(alice, subjects=["Art"], grade_levels=["K"], capacity=1)

    offered = await dave.post(
        MENTORSHIPS, json={"mentor_id": alice.account_id, "message": "Hello"}
    )
    pending = await alice.get(MENTORSHIPS, params={"state": "pending"})
    accepted = await alice.post(f"{MENTORSHIPS}/{offered['id']}/accept")
    welcome = await thread(dave, offered["id"])

    assert [m["id"] for m in pending] == [offered["id"]]
    assert accepted["state"] == "accepted"
    assert len(welcome) == 1
    assert welcome[0]["account"]["username"] == "alice"
    status, _ = await frank.request("GET", f"/api/v1/statuses/{welcome[0]['id']}")
    assert status == 404
