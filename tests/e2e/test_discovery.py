"""Discovery and dereferencing over HTTPS: WebFinger, host-meta, NodeInfo,
content negotiation, actor documents, collections and object ids."""

from urllib.parse import quote

from federation import httpsig
from tests.e2e.peers import (
    ACTIVITY_JSON,
    BROWSER_ACCEPT,
    LD_JSON,
    PUBLIC,
    arrives_home,
    fetch,
    follow,
    logged,
    open_session,
    post,
    private_key_of,
)

PAGE_SIZE = 20


def webfinger_url(instance, resource: str) -> str:
    return f"{instance.url}/.well-known/webfinger?resource={quote(resource, safe='')}"


async def test_webfinger_acct_with_port_ignores_case(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")
    resource = f"acct:ALICE@{school.host.upper()}"

    async with open_session(school) as session:
        status, content_type, document = await fetch(
            session, webfinger_url(school, resource), accept="application/jrd+json"
        )

    assert status == 200, document
    assert content_type.startswith("application/jrd+json")
    assert document["subject"] == f"acct:alice@{school.host}"
    links = [link for link in document["links"] if link["rel"] == "self"]
    assert links == [{"rel": "self", "type": ACTIVITY_JSON, "href": alice.actor_id}]


async def test_webfinger_by_actor_url(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")

    async with open_session(school) as session:
        status, _, document = await fetch(
            session,
            webfinger_url(school, alice.actor_id),
            accept="application/jrd+json",
        )

    assert status == 200, document
    assert document["subject"] == f"acct:alice@{school.host}"
    assert alice.actor_id in document["aliases"]


async def test_webfinger_unknown_resources_not_found(start_instances):
    (school,) = await start_instances("school-a.test")
    await school.create_teacher("alice")
    unknown = {
        "unknown user": f"acct:nobody@{school.host}",
        "another domain": "acct:alice@district-b.test",
        "same domain, other port": f"acct:alice@{school.domain}:1",
        "unknown actor URL": f"{school.url}/users/nobody",
    }

    async with open_session(school) as session:
        for case, resource in unknown.items():
            status, _, document = await fetch(session, webfinger_url(school, resource))
            assert status == 404, f"{case}: {status} {document}"
            assert "error" in document, f"{case}: {document}"


async def test_host_meta_xrd_and_json(start_instances):
    (school,) = await start_instances("school-a.test")
    template = f"{school.url}/.well-known/webfinger?resource={{uri}}"

    async with open_session(school) as session:
        xrd_status, xrd_type, xrd = await fetch(
            session, f"{school.url}/.well-known/host-meta", accept="application/xrd+xml"
        )
        json_status, json_type, document = await fetch(
            session, f"{school.url}/.well-known/host-meta", accept="application/json"
        )
        suffix_status, _, suffixed = await fetch(
            session, f"{school.url}/.well-known/host-meta.json"
        )

    assert xrd_status == 200
    assert xrd_type.startswith("application/xrd+xml")
    assert f'template="{template}"' in xrd
    assert json_status == 200
    assert json_type.startswith("application/json")
    assert document["links"][0]["template"] == template
    assert suffix_status == 200
    assert suffixed == document


async def test_nodeinfo_counts_users_and_posts(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")
    bob = await school.create_teacher("bob")
    await post(alice, "Geometry warm-up")
    await post(alice, "Geometry exit ticket")
    deleted = await post(bob, "Draft, deleted soon")
    await bob.request("DELETE", f"/api/v1/statuses/{deleted['id']}")

    async with open_session(school) as session:
        _, _, links = await fetch(
            session, f"{school.url}/.well-known/nodeinfo", accept="application/json"
        )
        documents = {}
        for version in ("2.0", "2.1"):
            status, content_type, document = await fetch(
                session, f"{school.url}/nodeinfo/{version}", accept="application/json"
            )
            assert status == 200, f"NodeInfo {version}: {document}"
            assert content_type.startswith("application/json"), content_type
            documents[version] = document

    hrefs = {link["href"] for link in links["links"]}
    assert hrefs == {f"{school.url}/nodeinfo/2.0", f"{school.url}/nodeinfo/2.1"}
    for version, document in documents.items():
        assert document["version"] == version
        assert document["software"]["name"] == "pedagogue"
        assert document["protocols"] == ["activitypub"]
        assert document["usage"]["users"]["total"] == 2, f"{version}: {document}"
        assert document["usage"]["users"]["activeMonth"] == 2, f"{version}: {document}"
        assert document["usage"]["localPosts"] == 2, f"{version}: {document}"


async def test_actor_content_negotiation(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")
    profile = f"{school.url}/@alice"

    async with open_session(school) as session:
        activity_status, activity_type, activity = await fetch(session, alice.actor_id)
        ld_status, ld_type, ld = await fetch(session, alice.actor_id, accept=LD_JSON)
        async with session.get(
            alice.actor_id, headers={"Accept": BROWSER_ACCEPT}, allow_redirects=False
        ) as response:
            browser_status = response.status
            location = response.headers.get("Location")
        page_status, page_type, page = await fetch(
            session, profile, accept=BROWSER_ACCEPT
        )
        profile_json_status, _, profile_json = await fetch(session, profile)

    assert activity_status == 200
    assert activity_type.startswith("application/activity+json")
    assert activity["id"] == alice.actor_id
    assert ld_status == 200
    assert ld_type.startswith("application/activity+json")
    assert ld["id"] == alice.actor_id
    assert browser_status in (301, 302, 303)
    assert location == profile
    assert page_status == 200
    assert page_type.startswith("text/html")
    assert "@alice@" in page
    assert profile_json_status == 200
    assert profile_json["id"] == alice.actor_id


async def test_actor_document_fields(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")
    careful = await school.create_teacher("careful", approve_followers=True)
    connection = await school.db()
    try:
        public_pem = await connection.fetchval(
            "SELECT public_key_pem FROM account_keys WHERE account_id = $1",
            int(alice.account_id),
        )
    finally:
        await connection.close()

    async with open_session(school) as session:
        _, _, actor = await fetch(session, alice.actor_id)
        _, _, locked = await fetch(session, careful.actor_id)

    assert actor["type"] == "Person"
    assert actor["preferredUsername"] == "alice"
    assert actor["inbox"] == f"{alice.actor_id}/inbox"
    assert actor["outbox"] == f"{alice.actor_id}/outbox"
    assert actor["followers"] == f"{alice.actor_id}/followers"
    assert actor["following"] == f"{alice.actor_id}/following"
    assert actor["endpoints"]["sharedInbox"] == f"{school.url}/inbox"
    assert actor["publicKey"]["id"] == f"{alice.actor_id}#main-key"
    assert actor["publicKey"]["owner"] == alice.actor_id
    assert actor["publicKey"]["publicKeyPem"] == public_pem
    assert actor["manuallyApprovesFollowers"] is False
    assert locked["manuallyApprovesFollowers"] is True


async def test_outbox_pages_and_items_dereference(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")
    posted = [
        await post(alice, f"Lesson note {number}") for number in range(PAGE_SIZE + 1)
    ]
    hidden = await post(alice, "Only for my followers", visibility="private")
    outbox = f"{alice.actor_id}/outbox"

    async with open_session(school) as session:
        _, _, collection = await fetch(session, outbox)
        _, _, first = await fetch(session, collection["first"])
        _, _, second = await fetch(session, first["next"])
        items = first["orderedItems"] + second["orderedItems"]
        creates = {}
        notes = {}
        for item in items:
            creates[item["id"]] = await fetch(session, item["id"])
            notes[item["object"]["id"]] = await fetch(session, item["object"]["id"])
        hidden_status, _, _ = await fetch(session, hidden["uri"])

    assert collection["type"] == "OrderedCollection"
    assert collection["id"] == outbox
    assert collection["totalItems"] == PAGE_SIZE + 1
    assert first["type"] == "OrderedCollectionPage"
    assert first["partOf"] == outbox
    assert len(first["orderedItems"]) == PAGE_SIZE
    assert len(second["orderedItems"]) == 1
    assert "next" not in second
    assert [item["object"]["id"] for item in items] == [
        s["uri"] for s in reversed(posted)
    ]
    for activity_id, (status, _, document) in creates.items():
        assert status == 200, f"{activity_id}: {status} {document}"
        assert document["id"] == activity_id
        assert document["type"] == "Create"
    for note_id, (status, _, document) in notes.items():
        assert status == 200, f"{note_id}: {status} {document}"
        assert document["id"] == note_id
        assert document["type"] == "Note"
        assert document["attributedTo"] == alice.actor_id
        assert PUBLIC in document["to"]
    assert hidden_status == 404


async def test_follow_collections_list_remote_follows(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    bob = await district.create_teacher("bob")
    await follow(alice, bob)

    async with open_session(school, district) as session:
        _, _, followers = await fetch(session, f"{bob.actor_id}/followers")
        _, _, followers_page = await fetch(session, followers["first"])
        _, _, following = await fetch(session, f"{alice.actor_id}/following")
        _, _, following_page = await fetch(session, following["first"])
        _, _, empty = await fetch(session, f"{alice.actor_id}/followers")

    assert followers["type"] == "OrderedCollection"
    assert followers["totalItems"] == 1
    assert followers_page["type"] == "OrderedCollectionPage"
    assert followers_page["partOf"] == f"{bob.actor_id}/followers"
    assert followers_page["orderedItems"] == [alice.actor_id]
    assert following["totalItems"] == 1
    assert following_page["orderedItems"] == [bob.actor_id]
    assert empty["totalItems"] == 0


async def test_boost_and_delete_activities_dereference(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")
    bob = await school.create_teacher("bob")
    original = await post(alice, "Station rotation plan")
    boost = await bob.post(f"/api/v1/statuses/{original['id']}/reblog")
    doomed = await post(alice, "Wrong room number")
    await alice.request("DELETE", f"/api/v1/statuses/{doomed['id']}")

    async with open_session(school) as session:
        boost_status, _, announce = await fetch(session, boost["uri"])
        _, _, outbox_page = await fetch(session, f"{alice.actor_id}/outbox?page=true")
        tombstone_status, _, tombstone = await fetch(session, doomed["uri"])

    assert boost_status == 200, announce
    assert announce["type"] == "Announce"
    assert announce["object"] == original["uri"]
    assert [item["object"]["id"] for item in outbox_page["orderedItems"]] == [
        original["uri"]
    ]
    assert tombstone_status == 410
    assert tombstone["type"] == "Tombstone"
    assert tombstone["id"] == doomed["uri"]


async def test_lookup_of_unmapped_loopback_host_blocked(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    await district.create_teacher("bob")
    # district-b listens on loopback and its certificate names localhost and
    # 127.0.0.1 too, so only the address guard stops these lookups.
    unmapped = {
        f"bob@localhost:{district.port}": "destination localhost is not allowed",
        f"bob@127.0.0.1:{district.port}": "destination 127.0.0.1 is not allowed",
        f"https://127.0.0.1:{district.port}/users/bob": (
            "destination 127.0.0.1 is not allowed"
        ),
    }

    for query, reason in unmapped.items():
        found = await alice.get(
            "/api/v2/search", params={"q": query, "resolve": "true", "type": "accounts"}
        )
        assert found["accounts"] == [], f"{query}: {found}"
        line = await logged(school, "could not resolve", query, reason)
        assert line, f"{query}: no log line says {reason!r}"
    mapped = await alice.resolve(f"bob@{district.host}")
    assert mapped["acct"] == f"bob@{district.host}"


async def test_note_content_negotiation(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")
    note = await post(alice, "Seating plan for Monday")

    async with open_session(school) as session:
        json_status, json_type, document = await fetch(
            session, note["uri"], accept=LD_JSON
        )
        async with session.get(
            note["uri"], headers={"Accept": BROWSER_ACCEPT}, allow_redirects=False
        ) as response:
            redirect_status = response.status
            location = response.headers.get("Location")
        page_status, page_type, page = await fetch(
            session, note["url"], accept=BROWSER_ACCEPT
        )

    assert json_status == 200
    assert json_type.startswith("application/activity+json")
    assert document["id"] == note["uri"]
    assert redirect_status in (301, 302, 303)
    assert location == note["url"]
    assert page_status == 200
    assert page_type.startswith("text/html")
    assert "Seating plan for Monday" in page


async def test_every_local_activity_dereferences(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    bob = await district.create_teacher("bob")
    await follow(alice, bob)
    await follow(bob, alice)
    theirs = await post(bob, "Shared rubric for essays")
    copy = await arrives_home(alice, theirs["uri"])
    assert copy is not None
    await alice.post(f"/api/v1/statuses/{copy['id']}/favourite")
    await alice.post(f"/api/v1/statuses/{copy['id']}/unfavourite")
    await alice.post(f"/api/v1/statuses/{copy['id']}/reblog")
    await alice.post(f"/api/v1/statuses/{copy['id']}/unreblog")
    mine = await post(alice, "Essay feedback codes")
    await alice.request("DELETE", f"/api/v1/statuses/{mine['id']}")
    remote_bob = await alice.resolve(f"@{bob.handle}")
    await alice.post(f"/api/v1/accounts/{remote_bob['id']}/unfollow")
    connection = await school.db()
    try:
        rows = await connection.fetch(
            "SELECT uri, type, body FROM activities WHERE account_id = $1 ORDER BY id",
            int(alice.account_id),
        )
    finally:
        await connection.close()
    kinds = sorted({row["type"] for row in rows})
    assert kinds == ["Accept", "Announce", "Create", "Delete", "Follow", "Like", "Undo"]

    # Bob is addressed by every one of them, and non-public ones (the Follow,
    # its Accept and Undo) are served only to a signed GET from an addressee.
    key = await private_key_of(bob)
    async with open_session(school, district) as session:
        for row in rows:
            headers = {"Accept": ACTIVITY_JSON}
            headers.update(
                httpsig.sign_request(
                    "GET", row["uri"], headers, None, key, f"{bob.actor_id}#main-key"
                )
            )
            async with session.get(row["uri"], headers=headers) as response:
                status = response.status
                content_type = response.headers.get("Content-Type", "")
                document = await response.json(content_type=None)
            assert status == 200, f"{row['type']} {row['uri']}: {status} {document}"
            assert content_type.startswith("application/activity+json"), row["uri"]
            assert document["id"] == row["uri"]
            assert document["type"] == row["type"]


async def test_default_avatar_is_served(start_instances):
    (school,) = await start_instances("school-a.test")
    alice = await school.create_teacher("alice")
    account = await alice.get("/api/v1/accounts/verify_credentials")
    path = account["avatar"].split(school.host, 1)[1]
    status, _ = await alice.request("GET", path)
    assert status == 200
