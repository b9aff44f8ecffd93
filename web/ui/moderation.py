"""Moderation pages: blocking, muting and reporting for teachers; the report
queue, domain blocks, audit log and server rules for moderators and admins."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from quart import current_app, g, redirect, request

from outbox.moderation import (
    DomainBlockFields,
    ModerationActions,
    NewReport,
)
from storage import accounts, moderation, statuses
from storage.accounts import transaction
from storage.moderation import REPORT_CATEGORIES
from web.api_moderation import check_reported_statuses_readable
from web.app import parse_id, runtime_of
from web.ui import blueprint
from web.ui.i18n import _
from web.ui.people import _target, profile_path
from web.ui.session import FormError, admin_only, back_to, render, signed_in
from web.ui.views import visible_status

log = logging.getLogger(__name__)

# Durations offered for a mute, in seconds; 0 mutes until lifted.
MUTE_DURATIONS = (0, 3600, 86400, 7 * 86400, 30 * 86400)
MAX_RULES = 50
MAX_RULE_LENGTH = 300
MAX_CODE_OF_CONDUCT = 20_000


def moderator_only(handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Require a signed-in admin or moderator; others get 403."""

    @wraps(handler)
    @signed_in
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not (g.viewer["is_admin"] or g.viewer["is_moderator"]):
            raise FormError(403, _("This page is for the instance's moderators and admins."))
        return await handler(*args, **kwargs)

    return wrapper


async def server_rules() -> list[Any]:
    """Return the server rules, as sign-up, the about page and reports show them."""
    runtime = runtime_of(current_app)
    return await moderation.server_rules(runtime.pool, runtime.settings.instance.rules)


# Blocks and mutes


@blueprint.post("/accounts/<account_id>/block")
@signed_in
async def block(account_id: str) -> Any:
    target = await _target(account_id)
    await ModerationActions(runtime_of(current_app)).block(g.viewer, target)
    return back_to(profile_path(target))


@blueprint.post("/accounts/<account_id>/unblock")
@signed_in
async def unblock(account_id: str) -> Any:
    target = await _target(account_id)
    await ModerationActions(runtime_of(current_app)).unblock(g.viewer, target)
    return back_to(profile_path(target))


@blueprint.post("/accounts/<account_id>/mute")
@signed_in
async def mute(account_id: str) -> Any:
    target = await _target(account_id)
    form = await request.form
    duration = parse_id(form.get("duration", "0"))
    if duration is None or duration not in MUTE_DURATIONS:
        raise FormError(422, _("Choose one of the offered mute durations."))
    await ModerationActions(runtime_of(current_app)).mute(
        g.viewer,
        target,
        notifications=form.get("notifications", "yes") == "yes",
        duration_seconds=duration,
    )
    return back_to(profile_path(target))


@blueprint.post("/accounts/<account_id>/unmute")
@signed_in
async def unmute(account_id: str) -> Any:
    target = await _target(account_id)
    await ModerationActions(runtime_of(current_app)).unmute(g.viewer, target)
    return back_to(profile_path(target))


@blueprint.get("/settings/blocks")
@signed_in
async def blocks_page() -> Any:
    pool = runtime_of(current_app).pool
    return await render(
        "blocks.html",
        blocked=await moderation.blocked_accounts(pool, g.viewer["id"], None, 200),
        muted=await moderation.muted_accounts(pool, g.viewer["id"], None, 200),
    )


# Reports by teachers


async def _report_form(target: Any, status: Any = None, code: int = 200, error: str | None = None) -> Any:
    return await render(
        "report.html",
        status=code,
        target=target,
        target_path=profile_path(target),
        reported_status=status,
        rules=await server_rules(),
        categories=REPORT_CATEGORIES,
        error=error,
    )


@blueprint.get("/accounts/<account_id>/report")
@signed_in
async def report_account_form(account_id: str) -> Any:
    return await _report_form(await _target(account_id))


@blueprint.get("/statuses/<status_id>/report")
@signed_in
async def report_status_form(status_id: str) -> Any:
    # The form quotes the post, so it is shown only to those who may read it,
    # with the thread page's 404 for everyone else.
    status = await visible_status(runtime_of(current_app), status_id, g.viewer)
    return await _report_form(await _target(str(status["account_id"])), status)


