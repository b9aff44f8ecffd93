"""Handler rules that no peer fixture shows: forgeries, shapes and edge cases.

The activities here are built in the test, on the fake peer's hosts, and go
through the same signed inbox path as the fixtures.
"""

from __future__ import annotations

import itertools
from typing import Any

from tests.inbox.conftest import InboxHarness, MakeHarness

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"

_serial = itertools.count(1)


def activity(kind: str, actor_id: str, obj: Any, **extra: Any) -> dict[str, Any]:
    """Build an activity with a fresh id under its actor."""
    return {
        "@context": AS_CONTEXT,
        "id": f"{actor_id}/activities/{kind.lower()}-{next(_serial)}",
        "type": kind,
        "actor": actor_id,
        "object": obj,
        **extra,
    }


def note(actor_id: str, content: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"{actor_id}/notes/{next(_serial)}",
        "type": "Note",
        "attributedTo": actor_id,
        "content": content,
        "to": [PUBLIC],
        "cc": [f"{actor_id}/followers"],
        **extra,
    }


async def state_of(harness: InboxHarness, document: dict[str, Any]) -> str:
    row = await harness.queue_row(document["id"])
    assert row is not None
    return str(row["state"])


async def status_count(harness: InboxHarness) -> int:
    return int(await harness.pool.fetchval("SELECT count(*) FROM statuses"))


# Forgery: Create


async def test_create_attributed_to_other_host_ignored(harness: InboxHarness) -> None:
    rosa = harness.actor_id()
    victim = harness.add_actor("victim", other_host=True)
    forged = note(rosa, "<p>words the victim never wrote</p>", attributedTo=victim)
    create = activity("Create", rosa, forged)
    statuses_before = await status_count(harness)

    await harness.deliver(create)

    assert await state_of(harness, create) == "ignored"
    assert await harness.status(forged["id"]) is None
    assert await status_count(harness) == statuses_before
    assert harness.peer.requests_to(victim) == 0


async def test_create_object_id_on_other_host_ignored(harness: InboxHarness) -> None:
    rosa = harness.actor_id()
    forged = note(rosa, "<p>hello</p>", id=harness.peer.url("/notes/9", other=True))
    create = activity("Create", rosa, forged)

    await harness.deliver(create)

    assert await state_of(harness, create) == "ignored"
    assert await harness.status(forged["id"]) is None


async def test_create_referenced_object_fetched_from_origin(
    harness: InboxHarness,
) -> None:
    rosa = harness.actor_id()
    original = note(rosa, "<p>fetched from the origin</p>")
    harness.peer.serve(original["id"], {"@context": AS_CONTEXT, **original})
    create = activity("Create", rosa, original["id"])

    await harness.deliver(create)

    assert harness.peer.requests_to(original["id"]) == 1
    status = await harness.status(original["id"])
    assert status is not None
    assert "fetched from the origin" in status["content"]


async def test_create_referenced_object_on_other_host_not_fetched(
    harness: InboxHarness,
) -> None:
    rosa = harness.actor_id()
    elsewhere = harness.peer.url("/notes/1", other=True)
    create = activity("Create", rosa, elsewhere)

    await harness.deliver(create)

    assert await state_of(harness, create) == "ignored"
    assert harness.peer.requests_to(elsewhere) == 0


async def test_create_hostile_html_sanitised(harness: InboxHarness) -> None:
    rosa = harness.actor_id()
    hostile = note(
        rosa,
        '<p onclick="steal()">Hi <script>alert(1)</script>'
        '<a href="javascript:alert(2)">click</a> <img src=x onerror=alert(3)>'
        '<a href="https://school-a.test/@alice" class="u-url mention">@alice</a></p>',
        summary="<b>CW</b> <script>x</script>",
    )
    create = activity("Create", rosa, hostile)

    await harness.deliver(create)

    status = await harness.status(hostile["id"])
    assert status is not None
    content = status["content"]
    for fragment in (
        "onclick",
        "<script",
        "alert(1)",
        "javascript:",
        "<img",
        "onerror",
    ):
        assert fragment not in content
    assert 'href="https://school-a.test/@alice"' in content
    assert status["spoiler_text"] == "CW"


