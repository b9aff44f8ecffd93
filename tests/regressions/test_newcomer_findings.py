"""Regression tests for bad input that a first run of the instance mishandled.

Each test states the behaviour the product should have. The client API and web
tests send requests through the real Quart app of an in-process runtime on a
fresh database. The inbox tests use the inbox harness: a fake HTTPS peer on
loopback and requests signed with ``federation.httpsig.sign_request``. The
command-line tests run ``python -m pedagogue.cli`` as a subprocess.
"""

# Fixtures of tests/inbox and tests/outbox are imported by name so pytest finds
# them here, and the test parameters that use them shadow those names.
# ruff: noqa: F811

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from federation import httpsig
from outbox.deliver import DeliveryWorker
from pedagogue.accounts import create_teacher
from pedagogue.runtime import Runtime
from storage.ids import id_floor, new_id
from tests.inbox.conftest import (  # noqa: F401 - fixtures used by the inbox tests
    InboxHarness,
    harness,
    make_harness,
    peer_keys,
    peer_pki,
)
from tests.outbox.conftest import (  # noqa: F401 - fixtures used by the delivery test
    loopback_runtime,
    make_peer,
    make_runtime,
)
from tests.outbox.peers import add_remote_follower, new_teacher, post
from web.api import hash_token
from web.app import create_app

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
# One more than the largest bigint, so every id column overflows on it.
OUT_OF_RANGE_ID = str(2**63)
# U+00B2 SUPERSCRIPT TWO: str.isdigit() accepts it but int() does not.
SUPERSCRIPT_TWO = "%C2%B2"


# Client API and web pages, in process


class Client:
    """The Quart test client of a runtime, with alice's bearer token."""

    def __init__(self, runtime: Runtime, token: str, alice: Any) -> None:
        self.runtime = runtime
        self.token = token
        self.alice = alice
        self.app = create_app(runtime)

    async def request(
        self, method: str, path: str, *, auth: bool = True, **kwargs: Any
    ) -> tuple[int, Any]:
        """Send one request; return the status and the JSON body (None if not JSON)."""
        headers = dict(kwargs.pop("headers", {}))
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        client = self.app.test_client()
        response = await client.open(path, method=method, headers=headers, **kwargs)
        text = await response.get_data(as_text=True)
        try:
            return response.status_code, json.loads(text)
        except ValueError:
            return response.status_code, None


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[Client]:
    alice = await create_teacher(
        runtime.pool, runtime.settings, username="alice", password=None
    )
    token = secrets.token_urlsafe(24)
    await runtime.pool.execute(
        "INSERT INTO tokens (account_id, token_hash) VALUES ($1, $2)",
        alice["id"],
        hash_token(token),
    )
    yield Client(runtime, token, alice)


async def status_count(runtime: Runtime) -> int:
    return int(await runtime.pool.fetchval("SELECT count(*) FROM statuses"))


async def test_status_id_out_of_range_answers_404(client: Client) -> None:
    status, body = await client.request("GET", f"/api/v1/statuses/{OUT_OF_RANGE_ID}")

    assert status == 404
    assert body == {"error": "Record not found"}


async def test_status_id_superscript_digit_answers_404(client: Client) -> None:
    status, body = await client.request("GET", f"/api/v1/statuses/{SUPERSCRIPT_TWO}")

    assert status == 404
    assert body == {"error": "Record not found"}


async def test_account_id_out_of_range_answers_404(client: Client) -> None:
    status, body = await client.request("GET", f"/api/v1/accounts/{OUT_OF_RANGE_ID}")

    assert status == 404
    assert body == {"error": "Record not found"}


async def test_follow_out_of_range_account_answers_404(client: Client) -> None:
    status, _ = await client.request(
        "POST", f"/api/v1/accounts/{OUT_OF_RANGE_ID}/follow"
    )

    assert status == 404


async def test_timeline_max_id_out_of_range_answers_400(client: Client) -> None:
    status, body = await client.request(
        "GET", "/api/v1/timelines/public", query_string={"max_id": OUT_OF_RANGE_ID}
    )

    assert status == 400
    assert "max_id" in body["error"]


async def test_home_since_id_out_of_range_answers_400(client: Client) -> None:
    status, body = await client.request(
        "GET", "/api/v1/timelines/home", query_string={"since_id": OUT_OF_RANGE_ID}
    )

    assert status == 400
    assert "since_id" in body["error"]


async def test_relationships_out_of_range_id_skipped(client: Client) -> None:
    status, body = await client.request(
        "GET", "/api/v1/accounts/relationships", query_string={"id[]": OUT_OF_RANGE_ID}
    )

    assert status == 200
    assert body == []


