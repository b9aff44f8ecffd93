"""The synchronous inbox path: rejections, deduplication and key handling.

Each request goes through the real Quart app. The keys of remote actors come
from the fake peer server over HTTPS, so "nothing was fetched" is a count of
the requests that server saw.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest

from federation import httpsig
from federation.fetch import ACTIVITY_JSON, LD_JSON
from tests.inbox.conftest import InboxHarness, MakeHarness

INBOX_LOGGER = "web.activitypub"


async def error_of(response: Any) -> str:
    document = json.loads(await response.get_data(as_text=True))
    return str(document["error"])


def rejection_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == INBOX_LOGGER
        and record.getMessage().startswith("inbox rejected")
    ]


async def assert_nothing_stored(harness: InboxHarness) -> None:
    assert await harness.queue_count() == 0


# Bad input


async def test_inbox_malformed_json_rejected(harness: InboxHarness) -> None:
    body = b'{"id": "https://remote.test/1", "type": "Follow",'

    response = await harness.post(body, key_id=harness.key_ids[harness.actor_id()])

    assert response.status_code == 400
    assert await error_of(response) == "body is not valid JSON"
    await assert_nothing_stored(harness)


async def test_inbox_json_array_rejected(harness: InboxHarness) -> None:
    response = await harness.post(b"[]", key_id=harness.key_ids[harness.actor_id()])

    assert response.status_code == 400
    assert await error_of(response) == "activity must be a JSON object"
    await assert_nothing_stored(harness)


async def test_inbox_deeply_nested_json_rejected(harness: InboxHarness) -> None:
    body = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"

    response = await harness.post(body, key_id=harness.key_ids[harness.actor_id()])

    assert response.status_code == 400
    assert "nested deeper" in await error_of(response)
    await assert_nothing_stored(harness)


def nested_arrays(levels: int) -> Any:
    value: Any = "innermost"
    for _ in range(levels):
        value = [value]
    return value


def nested_alternating(levels: int) -> Any:
    # Arrays and objects in turn, the innermost being an array.
    value: Any = "innermost"
    for level in range(levels):
        value = {"next": value} if level % 2 else [value]
    return value


async def test_inbox_nesting_at_limit_accepted(harness: InboxHarness) -> None:
    # The activity object is the first level, so 31 more fill the limit of 32.
    follow = harness.fixture("follow")
    follow["nested"] = nested_arrays(31)

    response = await harness.post(follow)

    assert response.status_code == 202


async def test_inbox_nesting_one_past_limit_rejected(harness: InboxHarness) -> None:
    follow = harness.fixture("follow")
    follow["nested"] = nested_arrays(32)

    response = await harness.post(follow)

    assert response.status_code == 400
    assert await error_of(response) == "JSON nested deeper than 32 levels"
    await assert_nothing_stored(harness)


async def test_inbox_alternating_nesting_past_limit_rejected(
    harness: InboxHarness,
) -> None:
    follow = harness.fixture("follow")
    follow["nested"] = nested_alternating(32)

    response = await harness.post(follow)

    assert response.status_code == 400
    assert await error_of(response) == "JSON nested deeper than 32 levels"
    await assert_nothing_stored(harness)


async def test_inbox_brackets_inside_strings_accepted(harness: InboxHarness) -> None:
    # Brackets, escaped quotes and escaped backslashes in strings are text,
    # not nesting, and a string ending in a backslash must not hide its quote.
    follow = harness.fixture("follow")
    follow["summary"] = '[{"[' * 40 + '\\"}' * 5 + "\\"
    follow["tags"] = ["[[[[[[[[[[" * 4, "\\", "{{{{{{{{{{" * 4, '\\"[']

    response = await harness.post(follow)

    assert response.status_code == 202


async def test_inbox_nul_character_rejected(harness: InboxHarness) -> None:
    follow = harness.fixture("follow")
    follow["summary"] = "before\u0000after"

    response = await harness.post(follow)

    assert response.status_code == 400
    assert await error_of(response) == "JSON contains a NUL character"
    await assert_nothing_stored(harness)


async def test_inbox_escaped_backslash_u0000_accepted(harness: InboxHarness) -> None:
    # The text \u0000 written with an escaped backslash is no NUL character.
    follow = harness.fixture("follow")
    follow["summary"] = 'printf("\\u0000")'

    response = await harness.post(follow)

    assert response.status_code == 202


async def test_inbox_missing_id_rejected(harness: InboxHarness) -> None:
    follow = harness.fixture("follow")
    del follow["id"]

    response = await harness.post(follow)

    assert response.status_code == 400
    assert await error_of(response) == "activity id missing or not an http(s) URL"
    await assert_nothing_stored(harness)


async def test_inbox_id_actor_host_mismatch_rejected(
    harness: InboxHarness,
) -> None:
    follow = harness.fixture("follow")
    follow["id"] = harness.peer.url("/follows/1", other=True)

    response = await harness.post(follow)

    assert response.status_code == 400
    assert await error_of(response) == "activity id and actor are on different hosts"
    await assert_nothing_stored(harness)


async def test_inbox_missing_signature_rejected(harness: InboxHarness) -> None:
    response = await harness.post(harness.fixture("follow"), signed=False)

    assert response.status_code == 401
    assert await error_of(response) == "Signature header missing"
    await assert_nothing_stored(harness)
    assert harness.peer.total_requests == 0


async def test_inbox_bad_signature_rejected(harness: InboxHarness) -> None:
    follow = harness.fixture("follow")

    response = await harness.post(follow, private_key=harness.keys.spare_private_key)

    assert response.status_code == 401
    assert await error_of(response) == httpsig.VERIFICATION_FAILED
    await assert_nothing_stored(harness)


async def test_inbox_bad_signature_fetches_key_once(harness: InboxHarness) -> None:
    # A key fetched for this request is as fresh as it gets: no second fetch.
    follow = harness.fixture("follow")

    await harness.post(follow, private_key=harness.keys.spare_private_key)

    assert harness.peer.requests_to(follow["actor"]) == 1


async def test_inbox_body_over_limit_rejected(make_harness: MakeHarness) -> None:
    harness = await make_harness(
        "mastodon", settings={"server": {"max_body_bytes": 4096}}
    )
    create = harness.fixture("create_note")
    create["object"]["content"] = "<p>" + "x" * 5000 + "</p>"

    response = await harness.post(create)

    assert response.status_code == 413
    assert await error_of(response) == "request body is over the limit of 4096 bytes"
    await assert_nothing_stored(harness)
    assert harness.peer.total_requests == 0


async def test_inbox_body_under_limit_accepted(make_harness: MakeHarness) -> None:
    harness = await make_harness(
        "mastodon", settings={"server": {"max_body_bytes": 4096}}
    )

    response = await harness.post(harness.fixture("follow"))

    assert response.status_code == 202


async def test_inbox_signer_on_other_host_rejected(harness: InboxHarness) -> None:
    # A real actor on another host signs an activity in rosa's name.
    other_actor = harness.fixture("actor")
    other_actor["id"] = harness.peer.url("/users/mallory", other=True)
    other_actor["inbox"] = harness.peer.url("/users/mallory/inbox", other=True)
    other_actor["preferredUsername"] = "mallory"
    other_actor["publicKey"] = {
        "id": f"{other_actor['id']}#main-key",
        "owner": other_actor["id"],
        "publicKeyPem": harness.keys.spare_public_pem,
    }
    harness.peer.serve(other_actor["id"], other_actor)
    follow = harness.fixture("follow")

    response = await harness.post(
        follow,
        key_id=other_actor["publicKey"]["id"],
        private_key=harness.keys.spare_private_key,
    )

    assert response.status_code == 401
    assert await error_of(response) == "signer is not the activity's actor"
    await assert_nothing_stored(harness)


async def test_inbox_signer_on_actor_host_accepted(harness: InboxHarness) -> None:
    # A server actor may relay for its users (the signer check allows its host).
    relay = harness.fixture("actor")
    relay["id"] = harness.peer.url("/actor")
    relay["inbox"] = harness.peer.url("/actor/inbox")
    relay["type"] = "Application"
    relay["preferredUsername"] = "relay"
    relay["publicKey"] = {
        "id": f"{relay['id']}#main-key",
        "owner": relay["id"],
        "publicKeyPem": harness.keys.spare_public_pem,
    }
    harness.peer.serve(relay["id"], relay)

    response = await harness.post(
        harness.fixture("follow"),
        key_id=relay["publicKey"]["id"],
        private_key=harness.keys.spare_private_key,
    )

    assert response.status_code == 202


async def test_inbox_stale_date_rejected(harness: InboxHarness) -> None:
    response = await harness.post(harness.fixture("follow"), now=time.time() - 7200)

    assert response.status_code == 401
    assert await error_of(response) == "Date outside the accepted window"
    await assert_nothing_stored(harness)


async def test_inbox_stale_created_rfc9421_rejected(harness: InboxHarness) -> None:
    response = await harness.post(
        harness.fixture("follow"), scheme=httpsig.RFC9421, now=time.time() - 7200
    )

    assert response.status_code == 401
    assert "outside the accepted window" in await error_of(response)
    await assert_nothing_stored(harness)


@pytest.mark.parametrize(
    ("scheme", "message"),
    [
        (httpsig.CAVAGE, "Digest header does not match the body"),
        (httpsig.RFC9421, "Content-Digest header does not match the body"),
    ],
)
async def test_inbox_digest_mismatch_rejected(
    harness: InboxHarness, scheme: str, message: str
) -> None:
    follow = harness.fixture("follow")
    signed = json.dumps({**follow, "object": harness.peer.url("/users/other")}).encode()

    response = await harness.post(follow, scheme=scheme, signed_body=signed)

    assert response.status_code == 401
    assert await error_of(response) == message
    await assert_nothing_stored(harness)


async def test_inbox_local_key_id_never_fetched(harness: InboxHarness) -> None:
    # A signature naming alice's key, made without it, must not send the
    # instance fetching its own URLs to "refresh" the key.
    follow = harness.fixture("follow")
    follow["actor"] = harness.alice["actor_id"]
    follow["id"] = f"{harness.alice['actor_id']}#follows/1"

    response = await harness.post(
        follow, key_id=f"{harness.alice['actor_id']}#main-key"
    )

    assert response.status_code == 401
    await assert_nothing_stored(harness)
    assert harness.peer.total_requests == 0


async def test_inbox_unreachable_key_rejected(harness: InboxHarness) -> None:
    follow = harness.fixture("follow")
    harness.peer.gone(follow["actor"])

    response = await harness.post(follow)

    assert response.status_code == 401
    assert (await error_of(response)).startswith("could not fetch key")
    await assert_nothing_stored(harness)


# Logging of rejections


@pytest.mark.parametrize(
    "case", ["bad_json", "unsigned", "bad_signature", "stale_date", "too_large"]
)
async def test_inbox_rejection_logged_with_ids(
    make_harness: MakeHarness, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    harness = await make_harness(
        "misskey", settings={"server": {"max_body_bytes": 4096}}
    )
    # Misskey puts the object's id before the activity's own id.
    accept = harness.fixture("accept")
    key_id = harness.key_ids[accept["actor"]]
    caplog.set_level(logging.WARNING, logger=INBOX_LOGGER)

    if case == "bad_json":
        response = await harness.post(b"{not json", key_id=key_id)
    elif case == "unsigned":
        response = await harness.post(accept, signed=False)
    elif case == "bad_signature":
        response = await harness.post(
            accept, private_key=harness.keys.spare_private_key
        )
    elif case == "stale_date":
        response = await harness.post(accept, now=time.time() - 7200)
    else:
        response = await harness.post({**accept, "padding": "x" * 5000})
    reason = await error_of(response)

    lines = rejection_lines(caplog)
    assert len(lines) == 1
    line = lines[0]
    assert reason in line
    if case != "unsigned":
        assert f"(key {key_id})" in line
    if case in ("unsigned", "bad_signature", "stale_date"):
        assert line.startswith(f"inbox rejected {accept['id']} ")


async def test_inbox_rejection_log_escapes_newlines(
    harness: InboxHarness, caplog: pytest.LogCaptureFixture
) -> None:
    follow = harness.fixture("follow")
    follow["id"] += "\nFAKE LOG LINE"
    caplog.set_level(logging.WARNING, logger=INBOX_LOGGER)

    await harness.post(follow, signed=False)

    lines = rejection_lines(caplog)
    assert len(lines) == 1
    assert "\n" not in lines[0]


# Acceptance


@pytest.mark.parametrize("content_type", [ACTIVITY_JSON, LD_JSON])
async def test_inbox_accepts_both_activity_content_types(
    harness: InboxHarness, content_type: str
) -> None:
    response = await harness.post(harness.fixture("follow"), content_type=content_type)

    assert response.status_code == 202


async def test_inbox_answers_before_processing(harness: InboxHarness) -> None:
    follow = harness.fixture("follow")

    response = await harness.post(follow)

    assert response.status_code == 202
    assert await response.get_data() == b""
    row = await harness.queue_row(follow["id"])
    assert row is not None
    assert row["state"] == "queued"
    follows = await harness.pool.fetchval("SELECT count(*) FROM follows")
    assert follows == 0


async def test_inbox_personal_inbox_records_recipient(harness: InboxHarness) -> None:
    follow = harness.fixture("follow")

    response = await harness.post(follow, path="/users/alice/inbox")

    assert response.status_code == 202
    row = await harness.queue_row(follow["id"])
    assert row is not None
    assert row["recipient"] == harness.alice["actor_id"]
    assert await harness.process() == 1
    assert (await harness.queue_row(follow["id"]))["state"] == "done"


async def test_inbox_personal_inbox_rfc9421(harness: InboxHarness) -> None:
    response = await harness.post(
        harness.fixture("like"), path="/users/alice/inbox", scheme=httpsig.RFC9421
    )

    assert response.status_code == 202


async def test_inbox_shared_inbox_has_no_recipient(harness: InboxHarness) -> None:
    follow = harness.fixture("follow")

    await harness.post(follow)

    row = await harness.queue_row(follow["id"])
    assert row is not None
    assert row["recipient"] is None


async def test_inbox_unknown_user_not_found(harness: InboxHarness) -> None:
    response = await harness.post(harness.fixture("follow"), path="/users/nobody/inbox")

    assert response.status_code == 404
    assert await error_of(response) == "no account nobody on this instance"
    await assert_nothing_stored(harness)
    assert harness.peer.total_requests == 0


async def test_inbox_duplicate_delivery_stored_once(harness: InboxHarness) -> None:
    follow = harness.fixture("follow")

    first = await harness.post(follow)
    second = await harness.post(follow, path="/users/alice/inbox")

    assert first.status_code == 202
    assert second.status_code == 202
    assert await harness.queue_count() == 1


async def test_inbox_processed_duplicate_changes_nothing(
    harness: InboxHarness,
) -> None:
    follow = harness.fixture("follow")
    await harness.deliver(follow)

    await harness.deliver(follow)

    assert await harness.queue_count() == 1
    assert await harness.pool.fetchval("SELECT count(*) FROM follows") == 1
    assert await harness.pool.fetchval("SELECT count(*) FROM notifications") == 1
    accepts = await harness.pool.fetchval(
        "SELECT count(*) FROM activities WHERE type = 'Accept'"
    )
    assert accepts == 1


async def test_inbox_unknown_type_recorded_ignored(
    harness: InboxHarness, caplog: pytest.LogCaptureFixture
) -> None:
    reaction = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": harness.peer.url("/users/rosa#reactions/1"),
        "type": "EmojiReact",
        "actor": harness.actor_id(),
        "object": harness.alice_note["uri"],
        "content": "🍎",
    }
    caplog.set_level(logging.DEBUG, logger="inbox.worker")

    response = await harness.post(reaction)
    await harness.process()

    assert response.status_code == 202
    row = await harness.queue_row(reaction["id"])
    assert row is not None
    assert row["state"] == "ignored"
    assert row["last_error"] == "type EmojiReact is not handled"
    levels = {
        record.levelno
        for record in caplog.records
        if record.name == "inbox.worker" and reaction["id"] in record.getMessage()
    }
    assert levels == {logging.DEBUG}


async def test_inbox_delete_of_unknown_actor_fetches_nothing(
    harness: InboxHarness,
) -> None:
    actor_id = harness.actor_id()
    delete = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{actor_id}#delete",
        "type": "Delete",
        "actor": actor_id,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": actor_id,
    }
    harness.peer.gone(actor_id)

    response = await harness.post(delete)

    assert response.status_code == 202
    assert harness.peer.total_requests == 0
    await assert_nothing_stored(harness)
    assert await harness.account(actor_id) is None


async def test_inbox_delete_of_known_actor_processed(harness: InboxHarness) -> None:
    create = harness.fixture("create_note")
    await harness.deliver(create)
    actor_id = harness.actor_id()
    delete = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{actor_id}#delete",
        "type": "Delete",
        "actor": actor_id,
        "object": actor_id,
    }

    await harness.deliver(delete)

    account = await harness.account(actor_id)
    assert account is not None
    assert account["deleted_at"] is not None
    status = await harness.status(create["object"]["id"])
    assert status is not None
    assert status["deleted_at"] is not None


# Key rotation


async def test_inbox_rotated_key_refetched_once(harness: InboxHarness) -> None:
    actor = harness.fixture("actor")
    await harness.deliver("follow")
    fetches_before = harness.peer.requests_to(actor["id"])
    # The peer rotates rosa's key; its actor document now has the spare key.
    actor["publicKey"]["publicKeyPem"] = harness.keys.spare_public_pem
    harness.peer.serve(actor["id"], actor)

    response = await harness.post(
        harness.fixture("like"), private_key=harness.keys.spare_private_key
    )

    assert response.status_code == 202
    assert harness.peer.requests_to(actor["id"]) == fetches_before + 1
    assert await harness.queue_count() == 2


async def test_inbox_refetch_limited_per_key(harness: InboxHarness) -> None:
    actor = harness.fixture("actor")
    await harness.deliver("follow")
    fetches_before = harness.peer.requests_to(actor["id"])

    statuses = []
    for _ in range(3):
        response = await harness.post(
            harness.fixture("like"), private_key=harness.keys.spare_private_key
        )
        statuses.append(response.status_code)

    assert statuses == [401, 401, 401]
    assert harness.peer.requests_to(actor["id"]) == fetches_before + 1


async def test_inbox_old_key_rejected_after_rotation(harness: InboxHarness) -> None:
    actor = harness.fixture("actor")
    await harness.deliver("follow")
    actor["publicKey"]["publicKeyPem"] = harness.keys.spare_public_pem
    harness.peer.serve(actor["id"], actor)
    await harness.post(
        harness.fixture("like"), private_key=harness.keys.spare_private_key
    )

    response = await harness.post(harness.fixture("undo_like"))

    assert response.status_code == 401


async def test_inbox_known_key_not_fetched_again(harness: InboxHarness) -> None:
    actor_id = harness.actor_id()
    await harness.post(harness.fixture("follow"))

    response = await harness.post(harness.fixture("like"))

    assert response.status_code == 202
    assert harness.peer.requests_to(actor_id) == 1


async def test_inbox_instance_actor_inbox_accepts(harness: InboxHarness) -> None:
    follow = harness.fixture("follow")

    response = await harness.post(follow, path="/actor/inbox")

    assert response.status_code == 202
    row = await harness.queue_row(follow["id"])
    assert row is not None
    assert row["recipient"] == harness.runtime.urls.instance_actor
