"""Moderation actions: blocks, mutes, reports with Flag forwarding, and the
moderator actions on accounts and domains, each recorded in the audit log.

Like outbox.actions, each action changes the database, stores its activity
and queues its deliveries in one transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import asyncpg

from actors.vocabulary import CONTEXT
from federation.hosts import split_authority
from outbox import activities as build
from outbox.actions import ActionError
from outbox.queue import enqueue_deliveries, next_activity_id, store_activity
from storage import accounts, moderation, sessions, statuses
from storage.domain_policy import domain_candidates
from storage.moderation import REPORT_CATEGORIES, SEVERITIES

if TYPE_CHECKING:
    from pedagogue.runtime import Runtime

log = logging.getLogger(__name__)

MAX_REPORT_COMMENT = 1000
MAX_REPORTED_STATUSES = 50
MAX_DOMAIN_COMMENT = 1000
# Maximum mute duration in seconds; clients offer durations of days or weeks.
MAX_MUTE_SECONDS = 366 * 86400


@dataclass
class NewReport:
    target: Any
    status_ids: list[int] = field(default_factory=list)
    comment: str = ""
    category: str = "other"
    rule_ids: list[int] = field(default_factory=list)
    forward: bool = False


@dataclass
class DomainBlockFields:
    domain: str
    severity: str = "silence"
    reject_media: bool = False
    reject_reports: bool = False
    obfuscate: bool = False
    public_comment: str = ""
    private_comment: str = ""


def normalize_domain(value: str) -> str:
    """Return a domain as stored: lower case, in IDNA ASCII form, without
    scheme, path or dots at the ends. A port, when given, is kept.

    Raises ActionError(422) when nothing usable is left.
    """
    domain = value.strip().lower()
    if "//" in domain:
        domain = domain.split("//", 1)[1]
    domain = domain.split("/", 1)[0].strip(".")
    name, port = split_authority(domain)
    domain = f"{name}:{port}" if port else name
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789-.:[]")
    if not domain or len(domain) > 253 or not set(domain) <= allowed:
        raise ActionError(422, f"invalid domain {value[:80]!r}: expected a host name such as example.org")
    return domain


def validate_domain_block(fields: DomainBlockFields) -> DomainBlockFields:
    """Return ``fields`` with a normalized domain; raise ActionError(422) naming a bad field."""
    fields.domain = normalize_domain(fields.domain)
    if fields.severity not in SEVERITIES:
        raise ActionError(
            422, f"invalid severity {fields.severity[:20]!r}: expected silence, suspend or noop"
        )
    for name in ("public_comment", "private_comment"):
        if len(getattr(fields, name)) > MAX_DOMAIN_COMMENT:
            raise ActionError(422, f"{name} is over {MAX_DOMAIN_COMMENT} characters")
    return fields


def _check_report_fields(new: NewReport) -> None:
    if new.category not in REPORT_CATEGORIES:
        raise ActionError(
            422, f"invalid category {new.category[:20]!r}: expected spam, legal, violation or other"
        )
    if len(new.comment) > MAX_REPORT_COMMENT:
        raise ActionError(422, f"comment is over {MAX_REPORT_COMMENT} characters")
    if len(new.status_ids) > MAX_REPORTED_STATUSES:
        raise ActionError(422, f"a report names at most {MAX_REPORTED_STATUSES} statuses")


class ModerationActions:
    """Blocks, mutes and reports by teachers, and moderators' actions."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.urls = runtime.urls

    @property
    def deadline(self) -> float:
        return self.runtime.settings.federation.delivery_deadline

    async def _queue(
        self, connection: asyncpg.Connection, account: Any, body: dict[str, Any], activity_id: int, inboxes: list[str]
    ) -> None:
        await store_activity(
            connection, activity_id=activity_id, uri=body["id"], account_id=account["id"], body=body
        )
        await enqueue_deliveries(connection, activity_id, inboxes, self.deadline)

    # Blocks

    async def block(self, account: Any, target: Any) -> None:
        """Block an account: follows both ways end, and a remote one gets Block."""
        if target["id"] == account["id"]:
            raise ActionError(422, "you cannot block yourself")
        activity_id = next_activity_id()
        uri = self.urls.activity(activity_id)
        async with accounts.transaction(self.runtime.pool) as connection:
            created = await moderation.add_block(
                connection, account["id"], target["id"], uri if target["domain"] else None
            )
            if not created or target["domain"] is None:
                return
            body = build.build_block(uri, account["actor_id"], target["actor_id"])
            await self._queue(connection, account, body, activity_id, [target["inbox_url"]])
        self.runtime.delivery_wakeup.set()
        log.info("Block %s from %s to %s queued", uri, account["actor_id"], target["actor_id"])

    async def unblock(self, account: Any, target: Any) -> None:
        """Lift a block; a remote account gets Undo(Block)."""
        async with accounts.transaction(self.runtime.pool) as connection:
            removed = await moderation.remove_block(connection, account["id"], target["id"])
            if removed is None or target["domain"] is None:
                return
            original = build.build_block(
                removed["uri"] or self.urls.activity(removed["id"]),
                account["actor_id"],
                target["actor_id"],
            )
            activity_id = next_activity_id()
            body = build.build_undo(self.urls.activity(activity_id), account["actor_id"], original)
            await self._queue(connection, account, body, activity_id, [target["inbox_url"]])
        self.runtime.delivery_wakeup.set()
        log.info("Undo(Block) from %s to %s queued", account["actor_id"], target["actor_id"])

    # Mutes

    async def mute(
        self, account: Any, target: Any, *, notifications: bool, duration_seconds: int
    ) -> None:
        """Mute an account; a ``duration_seconds`` of 0 mutes until unmuted."""
        if target["id"] == account["id"]:
            raise ActionError(422, "you cannot mute yourself")
        if not 0 <= duration_seconds <= MAX_MUTE_SECONDS:
            raise ActionError(
                422, f"duration must be from 0 to {MAX_MUTE_SECONDS} seconds, not {duration_seconds}"
            )
        duration = timedelta(seconds=duration_seconds) if duration_seconds else None
        await moderation.add_mute(
            self.runtime.pool,
            account["id"],
            target["id"],
            hide_notifications=notifications,
            duration=duration,
        )
        log.info(
            "account %s muted account %s (notifications hidden: %s, for %s s)",
            account["id"], target["id"], notifications, duration_seconds or "unlimited",
        )

    async def unmute(self, account: Any, target: Any) -> None:
        await moderation.remove_mute(self.runtime.pool, account["id"], target["id"])

    # Reports

    async def report(self, account: Any, new: NewReport) -> asyncpg.Record:
        """Store a report and, when asked and the target is remote, send Flag
        from the instance actor to the target's instance."""
        target = new.target
        if target["id"] == account["id"]:
            raise ActionError(422, "you cannot report yourself")
        _check_report_fields(new)
        rows = await self._reported_statuses(new)
        await self._check_rules(new.rule_ids)

        forward = new.forward and target["domain"] is not None
        async with accounts.transaction(self.runtime.pool) as connection:
            report = await moderation.create_report(
                connection,
                account_id=account["id"],
                target_account_id=target["id"],
                status_ids=sorted(set(new.status_ids)),
                comment=new.comment,
                category=new.category,
                rule_ids=sorted(set(new.rule_ids)),
                forwarded=forward,
            )
            assert report is not None
            if forward:
                await self._send_flag(connection, report, target, [row["uri"] for row in rows])
        log.info(
            "report %s by account %s on account %s (forwarded: %s)",
            report["id"], account["id"], target["id"], forward,
        )
        return report

    async def _reported_statuses(self, new: NewReport) -> list[asyncpg.Record]:
        """Return the reported statuses; raise ActionError(404) for one that is
        missing, deleted or not the reported account's."""
        rows = []
        for status_id in sorted(set(new.status_ids)):
            row = await statuses.by_id(self.runtime.pool, status_id)
            if row is None or row["account_id"] != new.target["id"] or row["deleted_at"] is not None:
                raise ActionError(404, f"status {status_id} of the reported account not found")
            rows.append(row)
        return rows

    async def _check_rules(self, rule_ids: list[int]) -> None:
        if not rule_ids:
            return
        rules = await moderation.server_rules(self.runtime.pool, self.runtime.settings.instance.rules)
        unknown = sorted(set(rule_ids) - {int(rule["id"]) for rule in rules})
        if unknown:
            raise ActionError(422, f"rule {unknown[0]} is not a rule of this server; see /api/v1/instance/rules")

    async def _send_flag(
        self, connection: asyncpg.Connection, report: Any, target: Any, status_uris: list[str]
    ) -> None:
        # Mastodon sends Flag from its instance actor, without naming the
        # reporter, with the account and the reported posts as objects.
        instance = self.runtime.instance_account
        activity_id = next_activity_id()
        body = build_flag(
            self.urls.activity(activity_id),
            instance["actor_id"],
            [target["actor_id"], *status_uris],
            report["comment"],
        )
        inbox = target["shared_inbox_url"] or target["inbox_url"]
        await self._queue(connection, instance, body, activity_id, [inbox])
        self.runtime.delivery_wakeup.set()
        log.info("Flag %s of %s queued to %s", body["id"], target["actor_id"], inbox)

    # Moderator actions on accounts

    async def suspend_account(self, moderator: Any, target: Any, reason: str = "") -> None:
        """Suspend an account. A local one is signed out and its tokens revoked;
        with a remote one, follows end and its activities are ignored."""
        if target["id"] == moderator["id"]:
            raise ActionError(422, "moderators cannot suspend their own account")
        if target["actor_type"] == "Application":
            raise ActionError(422, "the instance actor cannot be suspended")
        async with accounts.transaction(self.runtime.pool) as connection:
            await connection.execute(
                "UPDATE accounts SET suspended_at = coalesce(suspended_at, now()) WHERE id = $1",
                target["id"],
            )
            if target["domain"] is None:
                await sessions.delete_other_sessions(connection, target["id"], None)
                await connection.execute(
                    "UPDATE tokens SET revoked_at = now() WHERE account_id = $1 AND revoked_at IS NULL",
                    target["id"],
                )
            else:
                await connection.execute(
                    "DELETE FROM follows WHERE account_id = $1 OR target_account_id = $1",
                    target["id"],
                )
                await connection.execute(
                    "DELETE FROM home_feed h USING statuses s"
                    " WHERE s.id = h.status_id AND s.account_id = $1",
                    target["id"],
                )
            await moderation.record_action(
                connection, moderator, "suspend", "account", _handle(target), {"reason": reason}
            )
        # The inbox rejects a suspended remote actor from the cached policy.
        self.runtime.domain_policy.invalidate()
        log.info("account %s suspended by moderator %s", target["id"], moderator["id"])

    async def unsuspend_account(self, moderator: Any, target: Any) -> None:
        async with accounts.transaction(self.runtime.pool) as connection:
            await connection.execute(
                "UPDATE accounts SET suspended_at = NULL WHERE id = $1", target["id"]
            )
            await moderation.record_action(connection, moderator, "unsuspend", "account", _handle(target))
        self.runtime.domain_policy.invalidate()
        log.info("suspension of account %s lifted by moderator %s", target["id"], moderator["id"])

    async def silence_account(self, moderator: Any, target: Any, silenced: bool = True) -> None:
        """Silence a remote account (or lift it): its posts leave public timelines
        and its follow requests need approval."""
        if target["domain"] is None:
            raise ActionError(422, "only remote accounts can be silenced")
        async with accounts.transaction(self.runtime.pool) as connection:
            await connection.execute(
                "UPDATE accounts SET silenced_at = CASE WHEN $2"
                " THEN coalesce(silenced_at, now()) END WHERE id = $1",
                target["id"],
                silenced,
            )
            action = "silence" if silenced else "unsilence"
            await moderation.record_action(connection, moderator, action, "account", _handle(target))
        log.info("account %s %sd by moderator %s", target["id"], action, moderator["id"])

    # Domain blocks and allows

    async def block_domain(self, moderator: Any | None, fields: DomainBlockFields) -> asyncpg.Record:
        """Create or update a domain block; a suspension drops the follows with the domain.

        ``moderator`` is None when the command line acts.
        """
        async with accounts.transaction(self.runtime.pool) as connection:
            row = await apply_domain_block(connection, moderator, fields, self.runtime.settings.domain)
        self.runtime.domain_policy.invalidate()
        return row

    async def unblock_domain(self, moderator: Any | None, block_id: int) -> asyncpg.Record:
        async with accounts.transaction(self.runtime.pool) as connection:
            row = await moderation.delete_domain_block(connection, block_id)
            if row is None:
                raise ActionError(404, "Record not found: no domain block has that id")
            await moderation.record_action(connection, moderator, "destroy_domain_block", "domain", row["domain"])
        self.runtime.domain_policy.invalidate()
        log.info("domain block of %s lifted", row["domain"])
        return row

    async def allow_domain(self, moderator: Any | None, domain: str) -> asyncpg.Record:
        domain = normalize_domain(domain)
        async with accounts.transaction(self.runtime.pool) as connection:
            row = await moderation.add_domain_allow(connection, domain)
            await moderation.record_action(connection, moderator, "create_domain_allow", "domain", domain)
        self.runtime.domain_policy.invalidate()
        log.info("domain %s added to the allowlist", domain)
        return row

    async def disallow_domain(self, moderator: Any | None, allow_id: int) -> asyncpg.Record:
        async with accounts.transaction(self.runtime.pool) as connection:
            row = await moderation.delete_domain_allow(connection, allow_id)
            if row is None:
                raise ActionError(404, "Record not found: no allowed domain has that id")
            await moderation.record_action(connection, moderator, "destroy_domain_allow", "domain", row["domain"])
        self.runtime.domain_policy.invalidate()
        log.info("domain %s removed from the allowlist", row["domain"])
        return row

    # Reports

    async def resolve_report(
        self, moderator: Any, report_id: int, *, reopen: bool = False, action_taken: bool = False
    ) -> asyncpg.Record:
        """Close a report (or open it again), recording the moderator."""
        async with accounts.transaction(self.runtime.pool) as connection:
            if reopen:
                row = await moderation.reopen_report(connection, report_id)
            else:
                row = await moderation.resolve_report(connection, report_id, moderator["id"], action_taken)
            if row is None:
                raise ActionError(404, "no report with that id in that state")
            action = "reopen_report" if reopen else "resolve_report"
            await moderation.record_action(connection, moderator, action, "report", str(report_id))
        log.info("report %s %s by moderator %s", report_id, "reopened" if reopen else "resolved", moderator["id"])
        return row


