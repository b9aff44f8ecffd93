"""Accounts through Mastodon.py against a live instance: credentials with
posting defaults, fields and an avatar, follows with ``reblogs`` and
``notify``, relationships, followers and following pages, and familiar
followers."""

from __future__ import annotations

import io

from tests.client_api.conftest import client_for, raw
from tests.client_api.test_media import png_with_text
from tests.support.live import eventually
from tests.support.openapi import validate_response
from tests.web.test_mastodon_py import call


async def test_update_credentials_fields_and_avatar(teachers):
    (alice,) = await teachers("alice")
    api = client_for(alice)

    updated = await call(
        api.account_update_credentials,
        display_name="Alice A.",
        note="Maths lead",
        avatar=io.BytesIO(png_with_text()),
        avatar_mime_type="image/png",
        locked=True,
        bot=True,
        discoverable=False,
        fields=[("Subject", "Maths"), ("School", "Hill Primary")],
    )

    assert updated.display_name == "Alice A."
    assert updated.locked is True
    assert updated.bot is True
    assert updated.discoverable is False
    assert [(f.name, f.value) for f in updated.fields] == [
        ("Subject", "Maths"),
        ("School", "Hill Primary"),
    ]
    assert "/media/" in updated.avatar
    assert updated.source.note == "Maths lead"


async def test_update_credentials_posting_defaults(teachers):
    (alice,) = await teachers("alice")
    api = client_for(alice)

    await call(
        api.account_update_credentials,
        default_privacy="unlisted",
        default_sensitive=True,
        default_language="fr",
    )
    credentials = await call(api.account_verify_credentials)
    status = await call(api.status_post, "Bonjour")

    assert credentials.source.privacy == "unlisted"
    assert credentials.source.sensitive is True
    assert credentials.source.language == "fr"
    assert status.visibility == "unlisted"
    assert status.language == "fr"


async def test_update_credentials_bad_privacy_rejected(teachers):
    (alice,) = await teachers("alice")

    status_code, _, body = await raw(
        alice,
        "PATCH",
        "/api/v1/accounts/update_credentials",
        json={"display_name": "Changed", "source": {"privacy": "everyone"}},
    )
    credentials = await alice.get("/api/v1/accounts/verify_credentials")

    assert status_code == 422
    assert "source[privacy]" in body["error"]
    assert credentials["display_name"] != "Changed"


async def test_follow_reblogs_false_hides_boosts(teachers):
    alice, bob, carol = await teachers("alice", "bob", "carol")
    await call(client_for(alice).account_follow, bob.account_id, reblogs=False)
    post = await call(client_for(carol).status_post, "Boost me")
    own = await call(client_for(bob).status_post, "My own post")

    await call(client_for(bob).status_reblog, post.id)
    home = await call(client_for(alice).timeline_home)
    relationship = (await call(client_for(alice).account_relationships, bob.account_id))[0]

    assert [status.id for status in home] == [own.id]
    assert relationship.showing_reblogs is False


async def test_follow_reblogs_default_shows_boosts(teachers):
    alice, bob, carol = await teachers("alice", "bob", "carol")
    await call(client_for(alice).account_follow, bob.account_id)
    post = await call(client_for(carol).status_post, "Boost me")

    boost = await call(client_for(bob).status_reblog, post.id)
    home = await call(client_for(alice).timeline_home)

    assert [status.id for status in home] == [boost.id]


async def test_follow_notify_creates_status_notification(teachers):
    alice, bob = await teachers("alice", "bob")
    relationship = await call(client_for(alice).account_follow, bob.account_id, notify=True)
    post = await call(client_for(bob).status_post, "News for subscribers")

    notifications = await call(client_for(alice).notifications, types=["status"])

    assert relationship.notifying is True
    assert [n.type for n in notifications] == ["status"]
    assert notifications[0].status.id == post.id


async def test_follow_without_notify_sends_none(teachers):
    alice, bob = await teachers("alice", "bob")
    await call(client_for(alice).account_follow, bob.account_id)
    await call(client_for(bob).status_post, "Quiet post")

    notifications = await call(client_for(alice).notifications, types=["status"])

    assert list(notifications) == []


