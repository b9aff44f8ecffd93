"""The consent page in Chromium: sign-in on the way, the out-of-band code,
and accessibility checked with axe-core."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from tests.oauth.conftest import OOB, LoopbackSession, call
from tests.ui.conftest import PASSWORD, screenshot, serious_violations


async def register(school: Any) -> dict[str, Any]:
    http = LoopbackSession(school)
    response = await call(
        http.post,
        f"{school.client_url}/api/v1/apps",
        data={
            "client_name": "Reading log",
            "redirect_uris": OOB,
            "scopes": "read write",
        },
    )
    return response.json()


async def test_consent_in_browser_shows_code(school, context):
    app = await register(school)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": app["client_id"],
            "redirect_uri": OOB,
            "scope": "read write",
        }
    )
    page = await context.new_page()

    await page.goto(f"{school.url}/oauth/authorize?{query}")
    await page.get_by_label("Username").fill("alice")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("heading", name="Authorize Reading log?").wait_for()
    consent_violations = await serious_violations(page)
    await screenshot(page, "oauth-consent")
    await page.get_by_role("button", name="Authorize").click()
    code = await page.get_by_role("textbox", name="Authorization code").input_value()
    code_violations = await serious_violations(page)

    http = LoopbackSession(school)
    token = await call(
        http.post,
        f"{school.client_url}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": OOB,
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
        },
    )

    assert consent_violations == []
    assert code_violations == []
    assert token.status_code == 200, token.text
    assert token.json()["scope"] == "read write"
