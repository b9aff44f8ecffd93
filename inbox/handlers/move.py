"""Move: a remote account moved, so local followers follow its new account.

Mastodon sends ``{"type": "Move", "actor": old, "object": old, "target": new}``
to the old account's followers. The Move is trusted only when the new account,
fetched from its own server, lists the old one in ``alsoKnownAs``.
"""

from __future__ import annotations

import logging

from actors.vocabulary import first_id, is_http_id
from federation.errors import FederationError
from inbox.handlers import Context, Ignored
from outbox.migration import MigrationActions
from storage import accounts

log = logging.getLogger(__name__)


async def handle_move(context: Context) -> None:
    """Record the move and move local followers of the old account.

    Raises Ignored when the Move is not the sender moving itself, the old
    account is unknown here, or the target does not list it as an alias.
    """
    origin_id = context.object_id
    target_id = first_id(context.activity.get("target"))
    if origin_id != context.actor_id:
        raise Ignored(f"Move of {origin_id} sent by another actor")
    if target_id is None or not is_http_id(target_id) or target_id == origin_id:
        raise Ignored("Move without a target account")
    origin = await accounts.by_actor_id(context.connection, origin_id)
    if origin is None:
        raise Ignored(f"Move of unknown account {origin_id}")

    migration = MigrationActions(context.runtime)
    try:
        target = await context.runtime.resolver.actor(target_id)
        # Fetched again even when stored: the stored copy may be stale.
        aliases = await migration.current_aliases(target)
    except FederationError as error:
        if error.status < 500:
            raise Ignored(f"Move target {target_id} not found: {error.message}")
        raise
    if origin_id not in aliases:
        raise Ignored(f"Move target {target_id} does not list {origin_id} as an alias")

    # NOTE: the follows change in transactions of their own, committed before
    # this activity's row is marked done. A crash in between runs the Move
    # again, which finds those followers moved already. They run before this
    # transaction locks the old account's row, so they do not wait for it.
    moved = await migration.move_local_followers(origin, target)
    await context.connection.execute(
        "UPDATE accounts SET moved_to_actor_id = $2,"
        " moved_at = coalesce(moved_at, now()) WHERE id = $1",
        origin["id"],
        target["actor_id"],
    )
    log.info(
        "Move %s: %s to %s, %d local followers moved",
        context.activity_id,
        origin_id,
        target_id,
        moved,
    )
