"""POST /oauth/token, /oauth/revoke and /api/v1/apps over HTTP: PKCE, code
reuse, redirect URI checks, client authentication and error shapes."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from tests.oauth.conftest import (
    OOB,
    BrowserSession,
    LoopbackSession,
    call,
    csrf_of,
    pkce_pair,
)

REDIRECT = "https://app.example/callback"


class App:
    """A registered app talking to the instance with plain HTTP requests."""

    def __init__(self, school: Any, document: dict[str, Any]) -> None:
        self.school = school
        self.http = LoopbackSession(school)
        self.client_id = document["client_id"]
        self.client_secret = document["client_secret"]
        self.document = document

    def authorize_url(self, **params: str) -> str:
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": OOB,
        }
        query.update(params)
        return f"{self.school.client_url}/oauth/authorize?{urlencode(query)}"

    def token(self, **fields: str) -> Any:
        body = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            **fields,
        }
        return self.http.post(f"{self.school.client_url}/oauth/token", data=body)

    def api(self, method: str, path: str, token: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        return self.http.request(
            method, f"{self.school.client_url}{path}", headers=headers, **kwargs
        )


async def register(school: Any, **fields: Any) -> App:
    body = {"client_name": "Grade book", "redirect_uris": OOB, "scopes": "read write"}
    body.update(fields)
    http = LoopbackSession(school)
    response = await call(http.post, f"{school.client_url}/api/v1/apps", json=body)
    assert response.status_code == 200, response.text
    return App(school, response.json())


async def code_for(
    school: Any, app: App, username: str = "alice", **params: str
) -> str:
    browser = BrowserSession(school)
    await call(browser.sign_in, username)
    return await call(browser.authorize, app.authorize_url(**params))


async def token_for(app: App, code: str) -> str:
    """Exchange an out-of-band authorization code for an access token."""
    response = await call(
        app.token, grant_type="authorization_code", code=code, redirect_uri=OOB
    )
    return response.json()["access_token"]


# App registration


async def test_app_registration_returns_application(school):
    app = await register(
        school, redirect_uris=f"{REDIRECT}\n{OOB}", website="https://gradebook.example"
    )

    assert app.document["name"] == "Grade book"
    assert app.document["redirect_uris"] == [REDIRECT, OOB]
    assert app.document["redirect_uri"] == f"{REDIRECT}\n{OOB}"
    assert app.document["scopes"] == ["read", "write"]
    assert app.document["website"] == "https://gradebook.example"
    assert len(app.document["client_secret"]) >= 43


async def test_app_secret_stored_hashed(school):
    app = await register(school)

    stored = await school.fetchval(
        "SELECT client_secret_hash FROM oauth_apps WHERE client_id = $1", app.client_id
    )

    assert app.client_secret.encode() not in bytes(stored)
    assert len(stored) == 32


async def test_app_registration_rejects_bad_fields(school):
    http = LoopbackSession(school)
    cases = {
        "missing name": {"redirect_uris": OOB},
        "relative redirect": {"client_name": "x", "redirect_uris": "/callback"},
        "javascript redirect": {
            "client_name": "x",
            "redirect_uris": "javascript:alert(1)",
        },
        "fragment": {"client_name": "x", "redirect_uris": "https://a.example/cb#frag"},
        "unknown scope": {
            "client_name": "x",
            "redirect_uris": OOB,
            "scopes": "read sudo",
        },
        "bad website": {
            "client_name": "x",
            "redirect_uris": OOB,
            "website": "ftp://a.example",
        },
    }
    for case, body in cases.items():
        response = await call(http.post, f"{school.client_url}/api/v1/apps", data=body)
        assert response.status_code == 422, case
        assert response.json()["error"].startswith("Validation failed"), case


# Authorization code and PKCE


async def test_pkce_s256_right_verifier_accepted(school):
    app = await register(school)
    verifier, challenge = pkce_pair()
    code = await code_for(
        school, app, code_challenge=challenge, code_challenge_method="S256"
    )

    response = await call(
        app.token,
        grant_type="authorization_code",
        code=code,
        redirect_uri=OOB,
        code_verifier=verifier,
    )

    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"
    assert response.headers["Cache-Control"] == "no-store"


async def test_pkce_wrong_verifier_rejected(school):
    app = await register(school)
    _, challenge = pkce_pair()
    other_verifier, _ = pkce_pair()
    code = await code_for(
        school, app, code_challenge=challenge, code_challenge_method="S256"
    )

    response = await call(
        app.token,
        grant_type="authorization_code",
        code=code,
        redirect_uri=OOB,
        code_verifier=other_verifier,
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert "code_verifier" in response.json()["error_description"]


async def test_pkce_missing_verifier_rejected(school):
    app = await register(school)
    _, challenge = pkce_pair()
    code = await code_for(
        school, app, code_challenge=challenge, code_challenge_method="S256"
    )

    response = await call(
        app.token, grant_type="authorization_code", code=code, redirect_uri=OOB
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_pkce_plain_method_accepted(school):
    app = await register(school)
    verifier, _ = pkce_pair()
    code = await code_for(school, app, code_challenge=verifier)

    response = await call(
        app.token,
        grant_type="authorization_code",
        code=code,
        redirect_uri=OOB,
        code_verifier=verifier,
    )

    assert response.status_code == 200, response.text


async def test_verifier_without_challenge_rejected(school):
    app = await register(school)
    verifier, _ = pkce_pair()
    code = await code_for(school, app)

    response = await call(
        app.token,
        grant_type="authorization_code",
        code=code,
        redirect_uri=OOB,
        code_verifier=verifier,
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_code_reuse_rejected_and_token_revoked(school):
    app = await register(school)
    code = await code_for(school, app)
    first = await call(
        app.token, grant_type="authorization_code", code=code, redirect_uri=OOB
    )
    token = first.json()["access_token"]

    second = await call(
        app.token, grant_type="authorization_code", code=code, redirect_uri=OOB
    )
    after = await call(app.api, "GET", "/api/v1/accounts/verify_credentials", token)

    assert first.status_code == 200
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"
    assert after.status_code == 401


async def test_expired_code_rejected(school):
    app = await register(school)
    code = await code_for(school, app)
    await school.fetchval(
        "UPDATE oauth_codes SET expires_at = now() - interval '1 second'"
        " WHERE app_id = (SELECT id FROM oauth_apps WHERE client_id = $1)",
        app.client_id,
    )

    response = await call(
        app.token, grant_type="authorization_code", code=code, redirect_uri=OOB
    )

    assert response.status_code == 400
    assert response.json()["error_description"] == "the authorization code has expired"


async def test_wrong_redirect_uri_rejected(school):
    app = await register(school, redirect_uris=f"{REDIRECT}\n{OOB}")
    code = await code_for(school, app)

    response = await call(
        app.token, grant_type="authorization_code", code=code, redirect_uri=REDIRECT
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert "redirect_uri" in response.json()["error_description"]


async def test_code_of_other_app_rejected(school):
    app = await register(school)
    other = await register(school)
    code = await code_for(school, app)

    stolen = await call(
        other.token, grant_type="authorization_code", code=code, redirect_uri=OOB
    )
    rightful = await call(
        app.token, grant_type="authorization_code", code=code, redirect_uri=OOB
    )

    assert stolen.status_code == 400
    assert stolen.json()["error"] == "invalid_grant"
    assert rightful.status_code == 200


async def test_code_flow_token_stored_hashed(school):
    app = await register(school)
    code = await code_for(school, app)
    response = await call(
        app.token, grant_type="authorization_code", code=code, redirect_uri=OOB
    )
    token = response.json()["access_token"]

    found = await school.fetchval(
        "SELECT count(*) FROM tokens WHERE token_hash = sha256(convert_to($1, 'UTF8'))",
        token,
    )
    in_clear = await school.fetchval(
        "SELECT count(*) FROM tokens WHERE encode(token_hash, 'escape') LIKE '%' || $1 || '%'",
        token,
    )

    assert found == 1
    assert in_clear == 0


# Client authentication and body formats


async def test_basic_auth_and_json_body_accepted(school):
    app = await register(school)
    code = await code_for(school, app)

    response = await call(
        app.http.post,
        f"{school.client_url}/oauth/token",
        json={"grant_type": "authorization_code", "code": code, "redirect_uri": OOB},
        auth=(app.client_id, app.client_secret),
    )

    assert response.status_code == 200, response.text


async def test_wrong_client_secret_rejected(school):
    app = await register(school)
    http = LoopbackSession(school)

    response = await call(
        http.post,
        f"{school.client_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(app.client_id, "wrong"),
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic")


async def test_unknown_grant_type_rejected(school):
    app = await register(school)

    response = await call(app.token, grant_type="refresh_token", refresh_token="x")

    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


# Client credentials


async def test_client_credentials_token_has_no_account(school):
    app = await register(school)
    response = await call(app.token, grant_type="client_credentials", scope="read")
    token = response.json()["access_token"]

    public = await call(app.api, "GET", "/api/v1/timelines/public", token)
    home = await call(app.api, "GET", "/api/v1/timelines/home", token)
    me = await call(app.api, "GET", "/api/v1/accounts/verify_credentials", token)
    application = await call(app.api, "GET", "/api/v1/apps/verify_credentials", token)

    assert response.status_code == 200
    assert response.json()["scope"] == "read"
    assert public.status_code == 200
    assert home.status_code == 422
    assert home.json()["error"] == "This method requires an authenticated user"
    assert me.status_code == 422
    assert application.json()["name"] == "Grade book"


async def test_client_credentials_scope_beyond_app_rejected(school):
    app = await register(school, scopes="read")

    response = await call(
        app.token, grant_type="client_credentials", scope="read write"
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


# Revocation and scopes


async def test_revoke_then_401_everywhere(school):
    app = await register(school)
    code = await code_for(school, app)
    token = await token_for(app, code)

    revoked = await call(
        app.http.post,
        f"{school.client_url}/oauth/revoke",
        data={
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "token": token,
        },
    )
    private = await call(app.api, "GET", "/api/v1/timelines/home", token)
    public = await call(app.api, "GET", "/api/v1/timelines/public", token)
    again = await call(
        app.http.post,
        f"{school.client_url}/oauth/revoke",
        data={
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "token": token,
        },
    )

    assert revoked.status_code == 200
    assert revoked.json() == {}
    assert private.status_code == 401
    assert public.status_code == 401
    assert again.status_code == 200


async def test_suspended_account_token_rejected(school):
    await school.add_teacher("carmen")
    app = await register(school)
    code = await code_for(school, app, username="carmen")
    token = await token_for(app, code)
    before = await call(app.api, "GET", "/api/v1/accounts/verify_credentials", token)
    await school.fetchval(
        "UPDATE accounts SET suspended_at = now() WHERE username = 'carmen'"
    )

    after = await call(app.api, "GET", "/api/v1/accounts/verify_credentials", token)

    assert before.status_code == 200
    assert after.status_code == 401


async def test_revoke_by_other_app_rejected(school):
    app = await register(school)
    other = await register(school)
    code = await code_for(school, app)
    token = await token_for(app, code)

    response = await call(
        other.http.post,
        f"{school.client_url}/oauth/revoke",
        data={
            "client_id": other.client_id,
            "client_secret": other.client_secret,
            "token": token,
        },
    )
    still = await call(app.api, "GET", "/api/v1/timelines/home", token)

    assert response.status_code == 403
    assert response.json()["error"] == "unauthorized_client"
    assert still.status_code == 200


async def test_expired_token_gets_401(school):
    app = await register(school)
    token = (await call(app.token, grant_type="client_credentials")).json()[
        "access_token"
    ]
    await school.fetchval(
        "UPDATE tokens SET expires_at = now() - interval '1 second'"
        " WHERE token_hash = sha256(convert_to($1, 'UTF8'))",
        token,
    )

    response = await call(app.api, "GET", "/api/v1/timelines/public", token)

    assert response.status_code == 401


async def test_scope_error_names_required_scope(school):
    app = await register(school, scopes="read")
    code = await code_for(school, app, scope="read:accounts")
    token = await token_for(app, code)

    response = await call(
        app.api, "POST", "/api/v1/statuses", token, data={"status": "hi"}
    )

    assert response.status_code == 403
    assert response.json()["error"] == "This action is outside the authorized scopes"
    assert 'scope="write:statuses"' in response.headers["WWW-Authenticate"]


# Authorized apps page


async def test_authorized_apps_page_revokes_token(school):
    app = await register(school, client_name="Attendance tracker")
    browser = BrowserSession(school)
    await call(browser.sign_in, "bruno")
    code = await call(browser.authorize, app.authorize_url())
    token = await token_for(app, code)

    page = await call(browser.http.get, browser.url("/settings/apps"))
    token_id = await school.fetchval(
        "SELECT id FROM tokens WHERE token_hash = sha256(convert_to($1, 'UTF8'))", token
    )
    revoked = await call(
        browser.http.post,
        browser.url(f"/settings/apps/{token_id}/revoke"),
        data={"csrf_token": csrf_of(page.text)},
        allow_redirects=False,
    )
    after = await call(app.api, "GET", "/api/v1/timelines/home", token)

    assert "Attendance tracker" in page.text
    assert revoked.status_code == 303
    assert after.status_code == 401


async def test_authorized_apps_revoke_needs_csrf(school):
    browser = BrowserSession(school)
    await call(browser.sign_in, "bruno")

    response = await call(
        browser.http.post, browser.url("/settings/apps/1/revoke"), allow_redirects=False
    )

    assert response.status_code == 403


async def test_token_use_records_last_used_at(school):
    app = await register(school)
    token = (await call(app.token, grant_type="client_credentials")).json()[
        "access_token"
    ]
    before = await school.fetchval(
        "SELECT last_used_at FROM tokens WHERE token_hash = sha256(convert_to($1, 'UTF8'))",
        token,
    )

    await call(app.api, "GET", "/api/v1/timelines/public", token)
    after = await school.fetchval(
        "SELECT last_used_at FROM tokens WHERE token_hash = sha256(convert_to($1, 'UTF8'))",
        token,
    )

    assert before is None
    assert after is not None


async def test_password_grant_rate_limited_like_sign_in(school):
    app = await register(school)
    # The default limit is 5 failures per username and address in 15 minutes.
    statuses = []
    for _ in range(6):
        response = await call(
            app.token, grant_type="password", username="carol", password="guess"
        )
        statuses.append(response.status_code)

    assert statuses[:5] == [400] * 5
    assert statuses[5] == 429
