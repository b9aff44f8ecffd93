"""Attacks on privacy and hostile-input guarantees, each against a real inbox
and database: host spellings that dodge a domain suspension, reply counts
that reveal hidden replies, unsafe URL schemes and hashtag names, unsigned
reads of a follow's Accept, local_only from clients, and a flood of Flags.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from actors.note import parse_note
from actors.person import parse_actor
from federation import httpsig
from federation.errors import FederationError
from federation.hosts import same_host, url_authority
from inbox.handlers.flag import MAX_FLAGS_PER_WINDOW
from inbox.receive import InboxReceiver
from outbox.actions import ActionError, Actions, NewStatus
from outbox.moderation import DomainBlockFields, ModerationActions
from pedagogue.accounts import create_teacher
from pedagogue.runtime import Runtime
from storage.domain_policy import domain_candidates
from tests.inbox import conftest as inbox_fixtures
from tests.inbox.conftest import LOCAL_URL, REMOTE_NAME, InboxHarness
from web.api import _visibility_param
from web.presenters import account_json

# The inbox tests' live harness: a real instance app, database and inbox
# worker, with a loopback HTTPS peer that serves the remote actors.
peer_pki = inbox_fixtures.peer_pki
peer_keys = inbox_fixtures.peer_keys
make_harness = inbox_fixtures.make_harness
harness = inbox_fixtures.harness

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
ACTIVITY_JSON = "application/activity+json"

_serial = itertools.count(1)


def activity(kind: str, actor_id: str, obj: Any, **extra: Any) -> dict[str, Any]:
    return {
        "@context": AS_CONTEXT,
        "id": f"{actor_id}/activities/{kind.lower()}-{next(_serial)}",
        "type": kind,
        "actor": actor_id,
        "object": obj,
        **extra,
    }


async def suspend(runtime: Runtime, domain: str) -> None:
    await ModerationActions(runtime).block_domain(
        None, DomainBlockFields(domain=domain, severity="suspend")
    )


# Host names: one spelling for each server


def test_domain_candidates_drop_trailing_dot() -> None:
    candidates = domain_candidates("Blocked.Test.:18879")
    assert "blocked.test:18879" in candidates
    assert "blocked.test" in candidates
    assert "test." not in candidates


def test_same_host_ignores_case_dot_and_default_port() -> None:
    assert same_host("https://peer.test./users/a", "https://PEER.test/users/b")
    assert same_host("https://peer.test:443/users/a", "https://peer.test/users/b")
    assert not same_host("https://peer.test:8443/users/a", "https://peer.test/users/b")
    assert not same_host("https://peer.test/users/a", "https://sub.peer.test/users/b")


def test_idna_host_in_ascii_form() -> None:
    assert url_authority("https://Bücher.Example./users/a") == "xn--bcher-kva.example"


@pytest.mark.parametrize(
    "url",
    [
        "http://blocked.test.:18879/users/t180",
        "https://BLOCKED.test/users/t180",
        "https://sub.blocked.test./users/t180",
    ],
)
async def test_suspension_matches_host_spellings(runtime: Runtime, url: str) -> None:
    await suspend(runtime, "blocked.test")

    assert await runtime.domain_policy.rejection(url) is not None


async def test_suspension_of_unicode_domain(runtime: Runtime) -> None:
    await suspend(runtime, "Bücher.example.")

    stored = await runtime.pool.fetchval("SELECT domain FROM domain_blocks")
    assert stored == "xn--bcher-kva.example"
    assert await runtime.domain_policy.rejection("https://bücher.example/u/a") is not None
    assert await runtime.domain_policy.rejection("https://xn--bcher-kva.example./u") is not None


def test_signer_on_same_host_spelled_with_dot_accepted() -> None:
    InboxReceiver._check_signer(
        "https://peer.test/actor", "https://peer.test/actor#key", "https://PEER.test./users/a"
    )


def test_signer_on_other_port_rejected() -> None:
    with pytest.raises(FederationError) as raised:
        InboxReceiver._check_signer(
            "https://peer.test:8443/actor", "https://peer.test:8443/actor#key",
            "https://peer.test/users/a",
        )
    assert raised.value.status == 401


def test_actor_domain_stored_without_dot() -> None:
    document = {
        "id": "https://Peer.test./users/rosa",
        "type": "Person",
        "inbox": "https://peer.test/users/rosa/inbox",
    }

    parsed = parse_actor(document, fetched_from="https://peer.test/users/rosa")

    assert parsed.domain == "peer.test"


async def test_inbox_rejects_suspended_host_with_dot(harness: InboxHarness) -> None:
    port = harness.peer.port
    await suspend(harness.runtime, REMOTE_NAME)
    for spelling in (f"{REMOTE_NAME}.", REMOTE_NAME.upper()):
        actor_id = f"https://{spelling}:{port}/users/t180"
        create = activity(
            "Create",
            actor_id,
            {
                "id": f"{actor_id}/notes/1",
                "type": "Note",
                "attributedTo": actor_id,
                "content": "<p>still here</p>",
                "to": [PUBLIC],
            },
        )

        response = await harness.post(create, key_id=f"{actor_id}#main-key")

        assert response.status_code == 403, spelling
    assert harness.peer.total_requests == 0


# Reply counts


async def test_replies_count_only_public_and_unlisted(harness: InboxHarness) -> None:
    runtime = harness.runtime
    bob = await create_teacher(runtime.pool, runtime.settings, username="bob", password=None)
    parent_id = harness.alice_note["id"]
    actions = Actions(runtime)
    for visibility in ("public", "unlisted", "private", "direct", "local"):
        await actions.post_status(
            bob,
            NewStatus(f"@alice {visibility} reply", visibility=visibility, in_reply_to_id=parent_id),
        )

    stored = await runtime.pool.fetchval(
        "SELECT replies_count FROM statuses WHERE id = $1", parent_id
    )
    response = await harness.client.get(f"/api/v1/statuses/{parent_id}")
    shown = (await response.get_json())["replies_count"]

    assert stored == 2
    assert shown == 2


async def test_deleting_hidden_reply_keeps_count(harness: InboxHarness) -> None:
    runtime = harness.runtime
    bob = await create_teacher(runtime.pool, runtime.settings, username="bob", password=None)
    parent_id = harness.alice_note["id"]
    actions = Actions(runtime)
    await actions.post_status(bob, NewStatus("open", in_reply_to_id=parent_id))
    hidden = await actions.post_status(
        bob, NewStatus("hidden", visibility="private", in_reply_to_id=parent_id)
    )
    count = "SELECT replies_count FROM statuses WHERE id = $1"
    before = await runtime.pool.fetchval(count, parent_id)

    await actions.delete_status(bob, hidden)

    after = await runtime.pool.fetchval(count, parent_id)
    assert before == 1
    assert after == 1


# URL schemes of remote objects


def test_actor_urls_other_than_http_dropped() -> None:
    document = {
        "id": "https://peer.test/groups/g",
        "type": "Group",
        "inbox": "https://peer.test/groups/g/inbox",
        "url": "javascript:alert(4)",
        "icon": {"type": "Image", "url": "javascript:alert(9)"},
        "image": {"type": "Image", "url": "data:image/png;base64,AAAA"},
    }

    parsed = parse_actor(document)

    assert parsed.url is None
    assert parsed.icon_url is None
    assert parsed.header_url is None


def test_note_url_other_than_http_dropped() -> None:
    document = {
        "id": "https://peer.test/events/1",
        "type": "Note",
        "attributedTo": "https://peer.test/users/a",
        "content": "x",
        "url": "javascript:alert(4)",
    }

    assert parse_note(document).url is None


async def test_stored_unsafe_avatar_not_presented(runtime: Runtime) -> None:
    row = await runtime.pool.fetchrow(
        "INSERT INTO accounts (id, username, domain, actor_id, inbox_url, icon_url,"
        " header_url, url) VALUES (9001, 'g', 'peer.test', 'https://peer.test/g',"
        " 'https://peer.test/g/inbox', 'javascript:alert(9)',"
        " 'data:image/png;base64,AAAA', 'javascript:alert(4)') RETURNING *"
    )

    entity = account_json(runtime, row)

    assert entity["avatar"].startswith(runtime.urls.base)
    assert entity["header"].startswith(runtime.urls.base)
    assert entity["url"] == "https://peer.test/g"


# Hashtag names


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("#x<script>alert(11)</script>", []),
        ("#" + "a" * 101, []),
        ("#·edge", []),
        ("#L·L", ["l·l"]),
        ("#Maths_7", ["maths_7"]),
    ],
)
def test_remote_hashtag_names_checked(name: str, expected: list[str]) -> None:
    document = {
        "id": "https://peer.test/notes/1",
        "type": "Note",
        "attributedTo": "https://peer.test/users/a",
        "content": "x",
        "tag": [{"type": "Hashtag", "name": name}],
    }

    assert parse_note(document).hashtags == expected


# Authorized reads of activities


async def signed_get(harness: InboxHarness, path: str, actor_id: str) -> Any:
    headers = {"Accept": ACTIVITY_JSON}
    headers |= httpsig.sign_request(
        "GET",
        f"{LOCAL_URL}{path}",
        headers,
        None,
        harness.keys.private_key,
        harness.key_ids[actor_id],
    )
    return await harness.client.get(path, headers=headers)


async def test_accept_served_only_to_signed_follower(harness: InboxHarness) -> None:
    follower = harness.actor_id()
    await harness.deliver(activity("Follow", follower, harness.alice["actor_id"]))
    accept_id = await harness.pool.fetchval(
        "SELECT id FROM activities WHERE type = 'Accept' AND account_id = $1",
        harness.alice["id"],
    )
    path = f"/activities/{accept_id}"
    stranger = harness.add_actor("stranger")

    unsigned = await harness.client.get(path, headers={"Accept": ACTIVITY_JSON})
    by_stranger = await signed_get(harness, path, stranger)
    by_follower = await signed_get(harness, path, follower)

    assert accept_id is not None
    assert unsigned.status_code == 404
    assert by_stranger.status_code == 404
    assert by_follower.status_code == 200
    assert json.loads(await by_follower.get_data(as_text=True))["type"] == "Accept"


# local_only from clients


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"visibility": "public", "local_only": True}, "local"),
        ({"visibility": "unlisted", "local_only": "true"}, "local"),
        ({"local_only": "1"}, "local"),
        ({"visibility": "public", "local_only": False}, "public"),
        ({"visibility": "public"}, "public"),
    ],
)
def test_local_only_sets_local_visibility(params: dict[str, Any], expected: str) -> None:
    assert _visibility_param(params, "public") == expected


@pytest.mark.parametrize("visibility", ["private", "direct"])
def test_local_only_with_narrow_visibility_rejected(visibility: str) -> None:
    with pytest.raises(ActionError) as raised:
        _visibility_param({"visibility": visibility, "local_only": True}, "public")
    assert raised.value.status == 422


# Flags


async def test_flags_limited_per_actor(harness: InboxHarness) -> None:
    reporter = harness.actor_id()
    flags = [
        activity(
            "Flag",
            reporter,
            [harness.alice["actor_id"], harness.alice_note["uri"]],
            content=f"report {number}",
        )
        for number in range(MAX_FLAGS_PER_WINDOW + 2)
    ]

    for flag in flags:
        await harness.deliver(flag)

    reports = await harness.pool.fetchval("SELECT count(*) FROM reports")
    last = await harness.queue_row(flags[-1]["id"])
    assert reports == MAX_FLAGS_PER_WINDOW
    assert last is not None
    assert last["state"] == "ignored"
