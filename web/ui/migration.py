"""Account migration settings: the aliases of this account, and moving it.

Both forms go through ``MigrationActions``, as the client API and the
``pedagogue alias`` and ``pedagogue move`` commands do.
"""

from __future__ import annotations

import logging
from typing import Any

from quart import g, redirect, request

from outbox.actions import ActionError
from outbox.migration import MAX_ALIASES, MigrationActions
from storage import accounts
from web.ui import blueprint, runtime_of_current
from web.ui.i18n import _
from web.ui.session import render, signed_in

log = logging.getLogger(__name__)


async def _page(error: str | None = None, status: int = 200) -> Any:
    viewer = await accounts.by_id(runtime_of_current().pool, g.viewer["id"])
    assert viewer is not None
    return await render(
        "migration_settings.html",
        status,
        aliases=list(viewer["also_known_as"] or []),
        moved_to=viewer["moved_to_actor_id"],
        max_aliases=MAX_ALIASES,
        error=error,
        notice=request.args.get("done"),
    )


@blueprint.get("/settings/migration")
@signed_in
async def migration_settings() -> Any:
    return await _page()


@blueprint.post("/settings/migration/aliases")
@signed_in
async def save_aliases() -> Any:
    form = await request.form
    addresses = [line.strip() for line in form.get("aliases", "").splitlines()]
    try:
        await MigrationActions(runtime_of_current()).set_aliases(
            g.viewer, [address for address in addresses if address]
        )
    except ActionError as error:
        return await _page(error.message, error.status)
    return redirect("/settings/migration?done=aliases")


@blueprint.post("/settings/migration/move")
@signed_in
async def move_account() -> Any:
    form = await request.form
    target = form.get("target", "").strip()
    if not target:
        return await _page(_("Enter the address of the new account."), 422)
    if form.get("confirm") != "yes":
        return await _page(_("Tick the box to confirm the move."), 422)
    viewer = await accounts.by_id(runtime_of_current().pool, g.viewer["id"])
    try:
        await MigrationActions(runtime_of_current()).move(viewer, target)
    except ActionError as error:
        return await _page(error.message, error.status)
    return redirect("/settings/migration?done=moved")
