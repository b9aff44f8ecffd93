"""Block of a local account by a remote one: follows between them end."""

import logging

from inbox.handlers import Context, Ignored
from storage import accounts, social

log = logging.getLogger(__name__)


async def handle_block(context: Context) -> None:
    """Record a Block of a local account and end the follows between the two.

    Raises Ignored when the target is no local account.
    """
    target_id = context.object_id
    target = await accounts.by_actor_id(context.connection, target_id or "")
    if target is None or target["domain"] is not None:
        raise Ignored(f"Block of {target_id}, not a local account")
    sender = await context.actor()
    await social.add_block(
        context.connection, sender["id"], target["id"], context.activity_id
    )
    await social.delete_follow(context.connection, sender["id"], target["id"])
    await social.delete_follow(context.connection, target["id"], sender["id"])
    await context.connection.execute(
        "DELETE FROM home_feed WHERE account_id = $1 AND status_id IN"
        " (SELECT id FROM statuses WHERE account_id = $2)",
        target["id"],
        sender["id"],
    )
    log.info("%s blocked %s (%s)", sender["actor_id"], target_id, context.activity_id)
