"""Delete of notes (they become tombstones) and of actors."""

import logging

from inbox.handlers import Context, Ignored, event, lesson_plan
from storage import accounts, statuses

log = logging.getLogger(__name__)


async def handle_delete(context: Context) -> None:
    """Turn the sender's status into a tombstone, or delete the sender itself.

    Raises Ignored for unknown objects and for objects the sender does not own.
    """
    object_id = context.object_id
    if not object_id:
        raise Ignored("Delete without an object")
    if object_id == context.actor_id:
        await _delete_actor(context)
        return
    if await lesson_plan.delete_remote_collection(context, object_id):
        return
    status = await statuses.by_uri(context.connection, object_id)
    if status is None:
        raise Ignored(f"Delete of unknown object {object_id}")
    owner = await accounts.by_id(context.connection, status["account_id"])
    if status["object_type"] == "Event":
        await event.check_sender(context, status, owner)
    elif owner["actor_id"] != context.actor_id:
        raise Ignored(f"{context.actor_id} does not own {object_id}")
    if status["deleted_at"] is None:
        await statuses.mark_deleted(context.connection, status)
        if status["object_type"] == "Event":
            await event.event_deleted(context, status)
    log.debug("deleted %s by %s (%s)", object_id, context.actor_id, context.activity_id)


async def _delete_actor(context: Context) -> None:
    account = await accounts.by_actor_id(context.connection, context.actor_id)
    if account is None or account["domain"] is None:
        raise Ignored(f"Delete of unknown actor {context.actor_id}")
    await accounts.mark_deleted(context.connection, account["id"])
    await context.connection.execute(
        "DELETE FROM follows WHERE account_id = $1 OR target_account_id = $1",
        account["id"],
    )
    rows = await context.connection.fetch(
        "SELECT * FROM statuses WHERE account_id = $1 AND deleted_at IS NULL",
        account["id"],
    )
    for status in rows:
        await statuses.mark_deleted(context.connection, status)
    log.info(
        "deleted actor %s and %d statuses (%s)",
        context.actor_id,
        len(rows),
        context.activity_id,
    )
