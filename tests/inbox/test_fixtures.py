"""Every peer-server fixture through the real inbox path, then what was stored.

Each test delivers the payloads of one flow as the named server sends them,
signed with the fixture actor's key and with that server's Content-Type, runs
the inbox worker, and reads the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from federation import httpsig
from federation.sanitize import sanitize_html
from tests.fixtures.loader import SERVERS
from tests.inbox.conftest import InboxHarness, MakeHarness

# Servers whose Announce and Like target alice's note; Lemmy and PeerTube
# announce and like their own posts and videos.
ALICE_NOTE_SERVERS = ("mastodon", "akkoma", "misskey", "gotosocial")


@dataclass(frozen=True)
class CreatedNote:
    """What a server's create_note fixture should leave in the database."""

    phrase: str
    spoiler_text: str
    hashtags: frozenset[str]
    attachment_types: tuple[str, ...]
    mentions_alice: bool


CREATED = {
    "mastodon": CreatedNote(
        "exit-ticket idea worked",
        "Assessment talk, long post",
        frozenset({"formativeassessment"}),
        ("image/jpeg",),
        True,
    ),
    "akkoma": CreatedNote(
        "experimentei os cartões de saída",
        "avaliação, texto longo",
        frozenset({"avaliacaoformativa"}),
        ("image/png",),
        True,
    ),
    "misskey": CreatedNote(
        "Year 10 computing lesson",
        "Lesson notes (long)",
        frozenset({"peerobservation"}),
        ("image/webp",),
        True,
    ),
    "gotosocial": CreatedNote(
        "turned your exit tickets into picture cards",
        "classroom photo, no faces",
        frozenset({"earlyreading"}),
        ("image/jpeg",),
        True,
    ),
    "lemmy": CreatedNote("has a neat version of this", "", frozenset(), (), True),
    "peertube": CreatedNote(
        "Magnesium ribbon burning in air",
        "",
        frozenset({"chemistry", "demonstrations"}),
        (),
        False,
    ),
}


async def assert_processed(harness: InboxHarness, activity: dict[str, Any]) -> None:
    row = await harness.queue_row(activity["id"])
    assert row is not None
    assert row["last_error"] is None
    assert row["state"] == "done"


async def notification_types(harness: InboxHarness, sender_id: str) -> set[str]:
    rows = await harness.pool.fetch(
        "SELECT n.type FROM notifications n JOIN accounts a ON a.id = n.from_account_id"
        " WHERE n.account_id = $1 AND a.actor_id = $2",
        harness.alice["id"],
        sender_id,
    )
    return {row["type"] for row in rows}


async def follow_row(harness: InboxHarness, follower_id: str, target_id: str) -> Any:
    return await harness.pool.fetchrow(
        "SELECT f.* FROM follows f JOIN accounts a ON a.id = f.account_id"
        " JOIN accounts t ON t.id = f.target_account_id"
        " WHERE a.actor_id = $1 AND t.actor_id = $2",
        follower_id,
        target_id,
    )


async def favourite_row(harness: InboxHarness, actor_id: str) -> Any:
    return await harness.pool.fetchrow(
        "SELECT f.* FROM favourites f JOIN accounts a ON a.id = f.account_id"
        " WHERE a.actor_id = $1 AND f.status_id = $2",
        actor_id,
        harness.alice_note["id"],
    )


# Follow


@pytest.mark.parametrize("scheme", [httpsig.CAVAGE, httpsig.RFC9421])
@pytest.mark.parametrize("server", SERVERS)
async def test_follow_stored_as_accepted(
    make_harness: MakeHarness, server: str, scheme: str
) -> None:
    harness = await make_harness(server)
    follow = harness.fixture("follow")

    await harness.deliver(follow, scheme=scheme)

    await assert_processed(harness, follow)
    row = await follow_row(harness, follow["actor"], harness.alice["actor_id"])
    assert row is not None
    assert row["accepted"] is True
    assert row["uri"] == follow["id"]
    assert "follow" in await notification_types(harness, follow["actor"])


