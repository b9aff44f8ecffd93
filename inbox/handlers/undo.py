"""Undo of Follow, Like, Announce and Block."""

import logging

from actors.vocabulary import first_id, types_of
from inbox.handlers import Context, Ignored
from storage import accounts, groups, social, statuses

log = logging.getLogger(__name__)


async def handle_undo(context: Context) -> None:
    """Undo the sender's Follow, Like, Announce or Block named by the object.

    Raises Ignored when the undone activity is not the sender's or not found.
    """
    obj = context.object
    undone_id = first_id(obj)
    if not undone_id or not context.same_host(undone_id):
        raise Ignored(f"Undo of {undone_id}, not an activity of the sender's host")
    kind = types_of(obj)[0] if isinstance(obj, dict) and types_of(obj) else None
    sender = await context.actor()
    handled = await _undo_follow(
        context, sender, undone_id, obj if kind == "Follow" else None
    )
    handled = handled or await _undo_like(
        context, sender, undone_id, obj if kind == "Like" else None
    )
    handled = handled or await _undo_announce(context, sender, undone_id)
    handled = handled or (kind == "Block" and await _undo_block(context, sender, obj))
    if not handled:
        raise Ignored(f"nothing to undo for {undone_id}")


async def _undo_follow(context: Context, sender, undone_id: str, embedded) -> bool:  # type: ignore[no-untyped-def]
    follow = await social.follow_by_uri(context.connection, undone_id)
    if follow is None and embedded is not None:
        target = await accounts.by_actor_id(
            context.connection, first_id(embedded.get("object")) or ""
        )
        if target is not None:
            follow = await social.follow_between(
                context.connection, sender["id"], target["id"]
            )
    if follow is None or follow["account_id"] != sender["id"]:
        return False
    await context.connection.execute("DELETE FROM follows WHERE id = $1", follow["id"])
    for kind in ("follow", "follow_request"):
        await social.remove_notification(
            context.connection, follow["target_account_id"], kind, sender["id"], None
        )
    await groups.clear_join_request(
        context.connection, follow["target_account_id"], sender["id"]
    )
    log.info(
        "%s stopped following %s (%s)",
        sender["actor_id"],
        follow["target_account_id"],
        context.activity_id,
    )
    return True


async def _undo_like(context: Context, sender, undone_id: str, embedded) -> bool:  # type: ignore[no-untyped-def]
    favourite = await social.favourite_by_uri(context.connection, undone_id)
    if favourite is None and embedded is not None:
        # The Like may have reached us under another id (or been stored from a
        # local action); the sender and the liked status identify it as well.
        status = await statuses.by_uri(
            context.connection, first_id(embedded.get("object")) or ""
        )
        if status is not None:
            favourite = await context.connection.fetchrow(
                "SELECT * FROM favourites WHERE account_id = $1 AND status_id = $2",
                sender["id"],
                status["id"],
            )
    if favourite is None or favourite["account_id"] != sender["id"]:
        return False
    await context.connection.execute(
        "DELETE FROM favourites WHERE id = $1", favourite["id"]
    )
    await statuses.bump_counter(
        context.connection, favourite["status_id"], "favourites_count", -1
    )
    status = await statuses.by_id(context.connection, favourite["status_id"])
    await social.remove_notification(
        context.connection,
        status["account_id"],
        "favourite",
        sender["id"],
        status["id"],
    )
    return True


async def _undo_announce(context: Context, sender, undone_id: str) -> bool:  # type: ignore[no-untyped-def]
    reblog = await statuses.by_uri(context.connection, undone_id)
    if (
        reblog is None
        or reblog["reblog_of_id"] is None
        or reblog["account_id"] != sender["id"]
    ):
        return False
    if reblog["deleted_at"] is None:
        await statuses.mark_deleted(context.connection, reblog)
    original = await statuses.by_id(context.connection, reblog["reblog_of_id"])
    if original is not None:
        await social.remove_notification(
            context.connection,
            original["account_id"],
            "reblog",
            sender["id"],
            original["id"],
        )
    return True


async def _undo_block(context: Context, sender, obj) -> bool:  # type: ignore[no-untyped-def]
    target = await accounts.by_actor_id(
        context.connection, first_id(obj.get("object")) or ""
    )
    if target is None:
        return False
    await social.remove_block(context.connection, sender["id"], target["id"])
    return True
