"""Blocks, mutes, domain blocks and allows, reports, the audit log and server rules."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import asyncpg

from storage.ids import new_id

Connection = asyncpg.Connection | asyncpg.Pool

SEVERITIES = ("silence", "suspend", "noop")
REPORT_CATEGORIES = ("spam", "legal", "violation", "other")
# The NOTIFY channel on which every process listens to reload its domain policy.
POLICY_CHANNEL = "pedagogue_domain_policy"

# Blocks


async def add_block(
    db: asyncpg.Connection, account_id: int, target_id: int, uri: str | None
) -> bool:
    """Record a block and end everything between the two accounts.

    Follows and follow requests both ways, each one's posts in the other's
    home feed and notifications between them are removed. Returns False when
    the block already existed, in which case nothing else changes.
    """
    created = await db.fetchval(
        "INSERT INTO blocks (id, account_id, target_account_id, uri)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING id",
        new_id(),
        account_id,
        target_id,
        uri,
    )
    if created is None:
        return False
    await db.execute(
        "DELETE FROM follows WHERE (account_id = $1 AND target_account_id = $2)"
        " OR (account_id = $2 AND target_account_id = $1)",
        account_id,
        target_id,
    )
    await db.execute(
        "DELETE FROM home_feed h USING statuses s WHERE s.id = h.status_id AND ("
        " (h.account_id = $1 AND s.account_id = $2)"
        " OR (h.account_id = $2 AND s.account_id = $1))",
        account_id,
        target_id,
    )
    await db.execute(
        "DELETE FROM notifications WHERE (account_id = $1 AND from_account_id = $2)"
        " OR (account_id = $2 AND from_account_id = $1)",
        account_id,
        target_id,
    )
    return True


async def remove_block(
    db: Connection, account_id: int, target_id: int
) -> asyncpg.Record | None:
    """Delete a block; return the removed row, or None when there was none."""
    return await db.fetchrow(
        "DELETE FROM blocks WHERE account_id = $1 AND target_account_id = $2"
        " RETURNING *",
        account_id,
        target_id,
    )


async def block_between(db: Connection, first_id: int, second_id: int) -> bool:
    """Return True when either account blocks the other."""
    return bool(
        await db.fetchval(
            "SELECT 1 FROM blocks WHERE (account_id = $1 AND target_account_id = $2)"
            " OR (account_id = $2 AND target_account_id = $1)",
            first_id,
            second_id,
        )
    )


async def blocked_accounts(
    db: Connection,
    account_id: int,
    max_id: int | None,
    limit: int,
    after_id: int | None = None,
    ascending: bool = False,
) -> list[asyncpg.Record]:
    """Return the accounts ``account_id`` blocks between the cursors, with
    ``block_id`` as the page cursor: newest block first, or with ``ascending``
    the blocks right above ``after_id``, oldest first."""
    order = "ASC" if ascending else "DESC"
    return await db.fetch(
        "SELECT a.*, b.id AS block_id FROM blocks b"
        " JOIN accounts a ON a.id = b.target_account_id"
        " WHERE b.account_id = $1 AND b.id < coalesce($2::bigint, 9223372036854775807)"
        " AND b.id > coalesce($4::bigint, 0)"
        f" ORDER BY b.id {order} LIMIT $3",
        account_id,
        max_id,
        limit,
        after_id,
    )


# Mutes


async def add_mute(
    db: Connection,
    account_id: int,
    target_id: int,
    *,
    hide_notifications: bool,
    duration: timedelta | None,
) -> asyncpg.Record:
    """Mute an account, or change an existing mute's flag and expiry."""
    return await db.fetchrow(
        "INSERT INTO mutes (id, account_id, target_account_id, hide_notifications,"
        " expires_at) VALUES ($1, $2, $3, $4, now() + $5::interval)"
        " ON CONFLICT (account_id, target_account_id) DO UPDATE"
        " SET hide_notifications = EXCLUDED.hide_notifications,"
        " expires_at = EXCLUDED.expires_at RETURNING *",
        new_id(),
        account_id,
        target_id,
        hide_notifications,
        duration,
    )


async def remove_mute(db: Connection, account_id: int, target_id: int) -> bool:
    """Delete a mute; return False when there was none."""
    result = await db.execute(
        "DELETE FROM mutes WHERE account_id = $1 AND target_account_id = $2",
        account_id,
        target_id,
    )
    return result != "DELETE 0"


async def active_mute(
    db: Connection, account_id: int, target_id: int
) -> asyncpg.Record | None:
    """Return the mute of ``target_id`` by ``account_id`` unless it expired."""
    return await db.fetchrow(
        "SELECT * FROM mutes WHERE account_id = $1 AND target_account_id = $2"
        " AND (expires_at IS NULL OR expires_at > now())",
        account_id,
        target_id,
    )