@pytest.mark.parametrize("server", SERVERS)
async def test_follow_queues_accept_to_remote_inbox(
    make_harness: MakeHarness, server: str
) -> None:
    harness = await make_harness(server)
    follow = harness.fixture("follow")

    await harness.deliver(follow)

    rows = await harness.pool.fetch(
        "SELECT d.inbox_url, a.body FROM deliveries d"
        " JOIN activities a ON a.id = d.activity_id WHERE a.type = 'Accept'"
    )
    assert len(rows) == 1
    assert rows[0]["inbox_url"] == harness.fixture("actor")["inbox"]
    accept = rows[0]["body"]
    assert accept["actor"] == harness.alice["actor_id"]
    assert accept["object"]["id"] == follow["id"]
    assert accept["object"]["actor"] == follow["actor"]


# Accept


@pytest.mark.parametrize("server", SERVERS)
async def test_accept_marks_alice_follow_accepted(
    make_harness: MakeHarness, server: str
) -> None:
    harness = await make_harness(server)
    remote_id = harness.actor_id()
    follow = await harness.follow_remote(remote_id)
    assert follow["accepted"] is False
    accept = harness.fixture("accept")

    await harness.deliver(accept)

    await assert_processed(harness, accept)
    row = await follow_row(harness, harness.alice["actor_id"], remote_id)
    assert row is not None
    assert row["accepted"] is True


# Create


@pytest.mark.parametrize("scheme", [httpsig.CAVAGE, httpsig.RFC9421])
@pytest.mark.parametrize("server", SERVERS)
async def test_create_note_stores_sanitised_status(
    make_harness: MakeHarness, server: str, scheme: str
) -> None:
    harness = await make_harness(server)
    create = harness.fixture("create_note")
    expected = CREATED[server]

    await harness.deliver(create, scheme=scheme)

    await assert_processed(harness, create)
    status = await harness.status(create["object"]["id"])
    assert status is not None
    assert expected.phrase in status["content"]
    assert status["content"] == sanitize_html(status["content"])
    for leftover in ("<img", "data-", "translate=", "<script"):
        assert leftover not in status["content"]
    assert status["spoiler_text"] == expected.spoiler_text
    assert status["visibility"] == "public"
    assert status["activity_uri"] == create["id"]
    author = await harness.account(create["actor"])
    assert author is not None
    assert status["account_id"] == author["id"]


@pytest.mark.parametrize("server", SERVERS)
async def test_create_note_stores_hashtags(
    make_harness: MakeHarness, server: str
) -> None:
    harness = await make_harness(server)
    create = harness.fixture("create_note")

    await harness.deliver(create)

    status = await harness.status(create["object"]["id"])
    assert status is not None
    rows = await harness.pool.fetch(
        "SELECT name FROM status_tags WHERE status_id = $1", status["id"]
    )
    assert {row["name"] for row in rows} == CREATED[server].hashtags


@pytest.mark.parametrize("server", SERVERS)
async def test_create_note_stores_attachments(
    make_harness: MakeHarness, server: str
) -> None:
    harness = await make_harness(server)
    create = harness.fixture("create_note")

    await harness.deliver(create)

    status = await harness.status(create["object"]["id"])
    assert status is not None
    rows = await harness.pool.fetch(
        "SELECT * FROM media_attachments WHERE status_id = $1 ORDER BY position",
        status["id"],
    )
    assert tuple(row["mime_type"] for row in rows) == CREATED[server].attachment_types
    for row, sent in zip(
        rows, as_list(create["object"].get("attachment")), strict=True
    ):
        assert row["remote_url"] == sent["url"]
        assert row["media_type"] == "image"
        assert row["description"]


@pytest.mark.parametrize("server", SERVERS)
async def test_create_note_mentions_notify_alice(
    make_harness: MakeHarness, server: str
) -> None:
    harness = await make_harness(server)
    create = harness.fixture("create_note")
    expected = CREATED[server].mentions_alice

    await harness.deliver(create)

    status = await harness.status(create["object"]["id"])
    assert status is not None
    mentioned = await harness.pool.fetchval(
        "SELECT count(*) FROM mentions WHERE status_id = $1 AND account_id = $2",
        status["id"],
        harness.alice["id"],
    )
    assert mentioned == (1 if expected else 0)
    assert ("mention" in await notification_types(harness, create["actor"])) is expected


