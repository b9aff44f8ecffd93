"""The client API driven by Mastodon.py, a real client written elsewhere.

Mastodon.py is synchronous, so each call runs in a worker thread through
``asyncio.to_thread`` while the instances serve requests from their own processes.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import pytest
import requests
from mastodon import Mastodon, MastodonNotFoundError, MastodonUnauthorizedError

from tests.support.live import LiveInstance, Teacher, eventually

ISO_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ISO_MIDNIGHT = re.compile(r"^\d{4}-\d\d-\d\dT00:00:00\.000Z$")
ISO_DAY = re.compile(r"^\d{4}-\d\d-\d\d$")


def ca_session(instance: LiveInstance) -> requests.Session:
    """Return a requests session that trusts the test CA and nothing else."""
    session = requests.Session()
    session.verify = str(instance.pki.ca_file)
    # requests lets REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE from the environment
    # replace Session.verify, so the environment is ignored here.
    session.trust_env = False
    # An idle keep-alive connection holds up the instance's shutdown until the
    # client lets go of it, so every response ends its connection.
    session.headers["Connection"] = "close"
    return session


def client_for(teacher: Teacher) -> Mastodon:
    """Return a Mastodon.py client with the teacher's bearer token."""
    return Mastodon(
        access_token=teacher.token,
        api_base_url=teacher.instance.client_url,
        session=ca_session(teacher.instance),
    )


def anonymous_client(instance: LiveInstance, token: str | None = None) -> Mastodon:
    return Mastodon(
        access_token=token,
        api_base_url=instance.client_url,
        session=ca_session(instance),
    )


