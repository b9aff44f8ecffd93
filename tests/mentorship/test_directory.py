"""The mentor directory across live instances: remote mentors read from actor
documents, offer changes federated as Update(Person), filters and pages."""

from typing import Any
from urllib.parse import urlsplit

import aiohttp

from tests.e2e.peers import fetch, follow, open_session
from tests.mentorship.test_mentorship import MENTORSHIPS, ask, open_mentoring
from tests.support.live import LiveInstance, Teacher, eventually
from tests.support.openapi import validate_response

MENTORS = "/api/pedagogue/v1/mentors"


async def listed(teacher: Teacher, **filters: str) -> list[str]:
    """Return the acct of each directory entry the teacher's instance lists."""
    body = await teacher.get(MENTORS, params=filters)
    validate_response("mentorship", MENTORS, "GET", 200, body)
    return [item["account"]["acct"] for item in body]


async def listed_soon(teacher: Teacher, acct: str, present: bool, **filters: str) -> bool:
    """Wait until ``acct`` is (or is no longer) in the directory; return
    whether it ended up as expected."""

    async def check() -> bool:
        return (acct in await listed(teacher, **filters)) == present

    return await eventually(check)


async def actor_mentoring(instance: LiveInstance, username: str) -> dict[str, Any]:
    async with open_session(instance) as session:
        status, _, document = await fetch(session, f"{instance.url}/users/{username}")
    assert status == 200, document
    return document["mentoring"]


async def test_remote_mentor_directory_follows_updates(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    bob = await district.create_teacher("bob")
    carol = await district.create_teacher("carol")
    erin = await district.create_teacher("erin")
    await open_mentoring(
        alice,
        subjects=["Maths"],
        grade_levels=["6"],
        capacity=1,
        note="Ratios and fractions",
    )
    await open_mentoring(erin, subjects=["Maths"], grade_levels=["6"], capacity=2)
    # Following alice makes district store her actor document, mentoring
    # offer included, and receive her later Update(Person).
    await follow(carol, alice)

    assert await listed_soon(carol, alice.handle, True)
    entry = next(
        item for item in await carol.get(MENTORS) if item["account"]["acct"] == alice.handle
    )
    assert entry["subjects"] == ["Maths"]
    assert entry["grade_levels"] == ["6"]
    assert entry["capacity"] == 1
    assert entry["free_places"] == 1
    assert entry["note"] == "Ratios and fractions"
    assert sorted(await listed(carol, subject="maths", grade_level="6")) == sorted(
        ["erin", alice.handle]
    )
    assert await listed(carol, local="true") == ["erin"]
    assert await listed(carol, local="false") == [alice.handle]
    assert await listed(carol, grade_level="9") == []

    # The remote teacher's profile shows the offer her actor document carries.
    remote = await carol.resolve(f"@{alice.handle}")
    profile = await carol.get(f"/api/pedagogue/v1/profiles/{remote['id']}")
    validate_response(
        "profiles", "/api/pedagogue/v1/profiles/{id}", "GET", 200, profile
    )
    assert profile["mentoring"]["open"] is True
    assert profile["mentoring"]["free_places"] == 1
    assert profile["mentoring"]["subjects"] == ["Maths"]

    # A viewer who blocked a teacher does not see them, but others still do.
    connection = await district.db()
    try:
        await connection.execute(
            "INSERT INTO blocks (id, account_id, target_account_id)"
            " VALUES (9000002, $1, $2)",
            int(carol.account_id),
            int(erin.account_id),
        )
    finally:
        await connection.close()
    assert await listed(carol, local="true") == []
    assert await listed(bob, local="true") == ["erin"]

    # A changed offer reaches district as Update(Person).
    await open_mentoring(alice, subjects=["Science"], grade_levels=["9"], capacity=1)
    assert await listed_soon(carol, alice.handle, True, subject="science")
    assert alice.handle not in await listed(carol, subject="maths")

    # Accepting bob fills alice's only place: her actor document states that she is
    # no longer open, and district drops her from its directory.
    offered = await ask(bob, alice, "Please mentor me.")

    async def pending_at_alice() -> str | None:
        found = await alice.get(MENTORSHIPS, params={"state": "pending"})
        return next((m["id"] for m in found if m["uri"] == offered["uri"]), None)

    mentorship_id = await eventually(pending_at_alice)
    assert mentorship_id is not None
    await alice.post(f"{MENTORSHIPS}/{mentorship_id}/accept")
    mentoring = await actor_mentoring(school, "alice")
    assert mentoring["openToMentoring"] is False
    assert mentoring["freePlaces"] == 0
    assert await listed_soon(carol, alice.handle, False)
    assert await listed(alice) == []

    # The withdrawal frees the place again on both instances.
    await bob.post(f"{MENTORSHIPS}/{offered['id']}/withdraw")
    assert await listed_soon(carol, alice.handle, True)
    assert await listed_soon(alice, "alice", True)

    # Closing the offer removes alice from the directory.
    await open_mentoring(
        alice, subjects=["Science"], grade_levels=["9"], capacity=1, open=False
    )
    assert await listed_soon(carol, alice.handle, False)


async def test_mentor_directory_pages(start_instances):
    (school,) = await start_instances("school-a.test")
    teachers = [await school.create_teacher(f"mentor{i}") for i in range(5)]
    for teacher in teachers:
        await open_mentoring(teacher, subjects=["Art"], grade_levels=["K"], capacity=1)
    viewer = teachers[0]

    seen: list[str] = []
    path = f"{MENTORS}?limit=2"
    pages = 0
    async with aiohttp.ClientSession() as session:
        while path and pages < 5:
            async with session.get(
                f"{school.client_url}{path}", ssl=school.ssl_context()
            ) as response:
                assert response.status == 200
                body = await response.json()
                link = response.headers.get("Link", "")
            validate_response("mentorship", MENTORS, "GET", 200, body)
            seen += [item["account"]["username"] for item in body]
            pages += 1
            next_links = [
                part.split(">")[0].strip(" <")
                for part in link.split(",")
                if 'rel="next"' in part
            ]
            if next_links:
                parts = urlsplit(next_links[0])
                path = f"{parts.path}?{parts.query}"
            else:
                path = ""

    assert sorted(seen) == sorted(teacher.username for teacher in teachers)
    assert len(seen) == len(set(seen))
    assert pages == 3
    status, body = await viewer.request("GET", MENTORS, params={"local": "maybe"})
    assert status == 422
    assert body["error"] == "local must be true or false, not 'maybe'"
    validate_response("mentorship", MENTORS, "GET", 422, body)
    status, body = await viewer.request("GET", MENTORS, params={"offset": "-1"})
    assert status == 422
    assert body["field"] == "offset"
    validate_response("mentorship", MENTORS, "GET", 422, body)
