"""Moderation storage and the domain policy, on a real PostgreSQL database."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from outbox.actions import ActionError
from outbox.moderation import DomainBlockFields, ModerationActions, NewReport
from pedagogue.accounts import create_teacher
from pedagogue.runtime import Runtime
from storage import moderation, social
from storage.domain_policy import domain_candidates
from storage.ids import new_id


async def teacher(runtime: Runtime, name: str) -> Any:
    return await create_teacher(runtime.pool, runtime.settings, username=name, password=None)


async def remote(runtime: Runtime, name: str, domain: str) -> Any:
    base = f"https://{domain}/users/{name}"
    return await runtime.pool.fetchrow(
        "INSERT INTO accounts (id, username, domain, actor_id, inbox_url)"
        " VALUES ($1, $2, $3, $4, $5) RETURNING *",
        new_id(),
        name,
        domain,
        base,
        f"{base}/inbox",
    )


async def post(runtime: Runtime, account: Any, visibility: str = "public") -> int:
    status_id = new_id()
    await runtime.pool.execute(
        "INSERT INTO statuses (id, uri, account_id, local, visibility, content)"
        " VALUES ($1, $2, $3, $4, $5, 'hello')",
        status_id,
        f"https://example.invalid/statuses/{status_id}",
        account["id"],
        account["domain"] is None,
        visibility,
    )
    return status_id


# Domain matching


def test_domain_candidates_cover_parents_and_port():
    candidates = domain_candidates("a.b.example.org:8443")
    assert "a.b.example.org:8443" in candidates
    assert "a.b.example.org" in candidates
    assert "example.org" in candidates
    assert "org" not in candidates


async def test_severity_function_matches_subdomains(runtime: Runtime):
    await runtime.pool.execute(
        "INSERT INTO domain_blocks (id, domain, severity) VALUES (1, 'bad.example', 'silence')"
    )
    severity = "SELECT domain_block_severity($1)"
    assert await runtime.pool.fetchval(severity, "bad.example") == "silence"
    assert await runtime.pool.fetchval(severity, "sub.bad.example:8443") == "silence"
    assert await runtime.pool.fetchval(severity, "notbad.example") is None
    assert await runtime.pool.fetchval(severity, None) is None


# Blocks


async def test_block_ends_follows_feeds_and_notifications(runtime: Runtime):
    alice = await teacher(runtime, "alice")
    bob = await teacher(runtime, "bob")
    await social.upsert_follow(runtime.pool, alice["id"], bob["id"], None, True)
    await social.upsert_follow(runtime.pool, bob["id"], alice["id"], None, True)
    status_id = await post(runtime, bob)
    await social.add_to_home_feeds(runtime.pool, status_id, [alice["id"]])
    await social.notify(runtime.pool, alice["id"], "follow", bob["id"])

    await ModerationActions(runtime).block(alice, bob)

    count = "SELECT count(*) FROM {} WHERE {}"
    assert await runtime.pool.fetchval(count.format("follows", "true")) == 0
    assert await runtime.pool.fetchval(count.format("home_feed", "true")) == 0
    assert await runtime.pool.fetchval(count.format("notifications", "true")) == 0
    assert await moderation.block_between(runtime.pool, bob["id"], alice["id"])


async def test_block_of_remote_queues_block_and_undo(runtime: Runtime):
    alice = await teacher(runtime, "alice")
    bob = await remote(runtime, "bob", "district-b.test")
    actions = ModerationActions(runtime)

    await actions.block(alice, bob)
    await actions.unblock(alice, bob)

    rows = await runtime.pool.fetch(
        "SELECT a.type, a.body, d.inbox_url FROM activities a"
        " JOIN deliveries d ON d.activity_id = a.id ORDER BY a.id"
    )
    assert [row["type"] for row in rows] == ["Block", "Undo"]
    assert rows[1]["body"]["object"]["id"] == rows[0]["body"]["id"]
    assert {row["inbox_url"] for row in rows} == {bob["inbox_url"]}


async def test_block_of_self_rejected(runtime: Runtime):
    alice = await teacher(runtime, "alice")
    with pytest.raises(ActionError) as raised:
        await ModerationActions(runtime).block(alice, alice)
    assert raised.value.status == 422


async def test_hidden_from_viewer_both_ways(runtime: Runtime):
    alice = await teacher(runtime, "alice")
    bob = await teacher(runtime, "bob")
    await ModerationActions(runtime).block(alice, bob)
    hidden = "SELECT account_hidden_from($1, $2)"
    assert await runtime.pool.fetchval(hidden, bob["id"], alice["id"])
    assert await runtime.pool.fetchval(hidden, alice["id"], bob["id"])
    assert not await runtime.pool.fetchval(hidden, alice["id"], None)


# Mutes


async def test_mute_expires(runtime: Runtime):
    alice = await teacher(runtime, "alice")
    bob = await teacher(runtime, "bob")
    await moderation.add_mute(
        runtime.pool, alice["id"], bob["id"], hide_notifications=True, duration=timedelta(hours=1)
    )
    assert await moderation.active_mute(runtime.pool, alice["id"], bob["id"]) is not None

    await runtime.pool.execute("UPDATE mutes SET expires_at = now() - interval '1 second'")

    assert await moderation.active_mute(runtime.pool, alice["id"], bob["id"]) is None
    assert not await runtime.pool.fetchval("SELECT account_hidden_from($1, $2)", bob["id"], alice["id"])
    assert await moderation.delete_expired_mutes(runtime.pool) == 1


async def test_mute_keeping_notifications(runtime: Runtime):
    alice = await teacher(runtime, "alice")
    bob = await teacher(runtime, "bob")
    await ModerationActions(runtime).mute(alice, bob, notifications=False, duration_seconds=0)
    hidden = "SELECT notification_hidden($1, $2)"
    assert not await runtime.pool.fetchval(hidden, alice["id"], bob["id"])
    assert await runtime.pool.fetchval("SELECT account_hidden_from($1, $2)", bob["id"], alice["id"])


async def test_mute_duration_out_of_range(runtime: Runtime):
    alice = await teacher(runtime, "alice")
    bob = await teacher(runtime, "bob")
    with pytest.raises(ActionError) as raised:
        await ModerationActions(runtime).mute(alice, bob, notifications=True, duration_seconds=-5)
    assert raised.value.status == 422


# Domain blocks and the policy cache


async def test_policy_sees_block_at_once(runtime: Runtime):
    policy = runtime.domain_policy
    assert await policy.rejection("https://bad.example/users/x") is None

    await ModerationActions(runtime).block_domain(
        None, DomainBlockFields(domain="bad.example", severity="suspend")
    )

    assert await policy.rejection("https://sub.bad.example/users/x") is not None
    assert await policy.rejection("https://good.example/users/x") is None


async def test_policy_sees_change_by_other_connection(runtime: Runtime):
    policy = runtime.domain_policy
    assert await policy.rejection("bad.example") is None
    connection = await asyncpg.connect(runtime.dsn)
    try:
        async with connection.transaction():
            await moderation.save_domain_block(connection, "bad.example", severity="suspend")
    finally:
        await connection.close()

    # The NOTIFY is delivered asynchronously; a bounded wait for it.
    for _ in range(100):
        if await policy.rejection("bad.example") is not None:
            break
        await asyncio.sleep(0.02)
    assert await policy.rejection("bad.example") is not None


async def test_suspension_drops_follows_with_domain(runtime: Runtime):
    alice = await teacher(runtime, "alice")
    bob = await remote(runtime, "bob", "bad.example:8443")
    carol = await remote(runtime, "carol", "good.example")
    await social.upsert_follow(runtime.pool, alice["id"], bob["id"], None, True)
    await social.upsert_follow(runtime.pool, bob["id"], alice["id"], None, True)
    await social.upsert_follow(runtime.pool, alice["id"], carol["id"], None, True)

    await ModerationActions(runtime).block_domain(
        None, DomainBlockFields(domain="bad.example", severity="suspend")
    )

    remaining = await runtime.pool.fetch("SELECT target_account_id FROM follows")
    assert [row["target_account_id"] for row in remaining] == [carol["id"]]


async def test_silenced_domain_off_public(runtime: Runtime):
    bob = await remote(runtime, "bob", "loud.example")
    await ModerationActions(runtime).block_domain(
        None, DomainBlockFields(domain="loud.example", severity="silence")
    )
    assert await runtime.pool.fetchval("SELECT account_kept_off_public($1)", bob["id"])


async def test_own_domain_cannot_be_blocked(runtime: Runtime):
    with pytest.raises(ActionError) as raised:
        await ModerationActions(runtime).block_domain(
            None, DomainBlockFields(domain="school-a.test", severity="suspend")
        )
    assert raised.value.status == 422


async def test_bad_severity_rejected(runtime: Runtime):
    with pytest.raises(ActionError) as raised:
        await ModerationActions(runtime).block_domain(
            None, DomainBlockFields(domain="x.example", severity="banish")
        )
    assert "severity" in raised.value.message


async def test_domain_actions_in_audit_log(runtime: Runtime):
    actions = ModerationActions(runtime)
    row = await actions.block_domain(None, DomainBlockFields(domain="x.example", severity="silence"))
    await actions.unblock_domain(None, row["id"])

    entries = await moderation.audit_log(runtime.pool)
    assert [entry["action"] for entry in entries] == ["destroy_domain_block", "create_domain_block"]
    assert {entry["target"] for entry in entries} == {"x.example"}
    assert {entry["account_handle"] for entry in entries} == {"(command line)"}


# Reports


async def test_report_checks_statuses_belong_to_target(runtime: Runtime):
    alice = await teacher(runtime, "alice")
    bob = await teacher(runtime, "bob")
    carol = await teacher(runtime, "carol")
    carols_post = await post(runtime, carol)
    with pytest.raises(ActionError) as raised:
        await ModerationActions(runtime).report(alice, NewReport(target=bob, status_ids=[carols_post]))
    assert raised.value.status == 404
    assert await runtime.pool.fetchval("SELECT count(*) FROM reports") == 0


async def test_forwarded_report_queues_flag(runtime: Runtime):
    alice = await teacher(runtime, "alice")
    bob = await remote(runtime, "bob", "district-b.test")
    bobs_post = await post(runtime, bob)

    report = await ModerationActions(runtime).report(
        alice, NewReport(target=bob, status_ids=[bobs_post], comment="spam links", forward=True)
    )

    flag = await runtime.pool.fetchrow("SELECT * FROM activities WHERE type = 'Flag'")
    assert report["forwarded"]
    assert flag["account_id"] == runtime.instance_account["id"]
    assert flag["body"]["object"][0] == bob["actor_id"]
    assert alice["actor_id"] not in str(flag["body"])


async def test_unknown_rule_rejected(runtime: Runtime):
    alice = await teacher(runtime, "alice")
    bob = await teacher(runtime, "bob")
    with pytest.raises(ActionError) as raised:
        await ModerationActions(runtime).report(
            alice, NewReport(target=bob, category="violation", rule_ids=[99])
        )
    assert raised.value.status == 422


# Server rules


async def test_rules_fall_back_to_setting_until_saved(runtime: Runtime):
    runtime.settings.instance.rules = "Be kind\n\nCite sources"
    configured = runtime.settings.instance.rules
    first = await moderation.server_rules(runtime.pool, configured)
    assert [rule["text"] for rule in first] == ["Be kind", "Cite sources"]

    async with runtime.pool.acquire() as connection:
        await moderation.save_server_rules(connection, [])
    assert await moderation.server_rules(runtime.pool, configured) == []