async def call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run one blocking Mastodon.py call off the event loop."""
    return await asyncio.to_thread(function, *args, **kwargs)


async def raw_json(teacher: Teacher, path: str) -> Any:
    """Return the JSON of a GET, as sent, before Mastodon.py converts its types."""
    status, body = await teacher.request("GET", path)
    assert status == 200, f"GET {path} answered {status}: {body}"
    return body


# Instance


async def test_instance_read_by_mastodon_py(start_instances):
    (school,) = await start_instances("school-a.test")
    await school.create_teacher("alice")
    api = anonymous_client(school)

    v1 = await call(api.instance_v1)
    v2 = await call(api.instance_v2)
    latest = await call(api.instance)
    version = await call(api.retrieve_mastodon_version)

    assert v1.uri == school.host
    assert v1.version == "4.3.0 (compatible; Pedagogue 0.1.0)"
    assert v1.stats.user_count == 1
    assert v2.domain == school.host
    assert v2.version == "4.3.0 (compatible; Pedagogue 0.1.0)"
    assert v2.api_versions.mastodon == 2
    # A 4.x version makes Mastodon.py read the v2 document.
    assert latest.domain == school.host
    assert version == "4.3.0"
    assert api.mastodon_api_version == 2


async def test_instance_json_matches_mastodon_shapes(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")

    v1 = await raw_json(alice, "/api/v1/instance")
    v2 = await raw_json(alice, "/api/v2/instance")
    v1_slashed = await raw_json(alice, "/api/v1/instance/")
    v2_slashed = await raw_json(alice, "/api/v2/instance/")

    assert v1_slashed == v1
    assert v2_slashed == v2
    assert isinstance(v1["stats"]["status_count"], int)
    assert isinstance(v1["urls"]["streaming_api"], str)
    assert isinstance(v1["configuration"]["statuses"]["max_characters"], int)
    assert isinstance(v1["registrations"], bool)
    assert v1["thumbnail"] == v2["thumbnail"]["url"]
    assert v1["contact_account"] is None
    assert isinstance(v2["registrations"]["enabled"], bool)
    assert v2["registrations"]["message"] is None
    assert isinstance(v2["usage"]["users"]["active_month"], int)
    assert isinstance(v2["thumbnail"]["url"], str)
    assert isinstance(v2["configuration"]["urls"]["streaming"], str)
    assert isinstance(v2["configuration"]["accounts"]["max_pinned_statuses"], int)
    assert isinstance(v2["configuration"]["translation"]["enabled"], bool)
    assert v2["api_versions"] == {"mastodon": 2}
    assert v2["contact"] == {"email": v1["email"], "account": None}


# Accounts


async def test_verify_credentials_returns_own_account(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice", display_name="Alice Adams")
    api = client_for(alice)
    bad_token_api = anonymous_client(school, token="not-a-token")

    me = await call(api.account_verify_credentials)
    raw = await raw_json(alice, "/api/v1/accounts/verify_credentials")
    with pytest.raises(MastodonUnauthorizedError):
        await call(bad_token_api.account_verify_credentials)

    assert me.id == alice.account_id
    assert me.username == "alice"
    assert me.acct == "alice"
    assert me.display_name == "Alice Adams"
    assert me.source.privacy == "public"
    assert raw["id"] == alice.account_id
    assert ISO_MIDNIGHT.match(raw["created_at"])
    assert raw["last_status_at"] is None
    assert raw["url"] == f"{school.url}/@alice"
    assert raw["uri"] == alice.actor_id
    assert raw["source"]["language"] == ""
    assert raw["source"]["follow_requests_count"] == 0
    assert raw["role"]["id"] == "-99"


async def test_account_lookup_finds_local_account(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")
    await school.create_teacher("carol")
    api = client_for(alice)

    carol = await call(api.account_lookup, "carol")
    carol_with_domain = await call(api.account_lookup, f"carol@{school.host}")

    assert carol.username == "carol"
    assert carol.acct == "carol"
    assert carol_with_domain.id == carol.id
    with pytest.raises(MastodonNotFoundError):
        await call(api.account_lookup, "nobody")


# Federation: search, follow, unfollow, notifications


async def test_search_and_follow_across_instances(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    bob = await district.create_teacher("bob", display_name="Bob Brown")
    alice_api = client_for(alice)
    bob_api = client_for(bob)

    unresolved = await call(alice_api.search_v2, f"@bob@{district.host}", resolve=False)
    found = await call(alice_api.search_v2, f"@bob@{district.host}", resolve=True)

    assert unresolved.accounts == []
    assert len(found.accounts) == 1
    assert found.accounts[0].acct == f"bob@{district.host}"
    assert found.accounts[0].display_name == "Bob Brown"
    assert found.accounts[0].url == f"{district.url}/@bob"
    assert found.statuses == []
    assert found.hashtags == []
    remote_bob = found.accounts[0]
    before = await call(alice_api.account_relationships, remote_bob)
    assert not before[0].following

    requested = await call(alice_api.account_follow, remote_bob)

    async def following() -> bool:
        relations = await call(alice_api.account_relationships, remote_bob)
        return relations[0].following

    assert requested.id == remote_bob.id
    assert requested.following or requested.requested
    assert await eventually(following)

    remote_alice = (await call(bob_api.account_lookup, f"alice@{school.host}")).id

    async def followed_notification() -> list[Any]:
        return await call(bob_api.notifications, types=["follow"])

    notices = await eventually(followed_notification)
    assert [n.account.id for n in notices] == [remote_alice]
    assert notices[0].type == "follow"
    bob_view = await call(bob_api.account_relationships, remote_alice)
    assert bob_view[0].followed_by
    assert (await call(bob_api.account_verify_credentials)).followers_count == 1

    stopped = await call(alice_api.account_unfollow, remote_bob)

    async def unfollowed_remotely() -> bool:
        relations = await call(bob_api.account_relationships, remote_alice)
        return not relations[0].followed_by

    assert not stopped.following
    assert not stopped.requested
    assert await eventually(unfollowed_remotely)


async def test_follow_and_unfollow_local_account(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")
    carol = await school.create_teacher("carol")
    alice_api = client_for(alice)
    carol_api = client_for(carol)

    followed = await call(alice_api.account_follow, carol.account_id)
    carol_view = await call(carol_api.account_relationships, alice.account_id)
    notices = await call(carol_api.notifications)
    unfollowed = await call(alice_api.account_unfollow, carol.account_id)
    carol_view_after = await call(carol_api.account_relationships, alice.account_id)

    assert followed.following
    assert carol_view[0].followed_by
    assert [n.type for n in notices] == ["follow"]
    assert notices[0].account.acct == "alice"
    assert not unfollowed.following
    assert not carol_view_after[0].followed_by


async def test_remote_favourite_notifies_author(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    bob = await district.create_teacher("bob")
    alice_api = client_for(alice)
    bob_api = client_for(bob)
    found = await call(bob_api.search_v2, f"@alice@{school.host}", resolve=True)
    await call(bob_api.account_follow, found.accounts[0])

    async def following() -> bool:
        relations = await call(bob_api.account_relationships, found.accounts[0])
        return relations[0].following

    assert await eventually(following)
    posted = await call(alice_api.status_post, "Assessment rubric draft")

    async def arrived() -> list[Any]:
        home = await call(bob_api.timeline_home)
        return [s for s in home if "rubric" in s.content]

    copies = await eventually(arrived)
    assert copies
    favourited = await call(bob_api.status_favourite, copies[0])

    async def favourite_notification() -> list[Any]:
        return await call(alice_api.notifications, types=["favourite"])

    notices = await eventually(favourite_notification)
    assert favourited.favourited
    assert favourited.favourites_count == 1
    assert len(notices) == 1
    assert notices[0].status.id == posted.id
    assert notices[0].account.acct == f"bob@{district.host}"


# Statuses


async def test_status_post_keeps_each_visibility_and_spoiler(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")
    api = client_for(alice)

    for visibility in ("public", "unlisted", "private", "direct"):
        posted = await call(
            api.status_post,
            f"Quiz answers, {visibility}",
            visibility=visibility,
            spoiler_text="Spoilers: quiz answers",
        )
        fetched = await call(api.status, posted)

        assert posted.visibility == visibility
        assert posted.spoiler_text == "Spoilers: quiz answers"
        assert posted.sensitive, visibility
        assert f"Quiz answers, {visibility}" in posted.content
        assert posted.account.id == alice.account_id
        assert fetched.id == posted.id
        assert fetched.visibility == visibility
        assert fetched.spoiler_text == "Spoilers: quiz answers"


async def test_status_json_matches_mastodon_shape(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")
    api = client_for(alice)
    posted = await call(api.status_post, "Field trip forms are due #planning")
    path = f"/api/v1/statuses/{posted.id}"

    raw = await raw_json(alice, path)
    status, anonymous = await alice.request("GET", path, headers={"Authorization": ""})

    assert raw["id"] == str(posted.id)
    assert ISO_DATETIME.match(raw["created_at"])
    assert raw["edited_at"] is None
    assert raw["in_reply_to_id"] is None
    assert raw["in_reply_to_account_id"] is None
    assert raw["reblog"] is None
    assert raw["card"] is None
    assert raw["poll"] is None
    assert raw["url"] == f"{school.url}/@alice/{posted.id}"
    assert raw["tags"] == [{"name": "planning", "url": f"{school.url}/tags/planning"}]
    assert raw["mentions"] == []
    assert raw["favourited"] is False
    assert raw["pinned"] is False
    assert "text" not in raw
    assert raw["account"]["id"] == alice.account_id
    assert raw["account"]["statuses_count"] == 1
    assert ISO_DAY.match(raw["account"]["last_status_at"])
    assert status == 200
    assert "favourited" not in anonymous
    assert "pinned" not in anonymous


async def test_reply_links_to_parent(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")
    carol = await school.create_teacher("carol")
    alice_api = client_for(alice)
    carol_api = client_for(carol)
    parent = await call(alice_api.status_post, "Who has spare graph paper?")

    reply = await call(carol_api.status_post, "I do, room 12", in_reply_to_id=parent)
    parent_after = await call(alice_api.status, parent)
    context = await call(alice_api.status_context, parent)

    assert reply.in_reply_to_id == parent.id
    assert reply.in_reply_to_account_id == alice.account_id
    assert parent_after.replies_count == 1
    assert [s.id for s in context.descendants] == [reply.id]


async def test_status_delete_then_not_found(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")
    api = client_for(alice)
    posted = await call(api.status_post, "Typo in the homework sheet")

    deleted = await call(api.status_delete, posted)

    assert deleted.id == posted.id
    assert deleted.text == "Typo in the homework sheet"
    with pytest.raises(MastodonNotFoundError):
        await call(api.status, posted)


async def test_favourite_and_reblog_change_counts_and_flags(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")
    carol = await school.create_teacher("carol")
    alice_api = client_for(alice)
    carol_api = client_for(carol)
    posted = await call(alice_api.status_post, "Free workshop on formative assessment")

    favourited = await call(carol_api.status_favourite, posted)
    reblog = await call(carol_api.status_reblog, posted)
    seen_by_carol = await call(carol_api.status, posted)
    seen_by_alice = await call(alice_api.status, posted)
    notices = await call(alice_api.notifications)

    assert favourited.favourited
    assert favourited.favourites_count == 1
    assert reblog.reblog.id == posted.id
    assert reblog.reblog.reblogged
    assert reblog.reblog.reblogs_count == 1
    assert reblog.account.acct == "carol"
    assert seen_by_carol.favourited
    assert seen_by_carol.reblogged
    assert not seen_by_alice.favourited
    assert not seen_by_alice.reblogged
    assert seen_by_alice.favourites_count == 1
    assert sorted(n.type for n in notices) == ["favourite", "reblog"]
    assert all(n.status.id == posted.id for n in notices)

    # A favourite sent to the boost lands on the boosted status.
    via_boost = await call(alice_api.status_favourite, reblog)
    undone_via_boost = await call(alice_api.status_unfavourite, reblog)

    assert via_boost.id == posted.id
    assert via_boost.favourites_count == 2
    assert undone_via_boost.favourites_count == 1

    unfavourited = await call(carol_api.status_unfavourite, posted)
    unreblogged = await call(carol_api.status_unreblog, posted)
    notices_after = await call(alice_api.notifications)

    assert not unfavourited.favourited
    assert unfavourited.favourites_count == 0
    assert not unreblogged.reblogged
    assert unreblogged.reblogs_count == 0
    assert unreblogged.id == posted.id
    assert notices_after == []


# Timelines


async def test_home_timeline_pages_through_link_header(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")
    api = client_for(alice)
    posted = [await call(api.status_post, f"Lesson note {n}") for n in range(5)]
    newest_first = [s.id for s in reversed(posted)]

    first = await call(api.timeline_home, limit=2)
    second = await call(api.fetch_next, first)
    third = await call(api.fetch_next, second)
    past_end = await call(api.fetch_next, third)
    back = await call(api.fetch_previous, second)

    assert [s.id for s in first] == newest_first[:2]
    assert [s.id for s in second] == newest_first[2:4]
    assert [s.id for s in third] == newest_first[4:]
    assert not past_end
    assert [s.id for s in back] == newest_first[:2]


async def test_home_timeline_min_id_and_since_id(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")
    api = client_for(alice)
    posted = [await call(api.status_post, f"Reading log {n}") for n in range(5)]
    ids = [s.id for s in posted]

    after_min = await call(api.timeline_home, min_id=ids[1], limit=2)
    after_since = await call(api.timeline_home, since_id=ids[1], limit=2)
    all_since = await call(api.timeline_home, since_id=ids[1])

    # min_id returns the page right after the cursor, since_id the newest page.
    assert [s.id for s in after_min] == [ids[3], ids[2]]
    assert [s.id for s in after_since] == [ids[4], ids[3]]
    assert [s.id for s in all_since] == [ids[4], ids[3], ids[2]]
