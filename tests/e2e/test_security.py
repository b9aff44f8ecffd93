"""Inbox signature checks over HTTPS between live instances.

Each test signs requests itself with the real key of a teacher on another
instance (read from that instance's database) and POSTs them to a live inbox.
A rejected request must leave the inbox queue empty and a log line naming the
key id and the reason.
"""

import itertools
import json
import time

from actors.keys import generate_key_pair
from federation import httpsig
from tests.e2e.peers import (
    PUBLIC,
    inbox_rows,
    logged,
    open_session,
    post_raw,
    post_signed,
    private_key_of,
    signed_headers,
)
from tests.support.live import Teacher, eventually

SCHEMES = (httpsig.CAVAGE, httpsig.RFC9421)
_serial = itertools.count()


def note_create(author: Teacher, text: str) -> dict:
    """Return a public Create of a Note by ``author``, with ids on its host."""
    number = next(_serial)
    base = author.instance.url
    note_id = f"{author.actor_id}/statuses/{900000 + number}"
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{base}/activities/{800000 + number}",
        "type": "Create",
        "actor": author.actor_id,
        "to": [PUBLIC],
        "cc": [f"{author.actor_id}/followers"],
        "object": {
            "id": note_id,
            "type": "Note",
            "attributedTo": author.actor_id,
            "content": f"<p>{text}</p>",
            "to": [PUBLIC],
            "cc": [f"{author.actor_id}/followers"],
            "published": "2024-01-15T10:00:00Z",
        },
    }


