"""Plain-text profile fields reject control and format characters.

A right-to-left override (U+202E) makes "\\u202eloraC admin" read as
"nimda Carol", so display names, profile field names and values, school,
role and pronouns reject the bidirectional controls and the other format
characters, except the zero-width joiners that scripts and emoji need. The
settings page and the client API share the check. Requests go through the
Quart test client of an in-process runtime on a fresh database.
"""

from __future__ import annotations

import pytest

from outbox.profiles import is_plain_line
from pedagogue.runtime import Runtime
from tests.support.pages import PageClient, sign_in_teacher
from web.app import create_app

SPOOFED = "\u202eloraC admin\u202c"
# U+1F469 U+200D U+1F3EB, the teacher emoji, is a zero-width joiner sequence.
TEACHER_EMOJI = "\U0001f469\u200d\U0001f3eb"
FORMAT_CHARACTERS = [
    "\u202a",  # left-to-right embedding
    "\u202b",  # right-to-left embedding
    "\u202c",  # pop directional formatting
    "\u202d",  # left-to-right override
    "\u202e",  # right-to-left override
    "\u2066",  # left-to-right isolate
    "\u2067",  # right-to-left isolate
    "\u2068",  # first strong isolate
    "\u2069",  # pop directional isolate
    "\u200e",  # left-to-right mark
    "\u00ad",  # soft hyphen
    "\ufeff",  # zero-width no-break space
    "\u2028",  # line separator
]


@pytest.fixture
async def carol(runtime: Runtime) -> PageClient:
    return await sign_in_teacher(
        runtime, create_app(runtime), "carol", display_name="Carol"
    )


async def stored(runtime: Runtime, column: str) -> str:
    return await runtime.pool.fetchval(
        f"SELECT {column} FROM accounts WHERE username = 'carol'"
    )


@pytest.mark.parametrize("character", FORMAT_CHARACTERS)
def test_plain_line_rejects_format_character(character: str) -> None:
    assert not is_plain_line(f"Carol{character}Smith")


def test_plain_line_keeps_zero_width_joiners() -> None:
    assert is_plain_line(f"{TEACHER_EMOJI} Ana")
    assert is_plain_line("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645")


async def test_settings_reject_spoofed_display_name(
    runtime: Runtime, carol: PageClient
) -> None:
    status, page, _headers = await carol.post(
        "/settings/profile", {"display_name": SPOOFED}
    )

    assert status == 422
    assert "display_name must be a single line without control or format" in page
    assert await stored(runtime, "display_name") == "Carol"


@pytest.mark.parametrize(
    ("form_name", "column"),
    [("school", "school"), ("role", "teacher_role"), ("pronouns", "pronouns")],
)
async def test_settings_reject_isolates_in_labels(
    runtime: Runtime, carol: PageClient, form_name: str, column: str
) -> None:
    status, _page, _headers = await carol.post(
        "/settings/profile",
        {"display_name": "Carol", form_name: "\u2067Hill School\u2069"},
    )

    assert status == 422
    assert not await stored(runtime, column)


async def test_settings_reject_override_in_field_name(
    runtime: Runtime, carol: PageClient
) -> None:
    status, _page, _headers = await carol.post(
        "/settings/profile",
        {
            "display_name": "Carol",
            "field_name_0": "\u202eetisbew",
            "field_value_0": "maths",
        },
    )

    assert status == 422
    assert not await stored(runtime, "fields")


async def test_settings_keep_emoji_display_name(
    runtime: Runtime, carol: PageClient
) -> None:
    name = f"{TEACHER_EMOJI} Carol"

    status, _page, _headers = await carol.post("/settings/profile", {"display_name": name})

    assert status == 303
    assert await stored(runtime, "display_name") == name


async def test_api_rejects_spoofed_display_name(
    runtime: Runtime, carol: PageClient
) -> None:
    status, body = await carol.api(
        "PATCH",
        "/api/v1/accounts/update_credentials",
        json={"display_name": SPOOFED},
    )

    assert status == 422
    assert body["error"].startswith("display_name must be a single line")
    assert await stored(runtime, "display_name") == "Carol"


async def test_api_rejects_isolate_in_school(
    runtime: Runtime, carol: PageClient
) -> None:
    status, body = await carol.api(
        "PATCH",
        "/api/pedagogue/v1/profile",
        json={"school": "\u2066Hill School\u2069"},
    )

    assert status == 422
    assert body["error"].startswith("school must be a single line")
    assert not await stored(runtime, "school")


async def test_api_rejects_override_in_field_value(
    runtime: Runtime, carol: PageClient
) -> None:
    status, body = await carol.api(
        "PATCH",
        "/api/v1/accounts/update_credentials",
        json={"fields_attributes": [{"name": "Site", "value": "\u202emoc.elpmaxe"}]},
    )

    assert status == 422
    assert body["error"].startswith("fields_attributes[0][value] must be a single line")