# Reply


@pytest.mark.parametrize("server", SERVERS)
async def test_reply_links_to_alice_note(
    make_harness: MakeHarness, server: str
) -> None:
    harness = await make_harness(server)
    reply = harness.fixture("reply")

    await harness.deliver(reply)

    await assert_processed(harness, reply)
    status = await harness.status(reply["object"]["id"])
    assert status is not None
    assert status["in_reply_to_id"] == harness.alice_note["id"]
    assert status["in_reply_to_account_id"] == harness.alice["id"]
    note = await harness.refresh_note()
    assert note["replies_count"] == 1
    assert "mention" in await notification_types(harness, reply["actor"])


# Announce


@pytest.mark.parametrize("server", ALICE_NOTE_SERVERS)
async def test_announce_of_alice_note_stored_as_reblog(
    make_harness: MakeHarness, server: str
) -> None:
    harness = await make_harness(server)
    announce = harness.fixture("announce")

    await harness.deliver(announce)

    await assert_processed(harness, announce)
    reblog = await harness.status(announce["id"])
    assert reblog is not None
    assert reblog["reblog_of_id"] == harness.alice_note["id"]
    assert (await harness.refresh_note())["reblogs_count"] == 1
    assert "reblog" in await notification_types(harness, announce["actor"])


@pytest.mark.parametrize("server", ["lemmy", "peertube"])
async def test_announce_of_remote_object_fetches_origin(
    make_harness: MakeHarness, server: str
) -> None:
    harness = await make_harness(server)
    announce = harness.fixture("announce")
    object_id = first_id(announce["object"])

    await harness.deliver(announce)

    await assert_processed(harness, announce)
    assert harness.peer.requests_to(object_id) == 1
    original = await harness.status(object_id)
    assert original is not None
    reblog = await harness.status(announce["id"])
    assert reblog is not None
    assert reblog["reblog_of_id"] == original["id"]
    announcer = await harness.account(announce["actor"])
    assert announcer is not None
    assert reblog["account_id"] == announcer["id"]


# Like


@pytest.mark.parametrize("server", ALICE_NOTE_SERVERS + ("lemmy",))
async def test_like_stored_as_favourite(make_harness: MakeHarness, server: str) -> None:
    harness = await make_harness(server)
    like = harness.fixture("like")

    await harness.deliver(like)

    await assert_processed(harness, like)
    favourite = await favourite_row(harness, like["actor"])
    assert favourite is not None
    assert favourite["uri"] == like["id"]
    assert (await harness.refresh_note())["favourites_count"] == 1
    assert "favourite" in await notification_types(harness, like["actor"])


async def test_peertube_like_of_own_video_ignored(make_harness: MakeHarness) -> None:
    harness = await make_harness("peertube")
    like = harness.fixture("like")

    await harness.deliver(like)

    row = await harness.queue_row(like["id"])
    assert row is not None
    assert row["state"] == "ignored"
    assert await harness.pool.fetchval("SELECT count(*) FROM favourites") == 0


# Delete


@pytest.mark.parametrize("server", SERVERS)
async def test_delete_leaves_tombstone(make_harness: MakeHarness, server: str) -> None:
    harness = await make_harness(server)
    await harness.deliver("create_note")
    delete = harness.fixture("delete")
    object_id = first_id(delete["object"])
    before = await harness.status(object_id)
    assert before is not None
    assert before["deleted_at"] is None

    await harness.deliver(delete)

    await assert_processed(harness, delete)
    status = await harness.status(object_id)
    assert status is not None
    assert status["deleted_at"] is not None
    assert status["content"] == ""
    assert status["spoiler_text"] == ""
    attachments = await harness.pool.fetchval(
        "SELECT count(*) FROM media_attachments WHERE status_id = $1", status["id"]
    )
    assert attachments == 0


