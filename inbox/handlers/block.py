"""Block of a local account by a remote one: follows between them end."""

import logging

from inbox.handlers import Context, Ignored
from storage import accounts, moderation

log = logging.getLogger(__name__)


async def handle_block(context: Context) -> None:
    """Record a Block of a local account and end what is between the two.

    Follows both ways, each one's posts in the other's home feed and the
    notifications between them are removed, as for a local block. Raises
    Ignored when the target is no local account.
    """
    target_id = context.object_id
    target = await accounts.by_actor_id(context.connection, target_id or "")
    if target is None or target["domain"] is not None:
        raise Ignored(f"Block of {target_id}, not a local account")
    sender = await context.actor()
    created = await moderation.add_block(
        context.connection, sender["id"], target["id"], context.activity_id
    )
    log.info(
        "%s blocked %s (%s%s)",
        sender["actor_id"],
        target_id,
        context.activity_id,
        "" if created else ", already blocked",
    )
