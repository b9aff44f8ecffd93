"""The client API of moderation: blocks, mutes, reports, server rules, and
the admin API of domain blocks and allowed domains, in Mastodon's shapes."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from quart import Blueprint, Response, current_app, g, jsonify, request

from federation.errors import FederationError
from outbox.actions import ActionError
from outbox.moderation import (
    MAX_REPORTED_STATUSES,
    DomainBlockFields,
    ModerationActions,
    NewReport,
)
from storage import moderation, statuses
from web import reading
from web.api import (
    _account_page,
    _account_param,
    _flag,
    _int_param,
    _link_header,
    _params,
    _relationship,
    admin_scope,
    authenticated,
)
from web.app import error_response, log_text, parse_id, runtime_of
from web.presenters import account_json, accounts_json, iso_millis

log = logging.getLogger(__name__)

blueprint = Blueprint("api_moderation", __name__)


def _rejected(status: int, message: str) -> Response:
    account = getattr(g, "account", None)
    log.info(
        "rejected %s %s from account %s: %s %s",
        request.method,
        log_text(request.path),
        account["id"] if account is not None else None,
        status,
        log_text(message),
    )
    return error_response(status, message)


async def _action_error(error: ActionError) -> Response:
    return _rejected(error.status, error.message)


async def _federation_error(error: FederationError) -> Response:
    return _rejected(error.status, error.message)


blueprint.register_error_handler(ActionError, _action_error)
blueprint.register_error_handler(FederationError, _federation_error)


def _json(document: Any, link: str | None = None) -> Response:
    response = jsonify(document)
    if link:
        response.headers["Link"] = link
    return response


def moderator_only(handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Require a token of an admin or moderator; others get 403."""

    @wraps(handler)
    @authenticated(scope=admin_scope)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not (g.account["is_admin"] or g.account["is_moderator"]):
            raise ActionError(403, "This action is not allowed: it needs a moderator or admin")
        return await handler(*args, **kwargs)

    return wrapper


# Blocks and mutes


@blueprint.post("/api/v1/accounts/<account_id>/block")
@authenticated(scope="write:blocks")
async def block(account_id: str) -> Response:
    target = await _account_param(account_id)
    runtime = runtime_of(current_app)
    await ModerationActions(runtime).block(g.account, target)
    return _json(await _relationship(runtime, g.account, target["id"]))


@blueprint.post("/api/v1/accounts/<account_id>/unblock")
@authenticated(scope="write:blocks")
async def unblock(account_id: str) -> Response:
    target = await _account_param(account_id)
    runtime = runtime_of(current_app)
    await ModerationActions(runtime).unblock(g.account, target)
    return _json(await _relationship(runtime, g.account, target["id"]))


@blueprint.post("/api/v1/accounts/<account_id>/mute")
@authenticated(scope="write:mutes")
async def mute(account_id: str) -> Response:
    target = await _account_param(account_id)
    params = await _params()
    runtime = runtime_of(current_app)
    await ModerationActions(runtime).mute(
        g.account,
        target,
        notifications=_flag(params.get("notifications", True)),
        duration_seconds=_int_param(params, "duration") or 0,
    )
    return _json(await _relationship(runtime, g.account, target["id"]))


@blueprint.post("/api/v1/accounts/<account_id>/unmute")
@authenticated(scope="write:mutes")
async def unmute(account_id: str) -> Response:
    target = await _account_param(account_id)
    runtime = runtime_of(current_app)
    await ModerationActions(runtime).unmute(g.account, target)
    return _json(await _relationship(runtime, g.account, target["id"]))


@blueprint.get("/api/v1/blocks")
@authenticated(scope="read:blocks")
async def blocks() -> Response:
    runtime = runtime_of(current_app)
    page = _account_page(dict(request.args))
    rows = await moderation.blocked_accounts(
        runtime.pool,
        g.account["id"],
        page.max_id,
        page.limit,
        page.after_id,
        page.ascending,
    )
    rows = sorted(rows, key=lambda row: row["block_id"], reverse=True)
    link = _link_header([row["block_id"] for row in rows], page)
    return _json(await accounts_json(runtime, list(rows)), link)


@blueprint.get("/api/v1/mutes")
@authenticated(scope="read:mutes")
async def mutes() -> Response:
    runtime = runtime_of(current_app)
    page = _account_page(dict(request.args))
    rows = await moderation.muted_accounts(
        runtime.pool,
        g.account["id"],
        page.max_id,
        page.limit,
        page.after_id,
        page.ascending,
    )
    rows = sorted(rows, key=lambda row: row["mute_id"], reverse=True)
    documents = await accounts_json(runtime, list(rows))
    for document, row in zip(documents, rows):
        # Mastodon adds the expiry to each Account of this list (version 3.3).
        expires = row["mute_expires_at"]
        document["mute_expires_at"] = iso_millis(expires) if expires else None
    link = _link_header([row["mute_id"] for row in rows], page)
    return _json(documents, link)