async def muted_accounts(
    db: Connection,
    account_id: int,
    max_id: int | None,
    limit: int,
    after_id: int | None = None,
    ascending: bool = False,
) -> list[asyncpg.Record]:
    """Return the accounts ``account_id`` mutes now, with ``mute_id``,
    ``mute_expires_at`` and ``mute_hides_notifications``: newest mute first,
    or with ``ascending`` the mutes right above ``after_id``, oldest first."""
    order = "ASC" if ascending else "DESC"
    return await db.fetch(
        "SELECT a.*, m.id AS mute_id, m.expires_at AS mute_expires_at,"
        " m.hide_notifications AS mute_hides_notifications FROM mutes m"
        " JOIN accounts a ON a.id = m.target_account_id"
        " WHERE m.account_id = $1 AND (m.expires_at IS NULL OR m.expires_at > now())"
        " AND m.id < coalesce($2::bigint, 9223372036854775807)"
        " AND m.id > coalesce($4::bigint, 0)"
        f" ORDER BY m.id {order} LIMIT $3",
        account_id,
        max_id,
        limit,
        after_id,
    )


async def delete_expired_mutes(db: Connection) -> int:
    """Delete mutes whose time is up; return how many. Reads already ignore
    them, so this only keeps the table small."""
    result = await db.execute(
        "DELETE FROM mutes WHERE expires_at IS NOT NULL AND expires_at <= now()"
    )
    return int(result.split()[-1])


async def hides_notifications_from(
    db: Connection, account_id: int, from_account_id: int
) -> bool:
    """Return True when ``account_id`` gets no notifications from ``from_account_id``:
    a block either way, or an active mute with notifications hidden."""
    return bool(
        await db.fetchval(
            "SELECT EXISTS (SELECT 1 FROM blocks WHERE"
            " (account_id = $1 AND target_account_id = $2)"
            " OR (account_id = $2 AND target_account_id = $1))"
            " OR EXISTS (SELECT 1 FROM mutes WHERE account_id = $1"
            " AND target_account_id = $2 AND hide_notifications"
            " AND (expires_at IS NULL OR expires_at > now()))",
            account_id,
            from_account_id,
        )
    )


# Domain blocks and allows


async def domain_blocks(db: Connection) -> list[asyncpg.Record]:
    return await db.fetch("SELECT * FROM domain_blocks ORDER BY domain")


async def domain_block(db: Connection, block_id: int) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM domain_blocks WHERE id = $1", block_id)


async def domain_block_by_domain(db: Connection, domain: str) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM domain_blocks WHERE domain = $1", domain)


async def save_domain_block(
    db: asyncpg.Connection,
    domain: str,
    *,
    severity: str,
    reject_media: bool = False,
    reject_reports: bool = False,
    obfuscate: bool = False,
    public_comment: str = "",
    private_comment: str = "",
) -> asyncpg.Record:
    """Create the block of ``domain``, or replace the fields of an existing one.

    Notifies every process to reload its domain policy when the transaction
    commits.
    """
    row = await db.fetchrow(
        "INSERT INTO domain_blocks (id, domain, severity, reject_media, reject_reports,"
        " obfuscate, public_comment, private_comment)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT (domain) DO UPDATE SET severity = EXCLUDED.severity,"
        " reject_media = EXCLUDED.reject_media,"
        " reject_reports = EXCLUDED.reject_reports, obfuscate = EXCLUDED.obfuscate,"
        " public_comment = EXCLUDED.public_comment,"
        " private_comment = EXCLUDED.private_comment, updated_at = now()"
        " RETURNING *",
        new_id(),
        domain,
        severity,
        reject_media,
        reject_reports,
        obfuscate,
        public_comment,
        private_comment,
    )
    await db.execute(f"NOTIFY {POLICY_CHANNEL}")
    return row


async def delete_domain_block(db: asyncpg.Connection, block_id: int) -> asyncpg.Record | None:
    row = await db.fetchrow("DELETE FROM domain_blocks WHERE id = $1 RETURNING *", block_id)
    await db.execute(f"NOTIFY {POLICY_CHANNEL}")
    return row


async def domain_allows(db: Connection) -> list[asyncpg.Record]:
    return await db.fetch("SELECT * FROM domain_allows ORDER BY domain")


async def add_domain_allow(db: asyncpg.Connection, domain: str) -> asyncpg.Record:
    row = await db.fetchrow(
        "INSERT INTO domain_allows (id, domain) VALUES ($1, $2)"
        " ON CONFLICT (domain) DO UPDATE SET domain = EXCLUDED.domain RETURNING *",
        new_id(),
        domain,
    )
    await db.execute(f"NOTIFY {POLICY_CHANNEL}")
    return row


async def delete_domain_allow(db: asyncpg.Connection, allow_id: int) -> asyncpg.Record | None:
    row = await db.fetchrow("DELETE FROM domain_allows WHERE id = $1 RETURNING *", allow_id)
    await db.execute(f"NOTIFY {POLICY_CHANNEL}")
    return row


