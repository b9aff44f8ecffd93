"""Web pages through the Quart test client of an in-process runtime, as a
signed-in teacher: a session row in the database, its cookie and its CSRF
token on every form."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import Any

from pedagogue.accounts import create_teacher
from pedagogue.runtime import Runtime
from storage import sessions
from web.api import hash_token

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


class PageClient:
    """One teacher's browser: a session cookie, a CSRF token and a bearer
    token for the client API."""

    def __init__(self, app: Any, account: Any, session: str, csrf: str, token: str) -> None:
        self.app = app
        self.account = account
        self.session = session
        self.csrf = csrf
        self.token = token

    def _headers(self, accept: str) -> dict[str, str]:
        return {
            "Cookie": f"__Host-pedagogue_session={self.session}",
            "Accept": accept,
        }

    async def get(self, path: str, accept: str = BROWSER_ACCEPT) -> tuple[int, str, Any]:
        """GET a page; return the status, the body text and the headers."""
        response = await self.app.test_client().get(path, headers=self._headers(accept))
        return response.status_code, await response.get_data(as_text=True), response.headers

    async def post(
        self, path: str, form: dict[str, Any], accept: str = BROWSER_ACCEPT
    ) -> tuple[int, str, Any]:
        """POST a form with the session's CSRF token; return the status, the
        body text and the headers."""
        response = await self.app.test_client().post(
            path,
            form={"csrf_token": self.csrf, **form},
            headers=self._headers(accept),
        )
        return response.status_code, await response.get_data(as_text=True), response.headers

    async def api(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """Call the client API with the bearer token; return the status and JSON."""
        response = await self.app.test_client().open(
            path,
            method=method,
            headers={"Authorization": f"Bearer {self.token}"},
            **kwargs,
        )
        return response.status_code, json.loads(await response.get_data(as_text=True))


async def sign_in_teacher(runtime: Runtime, app: Any, username: str, **fields: Any) -> PageClient:
    """Create a local teacher with a web session and an API token."""
    account = await create_teacher(
        runtime.pool, runtime.settings, username=username, password=None, **fields
    )
    cookie, row = await sessions.create_session(
        runtime.pool,
        account["id"],
        lifetime=timedelta(days=1),
        user_agent="tests",
        address="127.0.0.1",
    )
    token = secrets.token_urlsafe(24)
    await runtime.pool.execute(
        "INSERT INTO tokens (account_id, token_hash) VALUES ($1, $2)",
        account["id"],
        hash_token(token),
    )
    return PageClient(app, account, cookie, row["csrf_token"], token)