# Reports


def _id_list(params: dict[str, Any], name: str) -> list[int]:
    values = params.get(f"{name}[]", params.get(name, []))
    if not isinstance(values, list):
        values = [values]
    numbers = []
    for value in values:
        number = parse_id(str(value))
        if number is None:
            raise ActionError(422, f"{name} must be a list of ids, not {str(value)[:40]!r}")
        numbers.append(number)
    return numbers


async def check_reported_statuses_readable(
    runtime: Any, reporter: Any, status_ids: list[int]
) -> None:
    """Raise ActionError(404) for a status the reporter may not read.

    A report quotes its statuses to moderators and, when forwarded, to the
    author's server. The error is the one for a missing status, so a report
    cannot tell a hidden status from one that does not exist.
    """
    unique_ids = sorted(set(status_ids))
    if len(unique_ids) > MAX_REPORTED_STATUSES:
        raise ActionError(422, f"a report names at most {MAX_REPORTED_STATUSES} statuses")
    for status_id in unique_ids:
        row = await statuses.by_id(runtime.pool, status_id)
        if row is not None and await reading.can_see(runtime.pool, row, reporter):
            continue
        log.info(
            "report by account %s names status %s, which it may not read",
            reporter["id"],
            status_id,
        )
        raise ActionError(404, f"status {status_id} of the reported account not found")


async def report_json(runtime: Any, row: Any) -> dict[str, Any]:
    """Return Mastodon's Report entity of a report row."""
    target = await _account_param(str(row["target_account_id"]))
    return {
        "id": str(row["id"]),
        "action_taken": row["action_taken"],
        "action_taken_at": iso_millis(row["resolved_at"]) if row["action_taken"] else None,
        "category": row["category"],
        "comment": row["comment"],
        "forwarded": row["forwarded"],
        "created_at": iso_millis(row["created_at"]),
        "status_ids": [str(number) for number in row["status_ids"]] or None,
        "rule_ids": [str(number) for number in row["rule_ids"]] or None,
        "target_account": account_json(runtime, target),
    }


@blueprint.post("/api/v1/reports")
@authenticated(scope="write:reports")
async def create_report() -> Response:
    params = await _params()
    account_id = params.get("account_id")
    if account_id in (None, ""):
        raise ActionError(422, "account_id is missing")
    target = await _account_param(str(account_id))
    comment = params.get("comment", "")
    category = params.get("category", "other")
    if not isinstance(comment, str) or not isinstance(category, str):
        raise ActionError(422, "comment and category must be text")
    runtime = runtime_of(current_app)
    status_ids = _id_list(params, "status_ids")
    await check_reported_statuses_readable(runtime, g.account, status_ids)
    report = await ModerationActions(runtime).report(
        g.account,
        NewReport(
            target=target,
            status_ids=status_ids,
            comment=comment.strip(),
            category=category,
            rule_ids=_id_list(params, "rule_ids"),
            forward=_flag(params.get("forward", False)),
        ),
    )
    return _json(await report_json(runtime, report))


# Server rules and the public list of domain blocks


async def rules_json(runtime: Any) -> list[dict[str, str]]:
    """Return Mastodon's Rule entities of the server rules."""
    rows = await moderation.server_rules(runtime.pool, runtime.settings.instance.rules)
    return [{"id": str(row["id"]), "text": row["text"], "hint": ""} for row in rows]


@blueprint.get("/api/v1/instance/rules")
async def instance_rules() -> Response:
    return _json(await rules_json(runtime_of(current_app)))


@blueprint.get("/api/v1/instance/domain_blocks")
async def public_domain_blocks() -> Response:
    """List the blocked domains with their public comments, obfuscated where asked."""
    rows = await moderation.domain_blocks(runtime_of(current_app).pool)
    return _json([_public_block(row) for row in rows])


def _public_block(row: Any) -> dict[str, Any]:
    return {
        "domain": obfuscated(row["domain"]) if row["obfuscate"] else row["domain"],
        "digest": hashlib.sha256(row["domain"].encode()).hexdigest(),
        "severity": row["severity"],
        "comment": row["public_comment"] or None,
    }


def obfuscated(domain: str) -> str:
    """Return a domain with every third character starred out, as Mastodon
    shows obfuscated blocks."""
    return "".join("*" if index % 3 == 1 and char != "." else char for index, char in enumerate(domain))


# Admin: domain blocks


