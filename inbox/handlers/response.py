"""Accept and Reject of our Follow requests."""

import logging

from actors.vocabulary import first_id
from inbox.handlers import Context, Ignored
from inbox.handlers import event, group
from storage import accounts, social

log = logging.getLogger(__name__)


async def _our_follow(context: Context):  # type: ignore[no-untyped-def]
    """Find the local follow that an Accept or Reject answers.

    The object may be the Follow embedded, its id alone, or (some servers) an
    id we cannot match; then the follow from us to the sender is used.
    """
    obj = context.object
    follow = None
    follow_uri = first_id(obj)
    if follow_uri:
        follow = await social.follow_by_uri(context.connection, follow_uri)
    sender = await context.actor()
    if follow is None:
        local = None
        if isinstance(obj, dict):
            local = await accounts.by_actor_id(
                context.connection, first_id(obj.get("actor")) or ""
            )
        if local is None or local["domain"] is not None:
            rows = await context.connection.fetch(
                "SELECT f.* FROM follows f JOIN accounts a ON a.id = f.account_id"
                " WHERE f.target_account_id = $1 AND a.domain IS NULL",
                sender["id"],
            )
            follow = rows[0] if len(rows) == 1 else None
        else:
            follow = await social.follow_between(
                context.connection, local["id"], sender["id"]
            )
    if follow is None or follow["target_account_id"] != sender["id"]:
        raise Ignored(f"no follow of {context.actor_id} matches {follow_uri}")
    return follow


async def handle_accept(context: Context) -> None:
    """Mark the local Follow that the sender accepts as accepted.

    Raises Ignored when no local Follow of the sender matches.
    """
    if await event.answer_join(context, accept=True):
        return
    follow = await _our_follow(context)
    await social.accept_follow(context.connection, follow["id"])
    log.info(
        "follow %s accepted by %s (%s)",
        follow["uri"],
        context.actor_id,
        context.activity_id,
    )


async def handle_reject(context: Context) -> None:
    """Remove the local Follow that the sender rejects.

    Raises Ignored when no local Follow of the sender matches.
    """
    if await event.answer_join(context, accept=False):
        return
    if await group.handle_rejected_post(context):
        return
    follow = await _our_follow(context)
    await context.connection.execute("DELETE FROM follows WHERE id = $1", follow["id"])
    await context.connection.execute(
        "DELETE FROM home_feed WHERE account_id = $1 AND status_id IN"
        " (SELECT id FROM statuses WHERE account_id = $2)",
        follow["account_id"],
        follow["target_account_id"],
    )
    log.info(
        "follow %s rejected by %s (%s)",
        follow["uri"],
        context.actor_id,
        context.activity_id,
    )
