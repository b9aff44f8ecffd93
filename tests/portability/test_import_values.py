"""Archive values checked before the first write: a bad date, tag or level
leaves the account exactly as it was."""

from __future__ import annotations

from typing import Any

import pytest

from pedagogue.accounts import create_teacher
from pedagogue.portability import ArchiveError, import_account
from pedagogue.runtime import Runtime
from tests.portability.test_archive_limits import actor, archive_of, note

YEAR_ONE = "0001-01-01T00:00:00+14:00"


@pytest.fixture
async def alice(runtime: Runtime) -> Any:
    return await create_teacher(
        runtime.pool,
        runtime.settings,
        username="alice",
        password=None,
        display_name="Alice Before",
    )


def second_note(**extra: Any) -> dict[str, Any]:
    item = note("<p>second</p>", **extra)
    item["object"]["id"] = f"{item['object']['id']}-2"
    return item


async def assert_unchanged(runtime: Runtime, account: Any) -> None:
    row = await runtime.pool.fetchrow(
        "SELECT display_name FROM accounts WHERE id = $1", account["id"]
    )
    statuses = await runtime.pool.fetchval(
        "SELECT count(*) FROM statuses WHERE account_id = $1", account["id"]
    )
    activities = await runtime.pool.fetchval(
        "SELECT count(*) FROM activities WHERE account_id = $1", account["id"]
    )
    assert row["display_name"] == "Alice Before"
    assert statuses == 0
    assert activities == 0


@pytest.mark.parametrize(
    "published",
    [YEAR_ONE, "1969-12-31T23:59:59Z", "9999-12-31T23:59:59-14:00", "not a date"],
)
async def test_bad_date_changes_nothing(
    runtime: Runtime, alice: Any, published: str
) -> None:
    items = [note("<p>first</p>"), second_note(published=published)]
    data = archive_of({"actor.json": actor(), "outbox.json": {"orderedItems": items}})

    with pytest.raises(ArchiveError, match="published date"):
        await import_account(runtime, "alice", data)

    await assert_unchanged(runtime, alice)


async def test_bad_visibility_level_changes_nothing(runtime: Runtime, alice: Any) -> None:
    bad = second_note()
    bad["pedagogueVisibility"] = ["public"]
    items = [note("<p>first</p>"), bad]
    data = archive_of({"actor.json": actor(), "outbox.json": {"orderedItems": items}})

    with pytest.raises(ArchiveError, match="pedagogueVisibility"):
        await import_account(runtime, "alice", data)

    await assert_unchanged(runtime, alice)


async def test_overlong_summary_changes_nothing(runtime: Runtime, alice: Any) -> None:
    items = [note("<p>first</p>"), second_note(summary="w" * 501)]
    data = archive_of({"actor.json": actor(), "outbox.json": {"orderedItems": items}})

    with pytest.raises(ArchiveError, match="summary"):
        await import_account(runtime, "alice", data)

    await assert_unchanged(runtime, alice)


async def test_too_many_tags_change_nothing(runtime: Runtime, alice: Any) -> None:
    tags = [{"type": "Hashtag", "name": f"#t{number}"} for number in range(201)]
    items = [note("<p>first</p>"), second_note(tag=tags)]
    data = archive_of({"actor.json": actor(), "outbox.json": {"orderedItems": items}})

    with pytest.raises(ArchiveError, match="tags"):
        await import_account(runtime, "alice", data)

    await assert_unchanged(runtime, alice)


async def test_invalid_hashtags_dropped(runtime: Runtime, alice: Any) -> None:
    tags = [
        {"type": "Hashtag", "name": "#" + "x" * 5000},
        {"type": "Hashtag", "name": "#x<script>alert(11)</script>"},
        {"type": "Hashtag", "name": "#Maths"},
    ]
    data = archive_of(
        {"actor.json": actor(), "outbox.json": {"orderedItems": [note("<p>a</p>", tag=tags)]}}
    )

    report = await import_account(runtime, "alice", data)

    names = await runtime.pool.fetch(
        "SELECT t.name FROM status_tags t JOIN statuses s ON s.id = t.status_id"
        " WHERE s.account_id = $1",
        alice["id"],
    )
    assert report.posts == 1
    assert [row["name"] for row in names] == ["maths"]
    assert sum("invalid hashtag" in line for line in report.skipped) == 2


async def test_valid_archive_writes_profile_and_posts(runtime: Runtime, alice: Any) -> None:
    items = [note("<p>first</p>"), second_note(published="2024-03-02T09:30:00+14:00")]
    data = archive_of({"actor.json": actor(), "outbox.json": {"orderedItems": items}})

    report = await import_account(runtime, "alice", data)

    name = await runtime.pool.fetchval(
        "SELECT display_name FROM accounts WHERE id = $1", alice["id"]
    )
    assert report.profile is True
    assert report.posts == 2
    assert name == "Alice After"
