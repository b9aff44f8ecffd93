"""The client API of followers and following lists, familiar followers, the
follow options ``reblogs`` and ``notify``, and the posting defaults of
``update_credentials``, as in Mastodon 4.3."""

from __future__ import annotations

import logging
import re
from typing import Any

from quart import Blueprint, Response, current_app, g, request

from federation.errors import FederationError
from outbox.actions import ActionError
from web.api import (
    _account_page,
    _account_param,
    _flag,
    _json,
    _link_header,
    _params,
    _rejected,
    authenticated,
)
from web.app import parse_id, runtime_of
from web.presenters import accounts_json

log = logging.getLogger(__name__)

blueprint = Blueprint("api_accounts", __name__)

VISIBILITIES = ("public", "unlisted", "private", "direct")
LANGUAGE = re.compile(r"^[a-z]{2,3}$")
# Accounts asked about in one familiar_followers request, and familiar
# followers returned per account.
MAX_FAMILIAR_IDS = 40
MAX_FAMILIAR_FOLLOWERS = 40


async def _action_error(error: ActionError) -> Response:
    return _rejected(error.status, error.message)


async def _federation_error(error: FederationError) -> Response:
    return _rejected(error.status, error.message)


blueprint.register_error_handler(ActionError, _action_error)
blueprint.register_error_handler(FederationError, _federation_error)


def optional_flag(params: dict[str, Any], name: str) -> bool | None:
    """Return a boolean parameter, or None when the request leaves it out."""
    value = params.get(name)
    if value in (None, ""):
        return None
    return _flag(value)


def _source(params: dict[str, Any], name: str) -> Any:
    """Return ``source[name]`` from a form body or ``source.name`` from JSON."""
    source = params.get("source")
    if isinstance(source, dict) and name in source:
        return source[name]
    return params.get(f"source[{name}]")


async def update_posting_defaults(runtime: Any, account: Any, params: dict[str, Any]) -> Any:
    """Store ``source[privacy]``, ``source[sensitive]`` and ``source[language]``.

    Returns the account row, changed or not. Raises ActionError(422) for an
    unknown visibility or a language that is not an ISO 639 code.
    """
    privacy = _source(params, "privacy")
    sensitive = _source(params, "sensitive")
    language = _source(params, "language")
    if privacy is None and sensitive is None and language is None:
        return account
    if privacy is not None and privacy not in VISIBILITIES:
        raise ActionError(
            422,
            f"Validation failed: source[privacy] must be one of {', '.join(VISIBILITIES)},"
            f" not {str(privacy)[:40]!r}",
        )
    if language not in (None, "") and (
        not isinstance(language, str) or not LANGUAGE.match(language)
    ):
        raise ActionError(
            422,
            "Validation failed: source[language] must be an ISO 639 code such as"
            f" 'en', not {str(language)[:40]!r}",
        )
    row = await runtime.pool.fetchrow(
        "UPDATE accounts SET"
        " default_visibility = coalesce($2, default_visibility),"
        " default_sensitive = coalesce($3, default_sensitive),"
        " default_language = CASE WHEN $4::text IS NULL THEN default_language"
        "  WHEN $4 = '' THEN NULL ELSE $4 END"
        " WHERE id = $1 RETURNING *",
        account["id"],
        privacy,
        None if sensitive in (None, "") else _flag(sensitive),
        language,
    )
    log.info("posting defaults of account %s updated", account["id"])
    return row


async def follow_options(runtime: Any, account: Any, target: Any, params: dict[str, Any]) -> None:
    """Store ``reblogs`` and ``notify`` of a follow or follow request, when sent."""
    reblogs = optional_flag(params, "reblogs")
    notify = optional_flag(params, "notify")
    if reblogs is None and notify is None:
        return
    await runtime.pool.execute(
        "UPDATE follows SET show_reblogs = coalesce($3, show_reblogs),"
        " notify = coalesce($4, notify)"
        " WHERE account_id = $1 AND target_account_id = $2",
        account["id"],
        target["id"],
        reblogs,
        notify,
    )


