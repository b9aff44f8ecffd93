"""The whole OAuth flow driven by Mastodon.py, with a signed-in teacher
submitting the consent page over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from mastodon import Mastodon, MastodonAPIError, MastodonUnauthorizedError

from tests.oauth.conftest import (
    OOB,
    BrowserSession,
    LoopbackSession,
    call,
    query_of,
)
from tests.ui.conftest import PASSWORD

REDIRECT = "https://app.example/callback"
FULL_SCOPES = ["read", "write", "follow", "push"]


async def register(
    school: Any, scopes: list[str], redirect_uris: Any = OOB
) -> Mastodon:
    """Register an app with Mastodon.py and return a client holding its credentials."""
    session = LoopbackSession(school)
    client_id, client_secret = await call(
        Mastodon.create_app,
        "Lesson planner",
        scopes=scopes,
        redirect_uris=redirect_uris,
        website="https://planner.example",
        api_base_url=school.client_url,
        session=session,
    )
    return Mastodon(
        client_id=client_id,
        client_secret=client_secret,
        api_base_url=school.client_url,
        session=session,
    )


async def log_in_by_code(
    school: Any,
    app: Mastodon,
    username: str,
    scopes: list[str],
    redirect_uri: str = OOB,
) -> str:
    browser = BrowserSession(school)
    signed_in = await call(browser.sign_in, username)
    assert signed_in.status_code == 303
    url = await call(app.auth_request_url, redirect_uris=redirect_uri, scopes=scopes)
    code = await call(browser.authorize, url)
    return await call(app.log_in, code=code, redirect_uri=redirect_uri, scopes=scopes)


async def test_code_flow_gives_working_token(school):
    app = await register(school, FULL_SCOPES)

    token = await log_in_by_code(school, app, "alice", FULL_SCOPES)
    account = await call(app.account_verify_credentials)
    posted = await call(app.status_post, "Posted through an OAuth token")
    application = await call(app.app_verify_credentials)

    assert token
    assert account.username == "alice"
    assert posted.content.find("Posted through an OAuth token") >= 0
    assert application.name == "Lesson planner"
    assert "client_secret" not in application


async def test_revoked_token_gets_401(school):
    app = await register(school, FULL_SCOPES)
    token = await log_in_by_code(school, app, "alice", FULL_SCOPES)

    await call(app.revoke_access_token)
    stale = Mastodon(
        access_token=token,
        api_base_url=school.client_url,
        session=LoopbackSession(school),
    )

    with pytest.raises(MastodonUnauthorizedError):
        await call(stale.account_verify_credentials)
    with pytest.raises(MastodonUnauthorizedError):
        await call(stale.timeline_public)


async def test_redirect_flow_returns_code_and_state(school):
    app = await register(school, ["read"], redirect_uris=[REDIRECT, OOB])
    browser = BrowserSession(school)
    await call(browser.sign_in, "bruno")
    url = await call(
        app.auth_request_url, redirect_uris=REDIRECT, scopes=["read"], state="xyz"
    )

    page = await call(browser.consent_page, url)
    answer = await call(browser.answer, page, "authorize")
    location = answer.headers["Location"]
    token = await call(
        app.log_in,
        code=query_of(location)["code"],
        redirect_uri=REDIRECT,
        scopes=["read"],
    )

    assert answer.status_code == 302
    assert location.startswith(REDIRECT + "?")
    assert query_of(location)["state"] == "xyz"
    assert token


async def test_consent_page_names_app_and_scopes(school):
    app = await register(school, ["read", "write:statuses"])
    browser = BrowserSession(school)
    await call(browser.sign_in, "alice")
    url = await call(app.auth_request_url, scopes=["read", "write:statuses"])

    page = await call(browser.consent_page, url)

    assert page.status_code == 200
    assert "Lesson planner" in page.text
    assert "Read your posts" in page.text
    assert "Change your statuses" in page.text
    assert 'name="csrf_token"' in page.text


async def test_deny_redirects_with_access_denied(school):
    app = await register(school, ["read"], redirect_uris=REDIRECT)
    browser = BrowserSession(school)
    await call(browser.sign_in, "alice")
    url = await call(
        app.auth_request_url, redirect_uris=REDIRECT, scopes=["read"], state="s1"
    )

    page = await call(browser.consent_page, url)
    answer = await call(browser.answer, page, "deny")

    assert answer.status_code == 302
    assert query_of(answer.headers["Location"])["error"] == "access_denied"
    assert query_of(answer.headers["Location"])["state"] == "s1"


async def test_visitor_signs_in_before_consent(school):
    app = await register(school, ["read"])
    browser = BrowserSession(school)
    url = await call(app.auth_request_url, scopes=["read"])

    first = await call(browser.http.get, url, allow_redirects=False)
    next_path = query_of(first.headers["Location"])["next"]
    signed_in = await call(browser.sign_in, "alice", next_path=next_path)
    consent = await call(browser.http.get, browser.url(signed_in.headers["Location"]))

    assert first.status_code == 303
    assert first.headers["Location"].startswith("/sign-in?")
    assert signed_in.headers["Location"].startswith("/oauth/authorize?")
    assert "Lesson planner" in consent.text


async def test_force_login_ends_the_session(school):
    app = await register(school, ["read"])
    browser = BrowserSession(school)
    await call(browser.sign_in, "alice")
    url = await call(app.auth_request_url, scopes=["read"], force_login=True)

    forced = await call(browser.http.get, url, allow_redirects=False)
    after = await call(
        browser.http.get, browser.url("/settings/apps"), allow_redirects=False
    )

    assert forced.status_code == 303
    assert forced.headers["Location"].startswith("/sign-in?")
    assert "force_login" not in query_of(forced.headers["Location"])["next"]
    assert after.status_code == 303


async def test_unregistered_redirect_uri_shows_error_page(school):
    app = await register(school, ["read"], redirect_uris=REDIRECT)
    browser = BrowserSession(school)
    await call(browser.sign_in, "alice")
    url = await call(
        app.auth_request_url,
        redirect_uris="https://evil.example/steal",
        scopes=["read"],
    )

    page = await call(browser.http.get, url, allow_redirects=False)

    assert page.status_code == 400
    assert "Location" not in page.headers


async def test_read_token_cannot_post(school):
    app = await register(school, ["read"])
    await log_in_by_code(school, app, "alice", ["read"])

    timeline = await call(app.timeline_home)
    with pytest.raises(MastodonAPIError) as raised:
        await call(app.status_post, "Not allowed with a read token")

    assert isinstance(timeline, list)
    assert raised.value.args[1] == 403
    assert "outside the authorized scopes" in str(raised.value)


async def test_granular_scope_allows_only_its_endpoints(school):
    scopes = ["read:accounts", "write:statuses"]
    app = await register(school, scopes)
    await log_in_by_code(school, app, "bruno", scopes)

    posted = await call(app.status_post, "Granular scopes work")
    account = await call(app.account_verify_credentials)
    with pytest.raises(MastodonAPIError) as raised:
        await call(app.timeline_home)

    assert posted.id
    assert account.username == "bruno"
    assert raised.value.args[1] == 403


async def test_follow_scope_allows_following(school):
    scopes = ["read:accounts", "follow"]
    app = await register(school, scopes)
    await log_in_by_code(school, app, "alice", scopes)
    bruno = await call(app.account_lookup, "bruno")

    relationship = await call(app.account_follow, bruno.id)
    relationships = await call(app.account_relationships, [bruno.id])

    assert relationship.following is True
    assert relationships[0].following is True


async def test_scope_beyond_app_registration_rejected(school):
    app = await register(school, ["read"])
    browser = BrowserSession(school)
    await call(browser.sign_in, "alice")
    url = await call(app.auth_request_url, scopes=["read", "write"])

    page = await call(browser.consent_page, url)

    assert page.status_code == 400
    assert "invalid" in page.text.lower()


async def test_password_grant_when_allowed(school):
    app = await register(school, ["read", "write"])

    token = await call(
        app.log_in, username="bruno", password=PASSWORD, scopes=["read", "write"]
    )
    account = await call(app.account_verify_credentials)

    assert token
    assert account.username == "bruno"


async def test_password_grant_wrong_password_rejected(school):
    app = await register(school, ["read"])

    with pytest.raises(Exception) as raised:
        await call(
            app.log_in, username="bruno", password="wrong password", scopes=["read"]
        )

    assert "invalid_grant" in str(raised.value)


async def test_metadata_lists_endpoints(school):
    app = await register(school, ["read"])

    info = await call(app.oauth_authorization_server_info)

    assert info["issuer"] == school.url + "/"
    assert info["authorization_endpoint"] == school.url + "/oauth/authorize"
    assert info["token_endpoint"] == school.url + "/oauth/token"
    assert info["revocation_endpoint"] == school.url + "/oauth/revoke"
    assert info["app_registration_endpoint"] == school.url + "/api/v1/apps"
    assert info["response_types_supported"] == ["code"]
    assert "S256" in info["code_challenge_methods_supported"]
    assert "password" in info["grant_types_supported"]
    assert "write:statuses" in info["scopes_supported"]
    assert "client_secret_basic" in info["token_endpoint_auth_methods_supported"]