async def test_reply_to_out_of_range_id_rejected(
    client: Client,
) -> None:
    status, _ = await client.request(
        "POST",
        "/api/v1/statuses",
        form={"status": "A reply", "in_reply_to_id": OUT_OF_RANGE_ID},
    )

    assert status == 404
    assert await status_count(client.runtime) == 0


async def test_activitypub_status_out_of_range_answers_404(client: Client) -> None:
    status, _ = await client.request(
        "GET",
        f"/users/alice/statuses/{OUT_OF_RANGE_ID}",
        auth=False,
        headers={"Accept": "application/activity+json"},
    )

    assert status == 404


async def test_outbox_superscript_max_id_answers_400(client: Client) -> None:
    status, body = await client.request(
        "GET", f"/users/alice/outbox?page=true&max_id={SUPERSCRIPT_TWO}", auth=False
    )

    assert status == 400
    assert body == {"error": "max_id must be a number"}


async def test_search_query_with_nul_answers_4xx(client: Client) -> None:
    status, body = await client.request(
        "GET", "/api/v2/search", query_string={"q": "ali\x00ce"}
    )

    assert 400 <= status < 500
    assert "error" in body


async def test_lookup_with_nul_answers_4xx(client: Client) -> None:
    status, body = await client.request(
        "GET", "/api/v1/accounts/lookup", auth=False, query_string={"acct": "a\x00"}
    )

    assert 400 <= status < 500
    assert "error" in body


async def test_webfinger_resource_with_nul_answers_4xx(client: Client) -> None:
    status, body = await client.request(
        "GET",
        "/.well-known/webfinger",
        auth=False,
        query_string={"resource": "acct:a\x00@school-a.test"},
    )

    assert 400 <= status < 500
    assert "error" in body


async def test_actor_path_with_nul_answers_400(client: Client) -> None:
    status, _ = await client.request(
        "GET",
        "/users/a%00",
        auth=False,
        headers={"Accept": "application/activity+json"},
    )

    assert status == 400


async def test_status_text_nul_rejected(client: Client) -> None:
    status, body = await client.request(
        "POST", "/api/v1/statuses", json={"status": "before\x00after"}
    )

    assert status == 422
    assert "error" in body
    assert await status_count(client.runtime) == 0


async def test_status_lone_surrogate_rejected(
    client: Client,
) -> None:
    status, _ = await client.request(
        "POST",
        "/api/v1/statuses",
        data=b'{"status": "half a pair \\ud800"}',
        headers={"Content-Type": "application/json"},
    )

    assert status in (400, 422)
    assert await status_count(client.runtime) == 0


async def test_client_json_nested_too_deep_answers_400(client: Client) -> None:
    body = b'{"status": "x", "extra": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"

    status, document = await client.request(
        "POST",
        "/api/v1/statuses",
        data=body,
        headers={"Content-Type": "application/json"},
    )

    assert status == 400
    assert "error" in document


async def test_client_json_not_utf8_answers_400(client: Client) -> None:
    status, document = await client.request(
        "POST",
        "/api/v1/statuses",
        data=b'{"status": "caf\xe9"}',
        headers={"Content-Type": "application/json; charset=latin-1"},
    )

    assert status == 400
    assert "error" in document


async def test_search_profile_url_finds_local_account(client: Client) -> None:
    status, body = await client.request(
        "GET", "/api/v2/search", query_string={"q": "https://school-a.test/@alice"}
    )

    assert status == 200
    assert [account["username"] for account in body["accounts"]] == ["alice"]


