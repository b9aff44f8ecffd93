"""Input checks of groups, mentoring offers and profiles through the client API
of one in-process instance: a 422 that names the field, and nothing stored."""

# The site fixture is imported by name so pytest finds it here.
# ruff: noqa: F811

from __future__ import annotations

from typing import Any

import pytest

from outbox.profiles import InputError, strip_metadata
from tests.events.conftest import EventsSite, site  # noqa: F401 - fixture

GROUPS = "/api/pedagogue/v1/groups"
MENTORING = "/api/pedagogue/v1/mentoring"
PROFILE = "/api/pedagogue/v1/profile"


async def send(
    site: EventsSite, method: str, path: str, body: dict[str, Any]
) -> tuple[int, Any]:
    user = await site.teacher("alice")
    response = await site.client.open(
        path, method=method, json=body, headers=user.headers
    )
    return response.status_code, await response.get_json()


# Groups

BAD_GROUPS = [
    ("grade_levels", {"name": "maths", "grade_levels": ["banana"]}),
    ("grade_levels", {"name": "maths", "grade_levels": ["9-3"]}),
    ("display_name", {"name": "maths", "display_name": "Maths\nteachers"}),
    ("approval_required", {"name": "maths", "approval_required": "maybe"}),
    ("name", {"name": "no spaces"}),
]


@pytest.mark.parametrize(("field", "body"), BAD_GROUPS)
async def test_bad_group_input_named(
    site: EventsSite, field: str, body: dict[str, Any]
) -> None:
    status, error = await send(site, "POST", GROUPS, body)
    stored = await site.runtime.pool.fetchval("SELECT count(*) FROM group_profiles")

    assert status == 422
    assert error["field"] == field
    assert stored == 0


async def test_group_grade_levels_stored_canonical(site: EventsSite) -> None:
    status, group = await send(
        site, "POST", GROUPS, {"name": "maths", "grade_levels": ["Grade 7", "k-2"]}
    )

    assert status == 200
    assert group["grade_levels"] == ["7", "k-2"]


async def test_group_lookup_without_domain(site: EventsSite) -> None:
    await send(site, "POST", GROUPS, {"name": "mathteachers"})

    response = await site.client.get(
        f"{GROUPS}/lookup", query_string={"acct": "mathteachers"}
    )
    body = await response.get_json()

    assert response.status_code == 200
    assert body["acct"] == "mathteachers"


async def test_join_request_decision_words_named(site: EventsSite) -> None:
    _, group = await send(
        site, "POST", GROUPS, {"name": "maths", "approval_required": True}
    )
    user = await site.teacher("bob")

    response = await site.client.post(
        f"{GROUPS}/{group['id']}/requests/{user.account['id']}/accept",
        headers=user.headers,
    )
    body = await response.get_json()

    assert response.status_code == 404
    assert "authorize" in body["error"]
    assert "reject" in body["error"]


# Mentoring offers

BAD_OFFERS = [
    ("open", {"open": "maybe", "capacity": 2}),
    ("grade_levels", {"grade_levels": ["banana"], "capacity": 2}),
    ("capacity", {"capacity": -1}),
    ("capacity", {"capacity": 101}),
    ("capacity", {"capacity": 2.5}),
    ("capacity", {"capacity": "1e3"}),
    ("capacity", {}),
    ("subjects", {"subjects": "x" * 101, "capacity": 2}),
]


@pytest.mark.parametrize(("field", "body"), BAD_OFFERS)
async def test_bad_mentoring_offer_named(
    site: EventsSite, field: str, body: dict[str, Any]
) -> None:
    status, error = await send(site, "PUT", MENTORING, body)
    stored = await site.runtime.pool.fetchval("SELECT count(*) FROM mentor_profiles")

    assert status == 422
    assert error["field"] == field
    assert stored == 0


async def test_mentoring_capacity_bound_in_message(site: EventsSite) -> None:
    _, error = await send(site, "PUT", MENTORING, {"capacity": -1})

    assert "0 to 100" in error["error"]


async def test_mentoring_grade_levels_stored_canonical(site: EventsSite) -> None:
    status, offer = await send(
        site, "PUT", MENTORING, {"grade_levels": ["grade 6", "k"], "capacity": 2}
    )

    assert status == 200
    assert offer["grade_levels"] == ["6", "K"]


# Profiles

BAD_PROFILES = [
    ("grade_levels", {"grade_levels": ["3", "banana"]}),
    ("display_name", {"display_name": "Alice\r\nAdmin"}),
]


@pytest.mark.parametrize(("field", "body"), BAD_PROFILES)
async def test_bad_profile_input_named(
    site: EventsSite, field: str, body: dict[str, Any]
) -> None:
    status, error = await send(site, "PATCH", PROFILE, body)
    row = await site.runtime.pool.fetchrow(
        "SELECT display_name, grade_levels FROM accounts WHERE username = 'alice'"
    )

    assert status == 422
    assert error["field"] == field
    assert list(row["grade_levels"] or []) == []
    assert row["display_name"] == "Alice"


# Pagination

BAD_PAGES = [
    ("/api/pedagogue/v1/events", "limit", "ten"),
    ("/api/pedagogue/v1/events/search?q=maths", "offset", "1.5"),
    ("/api/pedagogue/v1/mentors", "limit", "-1"),
    ("/api/pedagogue/v1/mentors", "offset", "99999999999999999999999"),
    ("/api/pedagogue/v1/groups/search?q=maths", "limit", "many"),
]


@pytest.mark.parametrize(("path", "name", "value"), BAD_PAGES)
async def test_bad_page_parameter_named(
    site: EventsSite, path: str, name: str, value: str
) -> None:
    user = await site.teacher("alice")
    separator = "&" if "?" in path else "?"

    response = await site.client.get(
        f"{path}{separator}{name}={value}", headers=user.headers
    )
    body = await response.get_json()

    assert response.status_code == 422
    assert body["field"] == name


def test_broken_avatar_error_without_repr() -> None:
    broken_png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

    with pytest.raises(InputError) as raised:
        strip_metadata(broken_png, "image/png", "avatar")

    assert raised.value.field == "avatar"
    assert "BytesIO" not in raised.value.message
    assert "0x" not in raised.value.message


BAD_REQUESTS = [
    ("POST", "/api/pedagogue/v1/mentorships", {}, "mentor_id"),
    ("POST", "/api/pedagogue/v1/mentorships", {"mentor_id": "x1"}, "mentor_id"),
    ("GET", "/api/pedagogue/v1/mentorships?state=maybe", None, "state"),
    ("GET", "/api/pedagogue/v1/teachers", None, "q"),
    ("PATCH", PROFILE, {"fields_attributes": "name"}, "fields_attributes"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), BAD_REQUESTS)
async def test_bad_request_field_named(
    site: EventsSite, method: str, path: str, body: Any, field: str
) -> None:
    status, error = await send(site, method, path, body)

    assert status == 422
    assert error["field"] == field