@blueprint.post("/accounts/<account_id>/report")
@signed_in
async def report_account(account_id: str) -> Any:
    target = await _target(account_id)
    form = await request.form
    status_ids = [number for value in form.getlist("status_ids") if (number := parse_id(value)) is not None]
    rule_ids = [number for value in form.getlist("rule_ids") if (number := parse_id(value)) is not None]
    category = form.get("category", "other")
    runtime = runtime_of(current_app)
    await check_reported_statuses_readable(runtime, g.viewer, status_ids)
    if category == "violation" and not rule_ids:
        status = None
        if status_ids:
            status = await visible_status(runtime, str(status_ids[0]), g.viewer)
        return await _report_form(
            target, status, 422, _("Choose the rules the account broke, or another category.")
        )
    report = await ModerationActions(runtime).report(
        g.viewer,
        NewReport(
            target=target,
            status_ids=status_ids,
            comment=form.get("comment", "").strip(),
            category=category,
            rule_ids=rule_ids,
            forward=form.get("forward") == "yes",
        ),
    )
    return redirect(f"{profile_path(target)}?reported={report['id']}", 303)


# The report queue


async def _report_rows(resolved: bool) -> list[Any]:
    return list(await moderation.reports(runtime_of(current_app).pool, resolved=resolved))


@blueprint.get("/admin/reports")
@moderator_only
async def reports_page() -> Any:
    resolved = request.args.get("resolved") == "1"
    return await render("admin_reports.html", reports=await _report_rows(resolved), resolved=resolved)


async def _report(report_id: str) -> Any:
    number = parse_id(report_id)
    row = None if number is None else await moderation.report(runtime_of(current_app).pool, number)
    if row is None:
        raise FormError(404, _("No report has that id."))
    return row


@blueprint.get("/admin/reports/<report_id>")
@moderator_only
async def report_page(report_id: str) -> Any:
    pool = runtime_of(current_app).pool
    report = await _report(report_id)
    reported = [await statuses.by_id(pool, number) for number in report["status_ids"]]
    rules = {int(rule["id"]): rule["text"] for rule in await server_rules()}
    return await render(
        "admin_report.html",
        report=report,
        reporter=await accounts.by_id(pool, report["account_id"]),
        target=await accounts.by_id(pool, report["target_account_id"]),
        reported=[row for row in reported if row is not None],
        broken_rules=[rules.get(number, _("(rule %(id)s, since removed)", id=number)) for number in report["rule_ids"]],
        resolver=await accounts.by_id(pool, report["resolved_by"]) if report["resolved_by"] else None,
    )


REPORT_ACTIONS = ("resolve", "reopen", "suspend", "silence", "suspend_domain", "silence_domain")


@blueprint.post("/admin/reports/<report_id>/<action>")
@moderator_only
async def report_action(report_id: str, action: str) -> Any:
    """Resolve or reopen a report, or act on its target and resolve it."""
    if action not in REPORT_ACTIONS:
        raise FormError(404, _("Unknown action."))
    runtime = runtime_of(current_app)
    report = await _report(report_id)
    target = await accounts.by_id(runtime.pool, report["target_account_id"])
    actions = ModerationActions(runtime)
    if action == "reopen":
        await actions.resolve_report(g.viewer, report["id"], reopen=True)
        return redirect(f"/admin/reports/{report['id']}", 303)
    if action == "suspend":
        await actions.suspend_account(g.viewer, target, f"report {report['id']}")
    elif action == "silence":
        await actions.silence_account(g.viewer, target)
    elif action in ("suspend_domain", "silence_domain"):
        if target["domain"] is None:
            raise FormError(422, _("The reported account is local, so it has no other domain to block."))
        await actions.block_domain(
            g.viewer,
            DomainBlockFields(
                domain=_host_name(target["domain"]),
                severity="suspend" if action == "suspend_domain" else "silence",
                private_comment=_("From report %(id)s", id=report["id"]),
            ),
        )
    if report["resolved_at"] is None:
        await actions.resolve_report(g.viewer, report["id"], action_taken=action != "resolve")
    return redirect(f"/admin/reports/{report['id']}", 303)


def _host_name(domain: str) -> str:
    # A block of the host name covers every port on it, and its subdomains.
    if domain.startswith("[") or domain.count(":") != 1:
        return domain
    return domain.split(":", 1)[0]


# Domain blocks and the allowlist


@blueprint.get("/admin/domains")
@moderator_only
async def domains_page() -> Any:
    runtime = runtime_of(current_app)
    return await render(
        "admin_domains.html",
        blocks=await moderation.domain_blocks(runtime.pool),
        allows=await moderation.domain_allows(runtime.pool),
        mode=runtime.settings.federation.federation_mode,
    )


