"""Follow: accepted at once unless the account approves followers by hand."""

import logging

from inbox.handlers import Context, Ignored, group
from outbox.actions import Actions
from storage import accounts, social

log = logging.getLogger(__name__)


async def handle_follow(context: Context) -> None:
    """Record a Follow of a local account and queue the Accept when approved at once.

    A Follow from a blocked account gets a Reject. Raises Ignored
    when the target is no local account.
    """
    target_id = context.object_id
    urls = context.runtime.urls
    if not target_id or not urls.is_local(target_id):
        raise Ignored(f"Follow of {target_id}, not a local account")
    target = await accounts.by_actor_id(context.connection, target_id)
    if target is None or target["domain"] is not None or target["deleted_at"]:
        raise Ignored(f"Follow of unknown account {target_id}")
    if target["actor_type"] == "Application":
        raise Ignored("the instance actor has no followers")
    follower = await context.actor()
    if await social.is_blocked(context.connection, target["id"], follower["id"]):
        await Actions(context.runtime).send_follow_answer(
            context.connection, target, follower, context.activity_id, accept=False
        )
        # Returning, not raising Ignored: Ignored rolls the transaction back,
        # which would drop the queued Reject.
        log.info(
            "Follow %s from %s to %s: rejected, the sender is blocked",
            context.activity_id,
            follower["actor_id"],
            target_id,
        )
        return
    if target["actor_type"] == "Group":
        await group.handle_group_follow(context, target, follower)
        return

    # A silenced account or domain may only follow with the target's approval.
    silenced = follower["silenced_at"] is not None or (
        await context.runtime.domain_policy.silenced(follower["actor_id"])
    )
    accepted = not target["manually_approves_followers"] and not silenced
    existing = await social.follow_between(
        context.connection, follower["id"], target["id"]
    )
    await social.upsert_follow(
        context.connection, follower["id"], target["id"], context.activity_id, accepted
    )
    already = existing is not None and existing["accepted"]
    if accepted or already:
        # A repeated Follow of an accepted follow is answered again: the
        # follower's server may have lost our first Accept.
        await Actions(context.runtime).send_follow_answer(
            context.connection, target, follower, context.activity_id, accept=True
        )
    kind = "follow" if accepted or already else "follow_request"
    await social.notify(context.connection, target["id"], kind, follower["id"])
    log.info(
        "Follow %s from %s to %s: %s",
        context.activity_id,
        follower["actor_id"],
        target_id,
        kind,
    )
