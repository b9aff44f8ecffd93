"""A live instance with teachers who sign in by password, and HTTP helpers for
driving the OAuth flow as a browser and as an app would.

The instance's public URL names a test domain that only Chromium's host rules
resolve, so HTTP clients here send requests for that host to 127.0.0.1, whose
address the test certificate also names.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import re
import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.ui.conftest import (  # noqa: F401  (browser and context are fixtures)
    PASSWORD,
    UiInstance,
    browser,
    context,
    start_ui_instances,
    stop_ui_instances,
)

OOB = "urn:ietf:wg:oauth:2.0:oob"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
HIDDEN_FIELD = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')
CODE_FIELD = re.compile(r'id="authorization-code"[^>]* value="([^"]+)"')


class LoopbackSession(requests.Session):
    """A requests session that trusts the test CA and sends the instance's
    public host to 127.0.0.1."""

    def __init__(self, instance: UiInstance) -> None:
        super().__init__()
        self.instance = instance
        self.verify = str(instance.pki.ca_file)
        # REQUESTS_CA_BUNDLE in the environment would replace ``verify``.
        self.trust_env = False
        # An idle keep-alive connection delays the instance's shutdown.
        self.headers["Connection"] = "close"

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        public = self.instance.url
        if url.startswith(public):
            url = self.instance.client_url + url[len(public) :]
        return super().request(method, url, *args, **kwargs)


class BrowserSession:
    """A teacher's browser as a plain HTTP client: cookies, sign-in and forms."""

    def __init__(self, instance: UiInstance) -> None:
        self.instance = instance
        self.http = LoopbackSession(instance)
        self.http.headers["Accept"] = "text/html"

    def url(self, path: str) -> str:
        return self.instance.client_url + path

    def sign_in(
        self, username: str, password: str = PASSWORD, next_path: str = "/"
    ) -> Any:
        page = self.http.get(self.url("/sign-in"), params={"next": next_path})
        assert page.status_code == 200, page.text[:300]
        return self.http.post(
            self.url("/sign-in"),
            data={
                "csrf_token": csrf_of(page.text),
                "username": username,
                "password": password,
                "next": next_path,
            },
            allow_redirects=False,
        )

    def consent_page(self, authorize_url: str) -> Any:
        """Open the authorization URL, following redirects within the instance."""
        return self.http.get(authorize_url, allow_redirects=True)

    def answer(self, page: Any, decision: str) -> Any:
        """Post the consent form of ``page`` with the decision button pressed."""
        fields = {
            name: html.unescape(value)
            for name, value in HIDDEN_FIELD.findall(page.text)
        }
        fields["decision"] = decision
        return self.http.post(
            self.url("/oauth/authorize"), data=fields, allow_redirects=False
        )

    def authorize(self, authorize_url: str) -> str:
        """Approve the request on the consent page; return the code the app gets."""
        page = self.consent_page(authorize_url)
        assert page.status_code == 200, page.text[:500]
        assert "Authorize" in page.text, page.text[:500]
        answer = self.answer(page, "authorize")
        if answer.status_code == 200:
            return code_on_page(answer.text)
        assert answer.status_code == 302, answer.text[:500]
        return query_of(answer.headers["Location"])["code"]


def csrf_of(text: str) -> str:
    match = CSRF_FIELD.search(text)
    assert match is not None, "no CSRF token on the page"
    return html.unescape(match.group(1))


def code_on_page(text: str) -> str:
    match = CODE_FIELD.search(text)
    assert match is not None, f"no code on the page: {text[:500]}"
    return html.unescape(match.group(1))


def query_of(url: str) -> dict[str, str]:
    return {name: values[-1] for name, values in parse_qs(urlsplit(url).query).items()}


def pkce_pair() -> tuple[str, str]:
    """Return a code verifier and its S256 challenge (RFC 7636, section 4.2)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def call(function: Any, *args: Any, **kwargs: Any) -> Any:
    """Run one blocking client call off the event loop."""
    return await asyncio.to_thread(function, *args, **kwargs)


@pytest.fixture(scope="module")
async def school(
    databases: Any, pki: Any, tmp_path_factory: Any
) -> AsyncIterator[UiInstance]:
    """One instance for the module, with the password grant turned on."""
    instances = await start_ui_instances(
        databases,
        pki,
        tmp_path_factory.mktemp("oauth"),
        ("school-a.test",),
        extra_env={"PEDAGOGUE_WEB__ALLOW_PASSWORD_GRANT": "true"},
    )
    (instance,) = instances
    await instance.add_teacher("alice")
    await instance.add_teacher("bruno")
    yield instance
    await stop_ui_instances(databases, instances)