async def test_create_question_shown_as_note(harness: InboxHarness) -> None:
    rosa = harness.actor_id()
    question = note(
        rosa,
        "<p>Which starter works best?</p>",
        type="Question",
        oneOf=[
            {"type": "Note", "name": "Retrieval quiz", "replies": {"totalItems": 3}},
            {"type": "Note", "name": "Think-pair-share", "replies": {"totalItems": 1}},
        ],
    )
    create = activity("Create", rosa, question)

    await harness.deliver(create)

    status = await harness.status(question["id"])
    assert status is not None
    assert status["object_type"] == "Question"
    assert "Which starter works best?" in status["content"]
    assert "<li>Retrieval quiz</li>" in status["content"]
    assert "<li>Think-pair-share</li>" in status["content"]


async def test_create_article_shows_title(harness: InboxHarness) -> None:
    rosa = harness.actor_id()
    article = note(
        rosa,
        "<p>Long read about spaced practice.</p>",
        type="Article",
        name="Spacing <em>works</em>",
    )
    create = activity("Create", rosa, article)

    await harness.deliver(create)

    status = await harness.status(article["id"])
    assert status is not None
    assert status["object_type"] == "Article"
    # AS2 name is plain text, so markup in it is shown as typed.
    assert status["content"].startswith(
        "<p><strong>Spacing &lt;em&gt;works&lt;/em&gt;</strong></p>"
    )


async def test_create_cc_as_string_and_tag_as_object(harness: InboxHarness) -> None:
    rosa = harness.actor_id()
    shaped = note(
        rosa,
        "<p>#retrieval with @alice</p>",
        to=PUBLIC,
        cc=harness.alice["actor_id"],
        tag={"type": "Mention", "href": harness.alice["actor_id"]},
    )
    create = activity("Create", rosa, shaped)

    await harness.deliver(create)

    status = await harness.status(shaped["id"])
    assert status is not None
    assert status["visibility"] == "public"
    mentions = await harness.pool.fetchval(
        "SELECT count(*) FROM mentions WHERE status_id = $1", status["id"]
    )
    assert mentions == 1


async def test_create_reply_to_embedded_parent_object(harness: InboxHarness) -> None:
    rosa = harness.actor_id()
    parent = {
        "id": harness.alice_note["uri"],
        "type": "Note",
        "attributedTo": harness.alice["actor_id"],
        "content": "<p>forged copy of alice's note</p>",
    }
    reply = note(rosa, "<p>a reply</p>", inReplyTo=parent)

    await harness.deliver(activity("Create", rosa, reply))

    status = await harness.status(reply["id"])
    assert status is not None
    assert status["in_reply_to_id"] == harness.alice_note["id"]
    assert (await harness.refresh_note())["content"] == harness.alice_note["content"]


# Forgery: Update and Delete of another actor's object


async def test_update_note_by_other_actor_ignored(harness: InboxHarness) -> None:
    rosa = harness.actor_id()
    original = note(rosa, "<p>the original words</p>")
    await harness.deliver(activity("Create", rosa, original))
    lena = harness.add_actor("lena")
    forged = {**original, "content": "<p>words put in rosa's mouth</p>"}
    update = activity("Update", lena, forged)

    await harness.deliver(update)

    assert await state_of(harness, update) == "ignored"
    status = await harness.status(original["id"])
    assert status is not None
    assert "the original words" in status["content"]
    assert status["edited_at"] is None


