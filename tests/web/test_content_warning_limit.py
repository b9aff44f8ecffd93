"""The content warning length limit of the client API: 422 and nothing stored."""

from __future__ import annotations

from outbox.actions import MAX_SPOILER_CHARACTERS
from tests.web.test_api_errors import post_status, stored_counts


async def test_content_warning_limit_enforced(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")
    before = await stored_counts(school)

    too_long, error = await post_status(
        alice,
        json={
            "status": "Notes from the trip",
            "spoiler_text": "w" * (MAX_SPOILER_CHARACTERS + 1),
        },
    )

    assert too_long == 422
    assert error["error"] == "Validation failed: Content warning is over 500 characters"
    assert await stored_counts(school) == before

    at_limit, created = await post_status(
        alice,
        json={
            "status": "Notes from the trip",
            "spoiler_text": "w" * MAX_SPOILER_CHARACTERS,
        },
    )

    assert at_limit == 200
    assert created["spoiler_text"] == "w" * MAX_SPOILER_CHARACTERS
