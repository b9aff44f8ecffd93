"""Like of local statuses."""

import logging

from inbox.handlers import Context, Ignored
from storage import social, statuses

log = logging.getLogger(__name__)


async def handle_like(context: Context) -> None:
    """Record a favourite of a local status, count it and notify its author.

    Raises Ignored for statuses that are not local, unknown or already liked.
    """
    object_id = context.object_id
    if not object_id or not context.runtime.urls.is_local(object_id):
        raise Ignored(f"Like of {object_id}, not a local status")
    status = await statuses.by_uri(context.connection, object_id)
    if status is None or status["deleted_at"] is not None:
        raise Ignored(f"Like of unknown status {object_id}")
    sender = await context.actor()
    if await social.is_blocked(context.connection, status["account_id"], sender["id"]):
        raise Ignored(f"{sender['actor_id']} is blocked")
    added = await social.add_favourite(
        context.connection, sender["id"], status["id"], context.activity_id
    )
    if added is None:
        raise Ignored("already liked")
    await statuses.bump_counter(context.connection, status["id"], "favourites_count", 1)
    await social.notify(
        context.connection,
        status["account_id"],
        "favourite",
        sender["id"],
        status["id"],
    )
    log.debug("%s liked %s (%s)", sender["actor_id"], object_id, context.activity_id)
