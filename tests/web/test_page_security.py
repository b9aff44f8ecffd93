"""Security headers, error formats chosen by Accept, and over-long URLs.

Most tests send requests through the Quart test client, which calls the
application's ASGI entry point as Hypercorn does. The over-long URL tests
also go to a live instance over HTTPS, because Hypercorn's own limits decide
whether such a request reaches the application at all.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from typing import Any

import pytest

from pedagogue.accounts import create_teacher
from pedagogue.runtime import Runtime
from web.app import MAX_TARGET_BYTES, create_app
from web.headers import page_policy

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
ACTIVITY_JSON = "application/activity+json"


@pytest.fixture
async def app(runtime: Runtime) -> Any:
    await create_teacher(
        runtime.pool, runtime.settings, username="alice", password=None
    )
    return create_app(runtime)


async def get(app: Any, path: str, accept: str = "*/*", method: str = "GET") -> Any:
    client = app.test_client()
    return await client.open(path, method=method, headers={"Accept": accept})


# Security headers


async def test_page_forbids_framing(app: Any) -> None:
    response = await get(app, "/about", BROWSER_ACCEPT)

    assert response.status_code == 200
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


async def test_page_policy_allows_only_own_scripts(app: Any) -> None:
    response = await get(app, "/sign-in", BROWSER_ACCEPT)
    policy = response.headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))

    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["form-action"] == "'self'"
    assert directives["img-src"] == "'self' https: data:"
    assert "unsafe-inline" not in policy


async def test_page_sends_nosniff_and_referrer_policy(app: Any) -> None:
    response = await get(app, "/about", BROWSER_ACCEPT)

    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


async def test_page_templates_have_no_inline_script() -> None:
    from pathlib import Path

    templates = Path(__file__).resolve().parents[2] / "web" / "templates"
    offenders = []
    for template in sorted(templates.glob("*.html")):
        text = template.read_text()
        if "<script>" in text or " style=" in text or " onclick=" in text:
            offenders.append(template.name)

    assert offenders == []


async def test_activitypub_document_sends_nosniff(app: Any) -> None:
    response = await get(app, "/users/alice", ACTIVITY_JSON)

    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "X-Frame-Options" not in response.headers


async def test_api_error_sends_nosniff(app: Any) -> None:
    response = await get(app, "/api/v1/accounts/verify_credentials")

    assert response.status_code == 401
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]


async def test_inbox_fast_path_sends_nosniff(app: Any) -> None:
    client = app.test_client()
    response = await client.post(
        "/inbox", data=b"{}", headers={"Content-Type": ACTIVITY_JSON}
    )

    assert response.status_code == 401
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]


async def test_static_script_sends_nosniff(app: Any) -> None:
    response = await get(app, "/static/ui.js")

    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_development_policy_admits_http_images() -> None:
    assert "img-src 'self' https: data: http:" in page_policy(allow_http=True)
    assert "http:" not in page_policy(allow_http=False).replace("https:", "")


# Error format by Accept


async def test_browser_gets_html_404(app: Any) -> None:
    response = await get(app, "/no-such-page", BROWSER_ACCEPT)
    page = await response.get_data(as_text=True)

    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "<h1>Not found</h1>" in page


async def test_client_without_preference_gets_json_404(app: Any) -> None:
    response = await get(app, "/no-such-page", "*/*")

    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert "error" in json.loads(await response.get_data(as_text=True))


async def test_json_preferred_over_html_gets_json(app: Any) -> None:
    response = await get(app, "/no-such-page", "application/json, text/html;q=0.5")

    assert response.mimetype == "application/json"


async def test_html_refused_gets_json(app: Any) -> None:
    response = await get(app, "/no-such-page", "text/html;q=0, */*")

    assert response.mimetype == "application/json"


async def test_browser_gets_html_405(app: Any) -> None:
    response = await get(app, "/about", BROWSER_ACCEPT, method="DELETE")
    page = await response.get_data(as_text=True)

    assert response.status_code == 405
    assert response.mimetype == "text/html"
    assert "<h1>Method not allowed</h1>" in page


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/v1/no-such-endpoint", "GET"),
        ("/users/alice/inbox", "GET"),
        ("/inbox", "GET"),
        ("/.well-known/no-such-document", "GET"),
        ("/nodeinfo/9.9", "GET"),
        ("/users/nobody", "GET"),
    ],
)
async def test_machine_paths_keep_json_for_browsers(
    app: Any, path: str, method: str
) -> None:
    response = await get(app, path, BROWSER_ACCEPT, method=method)

    assert response.status_code in (404, 405)
    assert response.mimetype == "application/json"


async def test_missing_post_is_json_for_activitypub(app: Any) -> None:
    response = await get(app, "/@alice/1", ACTIVITY_JSON)

    assert response.status_code == 404
    assert response.mimetype == "application/json"


async def test_missing_post_is_html_for_browsers(app: Any) -> None:
    response = await get(app, "/@alice/1", BROWSER_ACCEPT)

    assert response.status_code == 404
    assert response.mimetype == "text/html"


# Over-long URLs


async def test_long_url_gets_414_json(app: Any) -> None:
    response = await get(app, "/about?q=" + "a" * 9000)
    body = json.loads(await response.get_data(as_text=True))

    assert response.status_code == 414
    assert body == {"error": f"The URL is over the limit of {MAX_TARGET_BYTES} bytes."}


async def test_long_url_gets_414_page_for_browsers(app: Any) -> None:
    response = await get(app, "/about?q=" + "a" * 9000, BROWSER_ACCEPT)
    page = await response.get_data(as_text=True)

    assert response.status_code == 414
    assert response.mimetype == "text/html"
    assert len(page) < 4000


async def test_url_at_limit_is_served(app: Any) -> None:
    path = "/about?q="
    response = await get(app, path + "a" * (MAX_TARGET_BYTES - len(path)))

    assert response.status_code == 200


async def raw_get(instance: Any, target: str, chunk: int) -> bytes:
    """Send one HTTP/1.1 GET in writes of ``chunk`` bytes; return the raw reply."""
    context = ssl.create_default_context(cafile=str(instance.pki.ca_file))
    context.set_alpn_protocols(["http/1.1"])
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", instance.port, ssl=context, server_hostname=instance.domain
    )
    try:
        request = (
            f"GET {target} HTTP/1.1\r\nHost: {instance.domain}\r\n"
            "Accept: application/json\r\nConnection: close\r\n\r\n"
        ).encode()
        for start in range(0, len(request), chunk):
            writer.write(request[start : start + chunk])
            await writer.drain()
            await asyncio.sleep(0.01)
        return await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()


async def test_live_long_url_gets_414_with_body(start_instances: Any) -> None:
    (school,) = await start_instances("school-a.test")

    # 40 000 bytes is over h11's default 16 KiB buffer, and arrives in
    # several reads, as over a real network.
    for length in (9_000, 40_000):
        reply = await raw_get(school, "/about?q=" + "a" * length, chunk=4096)
        head, _, body = reply.partition(b"\r\n\r\n")

        assert head.startswith(b"HTTP/1.1 414"), (length, head[:100])
        assert b"over the limit" in body, (length, body[:200])