def admin_block_json(row: Any) -> dict[str, Any]:
    """Return Mastodon's Admin::DomainBlock entity."""
    return {
        "id": str(row["id"]),
        "domain": row["domain"],
        "digest": hashlib.sha256(row["domain"].encode()).hexdigest(),
        "created_at": iso_millis(row["created_at"]),
        "severity": row["severity"],
        "reject_media": row["reject_media"],
        "reject_reports": row["reject_reports"],
        "private_comment": row["private_comment"] or None,
        "public_comment": row["public_comment"] or None,
        "obfuscate": row["obfuscate"],
    }


def _text(params: dict[str, Any], name: str, default: str = "") -> str:
    value = params.get(name, default)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ActionError(422, f"{name} must be text")
    return value.strip()


def block_fields(params: dict[str, Any], existing: Any = None) -> DomainBlockFields:
    """Read a domain block's fields from parameters, defaulting to ``existing``'s."""

    def flag(name: str) -> bool:
        if name in params:
            return _flag(params[name])
        return bool(existing[name]) if existing is not None else False

    def text(name: str) -> str:
        fallback = existing[name] if existing is not None else ""
        return _text(params, name, fallback)

    return DomainBlockFields(
        domain=existing["domain"] if existing is not None else _text(params, "domain"),
        severity=text("severity") or "silence",
        reject_media=flag("reject_media"),
        reject_reports=flag("reject_reports"),
        obfuscate=flag("obfuscate"),
        public_comment=text("public_comment"),
        private_comment=text("private_comment"),
    )


async def _block_param(block_id: str) -> Any:
    number = parse_id(block_id)
    row = None
    if number is not None:
        row = await moderation.domain_block(runtime_of(current_app).pool, number)
    if row is None:
        raise ActionError(404, "Record not found: no domain block has that id")
    return row


@blueprint.get("/api/v1/admin/domain_blocks")
@moderator_only
async def list_domain_blocks() -> Response:
    rows = await moderation.domain_blocks(runtime_of(current_app).pool)
    return _json([admin_block_json(row) for row in rows])


@blueprint.get("/api/v1/admin/domain_blocks/<block_id>")
@moderator_only
async def get_domain_block(block_id: str) -> Response:
    return _json(admin_block_json(await _block_param(block_id)))


@blueprint.post("/api/v1/admin/domain_blocks")
@moderator_only
async def create_domain_block() -> Response:
    params = await _params()
    fields = block_fields(params)
    runtime = runtime_of(current_app)
    actions = ModerationActions(runtime)
    from outbox.moderation import normalize_domain

    existing = await moderation.domain_block_by_domain(runtime.pool, normalize_domain(fields.domain))
    if existing is not None:
        raise ActionError(
            422, f"{existing['domain']} is already blocked (block {existing['id']}); update it with PUT"
        )
    row = await actions.block_domain(g.account, fields)
    return _json(admin_block_json(row))


@blueprint.put("/api/v1/admin/domain_blocks/<block_id>")
@moderator_only
async def update_domain_block(block_id: str) -> Response:
    existing = await _block_param(block_id)
    params = await _params()
    row = await ModerationActions(runtime_of(current_app)).block_domain(
        g.account, block_fields(params, existing)
    )
    return _json(admin_block_json(row))


@blueprint.delete("/api/v1/admin/domain_blocks/<block_id>")
@moderator_only
async def delete_domain_block(block_id: str) -> Response:
    existing = await _block_param(block_id)
    await ModerationActions(runtime_of(current_app)).unblock_domain(g.account, existing["id"])
    return _json({})


# Admin: allowed domains, read in allowlist federation mode


def allow_json(row: Any) -> dict[str, Any]:
    """Return Mastodon's Admin::DomainAllow entity."""
    return {"id": str(row["id"]), "domain": row["domain"], "created_at": iso_millis(row["created_at"])}


@blueprint.get("/api/v1/admin/domain_allows")
@moderator_only
async def list_domain_allows() -> Response:
    rows = await moderation.domain_allows(runtime_of(current_app).pool)
    return _json([allow_json(row) for row in rows])


@blueprint.post("/api/v1/admin/domain_allows")
@moderator_only
async def create_domain_allow() -> Response:
    params = await _params()
    row = await ModerationActions(runtime_of(current_app)).allow_domain(g.account, _text(params, "domain"))
    return _json(allow_json(row))


@blueprint.delete("/api/v1/admin/domain_allows/<allow_id>")
@moderator_only
async def delete_domain_allow(allow_id: str) -> Response:
    number = parse_id(allow_id)
    if number is None:
        raise ActionError(404, "Record not found: no allowed domain has that id")
    await ModerationActions(runtime_of(current_app)).disallow_domain(g.account, number)
    return _json({})
