"""Accounts in a real browser: invites, sign-up requests, sign-in, CSRF,
rate limiting, password changes and resets, and the public pages."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.ui.conftest import (
    PASSWORD,
    UiInstance,
    screenshot,
    serious_violations,
    sign_in,
    start_ui_instances,
    stop_ui_instances,
)

RULES = "Keep student information out of posts.\nBe respectful of colleagues."
FAILURES_PER_ACCOUNT = 3
FAILURES_PER_ADDRESS = 6


@pytest.fixture(scope="module")
async def school(databases: Any, pki: Any, tmp_path_factory: Any) -> AsyncIterator[UiInstance]:
    instances = await start_ui_instances(
        databases,
        pki,
        tmp_path_factory.mktemp("ui-accounts"),
        ("school-a.test",),
        extra_env={
            "PEDAGOGUE_INSTANCE__RULES": RULES,
            "PEDAGOGUE_INSTANCE__OPEN_REGISTRATIONS": "true",
            "PEDAGOGUE_WEB__SIGN_IN_FAILURES_PER_ACCOUNT": str(FAILURES_PER_ACCOUNT),
            "PEDAGOGUE_WEB__SIGN_IN_FAILURES_PER_ADDRESS": str(FAILURES_PER_ADDRESS),
        },
    )
    school = instances[0]
    await school.add_teacher("principal", admin=True)
    yield school
    await stop_ui_instances(databases, instances)


@pytest.fixture(autouse=True)
async def clear_failures(school: UiInstance) -> None:
    """Start each test without the failed sign-ins of the ones before it."""
    await school.fetchval("DELETE FROM sign_in_failures")


async def test_sign_up_with_invite_link(school: UiInstance, context: Any, browser: Any) -> None:
    admin = await context.new_page()
    await sign_in(admin, school, "principal")
    await admin.goto(f"{school.url}/admin/invites")
    assert await serious_violations(admin) == []
    await admin.get_by_label("How many people may use it").fill("1")
    await admin.get_by_role("button", name="Create invite").click()
    link = (await admin.locator("#new-invite-link").inner_text()).strip()
    assert link.startswith(f"{school.url}/invite/")

    newcomer_context = await browser.new_context(ignore_https_errors=True)
    try:
        page = await newcomer_context.new_page()
        await page.goto(link)
        assert await page.get_by_text("Keep student information out of posts.").is_visible()
        assert await serious_violations(page) == []
        await screenshot(page, "sign-up")
        await page.get_by_label("Username").fill("newteacher")
        await page.get_by_label("Display name (optional)").fill("New Teacher")
        await page.get_by_label("Password", exact=True).fill(PASSWORD)
        await page.get_by_label("Repeat the password").fill(PASSWORD)
        await page.get_by_label("I have read and accept the server rules").check()
        await page.get_by_role("button", name="Create account").click()
        await page.wait_for_url(f"{school.url}/")
        assert await page.get_by_role("button", name="Sign out").is_visible()
        zone = await school.fetchval(
            "SELECT time_zone FROM accounts WHERE username = 'newteacher'"
        )
        assert zone  # filled in from the browser by the page's script

        # The invite allowed one use, so the link is spent now.
        reused = await page.goto(link)
        assert reused.status == 404
    finally:
        await newcomer_context.close()


async def test_sign_up_rejects_unaccepted_rules(school: UiInstance, context: Any) -> None:
    page = await context.new_page()
    await page.goto(f"{school.url}/sign-up")
    await page.get_by_label("Username").fill("norules")
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_label("Repeat the password").fill(PASSWORD)
    # Remove the browser-side check so the server's own check is exercised.
    await page.locator("#sign-up-accept-rules").evaluate("box => box.removeAttribute('required')")
    response = await _submit(page, "Send request")
    assert response.status == 422
    assert await page.get_by_text("Accept the server rules to sign up.").is_visible()
    pending = await school.fetchval(
        "SELECT count(*) FROM sign_up_requests WHERE username = 'norules'"
    )
    assert pending == 0


async def test_sign_up_request_needs_approval(school: UiInstance, context: Any, browser: Any) -> None:
    page = await context.new_page()
    await page.goto(f"{school.url}/sign-up")
    await page.get_by_label("Username").fill("applicant")
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_label("Repeat the password").fill(PASSWORD)
    await page.get_by_label("Why do you want to join? (optional)").fill("I teach year 5.")
    await page.get_by_label("I have read and accept the server rules").check()
    response = await _submit(page, "Send request")
    assert response.status == 202

    await page.goto(f"{school.url}/sign-in")
    await page.get_by_label("Username").fill("applicant")
    await page.get_by_label("Password").fill(PASSWORD)
    refused = await _submit(page, "Sign in")
    assert refused.status == 401

    admin_context = await browser.new_context(ignore_https_errors=True)
    try:
        admin = await admin_context.new_page()
        await sign_in(admin, school, "principal")
        await admin.goto(f"{school.url}/admin/invites")
        assert await admin.get_by_text("I teach year 5.").is_visible()
        await admin.get_by_role("button", name="Approve applicant").click()
        await admin.wait_for_url(f"{school.url}/admin/invites")
    finally:
        await admin_context.close()

    await sign_in(page, school, "applicant")
    assert await page.get_by_role("button", name="Sign out").is_visible()


async def test_sign_in_and_sign_out(school: UiInstance, context: Any) -> None:
    await school.add_teacher("signer")
    page = await context.new_page()
    await sign_in(page, school, "signer")
    cookies = {cookie["name"]: cookie for cookie in await context.cookies()}
    session = cookies["__Host-pedagogue_session"]
    assert session["httpOnly"] is True
    assert session["secure"] is True
    assert session["sameSite"] == "Lax"
    stored = await school.fetchval(
        "SELECT count(*) FROM web_sessions WHERE token_hash = sha256($1::text::bytea)",
        session["value"],
    )
    assert stored == 1

    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url(f"{school.url}/")
    navigation = page.get_by_role("navigation", name="Main")
    assert await navigation.get_by_role("link", name="Sign in").is_visible()
    home = await page.goto(f"{school.url}/home")
    assert home.url.startswith(f"{school.url}/sign-in?next=")


async def test_wrong_password_is_rejected(school: UiInstance, context: Any) -> None:
    await school.add_teacher("forgetful")
    page = await context.new_page()
    await page.goto(f"{school.url}/sign-in")
    await page.get_by_label("Username").fill("forgetful")
    await page.get_by_label("Password").fill("not the password")
    response = await _submit(page, "Sign in")
    assert response.status == 401
    assert await page.get_by_text("The username or password is wrong.").is_visible()


async def test_form_without_csrf_token_is_rejected(school: UiInstance, context: Any) -> None:
    await school.add_teacher("csrfcheck")
    page = await context.new_page()
    await sign_in(page, school, "csrfcheck")
    await page.goto(f"{school.url}/compose")
    form = page.locator("form.compose")
    await form.locator("input[name=csrf_token]").evaluate("field => field.value = 'forged'")
    await page.get_by_label("Post", exact=True).fill("This must not be posted")
    response = await _submit(page, "Post")
    assert response.status == 403
    assert await page.get_by_text("security token").is_visible()
    posted = await school.fetchval(
        "SELECT count(*) FROM statuses WHERE source_text = 'This must not be posted'"
    )
    assert posted == 0


async def test_cross_site_sign_in_without_cookie_is_rejected(school: UiInstance, context: Any) -> None:
    page = await context.new_page()
    # A first visit, so the browser has a CSRF cookie, then a post whose
    # token came from somewhere else.
    await page.goto(f"{school.url}/about")
    status = await page.evaluate(
        """async () => {
            const body = new URLSearchParams({csrf_token: "x".repeat(43),
                username: "principal", password: "whatever"});
            const response = await fetch("/sign-in", {method: "POST", body});
            return response.status;
        }"""
    )
    assert status == 403


async def test_sign_in_is_rate_limited_per_account(school: UiInstance, context: Any) -> None:
    await school.add_teacher("guessed")
    page = await context.new_page()
    for _ in range(FAILURES_PER_ACCOUNT):
        await page.goto(f"{school.url}/sign-in")
        await page.get_by_label("Username").fill("guessed")
        await page.get_by_label("Password").fill("wrong guess")
        response = await _submit(page, "Sign in")
        assert response.status == 401
    await page.goto(f"{school.url}/sign-in")
    await page.get_by_label("Username").fill("guessed")
    await page.get_by_label("Password").fill(PASSWORD)
    limited = await _submit(page, "Sign in")
    assert limited.status == 429
    assert await page.get_by_role("heading", name="Too many attempts").is_visible()
    assert await serious_violations(page) == []


async def test_sign_in_is_rate_limited_per_address(school: UiInstance, context: Any) -> None:
    await school.add_teacher("unrelated")
    page = await context.new_page()
    for attempt in range(FAILURES_PER_ADDRESS):
        await page.goto(f"{school.url}/sign-in")
        await page.get_by_label("Username").fill(f"nobody{attempt}")
        await page.get_by_label("Password").fill("wrong guess")
        await _submit(page, "Sign in")
    await page.goto(f"{school.url}/sign-in")
    await page.get_by_label("Username").fill("unrelated")
    await page.get_by_label("Password").fill(PASSWORD)
    limited = await _submit(page, "Sign in")
    assert limited.status == 429


async def test_password_change(school: UiInstance, context: Any) -> None:
    await school.add_teacher("changer")
    page = await context.new_page()
    await sign_in(page, school, "changer")
    await page.goto(f"{school.url}/settings/account")
    assert await serious_violations(page) == []
    await page.get_by_label("Current password").fill(PASSWORD)
    await page.get_by_label("New password", exact=True).fill("a brand new secret")
    await page.get_by_label("Repeat the new password").fill("a brand new secret")
    await page.get_by_role("button", name="Change password").click()
    await page.wait_for_url(f"{school.url}/settings/account?done=password")
    await page.get_by_role("button", name="Sign out").click()
    await sign_in(page, school, "changer", "a brand new secret")


async def test_reset_link_from_command_line(school: UiInstance, context: Any) -> None:
    await school.add_teacher("locked_out")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pedagogue.cli",
        "--url", school.url,
        "--database-url", school.dsn,
        "--data-dir", str(school.directory / "data"),
        "user", "reset-link", "locked_out",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    link = stdout.decode().strip()
    assert link.startswith(f"{school.url}/reset-password/")
    page = await context.new_page()
    await page.goto(link)
    await page.get_by_label("New password", exact=True).fill("reset and ready")
    await page.get_by_label("Repeat the new password").fill("reset and ready")
    await page.get_by_role("button", name="Set password").click()
    await page.wait_for_url(f"{school.url}/sign-in?reset=1")
    await sign_in(page, school, "locked_out", "reset and ready")
    used = await page.goto(link)
    assert used.status == 404


async def test_public_profile_for_visitors(school: UiInstance, context: Any) -> None:
    await school.add_teacher("visible")
    page = await context.new_page()
    await page.goto(f"{school.url}/@visible")
    alternate = page.locator('link[rel="alternate"][type="application/activity+json"]')
    assert await alternate.get_attribute("href") == f"{school.url}/users/visible"
    og_title = page.locator('meta[property="og:title"]')
    assert "@visible@" in (await og_title.get_attribute("content") or "")
    assert await page.get_by_role("heading", name="Visible").is_visible()
    assert await serious_violations(page) == []
    await page.goto(f"{school.url}/about")
    assert await page.get_by_text("Be respectful of colleagues.").is_visible()
    assert await serious_violations(page) == []


async def _submit(page: Any, button: str) -> Any:
    async with page.expect_navigation() as navigation:
        await page.get_by_role("button", name=button).click()
    return await navigation.value