async def test_follow_again_changes_options(teachers):
    alice, bob = await teachers("alice", "bob")
    await call(client_for(alice).account_follow, bob.account_id)

    changed = await call(
        client_for(alice).account_follow, bob.account_id, reblogs=False, notify=True
    )

    assert changed.following is True
    assert changed.showing_reblogs is False
    assert changed.notifying is True


async def test_relationships_fields(teachers):
    alice, bob = await teachers("alice", "bob")
    await call(client_for(bob).account_follow, alice.account_id)

    (relationship,) = await call(client_for(alice).account_relationships, bob.account_id)

    assert relationship.followed_by is True
    assert relationship.following is False
    assert relationship.requested_by is False
    assert relationship.note == ""


async def test_account_note_in_relationship(teachers):
    alice, bob = await teachers("alice", "bob")
    api = client_for(alice)

    noted = await call(api.account_note_set, bob.account_id, "Met at the science fair")
    (seen,) = await call(api.account_relationships, bob.account_id)
    (seen_by_bob,) = await call(client_for(bob).account_relationships, alice.account_id)
    status_code, _, cleared = await raw(
        alice, "POST", f"/api/v1/accounts/{bob.account_id}/note", json={"comment": ""}
    )

    assert noted.note == "Met at the science fair"
    assert seen.note == "Met at the science fair"
    assert seen_by_bob.note == ""
    assert cleared["note"] == ""
    validate_response(
        "statuses_more", "/api/v1/accounts/{id}/note", "POST", status_code, cleared
    )


async def test_followers_and_following_paged(teachers):
    (alice, *others) = await teachers("alice", "f", "f", "f")
    for other in others:
        await call(client_for(other).account_follow, alice.account_id)
    for other in others[:2]:
        await call(client_for(alice).account_follow, other.account_id)
    api = client_for(alice)

    first = await call(api.account_followers, alice.account_id, limit=2)
    rest = await call(api.fetch_next, first)
    following = await call(api.account_following, alice.account_id)
    status_code, headers, body = await raw(
        alice, "GET", f"/api/v1/accounts/{alice.account_id}/followers?limit=2"
    )

    assert [a.id for a in first] == [others[2].account_id, others[1].account_id]
    assert [a.id for a in rest] == [others[0].account_id]
    assert {a.id for a in following} == {o.account_id for o in others[:2]}
    assert 'rel="next"' in headers["Link"]
    validate_response(
        "statuses_more", "/api/v1/accounts/{id}/followers", "GET", status_code, body
    )


async def test_familiar_followers(teachers):
    alice, bob, carol, dave = await teachers("alice", "bob", "carol", "dave")
    await call(client_for(alice).account_follow, bob.account_id)
    await call(client_for(alice).account_follow, carol.account_id)
    await call(client_for(bob).account_follow, dave.account_id)

    familiar = await call(
        client_for(alice).account_familiar_followers, [dave.account_id, carol.account_id]
    )
    status_code, _, body = await raw(
        alice, "GET", f"/api/v1/accounts/familiar_followers?id[]={dave.account_id}"
    )

    assert [entry.id for entry in familiar] == [dave.account_id, carol.account_id]
    assert [a.id for a in familiar[0].accounts] == [bob.account_id]
    assert list(familiar[1].accounts) == []
    validate_response(
        "statuses_more", "/api/v1/accounts/familiar_followers", "GET", status_code, body
    )


async def test_status_notification_waits_for_accept(teachers, school):
    alice = (await teachers("alice"))[0]
    bob = await school.create_teacher(f"lockedbob{alice.username}", approve_followers=True)
    await call(client_for(alice).account_follow, bob.account_id, notify=True)
    await call(client_for(bob).status_post, "Before accepting", visibility="public")

    async def notified():
        return await call(client_for(alice).notifications, types=["status"])

    seen = await eventually(notified, timeout=1)

    assert list(seen) == []


async def test_follow_notify_skips_direct_posts(teachers):
    alice, bob = await teachers("alice", "bob")
    await call(client_for(alice).account_follow, bob.account_id, notify=True)

    await call(
        client_for(bob).status_post, f"@{alice.username} just between us", visibility="direct"
    )
    statuses = await call(client_for(alice).notifications, types=["status"])
    mentions = await call(client_for(alice).notifications, types=["mention"])

    assert list(statuses) == []
    assert len(mentions) == 1