async def test_update_note_from_other_host_ignored(harness: InboxHarness) -> None:
    rosa = harness.actor_id()
    original = note(rosa, "<p>the original words</p>")
    await harness.deliver(activity("Create", rosa, original))
    mallory = harness.add_actor("mallory", other_host=True)
    update = activity("Update", mallory, {**original, "content": "<p>forged</p>"})

    await harness.deliver(update)

    assert await state_of(harness, update) == "ignored"
    status = await harness.status(original["id"])
    assert "the original words" in status["content"]


async def test_update_own_note_changes_content(harness: InboxHarness) -> None:
    rosa = harness.actor_id()
    original = note(rosa, "<p>first draft</p>")
    await harness.deliver(activity("Create", rosa, original))
    update = activity(
        "Update", rosa, {**original, "content": "<p>second draft</p>", "summary": "CW"}
    )

    await harness.deliver(update)

    status = await harness.status(original["id"])
    assert status is not None
    assert "second draft" in status["content"]
    assert status["spoiler_text"] == "CW"
    assert status["edited_at"] is not None


async def test_update_of_unknown_note_ignored(harness: InboxHarness) -> None:
    rosa = harness.actor_id()
    unknown = note(rosa, "<p>never created here</p>")
    update = activity("Update", rosa, unknown)

    await harness.deliver(update)

    assert await state_of(harness, update) == "ignored"
    assert await harness.status(unknown["id"]) is None


async def test_delete_note_by_other_actor_ignored(harness: InboxHarness) -> None:
    rosa = harness.actor_id()
    original = note(rosa, "<p>still here</p>")
    await harness.deliver(activity("Create", rosa, original))
    lena = harness.add_actor("lena")
    delete = activity("Delete", lena, original["id"])

    await harness.deliver(delete)

    assert await state_of(harness, delete) == "ignored"
    status = await harness.status(original["id"])
    assert status["deleted_at"] is None
    assert "still here" in status["content"]


async def test_delete_of_local_note_by_remote_ignored(harness: InboxHarness) -> None:
    delete = activity("Delete", harness.actor_id(), harness.alice_note["uri"])

    await harness.deliver(delete)

    assert await state_of(harness, delete) == "ignored"
    assert (await harness.refresh_note())["deleted_at"] is None


async def test_delete_of_unknown_object_fetches_nothing(harness: InboxHarness) -> None:
    rosa = harness.actor_id()
    await harness.runtime.resolver.actor(rosa)
    requests_before = harness.peer.total_requests
    unknown = f"{rosa}/notes/never-seen"
    delete = activity("Delete", rosa, {"id": unknown, "type": "Tombstone"})

    await harness.deliver(delete)

    assert await state_of(harness, delete) == "ignored"
    assert harness.peer.total_requests == requests_before
    assert await harness.status(unknown) is None


async def test_update_actor_by_other_host_ignored(harness: InboxHarness) -> None:
    rosa = harness.fixture("actor")
    await harness.runtime.resolver.actor(rosa["id"])
    mallory = harness.add_actor("mallory", other_host=True)
    update = activity("Update", mallory, {**rosa, "name": "Hijacked"})

    await harness.deliver(update)

    assert await state_of(harness, update) == "ignored"
    account = await harness.account(rosa["id"])
    assert account["display_name"] != "Hijacked"


async def test_update_actor_by_same_host_refetches_origin(
    harness: InboxHarness,
) -> None:
    rosa = harness.fixture("actor")
    await harness.runtime.resolver.actor(rosa["id"])
    fetches_before = harness.peer.requests_to(rosa["id"])
    lena = harness.add_actor("lena")
    update = activity("Update", lena, {**rosa, "name": "Claimed by lena"})

    await harness.deliver(update)

    assert harness.peer.requests_to(rosa["id"]) == fetches_before + 1
    account = await harness.account(rosa["id"])
    assert account["display_name"] == rosa["name"]


# Forgery: Announce


