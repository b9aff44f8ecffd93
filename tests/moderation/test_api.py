"""The moderation client API and admin API on one live instance, and the
``pedagogue domain`` command against its database."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import DOMAINS
from tests.support.live import LiveInstance, Teacher


@pytest.fixture(scope="module")
async def school(databases: Any, pki: Any, tmp_path_factory: Any) -> AsyncIterator[LiveInstance]:
    instance = LiveInstance(
        domain="school-a.test",
        dsn=await databases.create(),
        directory=tmp_path_factory.mktemp("moderation-api") / "school-a.test",
        pki=pki,
        host_map={domain: "127.0.0.1" for domain in DOMAINS},
        extra_env={"PEDAGOGUE_INSTANCE__RULES": "Be kind\nCite your sources"},
    )
    await instance.start()
    yield instance
    instance.stop()
    await databases.drop(instance.dsn)


async def execute(instance: LiveInstance, query: str, *args: Any) -> Any:
    connection = await instance.db()
    try:
        return await connection.fetchval(query, *args)
    finally:
        await connection.close()


async def pair_of(school: LiveInstance, prefix: str) -> tuple[Teacher, Teacher]:
    return (
        await school.create_teacher(f"{prefix}_a"),
        await school.create_teacher(f"{prefix}_b"),
    )


async def test_blocked_account_listed_and_hidden(school):
    alice, bob = await pair_of(school, "hide")
    await bob.post("/api/v1/statuses", data={"status": "before the block"})
    await alice.post(f"/api/v1/accounts/{bob.account_id}/follow")

    relationship = await alice.post(f"/api/v1/accounts/{bob.account_id}/block")
    listed = await alice.get("/api/v1/blocks")
    home = await alice.get("/api/v1/timelines/home")
    public = await alice.get("/api/v1/timelines/public")

    assert relationship["blocking"]
    assert not relationship["following"]
    assert [account["id"] for account in listed] == [bob.account_id]
    assert all(status["account"]["id"] != bob.account_id for status in home)
    assert all(status["account"]["id"] != bob.account_id for status in public)


async def test_blocked_account_cannot_follow(school):
    alice, bob = await pair_of(school, "refollow")
    await alice.post(f"/api/v1/accounts/{bob.account_id}/block")
    status, body = await bob.request("POST", f"/api/v1/accounts/{alice.account_id}/follow")
    followers = await execute(
        school, "SELECT count(*) FROM follows WHERE target_account_id = $1", int(alice.account_id)
    )
    assert status == 403
    assert "blocks" in body["error"]
    assert followers == 0


async def test_mute_hides_from_home_and_notifications(school):
    alice, bob = await pair_of(school, "mute")
    await alice.post(f"/api/v1/accounts/{bob.account_id}/follow")
    relationship = await alice.post(
        f"/api/v1/accounts/{bob.account_id}/mute", data={"notifications": "true", "duration": "3600"}
    )
    await bob.post("/api/v1/statuses", data={"status": f"@{alice.username} hello"})

    home = await alice.get("/api/v1/timelines/home")
    notifications = await alice.get("/api/v1/notifications")
    muted = await alice.get("/api/v1/mutes")

    assert relationship["muting"]
    assert relationship["muting_notifications"]
    assert all(status["account"]["id"] != bob.account_id for status in home)
    assert all(item["account"]["id"] != bob.account_id for item in notifications)
    assert muted[0]["id"] == bob.account_id
    assert muted[0]["mute_expires_at"] is not None


async def test_expired_mute_shows_posts_again(school):
    alice, bob = await pair_of(school, "expire")
    await alice.post(f"/api/v1/accounts/{bob.account_id}/follow")
    await alice.post(f"/api/v1/accounts/{bob.account_id}/mute", data={"duration": "60"})
    await bob.post("/api/v1/statuses", data={"status": "back again"})
    await execute(school, "UPDATE mutes SET expires_at = now() - interval '1 second'")

    home = await alice.get("/api/v1/timelines/home")
    muted = await alice.get("/api/v1/mutes")

    assert any(status["account"]["id"] == bob.account_id for status in home)
    assert muted == []


async def test_mute_keeping_notifications(school):
    alice, bob = await pair_of(school, "notify")
    relationship = await alice.post(
        f"/api/v1/accounts/{bob.account_id}/mute", data={"notifications": "false"}
    )
    await bob.post("/api/v1/statuses", data={"status": f"@{alice.username} still here"})
    notifications = await alice.get("/api/v1/notifications")

    assert relationship["muting"]
    assert not relationship["muting_notifications"]
    assert any(item["account"]["id"] == bob.account_id for item in notifications)


async def test_unmute_lifts_mute(school):
    alice, bob = await pair_of(school, "unmute")
    await alice.post(f"/api/v1/accounts/{bob.account_id}/mute")
    relationship = await alice.post(f"/api/v1/accounts/{bob.account_id}/unmute")
    assert not relationship["muting"]


async def test_report_entity_and_rules(school):
    alice, bob = await pair_of(school, "report")
    posted = await bob.post("/api/v1/statuses", data={"status": "rude words"})
    rules = await alice.get("/api/v1/instance/rules")

    report = await alice.post(
        "/api/v1/reports",
        data={
            "account_id": bob.account_id,
            "status_ids[]": posted["id"],
            "comment": "rude",
            "category": "violation",
            "rule_ids[]": rules[0]["id"],
        },
    )

    assert [rule["text"] for rule in rules] == ["Be kind", "Cite your sources"]
    assert report["category"] == "violation"
    assert report["status_ids"] == [posted["id"]]
    assert report["rule_ids"] == [rules[0]["id"]]
    assert report["target_account"]["id"] == bob.account_id
    assert not report["forwarded"]


async def test_report_without_account_rejected(school):
    alice, _ = await pair_of(school, "noaccount")
    status, body = await alice.request("POST", "/api/v1/reports", data={"comment": "x"})
    assert status == 422
    assert "account_id" in body["error"]


async def test_report_of_other_accounts_status_rejected(school):
    alice, bob = await pair_of(school, "otherpost")
    posted = await alice.post("/api/v1/statuses", data={"status": "mine"})
    status, body = await alice.request(
        "POST", "/api/v1/reports", data={"account_id": bob.account_id, "status_ids[]": posted["id"]}
    )
    stored = await execute(school, "SELECT count(*) FROM reports WHERE account_id = $1", int(alice.account_id))
    assert status == 404
    assert posted["id"] in body["error"]
    assert stored == 0


async def test_instance_lists_rules(school):
    alice, _ = await pair_of(school, "instance")
    document = await alice.get("/api/v1/instance")
    assert [rule["text"] for rule in document["rules"]] == ["Be kind", "Cite your sources"]


async def test_admin_api_needs_moderator(school):
    alice, _ = await pair_of(school, "notadmin")
    status, body = await alice.request("GET", "/api/v1/admin/domain_blocks")
    assert status == 403
    assert "moderator" in body["error"]


async def test_admin_domain_block_shape(school):
    admin, _ = await pair_of(school, "shape")
    await execute(school, "UPDATE accounts SET is_moderator = true WHERE id = $1", int(admin.account_id))
    created = await admin.post(
        "/api/v1/admin/domain_blocks",
        data={
            "domain": "Spam.Example",
            "severity": "silence",
            "reject_media": "true",
            "public_comment": "spam",
            "private_comment": "seen in reports",
        },
    )
    status, duplicate = await admin.request(
        "POST", "/api/v1/admin/domain_blocks", data={"domain": "spam.example"}
    )
    status_put, updated = await admin.request(
        "PUT", f"/api/v1/admin/domain_blocks/{created['id']}", data={"severity": "suspend"}
    )
    public = await admin.get("/api/v1/instance/domain_blocks")
    await admin.request("DELETE", f"/api/v1/admin/domain_blocks/{created['id']}")
    logged = await execute(
        school, "SELECT count(*) FROM moderation_log WHERE target = 'spam.example'"
    )

    assert created["domain"] == "spam.example"
    assert created["reject_media"] is True
    assert created["private_comment"] == "seen in reports"
    assert status == 422
    assert "already blocked" in duplicate["error"]
    assert status_put == 200
    assert updated["severity"] == "suspend"
    assert updated["reject_media"] is True
    assert "private_comment" not in public[0]
    assert public[0]["comment"] == "spam"
    assert logged == 3


async def test_admin_rejects_bad_severity(school):
    admin, _ = await pair_of(school, "severity")
    await execute(school, "UPDATE accounts SET is_admin = true WHERE id = $1", int(admin.account_id))
    status, body = await admin.request(
        "POST", "/api/v1/admin/domain_blocks", data={"domain": "x.example", "severity": "exile"}
    )
    assert status == 422
    assert "exile" in body["error"]


def cli(school: LiveInstance, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pedagogue.cli", "--url", school.url, "--database-url", school.dsn, *arguments],
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_cli_domain_block_and_unblock(school):
    blocked = cli(school, "domain", "block", "cli.example", "--severity", "suspend")
    listed = cli(school, "domain", "list")
    severity = await execute(school, "SELECT severity FROM domain_blocks WHERE domain = 'cli.example'")
    unblocked = cli(school, "domain", "unblock", "cli.example")
    again = cli(school, "domain", "unblock", "cli.example")

    assert blocked.returncode == 0, blocked.stderr
    assert "cli.example" in listed.stdout
    assert severity == "suspend"
    assert unblocked.returncode == 0, unblocked.stderr
    assert again.returncode == 1
    assert "not blocked" in again.stderr


async def test_cli_rejects_bad_domain(school):
    result = cli(school, "domain", "block", "not a domain!")
    assert result.returncode == 1
    assert "invalid domain" in result.stderr