# Undo


@pytest.mark.parametrize("server", SERVERS)
async def test_undo_follow_removes_follow(
    make_harness: MakeHarness, server: str
) -> None:
    harness = await make_harness(server)
    follow = harness.fixture("follow")
    await harness.deliver(follow)
    assert await follow_row(harness, follow["actor"], harness.alice["actor_id"])
    undo = harness.fixture("undo_follow")

    await harness.deliver(undo)

    await assert_processed(harness, undo)
    assert await follow_row(harness, follow["actor"], harness.alice["actor_id"]) is None
    assert "follow" not in await notification_types(harness, follow["actor"])


@pytest.mark.parametrize("server", ALICE_NOTE_SERVERS + ("lemmy",))
async def test_undo_like_removes_favourite(
    make_harness: MakeHarness, server: str
) -> None:
    harness = await make_harness(server)
    like = harness.fixture("like")
    await harness.deliver(like)
    assert await favourite_row(harness, like["actor"]) is not None
    undo = harness.fixture("undo_like")

    await harness.deliver(undo)

    await assert_processed(harness, undo)
    assert await favourite_row(harness, like["actor"]) is None
    assert (await harness.refresh_note())["favourites_count"] == 0
    assert "favourite" not in await notification_types(harness, like["actor"])


async def test_peertube_undo_like_of_own_video_ignored(
    make_harness: MakeHarness,
) -> None:
    harness = await make_harness("peertube")
    await harness.deliver("like")
    undo = harness.fixture("undo_like")

    await harness.deliver(undo)

    row = await harness.queue_row(undo["id"])
    assert row is not None
    assert row["state"] == "ignored"


@pytest.mark.parametrize("server", ALICE_NOTE_SERVERS + ("peertube",))
async def test_undo_announce_removes_reblog(
    make_harness: MakeHarness, server: str
) -> None:
    harness = await make_harness(server)
    announce = harness.fixture("announce")
    await harness.deliver(announce)
    original_id = first_id(announce["object"])
    undo = harness.fixture("undo_announce")

    await harness.deliver(undo)

    await assert_processed(harness, undo)
    reblog = await harness.status(announce["id"])
    assert reblog is not None
    assert reblog["deleted_at"] is not None
    original = await harness.status(original_id)
    assert original is not None
    assert original["reblogs_count"] == 0
    assert "reblog" not in await notification_types(harness, announce["actor"])


async def test_lemmy_announced_undo_like_removes_favourite(
    make_harness: MakeHarness,
) -> None:
    # Lemmy's community forwards its members' activities wrapped in an
    # Announce (FEP-1b12), here an Undo of a Like of alice's note.
    harness = await make_harness("lemmy")
    like = harness.fixture("like")
    await harness.deliver(like)
    announce = harness.fixture("undo_announce")

    await harness.deliver(announce)

    await assert_processed(harness, announce)
    assert await favourite_row(harness, like["actor"]) is None
    assert (await harness.refresh_note())["favourites_count"] == 0


# Update


@pytest.mark.parametrize("server", SERVERS)
async def test_update_actor_changes_profile(
    make_harness: MakeHarness, server: str
) -> None:
    harness = await make_harness(server)
    update = harness.fixture("update_actor")
    updated = update["object"]
    before = await harness.runtime.resolver.actor(updated["id"])
    assert before["summary"] != sanitize_html(updated["summary"])
    # The origin now serves the new profile, as it would after the change.
    harness.peer.serve(updated["id"], {"@context": update["@context"], **updated})

    await harness.deliver(update)

    await assert_processed(harness, update)
    after = await harness.account(updated["id"])
    assert after is not None
    assert after["display_name"] == updated["name"]
    assert after["summary"] == sanitize_html(updated["summary"])


# Shapes


async def test_akkoma_accept_with_referenced_follow(make_harness: MakeHarness) -> None:
    harness = await make_harness("akkoma")
    await harness.follow_remote()
    accept = harness.fixture("accept")
    assert isinstance(accept["object"], str)

    await harness.deliver(accept)

    row = await follow_row(harness, harness.alice["actor_id"], harness.actor_id())
    assert row["accepted"] is True


