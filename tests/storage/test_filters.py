"""Stored keyword filters: round trip, expiry, ownership and limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from actors.filters import Filter, Keyword
from pedagogue.accounts import create_teacher
from pedagogue.runtime import Runtime
from storage import filters, preferences


@pytest.fixture
async def db(runtime: Runtime) -> AsyncIterator[Any]:
    async with runtime.pool.acquire() as connection:
        yield connection


async def teacher(db: Any, runtime: Runtime, username: str) -> int:
    row = await create_teacher(db, runtime.settings, username=username, password=None)
    return int(row["id"])


def new_filter(
    title: str = "Testing", *, expires_at: datetime | None = None, action: str = "warn"
) -> Filter:
    return Filter(
        title=title,
        contexts=frozenset({"home", "thread"}),
        action=action,
        keywords=(Keyword("testing", True), Keyword("exam", False)),
        expires_at=expires_at,
    )


async def test_create_then_list_round_trip(db: Any, runtime: Runtime) -> None:
    alice = await teacher(db, runtime, "alice")
    created = await filters.create(db, alice, new_filter())
    (listed,) = await filters.of_account(db, alice)
    assert listed.id == created.id
    assert listed.title == "Testing"
    assert listed.contexts == frozenset({"home", "thread"})
    assert listed.action == "warn"
    assert [(k.keyword, k.whole_word) for k in listed.keywords] == [
        ("testing", True),
        ("exam", False),
    ]


async def test_active_skips_expired(db: Any, runtime: Runtime) -> None:
    alice = await teacher(db, runtime, "alice")
    past = datetime.now(UTC) - timedelta(minutes=1)
    await filters.create(db, alice, new_filter("old", expires_at=past))
    future = datetime.now(UTC) + timedelta(hours=1)
    await filters.create(db, alice, new_filter("current", expires_at=future))
    active = await filters.active_of_account(db, alice)
    assert [item.title for item in active] == ["current"]


async def test_list_keeps_expired(db: Any, runtime: Runtime) -> None:
    alice = await teacher(db, runtime, "alice")
    past = datetime.now(UTC) - timedelta(minutes=1)
    await filters.create(db, alice, new_filter("old", expires_at=past))
    assert len(await filters.of_account(db, alice)) == 1


async def test_filters_are_per_account(db: Any, runtime: Runtime) -> None:
    alice = await teacher(db, runtime, "alice")
    bob = await teacher(db, runtime, "bob")
    await filters.create(db, alice, new_filter())
    assert await filters.of_account(db, bob) == []


async def test_delete_removes_keywords(db: Any, runtime: Runtime) -> None:
    alice = await teacher(db, runtime, "alice")
    created = await filters.create(db, alice, new_filter())
    assert created.id is not None
    assert await filters.delete(db, alice, created.id)
    assert await db.fetchval("SELECT count(*) FROM filter_keywords") == 0


async def test_delete_of_other_account_refused(db: Any, runtime: Runtime) -> None:
    alice = await teacher(db, runtime, "alice")
    bob = await teacher(db, runtime, "bob")
    created = await filters.create(db, alice, new_filter())
    assert created.id is not None
    assert not await filters.delete(db, bob, created.id)
    assert len(await filters.of_account(db, alice)) == 1


async def test_limit_reached_stores_nothing(db: Any, runtime: Runtime) -> None:
    alice = await teacher(db, runtime, "alice")
    await db.execute(
        "INSERT INTO filters (id, account_id, title, contexts, action)"
        " SELECT n, $1, 'filter ' || n, ARRAY['home'], 'hide'"
        " FROM generate_series(1, $2) AS n",
        alice,
        filters.MAX_FILTERS_PER_ACCOUNT,
    )
    with pytest.raises(filters.TooManyFilters):
        await filters.create(db, alice, new_filter())
    assert await db.fetchval("SELECT count(*) FROM filter_keywords") == 0


async def test_bad_keyword_rolls_back_filter(db: Any, runtime: Runtime) -> None:
    alice = await teacher(db, runtime, "alice")
    # Longer than the column allows: the filter row must not stay behind.
    broken = Filter("Testing", frozenset({"home"}), "hide", (Keyword("x" * 201),))
    with pytest.raises(asyncpg.CheckViolationError):
        await filters.create(db, alice, broken)
    assert await db.fetchval("SELECT count(*) FROM filters") == 0


async def test_unknown_context_rejected_by_table(db: Any, runtime: Runtime) -> None:
    alice = await teacher(db, runtime, "alice")
    broken = Filter("Testing", frozenset({"everywhere"}), "hide", (Keyword("x"),))
    with pytest.raises(asyncpg.CheckViolationError):
        await filters.create(db, alice, broken)


async def test_deleting_account_removes_filters(db: Any, runtime: Runtime) -> None:
    alice = await teacher(db, runtime, "alice")
    await filters.create(db, alice, new_filter())
    await db.execute("DELETE FROM account_keys WHERE account_id = $1", alice)
    await db.execute("DELETE FROM accounts WHERE id = $1", alice)
    assert await db.fetchval("SELECT count(*) FROM filters") == 0


# Posting defaults


async def test_posting_defaults_start_public(db: Any, runtime: Runtime) -> None:
    alice = await teacher(db, runtime, "alice")
    row = await db.fetchrow("SELECT * FROM accounts WHERE id = $1", alice)
    assert row["default_visibility"] == "public"
    assert row["default_sensitive"] is False
    assert row["default_language"] is None


async def test_posting_defaults_saved(db: Any, runtime: Runtime) -> None:
    alice = await teacher(db, runtime, "alice")
    row = await preferences.save_posting_defaults(
        db, alice, visibility="private", sensitive=True, language="fr"
    )
    assert row is not None
    assert row["default_visibility"] == "private"
    assert row["default_sensitive"] is True
    assert row["default_language"] == "fr"


async def test_unknown_default_visibility_rejected(db: Any, runtime: Runtime) -> None:
    alice = await teacher(db, runtime, "alice")
    with pytest.raises(asyncpg.CheckViolationError):
        await preferences.save_posting_defaults(
            db, alice, visibility="everyone", sensitive=False, language=None
        )
