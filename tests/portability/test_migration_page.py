"""The account migration settings page in a real browser: aliases, then a move
within one instance, with a local follower moved along."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.live import eventually
from tests.ui.conftest import (
    UiInstance,
    serious_violations,
    sign_in,
    start_ui_instances,
    stop_ui_instances,
)

PAGE = "/settings/migration"


@pytest.fixture
async def school(databases: Any, pki: Any, tmp_path: Any) -> AsyncIterator[UiInstance]:
    (instance,) = await start_ui_instances(
        databases, pki, tmp_path / "ui-migration", ("school-a.test",)
    )
    for name in ("alice", "ann", "bob"):
        await instance.add_teacher(name)
    yield instance
    await stop_ui_instances(databases, [instance])


async def page_of(browser: Any, school: UiInstance, username: str) -> Any:
    created = await browser.new_context(ignore_https_errors=True)
    created.set_default_timeout(15_000)
    page = await created.new_page()
    await sign_in(page, school, username)
    return page


async def follow_target(school: UiInstance, username: str) -> str | None:
    return await school.fetchval(
        "SELECT t.username FROM follows f JOIN accounts a ON a.id = f.account_id"
        " JOIN accounts t ON t.id = f.target_account_id WHERE a.username = $1",
        username,
    )


async def test_migration_page_moves_account(school: UiInstance, browser: Any) -> None:
    alice_id = await school.fetchval("SELECT id FROM accounts WHERE username = 'alice'")
    bob_id = await school.fetchval("SELECT id FROM accounts WHERE username = 'bob'")
    await school.fetchval(
        "INSERT INTO follows (id, account_id, target_account_id, accepted)"
        " VALUES (1, $1, $2, true) RETURNING id",
        bob_id,
        alice_id,
    )
    ann = await page_of(browser, school, "ann")
    await ann.goto(f"{school.url}{PAGE}")
    await ann.get_by_label("Old accounts").fill(f"alice@{school.host}")
    await ann.get_by_role("button", name="Save aliases").click()
    await ann.get_by_text("Your aliases have been saved.").wait_for()
    assert await serious_violations(ann) == []
    await ann.context.close()

    alice = await page_of(browser, school, "alice")
    await alice.goto(f"{school.url}{PAGE}")
    await alice.get_by_label("Address of the new account").fill(f"ann@{school.host}")
    await alice.get_by_role("button", name="Move this account").click()
    unconfirmed = alice.get_by_role("alert")
    await unconfirmed.wait_for()
    assert "confirm" in (await unconfirmed.inner_text())
    await alice.get_by_label("Address of the new account").fill(f"ann@{school.host}")
    await alice.get_by_label("I understand").check()
    await alice.get_by_role("button", name="Move this account").click()
    await alice.get_by_text("Your account has moved.").wait_for()
    assert await serious_violations(alice) == []
    await alice.context.close()

    moved_to = await school.fetchval(
        "SELECT moved_to_actor_id FROM accounts WHERE username = 'alice'"
    )
    assert moved_to == f"{school.url}/users/ann"
    assert await eventually(lambda: _is(follow_target(school, "bob"), "ann"))


async def _is(value: Any, expected: Any) -> bool:
    return await value == expected