async def test_announce_embedded_copy_not_trusted(harness: InboxHarness) -> None:
    rosa = harness.actor_id()
    real = note(rosa, "<p>the real words</p>")
    harness.peer.serve(real["id"], {"@context": AS_CONTEXT, **real})
    lena = harness.add_actor("lena")
    forged = {**real, "content": "<p>forged words</p>"}
    announce = activity("Announce", lena, forged, to=[PUBLIC])

    await harness.deliver(announce)

    assert harness.peer.requests_to(real["id"]) == 1
    status = await harness.status(real["id"])
    assert status is not None
    assert "the real words" in status["content"]
    assert "forged" not in status["content"]
    reblog = await harness.status(announce["id"])
    assert reblog["reblog_of_id"] == status["id"]


async def test_announce_of_gone_object_ignored(harness: InboxHarness) -> None:
    rosa = harness.actor_id()
    gone = f"{rosa}/notes/deleted"
    harness.peer.gone(gone)
    announce = activity("Announce", rosa, gone, to=[PUBLIC])

    await harness.deliver(announce)

    assert await state_of(harness, announce) == "ignored"
    assert harness.peer.requests_to(gone) == 1
    assert await harness.status(announce["id"]) is None


async def test_announce_answered_with_other_id_ignored(harness: InboxHarness) -> None:
    rosa = harness.actor_id()
    asked = f"{rosa}/notes/asked"
    harness.peer.serve(asked, {"@context": AS_CONTEXT, **note(rosa, "<p>other</p>")})
    announce = activity("Announce", rosa, asked, to=[PUBLIC])

    await harness.deliver(announce)

    assert await state_of(harness, announce) == "ignored"
    assert await harness.status(announce["id"]) is None


async def test_announce_of_private_local_note_ignored(harness: InboxHarness) -> None:
    from outbox.actions import Actions, NewStatus

    private = await Actions(harness.runtime).post_status(
        harness.alice, NewStatus("followers only", visibility="private")
    )
    announce = activity("Announce", harness.actor_id(), private["uri"], to=[PUBLIC])

    await harness.deliver(announce)

    assert await state_of(harness, announce) == "ignored"
    assert await harness.status(announce["id"]) is None


async def test_forwarded_create_from_other_host_fetched(
    make_harness: MakeHarness,
) -> None:
    # A group forwards a member's Create; the member lives on another host,
    # so the activity is fetched from its own id and the embedded copy unused.
    harness = await make_harness("lemmy")
    community = harness.actor_id("actor_community")
    member = harness.add_actor("visitor", other_host=True)
    real = note(member, "<p>the member's real comment</p>")
    create = activity("Create", member, real, to=[PUBLIC])
    harness.peer.serve(create["id"], create)
    forged = {**create, "object": {**real, "content": "<p>forged comment</p>"}}
    announce = activity("Announce", community, forged, to=[PUBLIC])

    await harness.deliver(announce)

    assert harness.peer.requests_to(create["id"]) == 1
    status = await harness.status(real["id"])
    assert status is not None
    assert "the member's real comment" in status["content"]


async def test_forwarded_create_from_group_host_used(make_harness: MakeHarness) -> None:
    harness = await make_harness("lemmy")
    community = harness.actor_id("actor_community")
    emeka = harness.actor_id()
    comment = note(emeka, "<p>a comment in the community</p>")
    create = activity("Create", emeka, comment, to=[PUBLIC])
    announce = activity("Announce", community, create, to=[PUBLIC])

    await harness.deliver(announce)

    assert await state_of(harness, announce) == "done"
    assert harness.peer.requests_to(create["id"]) == 0
    status = await harness.status(comment["id"])
    assert status is not None
    author = await harness.account(emeka)
    assert status["account_id"] == author["id"]


async def test_forwarded_follow_ignored(make_harness: MakeHarness) -> None:
    harness = await make_harness("lemmy")
    community = harness.actor_id("actor_community")
    follow = activity("Follow", harness.actor_id(), harness.alice["actor_id"])
    announce = activity("Announce", community, follow, to=[PUBLIC])

    await harness.deliver(announce)

    assert await state_of(harness, announce) == "ignored"
    assert await harness.pool.fetchval("SELECT count(*) FROM follows") == 0


