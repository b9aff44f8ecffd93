"""Sessions, invites, reset links and sign-in failures against PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from pedagogue.accounts import create_teacher
from pedagogue.config import load_settings
from storage import invites, sessions
from storage.accounts import transaction

LIFETIME = timedelta(days=1)


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    created = await asyncpg.create_pool(database, min_size=1, max_size=6)
    yield created
    await created.close()


@pytest.fixture
async def teacher(pool: asyncpg.Pool) -> Any:
    settings = load_settings(
        None, overrides={"instance": {"url": "https://school-a.test"}}, environ={}
    )
    return await create_teacher(pool, settings, username="dana", password=None)


async def test_session_token_is_stored_hashed(pool: asyncpg.Pool, teacher: Any) -> None:
    token, row = await sessions.create_session(
        pool, teacher["id"], lifetime=LIFETIME, user_agent="test", address="127.0.0.1"
    )
    assert row["token_hash"] == sessions.token_digest(token)
    assert token.encode() not in bytes(row["token_hash"])
    found = await sessions.session_by_token(pool, token)
    assert found["id"] == teacher["id"]
    assert found["session_csrf_token"] == row["csrf_token"]


async def test_session_of_suspended_account_is_ignored(pool: asyncpg.Pool, teacher: Any) -> None:
    token, _row = await sessions.create_session(
        pool, teacher["id"], lifetime=LIFETIME, user_agent="", address=""
    )
    await pool.execute("UPDATE accounts SET suspended_at = now() WHERE id = $1", teacher["id"])
    assert await sessions.session_by_token(pool, token) is None


async def test_expired_session_is_ignored(pool: asyncpg.Pool, teacher: Any) -> None:
    token, _row = await sessions.create_session(
        pool, teacher["id"], lifetime=timedelta(seconds=-1), user_agent="", address=""
    )
    assert await sessions.session_by_token(pool, token) is None
    await sessions.delete_expired(pool)
    assert await pool.fetchval("SELECT count(*) FROM web_sessions") == 0


async def test_other_sessions_end(pool: asyncpg.Pool, teacher: Any) -> None:
    kept_token, kept = await sessions.create_session(
        pool, teacher["id"], lifetime=LIFETIME, user_agent="", address=""
    )
    other_token, _other = await sessions.create_session(
        pool, teacher["id"], lifetime=LIFETIME, user_agent="", address=""
    )
    ended = await sessions.delete_other_sessions(pool, teacher["id"], kept["id"])
    assert ended == 1
    assert await sessions.session_by_token(pool, kept_token) is not None
    assert await sessions.session_by_token(pool, other_token) is None


async def test_invite_uses_are_exact_under_concurrency(pool: asyncpg.Pool, teacher: Any) -> None:
    code, _row = await invites.create_invite(pool, teacher["id"], max_uses=2, lifetime=LIFETIME)

    async def use() -> Any:
        async with transaction(pool) as connection:
            return await invites.use_invite(connection, code)

    results = await asyncio.gather(*(use() for _ in range(6)))
    assert sum(result is not None for result in results) == 2
    assert await invites.live_invite(pool, code) is None


async def test_expired_and_revoked_invites_are_not_live(pool: asyncpg.Pool, teacher: Any) -> None:
    expired, _row = await invites.create_invite(
        pool, teacher["id"], max_uses=1, lifetime=timedelta(seconds=-1)
    )
    revoked, row = await invites.create_invite(pool, teacher["id"], max_uses=1, lifetime=LIFETIME)
    assert await invites.revoke_invite(pool, row["id"]) is True
    assert await invites.live_invite(pool, expired) is None
    assert await invites.live_invite(pool, revoked) is None
    assert await invites.revoke_invite(pool, row["id"]) is False


async def test_pending_request_takes_the_username(pool: asyncpg.Pool, teacher: Any) -> None:
    assert await invites.username_taken(pool, "DANA") is True
    assert await invites.username_taken(pool, "erin") is False
    await invites.create_request(
        pool, username="erin", display_name="", password_hash="x", reason="", time_zone=None
    )
    assert await invites.username_taken(pool, "Erin") is True
    with pytest.raises(asyncpg.UniqueViolationError):
        await invites.create_request(
            pool, username="ERIN", display_name="", password_hash="x", reason="", time_zone=None
        )


async def test_reset_link_works_once(pool: asyncpg.Pool, teacher: Any) -> None:
    token = await sessions.create_reset(pool, teacher["id"], LIFETIME)
    assert (await sessions.reset_account(pool, token))["id"] == teacher["id"]
    async with transaction(pool) as connection:
        assert await sessions.use_reset(connection, token) == teacher["id"]
    async with transaction(pool) as connection:
        assert await sessions.use_reset(connection, token) is None


async def test_new_reset_link_replaces_old(pool: asyncpg.Pool, teacher: Any) -> None:
    first = await sessions.create_reset(pool, teacher["id"], LIFETIME)
    second = await sessions.create_reset(pool, teacher["id"], LIFETIME)
    assert await sessions.reset_account(pool, first) is None
    assert await sessions.reset_account(pool, second) is not None


async def test_failures_count_by_name_and_address(pool: asyncpg.Pool) -> None:
    window = timedelta(minutes=15)
    await sessions.record_failure(pool, "Dana", "192.0.2.1")
    await sessions.record_failure(pool, "dana", "192.0.2.2")
    await sessions.record_failure(pool, "other", "192.0.2.1")
    counts = await sessions.recent_failures(pool, "DANA", "192.0.2.1", window, window)
    assert counts.pair == 1
    assert counts.address == 2
    assert counts.account == 2
    await sessions.clear_failures(pool, "dana", "192.0.2.1")
    counts = await sessions.recent_failures(pool, "dana", "192.0.2.1", window, window)
    assert counts.account == 1
    assert counts.address == 1
    await sessions.clear_failures(pool, "dana")
    counts = await sessions.recent_failures(pool, "dana", "192.0.2.1", window, window)
    assert counts.account == 0