async def _follow_page(account_id: int, direction: str) -> Response:
    """Return one page of followers or followed accounts, paged by follow id."""
    runtime = runtime_of(current_app)
    page = _account_page(dict(request.args))
    mine, other = (
        ("target_account_id", "account_id")
        if direction == "followers"
        else ("account_id", "target_account_id")
    )
    order = "ASC" if page.ascending else "DESC"
    rows = await runtime.pool.fetch(
        f"SELECT a.*, f.id AS follow_id FROM follows f JOIN accounts a ON a.id = f.{other}"
        f" WHERE f.{mine} = $1 AND f.accepted AND a.deleted_at IS NULL"
        " AND a.actor_type <> 'Application'"
        " AND ($2::bigint IS NULL OR f.id < $2) AND ($3::bigint IS NULL OR f.id > $3)"
        f" ORDER BY f.id {order} LIMIT $4",
        account_id,
        page.max_id,
        page.after_id,
        page.limit,
    )
    rows = sorted(rows, key=lambda row: row["follow_id"], reverse=True)
    link = _link_header([row["follow_id"] for row in rows], page)
    accounts = [{k: v for k, v in row.items() if k != "follow_id"} for row in rows]
    return _json(await accounts_json(runtime, accounts), link=link)


@blueprint.get("/api/v1/accounts/<account_id>/followers")
@authenticated(scope="read:accounts", optional=True)
async def followers(account_id: str) -> Response:
    target = await _account_param(account_id)
    return await _follow_page(target["id"], "followers")


@blueprint.get("/api/v1/accounts/<account_id>/following")
@authenticated(scope="read:accounts", optional=True)
async def following(account_id: str) -> Response:
    target = await _account_param(account_id)
    return await _follow_page(target["id"], "following")


@blueprint.get("/api/v1/accounts/familiar_followers")
@authenticated(scope="read:follows")
async def familiar_followers() -> Response:
    """For each account, the accounts the viewer follows that follow it too."""
    runtime = runtime_of(current_app)
    values = request.args.getlist("id[]") or request.args.getlist("id")
    if not values:
        # Mastodon.py sends the ids of this GET as a JSON body.
        params = await _params()
        sent = params.get("id[]") or params.get("id") or []
        values = [str(value) for value in (sent if isinstance(sent, list) else [sent])]
    ids = list(
        dict.fromkeys(number for value in values if (number := parse_id(value)) is not None)
    )[:MAX_FAMILIAR_IDS]
    result = []
    for target_id in ids:
        rows = await runtime.pool.fetch(
            "SELECT a.* FROM follows mine"
            " JOIN follows theirs ON theirs.account_id = mine.target_account_id"
            "  AND theirs.target_account_id = $2 AND theirs.accepted"
            " JOIN accounts a ON a.id = mine.target_account_id AND a.deleted_at IS NULL"
            " WHERE mine.account_id = $1 AND mine.accepted"
            " ORDER BY mine.id DESC LIMIT $3",
            g.account["id"],
            target_id,
            MAX_FAMILIAR_FOLLOWERS,
        )
        result.append(
            {"id": str(target_id), "accounts": await accounts_json(runtime, list(rows))}
        )
    return _json(result)


# Private notes


# Maximum length of a private note on an account, in characters, as in Mastodon.
MAX_NOTE_CHARACTERS = 2000


@blueprint.post("/api/v1/accounts/<account_id>/note")
@authenticated(scope="write:accounts")
async def set_note(account_id: str) -> Response:
    """Store or, with an empty ``comment``, remove the caller's private note
    on an account; return the Relationship that shows it."""
    from web.presenters import relationships_json

    runtime = runtime_of(current_app)
    target = await _account_param(account_id)
    comment = (await _params()).get("comment") or ""
    if not isinstance(comment, str):
        raise ActionError(422, "Validation failed: comment must be a string")
    comment = comment.strip()
    if len(comment) > MAX_NOTE_CHARACTERS:
        raise ActionError(
            422, f"Validation failed: comment is over {MAX_NOTE_CHARACTERS} characters"
        )
    if comment:
        await runtime.pool.execute(
            "INSERT INTO account_notes (account_id, target_account_id, comment)"
            " VALUES ($1, $2, $3) ON CONFLICT (account_id, target_account_id)"
            " DO UPDATE SET comment = EXCLUDED.comment, updated_at = now()",
            g.account["id"],
            target["id"],
            comment,
        )
    else:
        await runtime.pool.execute(
            "DELETE FROM account_notes WHERE account_id = $1 AND target_account_id = $2",
            g.account["id"],
            target["id"],
        )
    (relationship,) = await relationships_json(runtime, g.account, [target["id"]])
    return _json(relationship)