# Follow, Accept, Reject, Block, Undo


async def test_follow_of_manually_approving_account_pending(
    harness: InboxHarness,
) -> None:
    await harness.pool.execute(
        "UPDATE accounts SET manually_approves_followers = true WHERE id = $1",
        harness.alice["id"],
    )
    follow = harness.fixture("follow")

    await harness.deliver(follow)

    row = await harness.pool.fetchrow("SELECT * FROM follows")
    assert row["accepted"] is False
    accepts = await harness.pool.fetchval(
        "SELECT count(*) FROM activities WHERE type = 'Accept'"
    )
    assert accepts == 0
    kinds = await harness.pool.fetch("SELECT type FROM notifications")
    assert [row["type"] for row in kinds] == ["follow_request"]


async def test_follow_of_unknown_local_account_ignored(harness: InboxHarness) -> None:
    follow = activity(
        "Follow", harness.actor_id(), "https://school-a.test/users/nobody"
    )

    await harness.deliver(follow)

    assert await state_of(harness, follow) == "ignored"
    assert await harness.pool.fetchval("SELECT count(*) FROM follows") == 0


async def test_reject_removes_alice_follow(harness: InboxHarness) -> None:
    rosa = harness.actor_id()
    follow = await harness.follow_remote(rosa)
    reject = activity(
        "Reject",
        rosa,
        {
            "id": follow["uri"],
            "type": "Follow",
            "actor": harness.alice["actor_id"],
            "object": rosa,
        },
    )

    await harness.deliver(reject)

    assert await harness.pool.fetchval("SELECT count(*) FROM follows") == 0


async def test_accept_by_other_actor_ignored(harness: InboxHarness) -> None:
    rosa = harness.actor_id()
    follow = await harness.follow_remote(rosa)
    lena = harness.add_actor("lena")
    accept = activity("Accept", lena, follow["uri"])

    await harness.deliver(accept)

    assert await state_of(harness, accept) == "ignored"
    row = await harness.pool.fetchrow(
        "SELECT * FROM follows WHERE id = $1", follow["id"]
    )
    assert row["accepted"] is False


async def test_block_removes_follows_both_ways(harness: InboxHarness) -> None:
    rosa = harness.actor_id()
    await harness.deliver("follow")
    await harness.follow_remote(rosa)
    block = activity("Block", rosa, harness.alice["actor_id"])

    await harness.deliver(block)

    assert await harness.pool.fetchval("SELECT count(*) FROM follows") == 0
    assert await harness.pool.fetchval("SELECT count(*) FROM blocks") == 1


async def test_undo_block_removes_block(harness: InboxHarness) -> None:
    rosa = harness.actor_id()
    block = activity("Block", rosa, harness.alice["actor_id"])
    await harness.deliver(block)
    undo = activity("Undo", rosa, {k: v for k, v in block.items() if k != "@context"})

    await harness.deliver(undo)

    assert await state_of(harness, undo) == "done"
    assert await harness.pool.fetchval("SELECT count(*) FROM blocks") == 0


async def test_undo_of_other_actors_like_ignored(harness: InboxHarness) -> None:
    like = harness.fixture("like")
    await harness.deliver(like)
    lena = harness.add_actor("lena")
    undo = activity(
        "Undo", lena, {"id": like["id"], "type": "Like", "actor": like["actor"]}
    )

    await harness.deliver(undo)

    assert await state_of(harness, undo) == "ignored"
    assert await harness.pool.fetchval("SELECT count(*) FROM favourites") == 1
    assert (await harness.refresh_note())["favourites_count"] == 1