async def test_inbox_signed_post_stored_once(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    await school.create_teacher("alice")
    bob = await district.create_teacher("bob")
    key = await private_key_of(bob)
    url = f"{school.url}/inbox"

    async with open_session(school, district) as session:
        for scheme in SCHEMES:
            body = json.dumps(note_create(bob, f"Signed with {scheme}")).encode()
            headers = signed_headers(
                url,
                body,
                key_id=f"{bob.actor_id}#main-key",
                private_key=key,
                scheme=scheme,
            )
            # The same signed request twice, as a retrying sender or a replay
            # inside the Date window would send it.
            for attempt in ("first", "repeated"):
                status, answer = await post_raw(session, url, body, headers)
                assert status == 202, f"{scheme}, {attempt}: {status} {answer}"

    async def all_processed() -> bool:
        rows = await inbox_rows(school)
        return len(rows) == len(SCHEMES) and all(row["state"] == "done" for row in rows)

    assert await eventually(all_processed), await inbox_rows(school)


async def test_inbox_tampered_body_rejected(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    await school.create_teacher("alice")
    bob = await district.create_teacher("bob")
    key = await private_key_of(bob)
    key_id = f"{bob.actor_id}#main-key"

    async with open_session(school, district) as session:
        for scheme in SCHEMES:
            activity = note_create(bob, "Homework is due Monday")
            tampered = json.loads(json.dumps(activity))
            tampered["object"]["content"] = "<p>Homework is cancelled</p>"
            status, body = await post_signed(
                session,
                f"{school.url}/inbox",
                activity,
                key_id=key_id,
                private_key=key,
                scheme=scheme,
                sent_body=json.dumps(tampered).encode(),
            )
            assert status == 401, f"{scheme}: {status} {body}"
            assert "does not match the body" in body["error"], f"{scheme}: {body}"
            line = await logged(
                school, activity["id"], key_id, "does not match the body"
            )
            assert line, f"{scheme}: no log line names {key_id}"

    assert await inbox_rows(school) == []


async def test_inbox_tampered_body_with_new_digest_rejected(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    await school.create_teacher("alice")
    bob = await district.create_teacher("bob")
    key = await private_key_of(bob)
    key_id = f"{bob.actor_id}#main-key"
    url = f"{school.url}/inbox"

    async with open_session(school, district) as session:
        for scheme in SCHEMES:
            activity = note_create(bob, "Homework is due Monday")
            tampered = json.dumps({**activity, "cc": []}).encode()
            headers = signed_headers(
                url,
                json.dumps(activity).encode(),
                key_id=key_id,
                private_key=key,
                scheme=scheme,
            )
            # The digest now matches the tampered body, but the signature
            # covers the digest of the original one.
            if scheme == httpsig.CAVAGE:
                headers["Digest"] = httpsig.digest_header(tampered)
            else:
                headers["Content-Digest"] = httpsig.content_digest_header(tampered)
            status, body = await post_raw(session, url, tampered, headers)
            assert status == 401, f"{scheme}: {status} {body}"
            assert body["error"] == httpsig.VERIFICATION_FAILED, f"{scheme}: {body}"
            line = await logged(
                school, activity["id"], key_id, httpsig.VERIFICATION_FAILED
            )
            assert line, f"{scheme}: no log line names {key_id}"

    assert await inbox_rows(school) == []


async def test_inbox_stale_date_rejected(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    await school.create_teacher("alice")
    bob = await district.create_teacher("bob")
    key = await private_key_of(bob)
    key_id = f"{bob.actor_id}#main-key"

    async with open_session(school, district) as session:
        for scheme in SCHEMES:
            for label, moment in (("2 h old", -7200), ("1 h ahead", 3600)):
                activity = note_create(bob, "Old news")
                status, body = await post_signed(
                    session,
                    f"{school.url}/inbox",
                    activity,
                    key_id=key_id,
                    private_key=key,
                    scheme=scheme,
                    now=time.time() + moment,
                )
                assert status == 401, f"{scheme}, {label}: {status} {body}"
                assert "outside the accepted window" in body["error"], body
                line = await logged(
                    school, activity["id"], key_id, "outside the accepted window"
                )
                assert line, f"{scheme}, {label}: no log line names {key_id}"

    assert await inbox_rows(school) == []


async def test_inbox_unsigned_post_rejected(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    bob = await district.create_teacher("bob")
    activity = note_create(bob, "No signature at all")

    async with open_session(school, district) as session:
        for inbox in (f"{school.url}/inbox", f"{alice.actor_id}/inbox"):
            status, body = await post_signed(session, inbox, activity, key_id=None)
            assert status == 401, f"{inbox}: {status} {body}"
            assert body["error"] == "Signature header missing", body

    assert await inbox_rows(school) == []
    assert await logged(school, activity["id"], "key none", "Signature header missing")


async def test_inbox_forged_signature_rejected(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    await school.create_teacher("alice")
    bob = await district.create_teacher("bob")
    key_id = f"{bob.actor_id}#main-key"
    forger_pem, _ = generate_key_pair()
    forger_key = httpsig.load_private_key(forger_pem)

    async with open_session(school, district) as session:
        for scheme in SCHEMES:
            activity = note_create(bob, "Not really from bob")
            status, body = await post_signed(
                session,
                f"{school.url}/inbox",
                activity,
                key_id=key_id,
                private_key=forger_key,
                scheme=scheme,
            )
            assert status == 401, f"{scheme}: {status} {body}"
            assert body["error"] == httpsig.VERIFICATION_FAILED, f"{scheme}: {body}"
            line = await logged(
                school, activity["id"], key_id, httpsig.VERIFICATION_FAILED
            )
            assert line, f"{scheme}: no log line names {key_id}"

    assert await inbox_rows(school) == []


async def test_inbox_key_of_another_host_rejected(start_instances):
    school, district, college = await start_instances(
        "school-a.test", "district-b.test", "college-c.test"
    )
    alice = await school.create_teacher("alice")
    bob = await district.create_teacher("bob")
    carol = await college.create_teacher("carol")
    key = await private_key_of(bob)
    key_id = f"{bob.actor_id}#main-key"

    async with open_session(school, district, college) as session:
        # bob's key speaking for carol on a third host, and for alice on the
        # receiving instance itself.
        for claimed in (carol, alice):
            for scheme in SCHEMES:
                activity = note_create(
                    claimed, f"Words put in {claimed.username}'s mouth"
                )
                status, body = await post_signed(
                    session,
                    f"{school.url}/inbox",
                    activity,
                    key_id=key_id,
                    private_key=key,
                    scheme=scheme,
                )
                assert status == 401, f"{claimed.handle}, {scheme}: {status} {body}"
                assert body["error"] == "signer is not the activity's actor", body
                line = await logged(
                    school, activity["id"], key_id, "signer is not the activity's actor"
                )
                assert line, f"{claimed.handle}, {scheme}: no log line names {key_id}"

    assert await inbox_rows(school) == []


async def test_inbox_malformed_bodies_rejected(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    await school.create_teacher("alice")
    bob = await district.create_teacher("bob")
    key = await private_key_of(bob)
    key_id = f"{bob.actor_id}#main-key"
    url = f"{school.url}/inbox"
    elsewhere = {**note_create(bob, "Id on another host")}
    elsewhere["id"] = f"{school.url}/activities/1"
    oversized = note_create(bob, "x" * 1_100_000)
    # Each body is signed as sent, so only its content can be at fault.
    cases = {
        "invalid JSON": (b"{not json", 400, "body is not valid JSON"),
        "JSON array": (b"[]", 400, "activity must be a JSON object"),
        "id on another host": (
            json.dumps(elsewhere).encode(),
            400,
            "activity id and actor are on different hosts",
        ),
        "over 1 MiB": (json.dumps(oversized).encode(), 413, "over the limit"),
    }

    async with open_session(school, district) as session:
        for case, (body, expected, message) in cases.items():
            headers = signed_headers(url, body, key_id=key_id, private_key=key)
            status, answer = await post_raw(session, url, body, headers)
            assert status == expected, f"{case}: {status} {answer}"
            assert message in answer["error"], f"{case}: {answer}"

    assert await inbox_rows(school) == []
