"""Regression tests for the smaller input checks of the web layer, CLI and config.

The web tests use the in-process client of ``test_newcomer_findings``: the real
Quart app of a runtime on a fresh database, with alice's bearer token.
"""

# The client fixture is imported by name so pytest finds it here, and the test
# parameters that use it shadow that name.
# ruff: noqa: F811

from __future__ import annotations

import math
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from federation import httpsig
from federation.errors import FederationError
from pedagogue.config import ConfigError, load_settings
from tests.regressions.test_newcomer_findings import (  # noqa: F401 - fixture
    OUT_OF_RANGE_ID,
    Client,
    client,
    run_cli,
    status_count,
)
from web.app import log_text, parse_id
from web.presenters import web_url

# Web: ids, cursors and paths


def test_parse_id_accepts_bigint_range() -> None:
    assert parse_id("9223372036854775807") == 2**63 - 1


def test_parse_id_rejects_beyond_bigint() -> None:
    assert parse_id(OUT_OF_RANGE_ID) is None


def test_parse_id_rejects_non_ascii_digits() -> None:
    assert parse_id("\u00b2") is None


def test_parse_id_rejects_signs() -> None:
    assert parse_id("-1") is None


async def test_html_status_page_out_of_range_answers_404(client: Client) -> None:
    status, _ = await client.request("GET", f"/@alice/{OUT_OF_RANGE_ID}", auth=False)

    assert status == 404


async def test_html_profile_with_nul_answers_400(client: Client) -> None:
    status, _ = await client.request("GET", "/@a%00", auth=False)

    assert status == 400


async def test_activity_id_out_of_range_answers_404(client: Client) -> None:
    status, _ = await client.request(
        "GET", f"/activities/{OUT_OF_RANGE_ID}", auth=False
    )

    assert status == 404


async def test_followers_max_id_out_of_range_answers_400(client: Client) -> None:
    status, body = await client.request(
        "GET", f"/users/alice/followers?page=true&max_id={OUT_OF_RANGE_ID}", auth=False
    )

    assert status == 400
    assert body == {"error": "max_id must be a number"}


async def test_timeline_limit_out_of_range_answers_400(client: Client) -> None:
    status, body = await client.request(
        "GET", "/api/v1/timelines/public", query_string={"limit": OUT_OF_RANGE_ID}
    )

    assert status == 400
    assert "limit" in body["error"]


# Web: discovery and lookup


async def test_webfinger_error_caps_echoed_resource(client: Client) -> None:
    resource = "acct:" + "x" * 5000 + "@elsewhere.test"

    status, body = await client.request(
        "GET", "/.well-known/webfinger", auth=False, query_string={"resource": resource}
    )

    assert status == 404
    assert len(body["error"]) < 300


async def test_webfinger_mailto_resource_answers_400(client: Client) -> None:
    status, body = await client.request(
        "GET",
        "/.well-known/webfinger",
        auth=False,
        query_string={"resource": "mailto:alice@school-a.test"},
    )

    assert status == 400
    assert "acct:" in body["error"]


async def test_lookup_only_at_signs_names_the_value(client: Client) -> None:
    status, body = await client.request(
        "GET", "/api/v1/accounts/lookup", auth=False, query_string={"acct": "@@@"}
    )

    assert status == 400
    assert "'@@@'" in body["error"]


async def test_search_local_actor_url_finds_account(client: Client) -> None:
    status, body = await client.request(
        "GET", "/api/v2/search", query_string={"q": "https://school-a.test/users/alice"}
    )

    assert status == 200
    assert [account["username"] for account in body["accounts"]] == ["alice"]


# Web: request bodies


async def test_form_body_not_utf8_answers_400(client: Client) -> None:
    status, body = await client.request(
        "POST",
        "/api/v1/statuses",
        data=b"status=caf%E9",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert status == 400
    assert "UTF-8" in body["error"]
    assert await status_count(client.runtime) == 0


async def test_form_body_utf8_still_posts(client: Client) -> None:
    status, body = await client.request(
        "POST",
        "/api/v1/statuses",
        data=b"status=caf%C3%A9",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert status == 200
    assert "café" in body["content"]


async def test_reply_to_fractional_id_answers_400(client: Client) -> None:
    status, body = await client.request(
        "POST", "/api/v1/statuses", json={"status": "A reply", "in_reply_to_id": 1.9}
    )

    assert status == 400
    assert "in_reply_to_id" in body["error"]
    assert await status_count(client.runtime) == 0


async def test_spoiler_text_nul_rejected(client: Client) -> None:
    status, body = await client.request(
        "POST", "/api/v1/statuses", json={"status": "text", "spoiler_text": "a\x00"}
    )

    assert status == 422
    assert "spoiler_text" in body["error"]


# Web: helpers


def test_web_url_replaces_javascript_url() -> None:
    assert web_url("javascript:alert(1)", "https://remote.test/notes/1") == (
        "https://remote.test/notes/1"
    )


def test_web_url_keeps_https_url() -> None:
    assert web_url("https://remote.test/@rosa", "fallback") == (
        "https://remote.test/@rosa"
    )


def test_log_text_escapes_line_breaks() -> None:
    assert log_text("/a\r\nforged\x00") == "/a\\r\\nforged\\x00"


# Signatures


def test_rfc9421_verifies_with_plain_http_scheme() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    url = "http://localhost:8801/inbox"
    headers = {"Content-Type": "application/activity+json"}
    body = b"{}"
    headers |= httpsig.sign_request(
        "POST",
        url,
        headers,
        body,
        key,
        "http://localhost:8800/actor#key",
        scheme=httpsig.RFC9421,
    )

    info = httpsig.verify_request(
        "POST", "/inbox", headers, body, key.public_key(), scheme="http"
    )

    assert info.key_id == "http://localhost:8800/actor#key"


def test_rfc9421_http_signature_fails_as_https() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    url = "http://localhost:8801/inbox"
    headers = {"Content-Type": "application/activity+json"}
    body = b"{}"
    headers |= httpsig.sign_request(
        "POST",
        url,
        headers,
        body,
        key,
        "http://localhost:8800/actor#key",
        scheme=httpsig.RFC9421,
    )

    with pytest.raises(FederationError):
        httpsig.verify_request("POST", "/inbox", headers, body, key.public_key())


# Configuration and command line


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_config_float_not_finite_rejected(value: str) -> None:
    with pytest.raises(ConfigError):
        load_settings(environ={"PEDAGOGUE_SERVER__REQUEST_TIMEOUT": value})


def test_config_toml_float_not_finite_rejected(tmp_path: Path) -> None:
    config = tmp_path / "nan.toml"
    config.write_text("[federation]\nread_timeout = nan\n")

    with pytest.raises(ConfigError):
        load_settings(config, environ={})


def test_config_listen_port_out_of_range_rejected() -> None:
    with pytest.raises(ConfigError):
        load_settings(overrides={"server": {"listen": "127.0.0.1:65536"}}, environ={})


def test_config_finite_float_accepted() -> None:
    settings = load_settings(environ={"PEDAGOGUE_SERVER__REQUEST_TIMEOUT": "12.5"})

    assert math.isclose(settings.server.request_timeout, 12.5)


async def test_cli_display_name_too_long_rejected(
    database: str, tmp_path: Path
) -> None:
    result = run_cli(
        "--database-url",
        database,
        "--data-dir",
        str(tmp_path),
        "user",
        "create",
        "erin",
        "--display-name",
        "E" * 101,
        stdin=b"a long password\n",
    )

    assert result.returncode == 1
    assert b"display name" in result.stderr
