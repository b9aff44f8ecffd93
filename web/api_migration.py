"""Client API for account migration: aliases (``alsoKnownAs``) and Move.

Mastodon offers these only in its web settings, so the paths are Pedagogue's
own, under /api/pedagogue/v1/account/.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, current_app, g, jsonify

from outbox.actions import ActionError
from outbox.migration import MigrationActions
from storage import accounts
from web.api import _action_error, _params, authenticated
from web.app import runtime_of

API = "/api/pedagogue/v1/account"

blueprint = Blueprint("api_migration", __name__)
blueprint.register_error_handler(ActionError, _action_error)


def _addresses(params: dict[str, Any]) -> list[str]:
    value = params.get("also_known_as", params.get("also_known_as[]"))
    if value is None:
        raise ActionError(422, "also_known_as is missing; send a list of addresses")
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str) for item in items):
        raise ActionError(422, "also_known_as must be a list of address strings")
    return [item for item in items if item.strip()]


async def _state(account_id: int) -> Response:
    account = await accounts.by_id(runtime_of(current_app).pool, account_id)
    assert account is not None
    return jsonify(
        {
            "also_known_as": list(account["also_known_as"] or []),
            "moved_to": account["moved_to_actor_id"],
        }
    )


@blueprint.get(f"{API}/aliases")
@authenticated(scope="read:accounts")
async def get_aliases() -> Response:
    return await _state(g.account["id"])


@blueprint.put(f"{API}/aliases")
@authenticated(scope="write:accounts")
async def set_aliases() -> Response:
    addresses = _addresses(await _params())
    await MigrationActions(runtime_of(current_app)).set_aliases(g.account, addresses)
    return await _state(g.account["id"])


@blueprint.post(f"{API}/move")
@authenticated(scope="write:accounts")
async def move() -> Response:
    target = (await _params()).get("target")
    if not isinstance(target, str) or not target.strip():
        raise ActionError(422, "target is missing; send the new account's address")
    account = await accounts.by_id(runtime_of(current_app).pool, g.account["id"])
    await MigrationActions(runtime_of(current_app)).move(account, target)
    return await _state(g.account["id"])
