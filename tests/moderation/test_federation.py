"""Moderation between live instances over HTTPS: Block, Flag, domain suspension
and the allowlist, each checked at the receiving instance.

One pair of instances serves the module; each test uses its own teachers.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from federation import httpsig
from tests.conftest import DOMAINS
from tests.support.live import LiveInstance, Teacher, eventually


@pytest.fixture(scope="module")
async def pair(databases: Any, pki: Any, tmp_path_factory: Any) -> AsyncIterator[list[LiveInstance]]:
    directory = tmp_path_factory.mktemp("moderation")
    host_map = {domain: "127.0.0.1" for domain in DOMAINS}
    instances = [
        LiveInstance(
            domain=domain,
            dsn=await databases.create(),
            directory=directory / domain,
            pki=pki,
            host_map=host_map,
        )
        for domain in ("school-a.test", "district-b.test")
    ]
    for instance in instances:
        await instance.start()
    yield instances
    for instance in instances:
        instance.terminate()
    for instance in instances:
        instance.stop()
        await databases.drop(instance.dsn)


async def fetchval(instance: LiveInstance, query: str, *args: Any) -> Any:
    connection = await instance.db()
    try:
        return await connection.fetchval(query, *args)
    finally:
        await connection.close()


async def make_admin(teacher: Teacher) -> None:
    await fetchval(
        teacher.instance, "UPDATE accounts SET is_admin = true WHERE id = $1", int(teacher.account_id)
    )


async def follow_across(follower: Teacher, target: Teacher) -> dict[str, Any]:
    """Follow ``target`` on the other instance and wait for the Accept."""
    found = await follower.resolve(target.handle)
    await follower.post(f"/api/v1/accounts/{found['id']}/follow")

    async def accepted() -> bool:
        relationship = await follower.get(f"/api/v1/accounts/relationships?id[]={found['id']}")
        return relationship[0]["following"]

    assert await eventually(accepted), f"{follower.handle} never got an Accept"
    return found


async def signed_post(sender: Teacher, target: LiveInstance, activity: dict[str, Any]) -> tuple[int, Any]:
    """POST an activity to ``target``'s shared inbox, signed with the sender's real key."""
    pem = await fetchval(
        sender.instance, "SELECT private_key_pem FROM accounts WHERE id = $1", int(sender.account_id)
    )
    body = json.dumps(activity).encode()
    url = f"{target.url}/inbox"
    headers = {"Content-Type": "application/activity+json"}
    headers |= httpsig.sign_request(
        "POST", url, headers, body, httpsig.load_private_key(pem), f"{sender.actor_id}#main-key"
    )
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{target.client_url}/inbox", data=body, headers=headers, ssl=target.ssl_context()
        ) as response:
            return response.status, await response.json(content_type=None)


def note_activity(sender: Teacher, suffix: str) -> dict[str, Any]:
    stamp = f"{suffix}-{time.monotonic_ns()}"
    note_id = f"{sender.actor_id}/statuses/{stamp}"
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{note_id}/activity",
        "type": "Create",
        "actor": sender.actor_id,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {
            "id": note_id,
            "type": "Note",
            "attributedTo": sender.actor_id,
            "content": "<p>hello</p>",
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "published": "2026-01-01T00:00:00Z",
        },
    }


async def test_block_reaches_remote_and_ends_follow(pair):
    school, district = pair
    alice = await school.create_teacher("alice_block")
    bob = await district.create_teacher("bob_block")
    await follow_across(bob, alice)
    bob_there = await alice.resolve(bob.handle)

    relationship = await alice.post(f"/api/v1/accounts/{bob_there['id']}/block")

    async def follow_gone_at_district() -> bool:
        return not await fetchval(
            district,
            "SELECT count(*) FROM follows f JOIN accounts a ON a.id = f.target_account_id"
            " WHERE a.actor_id = $1",
            alice.actor_id,
        )

    assert relationship["blocking"]
    assert await eventually(follow_gone_at_district)
    alice_there = await bob.resolve(alice.handle)
    seen_by_bob = await bob.get(f"/api/v1/accounts/relationships?id[]={alice_there['id']}")
    assert seen_by_bob[0]["blocked_by"]


async def test_unblock_sends_undo(pair):
    school, district = pair
    alice = await school.create_teacher("alice_undo")
    bob = await district.create_teacher("bob_undo")
    bob_there = await alice.resolve(bob.handle)
    alice_there = await bob.resolve(alice.handle)
    await alice.post(f"/api/v1/accounts/{bob_there['id']}/block")

    async def blocked_by() -> bool:
        found = await bob.get(f"/api/v1/accounts/relationships?id[]={alice_there['id']}")
        return found[0]["blocked_by"]

    assert await eventually(blocked_by)
    await alice.post(f"/api/v1/accounts/{bob_there['id']}/unblock")

    async def unblocked() -> bool:
        return not await blocked_by()

    assert await eventually(unblocked)
    listed = await alice.get("/api/v1/blocks")
    assert listed == []


async def test_forwarded_report_stored_as_flag(pair):
    school, district = pair
    alice = await school.create_teacher("alice_flag")
    bob = await district.create_teacher("bob_flag")
    posted = await bob.post("/api/v1/statuses", data={"status": "buy cheap pens", "visibility": "public"})
    await follow_across(alice, bob)
    status_uri = f"{district.url}/users/bob_flag/statuses/{posted['id']}"
    found = await alice.get("/api/v2/search", params={"q": status_uri, "resolve": "true", "type": "statuses"})
    bob_there = await alice.resolve(bob.handle)

    report = await alice.post(
        "/api/v1/reports",
        data={
            "account_id": bob_there["id"],
            "status_ids[]": found["statuses"][0]["id"],
            "comment": "selling pens",
            "category": "spam",
            "forward": "true",
        },
    )

    async def flag_stored() -> Any:
        return await fetchval(
            district,
            "SELECT r.status_ids FROM reports r JOIN accounts t ON t.id = r.target_account_id"
            " WHERE t.actor_id = $1 AND r.comment = 'selling pens'",
            bob.actor_id,
        )

    assert report["forwarded"]
    assert await eventually(flag_stored) == [int(posted["id"])]
    reporter = await fetchval(
        district,
        "SELECT a.actor_id FROM reports r JOIN accounts a ON a.id = r.account_id"
        " WHERE r.comment = 'selling pens'",
    )
    assert reporter == f"{school.url}/actor"


async def test_suspended_domain_rejected_at_inbox(pair):
    school, district = pair
    admin = await school.create_teacher("admin_suspend")
    await make_admin(admin)
    carol = await district.create_teacher("carol_suspend")
    await admin.resolve(carol.handle)

    before, _ = await signed_post(carol, school, note_activity(carol, "before"))
    created = await admin.post(
        "/api/v1/admin/domain_blocks", data={"domain": "district-b.test", "severity": "suspend"}
    )
    activity = note_activity(carol, "after")
    status, body = await signed_post(carol, school, activity)
    await admin.request("DELETE", f"/api/v1/admin/domain_blocks/{created['id']}")

    assert before == 202
    assert status == 403
    assert "suspended" in body["error"]
    stored = await fetchval(school, "SELECT count(*) FROM inbox_queue WHERE activity_id = $1", activity["id"])
    assert stored == 0
    rejection = [line for line in school.log_text().splitlines() if activity["id"] in line]
    assert rejection, "no log line names the rejected activity"
    assert carol.actor_id in rejection[-1]
    assert f"{carol.actor_id}#main-key" in rejection[-1]


async def test_suspended_domain_gets_no_delivery(pair):
    school, district = pair
    admin = await school.create_teacher("admin_deliver")
    await make_admin(admin)
    dave = await district.create_teacher("dave_deliver")
    dave_there = await admin.resolve(dave.handle)
    created = await admin.post(
        "/api/v1/admin/domain_blocks", data={"domain": "district-b.test", "severity": "suspend"}
    )

    await admin.post(f"/api/v1/accounts/{dave_there['id']}/block")

    async def delivery_failed() -> Any:
        return await fetchval(
            school,
            "SELECT d.last_error FROM deliveries d JOIN activities a ON a.id = d.activity_id"
            " WHERE a.type = 'Block' AND a.account_id = $1 AND d.state = 'failed'",
            int(admin.account_id),
        )

    error = await eventually(delivery_failed)
    await admin.request("DELETE", f"/api/v1/admin/domain_blocks/{created['id']}")
    assert "suspended" in error


async def test_suspended_domain_not_fetched(pair):
    school, district = pair
    admin = await school.create_teacher("admin_fetch")
    await make_admin(admin)
    await district.create_teacher("erin_fetch")
    created = await admin.post(
        "/api/v1/admin/domain_blocks", data={"domain": "district-b.test", "severity": "suspend"}
    )
    found = await admin.get(
        "/api/v2/search", params={"q": f"erin_fetch@{district.host}", "resolve": "true", "type": "accounts"}
    )
    await admin.request("DELETE", f"/api/v1/admin/domain_blocks/{created['id']}")
    assert found["accounts"] == []
    assert "fetch of" in school.log_text()


async def test_suspended_domain_plan_not_fetched(pair):
    school, district = pair
    admin = await school.create_teacher("admin_plan_fetch")
    await make_admin(admin)
    judy = await district.create_teacher("judy_plan")
    plan = await judy.post(
        "/api/pedagogue/v1/lesson_plans",
        json={"title": "Fractions on a number line", "body": "Fold paper strips."},
    )
    created = await admin.post(
        "/api/v1/admin/domain_blocks", data={"domain": "district-b.test", "severity": "suspend"}
    )
    status, body = await admin.request(
        "GET",
        "/api/pedagogue/v1/lesson_plans/lookup",
        params={"uri": plan["uri"], "resolve": "true"},
    )
    await admin.request("DELETE", f"/api/v1/admin/domain_blocks/{created['id']}")
    assert status == 404
    assert "suspended" in body["error"]
    assert "fetch of lesson plan" in school.log_text()


async def test_allowlist_mode_rejects_unlisted(start_instances, pair):
    school, district = pair
    (gated,) = await start_instances(
        "college-c.test", extra_env={"PEDAGOGUE_FEDERATION__FEDERATION_MODE": "allowlist"}
    )
    admin = await gated.create_teacher("admin_gate")
    await make_admin(admin)
    frank = await district.create_teacher("frank_gate")
    grace = await school.create_teacher("grace_gate")

    allowed = await admin.post("/api/v1/admin/domain_allows", data={"domain": "school-a.test"})
    from_listed, _ = await signed_post(grace, gated, note_activity(grace, "listed"))
    from_unlisted, body = await signed_post(frank, gated, note_activity(frank, "unlisted"))

    assert allowed["domain"] == "school-a.test"
    assert from_listed == 202
    assert from_unlisted == 403
    assert "allowlist" in body["error"]


async def set_suspended(instance: LiveInstance, actor_id: str, suspended: bool) -> None:
    await fetchval(
        instance,
        "UPDATE accounts SET suspended_at = CASE WHEN $2 THEN now() END WHERE actor_id = $1",
        actor_id,
        suspended,
    )


async def test_suspended_remote_actor_rejected_at_inbox(pair):
    school, district = pair
    admin = await school.create_teacher("admin_actor_suspend")
    heidi = await district.create_teacher("heidi_suspended")
    ivan = await district.create_teacher("ivan_neighbour")
    await admin.resolve(heidi.handle)
    await admin.resolve(ivan.handle)
    before, _ = await signed_post(heidi, school, note_activity(heidi, "before"))

    # The trigger on accounts sends the NOTIFY that reloads the cached policy.
    await set_suspended(school, heidi.actor_id, True)
    sent: list[dict[str, Any]] = []

    async def rejected() -> tuple[int, Any] | None:
        sent.append(note_activity(heidi, "after"))
        status, body = await signed_post(heidi, school, sent[-1])
        return (status, body) if status == 403 else None

    outcome = await eventually(rejected, timeout=10.0, interval=0.2)
    neighbour, _ = await signed_post(ivan, school, note_activity(ivan, "neighbour"))
    await set_suspended(school, heidi.actor_id, False)

    async def accepted_again() -> bool:
        status, _ = await signed_post(heidi, school, note_activity(heidi, "lifted"))
        return status == 202

    lifted = await eventually(accepted_again, timeout=10.0, interval=0.2)

    assert before == 202
    assert outcome is not None, "the suspended actor's activities were still accepted"
    assert "suspended" in outcome[1]["error"]
    stored = await fetchval(
        school, "SELECT count(*) FROM inbox_queue WHERE activity_id = $1", sent[-1]["id"]
    )
    assert stored == 0
    rejection = [line for line in school.log_text().splitlines() if sent[-1]["id"] in line]
    assert rejection, "no log line names the rejected activity"
    assert heidi.actor_id in rejection[-1]
    assert f"{heidi.actor_id}#main-key" in rejection[-1]
    assert neighbour == 202
    assert lifted


def note_with_image(sender: Teacher, suffix: str) -> dict[str, Any]:
    activity = note_activity(sender, suffix)
    activity["object"]["attachment"] = [
        {
            "type": "Document",
            "mediaType": "image/png",
            "url": f"{sender.instance.url}/media/{suffix}.png",
            "name": "a classroom",
        }
    ]
    return activity


async def test_reject_media_hides_stored_media_and_avatar(pair):
    school, district = pair
    admin = await school.create_teacher("admin_media")
    await make_admin(admin)
    judy = await district.create_teacher("judy_media")
    judy_there = await admin.resolve(judy.handle)
    avatar = f"{district.url}/media/judy.png"
    await fetchval(
        school, "UPDATE accounts SET icon_url = $2 WHERE actor_id = $1", judy.actor_id, avatar
    )
    activity = note_with_image(judy, "photo")
    status, _ = await signed_post(judy, school, activity)

    async def stored_id() -> Any:
        return await fetchval(
            school, "SELECT id FROM statuses WHERE uri = $1", activity["object"]["id"]
        )

    status_id = await eventually(stored_id)
    before = await admin.get(f"/api/v1/statuses/{status_id}")
    created = await admin.post(
        "/api/v1/admin/domain_blocks",
        data={"domain": "district-b.test", "severity": "noop", "reject_media": "true"},
    )
    after = await admin.get(f"/api/v1/statuses/{status_id}")
    account = await admin.get(f"/api/v1/accounts/{judy_there['id']}")
    await admin.request("DELETE", f"/api/v1/admin/domain_blocks/{created['id']}")
    lifted = await admin.get(f"/api/v1/statuses/{status_id}")

    assert status == 202
    assert len(before["media_attachments"]) == 1
    assert before["account"]["avatar"] == avatar
    assert after["media_attachments"] == []
    assert after["account"]["avatar"].endswith("/static/avatar.png")
    assert account["avatar"].endswith("/static/avatar.png")
    assert account["header"].endswith("/static/header.png")
    assert len(lifted["media_attachments"]) == 1