async def test_request_path_newline_not_logged_raw(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    forged = "2026-01-01 00:00:00,000 CRITICAL forged: a line the server never wrote"

    await client.request(
        "DELETE", f"/api/v1/statuses/1%0A{forged.replace(' ', '%20')}", auth=False
    )

    messages = [record.getMessage() for record in caplog.records]
    assert not [message for message in messages if "\n" in message]


# Inbox


def activity(kind: str, actor_id: str, obj: Any, **extra: Any) -> dict[str, Any]:
    """Build an activity with a fresh id under its actor."""
    return {
        "@context": AS_CONTEXT,
        "id": f"{actor_id}/activities/{kind.lower()}-{new_id()}",
        "type": kind,
        "actor": actor_id,
        "object": obj,
        **extra,
    }


def note(actor_id: str, content: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"{actor_id}/notes/{new_id()}",
        "type": "Note",
        "attributedTo": actor_id,
        "content": content,
        "to": [PUBLIC],
        "cc": [f"{actor_id}/followers"],
        **extra,
    }


async def queue_state(harness: InboxHarness, document: dict[str, Any]) -> str:
    row = await harness.queue_row(document["id"])
    assert row is not None, f"{document['id']} was not stored"
    return str(row["state"])


async def test_inbox_date_with_huge_year_rejected_401(harness: InboxHarness) -> None:
    rosa = harness.actor_id()
    create = activity("Create", rosa, note(rosa, "<p>hello</p>"))
    body = json.dumps(create).encode()
    headers = {
        "Content-Type": "application/activity+json",
        "Date": "Mon, 01 Jan 99999999999999999999 00:00:00 GMT",
    }
    headers |= httpsig.sign_request(
        "POST",
        "https://school-a.test/inbox",
        headers,
        body,
        harness.keys.private_key,
        harness.key_ids[rosa],
    )

    response = await harness.client.post("/inbox", data=body, headers=headers)

    assert response.status_code == 401
    assert await harness.queue_count() == 0


async def test_inbox_lone_surrogate_rejected_400(harness: InboxHarness) -> None:
    rosa = harness.actor_id()
    create = activity("Create", rosa, note(rosa, "SURROGATE"))
    body = json.dumps(create).replace("SURROGATE", "half a pair \\ud800").encode()

    response = await harness.post(body, key_id=harness.key_ids[rosa])

    assert response.status_code == 400
    assert await harness.queue_count() == 0


async def test_inbox_future_published_not_above_present(
    harness: InboxHarness,
) -> None:
    rosa = harness.actor_id()
    future = note(rosa, "<p>from the future</p>", published="2100-01-01T00:00:00Z")
    create = activity("Create", rosa, future, to=[PUBLIC])

    await harness.deliver(create)

    status = await harness.status(future["id"])
    assert status is not None
    assert status["id"] < id_floor(time.time() + 3600)


async def test_inbox_published_year_9999_still_stored(harness: InboxHarness) -> None:
    rosa = harness.actor_id()
    far = note(rosa, "<p>far future</p>", published="9999-12-31T23:59:59Z")
    create = activity("Create", rosa, far, to=[PUBLIC])

    await harness.deliver(create)

    assert await queue_state(harness, create) == "done"
    assert await harness.status(far["id"]) is not None


async def test_inbox_new_signer_with_taken_handle_accepted(
    harness: InboxHarness,
) -> None:
    # A stale copy of an earlier actor with the same handle, as after the
    # remote server was reinstalled or an account name was given out again.
    await harness.pool.execute(
        "INSERT INTO accounts (id, username, domain, actor_id)"
        " VALUES ($1, 'bob', $2, $3)",
        new_id(),
        harness.peer.host,
        harness.peer.url("/users/bob-before-reinstall"),
    )
    bob = harness.add_actor("bob")
    create = activity("Create", bob, note(bob, "<p>hello again</p>"), to=[PUBLIC])

    response = await harness.post(create)

    assert response.status_code == 202


async def test_update_person_to_taken_handle_not_retried(
    harness: InboxHarness,
) -> None:
    bob = harness.add_actor("bob")
    carol = harness.add_actor("carol")
    await harness.runtime.resolver.actor(bob)
    await harness.runtime.resolver.actor(carol)
    renamed = harness.peer.documents[bob][1] | {"preferredUsername": "carol"}
    update = activity("Update", bob, renamed)

    await harness.deliver(update)

    assert await queue_state(harness, update) in ("done", "ignored")


async def test_remote_status_javascript_url_not_served(
    harness: InboxHarness,
) -> None:
    rosa = harness.actor_id()
    hostile = note(rosa, "<p>click me</p>", url="javascript:alert(1)")
    await harness.deliver(activity("Create", rosa, hostile, to=[PUBLIC]))
    row = await harness.status(hostile["id"])
    assert row is not None
    client = create_app(harness.runtime).test_client()

    response = await client.get(f"/api/v1/statuses/{row['id']}")

    document = json.loads(await response.get_data(as_text=True))
    assert not str(document["url"]).lower().startswith("javascript:")


async def test_remote_account_javascript_url_not_served(
    harness: InboxHarness,
) -> None:
    bob = harness.add_actor("bob")
    await harness.runtime.resolver.actor(bob)
    changed = harness.peer.documents[bob][1] | {"url": "javascript:alert(1)"}
    await harness.deliver(activity("Update", bob, changed))
    account = await harness.account(bob)
    client = create_app(harness.runtime).test_client()

    response = await client.get(f"/api/v1/accounts/{account['id']}")

    document = json.loads(await response.get_data(as_text=True))
    assert not str(document["url"]).lower().startswith("javascript:")


async def test_announce_of_blocked_address_not_retried(
    harness: InboxHarness,
) -> None:
    rosa = harness.actor_id()
    # The harness runs without allow_private_addresses, so the fetch guard
    # blocks this object before any connection is made.
    announce = activity("Announce", rosa, "https://127.0.0.1:9/objects/1", to=[PUBLIC])

    await harness.deliver(announce)

    assert await queue_state(harness, announce) in ("failed", "ignored")


async def test_inbox_object_id_newline_not_logged_raw(
    harness: InboxHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rosa = harness.actor_id()
    forged = "2026-01-01 00:00:00,000 CRITICAL forged: a line the server never wrote"
    hostile = note(rosa, "<p>hello</p>")
    hostile["id"] = f"{hostile['id']}\n{forged}"

    await harness.deliver(activity("Create", rosa, hostile, to=[PUBLIC]))

    messages = [record.getMessage() for record in caplog.records]
    assert not [message for message in messages if "\n" in message]


# Delivery


async def test_delivery_rejected_401_retried(loopback_runtime, make_peer) -> None:
    # A 401 often means the receiver could not fetch our key at that moment
    # (our instance was briefly unreachable), which a later attempt cures.
    peer = await make_peer(loopback_runtime, status=401)
    teacher = await new_teacher(loopback_runtime)
    await add_remote_follower(loopback_runtime.pool, teacher, peer, "ana", shared=True)
    await post(loopback_runtime, teacher, "Hello, new colleagues")

    await DeliveryWorker(loopback_runtime).deliver_due()

    row = await loopback_runtime.pool.fetchrow(
        "SELECT state FROM deliveries WHERE inbox_url = $1", peer.url("/inbox")
    )
    assert row["state"] == "queued"


# Command line


def run_cli(
    *args: str, stdin: bytes = b"", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PEDAGOGUE_")
    }
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pedagogue.cli", *args],
        input=stdin,
        capture_output=True,
        check=False,
        timeout=120,
        env=environment,
    )


async def test_cli_username_trailing_newline_rejected(
    database: str, tmp_path: Path
) -> None:
    result = run_cli(
        "--database-url",
        database,
        "--data-dir",
        str(tmp_path),
        "user",
        "create",
        "bob\n",
        stdin=b"a long password\n",
    )

    assert result.returncode == 1
    assert b"username" in result.stderr


def test_cli_config_not_utf8_reports_error(tmp_path: Path) -> None:
    config = tmp_path / "binary.toml"
    config.write_bytes(b"\xff\xfe[instance]\n")

    result = run_cli("--config", str(config), "migrate")

    assert result.returncode == 2
    assert b"Traceback" not in result.stderr
    assert b"configuration error" in result.stderr


def test_cli_config_directory_reports_error(tmp_path: Path) -> None:
    result = run_cli("--config", str(tmp_path), "migrate")

    assert result.returncode == 2
    assert b"Traceback" not in result.stderr
    assert b"configuration error" in result.stderr


def test_cli_unknown_log_level_reports_error(tmp_path: Path) -> None:
    result = run_cli("--log-level", "LOUD", "--data-dir", str(tmp_path), "migrate")

    assert result.returncode == 2
    assert b"Traceback" not in result.stderr
    assert b"LOUD" in result.stderr


def test_cli_database_url_wrong_scheme_reports_error(tmp_path: Path) -> None:
    result = run_cli(
        "--database-url", "mysql://localhost/x", "--data-dir", str(tmp_path), "migrate"
    )

    assert result.returncode != 0
    assert b"Traceback" not in result.stderr
    assert b"mysql" in result.stderr


def test_cli_listen_port_out_of_range_reports_error(tmp_path: Path) -> None:
    result = run_cli(
        "--database-url",
        "postgresql://postgres@127.0.0.1:1/none",
        "--data-dir",
        str(tmp_path),
        "run",
        "--listen",
        "127.0.0.1:99999",
    )

    assert result.returncode == 2
    assert b"configuration error" in result.stderr


async def test_cli_password_not_utf8_reports_error(
    database: str, tmp_path: Path
) -> None:
    result = run_cli(
        "--database-url",
        database,
        "--data-dir",
        str(tmp_path),
        "user",
        "create",
        "dana",
        stdin=b"long pass\xffword\n",
    )

    assert b"Traceback" not in result.stderr