async def test_undo_referenced_like(harness: InboxHarness) -> None:
    like = harness.fixture("like")
    await harness.deliver(like)
    undo = activity("Undo", like["actor"], like["id"])

    await harness.deliver(undo)

    assert await harness.pool.fetchval("SELECT count(*) FROM favourites") == 0


async def test_undo_referenced_announce(harness: InboxHarness) -> None:
    announce = harness.fixture("announce")
    await harness.deliver(announce)
    undo = activity("Undo", announce["actor"], announce["id"])

    await harness.deliver(undo)

    reblog = await harness.status(announce["id"])
    assert reblog["deleted_at"] is not None
    assert (await harness.refresh_note())["reblogs_count"] == 0


async def test_like_twice_counts_once(harness: InboxHarness) -> None:
    like = harness.fixture("like")
    await harness.deliver(like)
    again = {**like, "id": f"{like['id']}-again"}

    await harness.deliver(again)

    assert await state_of(harness, again) == "ignored"
    assert (await harness.refresh_note())["favourites_count"] == 1


async def test_announce_origin_attributed_to_other_host_ignored(
    harness: InboxHarness,
) -> None:
    # The origin serves a note in the name of an actor on another host.
    rosa = harness.actor_id()
    victim = harness.add_actor("victim", other_host=True)
    planted = note(rosa, "<p>planted words</p>", attributedTo=victim)
    harness.peer.serve(planted["id"], {"@context": AS_CONTEXT, **planted})
    announce = activity("Announce", rosa, planted["id"], to=[PUBLIC])

    await harness.deliver(announce)

    assert await state_of(harness, announce) == "ignored"
    assert await harness.status(planted["id"]) is None
    assert harness.peer.requests_to(victim) == 0


async def test_second_announce_of_same_status_ignored(harness: InboxHarness) -> None:
    announce = harness.fixture("announce")
    await harness.deliver(announce)
    again = {**announce, "id": f"{announce['id']}-again"}

    await harness.deliver(again)

    assert await state_of(harness, again) == "ignored"
    assert (await harness.refresh_note())["reblogs_count"] == 1


async def test_create_referenced_object_gone_ignored(harness: InboxHarness) -> None:
    rosa = harness.actor_id()
    gone = f"{rosa}/notes/gone"
    harness.peer.gone(gone)
    create = activity("Create", rosa, gone)

    await harness.deliver(create)

    assert await state_of(harness, create) == "ignored"
    assert await harness.status(gone) is None


async def test_create_referenced_object_with_other_id_ignored(
    harness: InboxHarness,
) -> None:
    rosa = harness.actor_id()
    asked = f"{rosa}/notes/asked"
    other = note(rosa, "<p>served under another id</p>")
    harness.peer.serve(asked, {"@context": AS_CONTEXT, **other})
    create = activity("Create", rosa, asked)

    await harness.deliver(create)

    assert await state_of(harness, create) == "ignored"
    assert await harness.status(other["id"]) is None


async def test_undo_embedded_like_with_unknown_id(harness: InboxHarness) -> None:
    like = harness.fixture("like")
    await harness.deliver(like)
    renamed = {**like, "id": f"{like['id']}-as-resent"}
    renamed.pop("@context")
    undo = activity("Undo", like["actor"], renamed)

    await harness.deliver(undo)

    assert await harness.pool.fetchval("SELECT count(*) FROM favourites") == 0
    assert (await harness.refresh_note())["favourites_count"] == 0


async def test_update_article_keeps_title(harness: InboxHarness) -> None:
    rosa = harness.actor_id()
    article = note(rosa, "<p>First version.</p>", type="Article", name="Spacing")
    await harness.deliver(activity("Create", rosa, article))
    revised = {**article, "content": "<p>Second version.</p>"}

    await harness.deliver(activity("Update", rosa, revised))

    status = await harness.status(article["id"])
    assert status is not None
    assert status["content"] == "<p><strong>Spacing</strong></p><p>Second version.</p>"