async def test_gotosocial_content_type_ld_json_accepted(
    make_harness: MakeHarness,
) -> None:
    harness = await make_harness("gotosocial")
    assert harness.content_type.startswith("application/ld+json; profile=")

    response = await harness.post(harness.fixture("follow"))

    assert response.status_code == 202


async def test_gotosocial_key_stub_resolves_full_actor(
    make_harness: MakeHarness,
) -> None:
    harness = await make_harness("gotosocial")
    follow = harness.fixture("follow")
    key_id = harness.key_ids[follow["actor"]]

    await harness.deliver(follow)

    assert harness.peer.requests_to(key_id) == 1
    assert harness.peer.requests_to(follow["actor"]) == 1
    account = await harness.account(follow["actor"])
    assert account is not None
    assert account["inbox_url"] == harness.fixture("actor")["inbox"]


async def test_peertube_attributed_to_array_names_person(
    make_harness: MakeHarness,
) -> None:
    harness = await make_harness("peertube")
    create = harness.fixture("create_note")
    assert isinstance(create["object"]["attributedTo"], list)

    await harness.deliver(create)

    status = await harness.status(create["object"]["id"])
    author = await harness.account(harness.actor_id())
    assert status["account_id"] == author["id"]


async def test_peertube_reply_attributed_to_object(make_harness: MakeHarness) -> None:
    harness = await make_harness("peertube")
    reply = harness.fixture("reply")
    assert isinstance(reply["object"]["attributedTo"], dict)

    await harness.deliver(reply)

    status = await harness.status(reply["object"]["id"])
    author = await harness.account(harness.actor_id())
    assert status["account_id"] == author["id"]


async def test_misskey_reply_with_embedded_parent(make_harness: MakeHarness) -> None:
    harness = await make_harness("misskey")
    reply = harness.fixture("reply")
    assert isinstance(reply["object"]["inReplyTo"], dict)

    await harness.deliver(reply)

    status = await harness.status(reply["object"]["id"])
    assert status["in_reply_to_id"] == harness.alice_note["id"]
    # The embedded copy of alice's note must not overwrite the real one.
    assert (await harness.refresh_note())["content"] == harness.alice_note["content"]


async def test_akkoma_reply_with_content_map_only(make_harness: MakeHarness) -> None:
    harness = await make_harness("akkoma")
    reply = harness.fixture("reply")
    assert "content" not in reply["object"]

    await harness.deliver(reply)

    status = await harness.status(reply["object"]["id"])
    assert "I number the cards" in status["content"]
    assert status["language"] == "en"


async def test_gotosocial_string_addressing_and_tag_object(
    make_harness: MakeHarness,
) -> None:
    harness = await make_harness("gotosocial")
    reply = harness.fixture("reply")
    assert isinstance(reply["object"]["to"], str)
    assert isinstance(reply["object"]["cc"], str)
    assert isinstance(reply["object"]["tag"], dict)

    await harness.deliver(reply)

    status = await harness.status(reply["object"]["id"])
    assert status["visibility"] == "public"
    assert list(status["cc_uris"]) == [reply["object"]["cc"]]
    tags = await harness.pool.fetch(
        "SELECT name FROM status_tags WHERE status_id = $1", status["id"]
    )
    assert [row["name"] for row in tags] == ["phonics"]


async def test_peertube_public_key_array_accepted(make_harness: MakeHarness) -> None:
    harness = await make_harness("peertube")
    update = harness.fixture("update_actor")
    assert isinstance(update["object"]["publicKey"], list)
    await harness.runtime.resolver.actor(update["actor"])
    harness.peer.serve(
        update["actor"], {"@context": update["@context"], **update["object"]}
    )

    await harness.deliver(update)

    key = await harness.pool.fetchrow(
        "SELECT * FROM account_keys WHERE key_id = $1", harness.key_ids[update["actor"]]
    )
    assert key is not None


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def first_id(value: Any) -> str:
    return str(value["id"] if isinstance(value, dict) else value)