async def apply_domain_block(
    connection: asyncpg.Connection, moderator: Any | None, fields: DomainBlockFields, local_domain: str
) -> asyncpg.Record:
    """Save a domain block in the caller's transaction and record it in the audit log.

    A suspension also ends the follows with the domain. Raises ActionError(422)
    for a bad field or a block of ``local_domain``. The server and the command
    line both use this.
    """
    fields = validate_domain_block(fields)
    if fields.domain in domain_candidates(local_domain):
        raise ActionError(422, "this instance cannot block its own domain")
    existing = await moderation.domain_block_by_domain(connection, fields.domain)
    row = await moderation.save_domain_block(
        connection,
        fields.domain,
        severity=fields.severity,
        reject_media=fields.reject_media,
        reject_reports=fields.reject_reports,
        obfuscate=fields.obfuscate,
        public_comment=fields.public_comment,
        private_comment=fields.private_comment,
    )
    dropped = 0
    if fields.severity == "suspend":
        dropped = await moderation.drop_suspended_follows(connection)
    await moderation.record_action(
        connection,
        moderator,
        "update_domain_block" if existing else "create_domain_block",
        "domain",
        fields.domain,
        {"severity": fields.severity, "reject_media": fields.reject_media, "follows_dropped": dropped},
    )
    log.info(
        "domain block of %s saved (%s, reject media: %s, %d follows dropped)",
        fields.domain, fields.severity, fields.reject_media, dropped,
    )
    return row


def build_flag(activity_id: str, actor_id: str, objects: list[str], content: str) -> dict[str, Any]:
    """Build a Flag of an account and its posts, as Mastodon sends reports."""
    return {
        "@context": CONTEXT,
        "id": activity_id,
        "type": "Flag",
        "actor": actor_id,
        "content": content,
        "object": objects,
    }


def _handle(account: Any) -> str:
    if account["domain"] is None:
        return f"@{account['username']}"
    return f"@{account['username']}@{account['domain']}"
