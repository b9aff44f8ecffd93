"""Moderation in a real browser: reporting a post, the moderators' queue,
blocking from a profile, and the admin-edited rules on the about page."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.ui.conftest import (
    UiInstance,
    screenshot,
    serious_violations,
    sign_in,
    start_ui_instances,
    stop_ui_instances,
)


@pytest.fixture(scope="module")
async def school(databases: Any, pki: Any, tmp_path_factory: Any) -> AsyncIterator[UiInstance]:
    (instance,) = await start_ui_instances(
        databases, pki, tmp_path_factory.mktemp("ui-moderation"), ("school-a.test",)
    )
    for name in ("alice", "bob", "carol", "dave", "erin"):
        await instance.add_teacher(name)
    await instance.add_teacher("admin", admin=True)
    yield instance
    await stop_ui_instances(databases, [instance])


async def page_of(browser: Any, school: UiInstance, username: str) -> Any:
    created = await browser.new_context(ignore_https_errors=True)
    created.set_default_timeout(15_000)
    page = await created.new_page()
    # Forms with data-confirm ask through window.confirm.
    page.on("dialog", lambda dialog: dialog.accept())
    await sign_in(page, school, username)
    return page


async def post(page: Any, school: UiInstance, text: str) -> None:
    await page.goto(f"{school.url}/home")
    await page.get_by_label("Post", exact=True).fill(text)
    await page.get_by_role("button", name="Post", exact=True).click()
    await page.wait_for_url(f"{school.url}/home")


async def test_report_flow_and_queue(school, browser):
    bob = await page_of(browser, school, "bob")
    await post(bob, school, "Buy my grading software now")
    alice = await page_of(browser, school, "alice")

    await alice.goto(f"{school.url}/@bob")
    await alice.get_by_role("link", name="Report this post").first.click()
    form_violations = await serious_violations(alice)
    await alice.get_by_label("Spam").check()
    await alice.get_by_label("Anything the moderators should know (optional)").fill("advertising")
    await alice.get_by_role("button", name="Send report").click()
    await alice.get_by_text("The moderators of this server will read your report").wait_for()

    admin = await page_of(browser, school, "admin")
    await admin.goto(f"{school.url}/admin/reports")
    queue_violations = await serious_violations(admin)
    await admin.get_by_role("link", name=re.compile(r"^Report \d+$")).first.click()
    await admin.get_by_text("advertising", exact=True).wait_for()
    await admin.get_by_text("Buy my grading software now").wait_for()
    await admin.get_by_role("button", name="Suspend the account").click()
    await admin.get_by_text("action taken").wait_for()
    await screenshot(admin, "moderation-report")

    suspended = await school.fetchval(
        "SELECT suspended_at IS NOT NULL FROM accounts WHERE username = 'bob'"
    )
    actions = await school.fetchval(
        "SELECT string_agg(action, ',' ORDER BY id) FROM moderation_log"
    )
    assert form_violations == []
    assert queue_violations == []
    assert suspended
    assert actions.endswith("suspend,resolve_report")
    for page in (alice, bob, admin):
        await page.context.close()


async def test_resolved_report_leaves_queue(school, browser):
    carol = await page_of(browser, school, "carol")
    await carol.goto(f"{school.url}/@dave")
    await carol.get_by_text("Block, mute or report").click()
    await carol.get_by_role("link", name="Report", exact=True).click()
    await carol.get_by_role("button", name="Send report").click()
    await carol.get_by_text("The moderators of this server will read your report").wait_for()
    report_id = await school.fetchval(
        "SELECT r.id FROM reports r JOIN accounts a ON a.id = r.account_id WHERE a.username = 'carol'"
    )

    admin = await page_of(browser, school, "admin")
    await admin.goto(f"{school.url}/admin/reports/{report_id}")
    await admin.get_by_role("button", name="Resolve without action").click()
    await admin.goto(f"{school.url}/admin/reports")
    open_links = await admin.get_by_role("link", name=f"Report {report_id}").count()
    await admin.goto(f"{school.url}/admin/reports?resolved=1")
    resolved_links = await admin.get_by_role("link", name=f"Report {report_id}").count()

    assert open_links == 0
    assert resolved_links == 1
    for page in (carol, admin):
        await page.context.close()


async def test_block_from_profile_listed_in_settings(school, browser):
    dave = await page_of(browser, school, "dave")
    await dave.goto(f"{school.url}/@carol")
    await dave.get_by_text("Block, mute or report").click()
    await dave.get_by_role("button", name="Block", exact=True).click()
    await dave.get_by_text("You block this account.").wait_for()
    await dave.goto(f"{school.url}/settings/blocks")
    violations = await serious_violations(dave)
    listed = await dave.get_by_role("button", name="Unblock carol").count()

    assert violations == []
    assert listed == 1
    await dave.get_by_role("button", name="Unblock carol").click()
    await dave.goto(f"{school.url}/settings/blocks")
    assert await dave.get_by_text("You have blocked nobody.").count() == 1
    await dave.context.close()


async def test_rules_edited_and_shown_on_about(school, browser):
    admin = await page_of(browser, school, "admin")
    await admin.goto(f"{school.url}/admin/instance")
    await admin.get_by_label("Server rules, one per line").fill("Respect students' privacy\nNo advertising")
    await admin.locator("#code-of-conduct").fill("We assume good faith.")
    await admin.get_by_role("button", name="Save rules").click()
    await admin.get_by_text("Saved.").wait_for()

    await admin.goto(f"{school.url}/about")
    rules = await admin.locator("ol li").all_inner_texts()
    conduct = await admin.get_by_text("We assume good faith.").count()

    assert rules == ["Respect students' privacy", "No advertising"]
    assert conduct == 1
    await admin.context.close()


async def test_user_suspension_in_audit_log(school, browser):
    admin = await page_of(browser, school, "admin")
    await admin.goto(f"{school.url}/admin/users?q=erin")
    await admin.get_by_role("button", name="Suspend erin").click()
    await admin.get_by_role("button", name="Lift suspension erin").wait_for()
    await admin.goto(f"{school.url}/admin/audit")
    row = admin.get_by_role("row").filter(has_text="@erin")
    text = await row.first.inner_text()

    assert "suspend" in text
    assert "admin" in text
    await admin.context.close()