@blueprint.post("/admin/domains/block")
@moderator_only
async def block_domain() -> Any:
    form = await request.form
    await ModerationActions(runtime_of(current_app)).block_domain(
        g.viewer,
        DomainBlockFields(
            domain=form.get("domain", ""),
            severity=form.get("severity", "silence"),
            reject_media=form.get("reject_media") == "yes",
            reject_reports=form.get("reject_reports") == "yes",
            obfuscate=form.get("obfuscate") == "yes",
            public_comment=form.get("public_comment", "").strip(),
            private_comment=form.get("private_comment", "").strip(),
        ),
    )
    return redirect("/admin/domains", 303)


@blueprint.post("/admin/domains/blocks/<block_id>/delete")
@moderator_only
async def unblock_domain(block_id: str) -> Any:
    number = parse_id(block_id)
    if number is None:
        raise FormError(404, _("No domain block has that id."))
    await ModerationActions(runtime_of(current_app)).unblock_domain(g.viewer, number)
    return redirect("/admin/domains", 303)


@blueprint.post("/admin/domains/allow")
@moderator_only
async def allow_domain() -> Any:
    form = await request.form
    await ModerationActions(runtime_of(current_app)).allow_domain(g.viewer, form.get("domain", ""))
    return redirect("/admin/domains", 303)


@blueprint.post("/admin/domains/allows/<allow_id>/delete")
@moderator_only
async def disallow_domain(allow_id: str) -> Any:
    number = parse_id(allow_id)
    if number is None:
        raise FormError(404, _("No allowed domain has that id."))
    await ModerationActions(runtime_of(current_app)).disallow_domain(g.viewer, number)
    return redirect("/admin/domains", 303)


# The audit log and the moderator role


@blueprint.get("/admin/audit")
@moderator_only
async def audit_page() -> Any:
    pool = runtime_of(current_app).pool
    max_id = parse_id(request.args.get("max_id", ""))
    entries = await moderation.audit_log(pool, max_id)
    moderators = await pool.fetch(
        "SELECT id, username FROM accounts WHERE domain IS NULL AND is_moderator"
        " AND deleted_at IS NULL ORDER BY lower(username)"
    )
    return await render("admin_audit.html", entries=entries, moderators=moderators)


@blueprint.post("/admin/moderators")
@admin_only
async def set_moderator() -> Any:
    """Give a local teacher the moderator role, or take it away."""
    form = await request.form
    username = form.get("username", "").strip().lstrip("@")
    grant = form.get("role") == "grant"
    pool = runtime_of(current_app).pool
    account = await accounts.local_by_username(pool, username) if username else None
    if account is None or account["actor_type"] != "Person":
        raise FormError(404, _("No local teacher is named %(name)s.", name=repr(username[:60])))
    async with transaction(pool) as connection:
        await connection.execute(
            "UPDATE accounts SET is_moderator = $2 WHERE id = $1", account["id"], grant
        )
        await moderation.record_action(
            connection,
            g.viewer,
            "grant_moderator" if grant else "revoke_moderator",
            "account",
            f"@{account['username']}",
        )
    log.info("moderator role of account %s set to %s by account %s", account["id"], grant, g.viewer["id"])
    return redirect("/admin/audit", 303)


# Server rules and the code of conduct


@blueprint.post("/admin/instance/rules")
@admin_only
async def save_rules() -> Any:
    """Replace the server rules (one per line) and the code of conduct."""
    form = await request.form
    rules = [line.strip() for line in form.get("rules", "").splitlines() if line.strip()]
    code = form.get("code_of_conduct", "").strip()
    if len(rules) > MAX_RULES:
        raise FormError(422, _("A server has at most %(max)s rules.", max=MAX_RULES))
    too_long = next((rule for rule in rules if len(rule) > MAX_RULE_LENGTH), None)
    if too_long is not None:
        raise FormError(
            422,
            _("Each rule has at most %(max)s characters; this one is longer: %(rule)s",
              max=MAX_RULE_LENGTH, rule=too_long[:60]),
        )
    if len(code) > MAX_CODE_OF_CONDUCT:
        raise FormError(422, _("The code of conduct has at most %(max)s characters.", max=MAX_CODE_OF_CONDUCT))
    async with transaction(runtime_of(current_app).pool) as connection:
        await moderation.save_server_rules(connection, rules)
        await moderation.save_instance_text(connection, "code_of_conduct", code)
        await moderation.record_action(
            connection, g.viewer, "update_rules", "instance", "rules",
            {"rules": len(rules), "code_of_conduct_characters": len(code)},
        )
    log.info("server rules (%d) and code of conduct saved by account %s", len(rules), g.viewer["id"])
    return redirect("/admin/instance?saved=1", 303)