async def drop_suspended_follows(db: asyncpg.Connection) -> int:
    """Delete every follow with an account on a suspended domain; return how many.

    The posts of suspended domains leave home feeds too.
    """
    result = await db.execute(
        "DELETE FROM follows f USING accounts a"
        " WHERE (a.id = f.account_id OR a.id = f.target_account_id)"
        " AND a.domain IS NOT NULL AND domain_block_severity(a.domain) = 'suspend'"
    )
    await db.execute(
        "DELETE FROM home_feed h USING statuses s, accounts a"
        " WHERE s.id = h.status_id AND a.id = s.account_id AND a.domain IS NOT NULL"
        " AND domain_block_severity(a.domain) = 'suspend'"
    )
    return int(result.split()[-1])


# Reports


async def create_report(
    db: Connection,
    *,
    account_id: int,
    target_account_id: int,
    status_ids: list[int],
    comment: str,
    category: str,
    rule_ids: list[int],
    forwarded: bool,
    uri: str | None = None,
) -> asyncpg.Record | None:
    """Insert a report; return None when one with the same ``uri`` exists."""
    return await db.fetchrow(
        "INSERT INTO reports (id, account_id, target_account_id, status_ids, comment,"
        " category, rule_ids, forwarded, uri)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        " ON CONFLICT (uri) DO NOTHING RETURNING *",
        new_id(),
        account_id,
        target_account_id,
        status_ids,
        comment,
        category,
        rule_ids,
        forwarded,
        uri,
    )


async def report(db: Connection, report_id: int) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM reports WHERE id = $1", report_id)


async def reports(db: Connection, *, resolved: bool, limit: int = 100) -> list[asyncpg.Record]:
    """Return open or resolved reports, newest first, with both accounts' handles."""
    return await db.fetch(
        "SELECT r.*, a.username AS reporter_username, a.domain AS reporter_domain,"
        " t.username AS target_username, t.domain AS target_domain"
        " FROM reports r JOIN accounts a ON a.id = r.account_id"
        " JOIN accounts t ON t.id = r.target_account_id"
        " WHERE (r.resolved_at IS NOT NULL) = $1 ORDER BY r.id DESC LIMIT $2",
        resolved,
        limit,
    )


async def resolve_report(
    db: Connection, report_id: int, moderator_id: int, action_taken: bool
) -> asyncpg.Record | None:
    """Close an open report; return None when it was already closed."""
    return await db.fetchrow(
        "UPDATE reports SET resolved_at = now(), resolved_by = $2,"
        " action_taken = action_taken OR $3"
        " WHERE id = $1 AND resolved_at IS NULL RETURNING *",
        report_id,
        moderator_id,
        action_taken,
    )


async def reopen_report(db: Connection, report_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        "UPDATE reports SET resolved_at = NULL, resolved_by = NULL"
        " WHERE id = $1 AND resolved_at IS NOT NULL RETURNING *",
        report_id,
    )


# Audit log


async def record_action(
    db: Connection,
    moderator: Any,
    action: str,
    target_type: str,
    target: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one moderator action to the audit log.

    ``moderator`` is the acting local account row, or None for the command
    line, which is recorded as the operator.
    """
    await db.execute(
        "INSERT INTO moderation_log (id, account_id, account_handle, action,"
        " target_type, target, details) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        new_id(),
        moderator["id"] if moderator is not None else None,
        moderator["username"] if moderator is not None else "(command line)",
        action,
        target_type,
        target,
        json.dumps(details or {}),
    )


async def audit_log(
    db: Connection, max_id: int | None = None, limit: int = 100
) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM moderation_log"
        " WHERE id < coalesce($1::bigint, 9223372036854775807)"
        " ORDER BY id DESC LIMIT $2",
        max_id,
        limit,
    )


# Server rules and the code of conduct


async def server_rules(db: Connection, configured: str) -> list[asyncpg.Record | dict]:
    """Return the server rules in order, each with ``id`` and ``text``.

    Until an admin saves rules, they come from the ``instance.rules`` setting
    (``configured``, one per line), numbered from 1.
    """
    edited = await db.fetchval("SELECT 1 FROM instance_texts WHERE name = 'rules_edited'")
    if edited:
        return list(await db.fetch("SELECT id, text FROM server_rules ORDER BY position"))
    lines = [line.strip() for line in configured.splitlines() if line.strip()]
    return [{"id": number, "text": line} for number, line in enumerate(lines, 1)]


async def save_server_rules(db: asyncpg.Connection, texts: list[str]) -> None:
    """Replace the server rules with ``texts``, in that order."""
    await db.execute("DELETE FROM server_rules")
    await db.executemany(
        "INSERT INTO server_rules (id, position, text) VALUES ($1, $2, $3)",
        [(new_id(), position, text) for position, text in enumerate(texts)],
    )
    await db.execute(
        "INSERT INTO instance_texts (name, value) VALUES ('rules_edited', 'true')"
        " ON CONFLICT (name) DO UPDATE SET updated_at = now()"
    )


async def instance_text(db: Connection, name: str) -> str:
    return await db.fetchval("SELECT value FROM instance_texts WHERE name = $1", name) or ""


async def save_instance_text(db: Connection, name: str, value: str) -> None:
    await db.execute(
        "INSERT INTO instance_texts (name, value) VALUES ($1, $2)"
        " ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
        name,
        value,
    )
