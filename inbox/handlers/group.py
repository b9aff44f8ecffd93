"""Groups in the inbox (FEP-1b12).

For a local group: a member's post addressed to it is announced to its
members, a non-member's is rejected, and a Follow is a membership or a join
request. For a remote group that local teachers belong to: a moderator's
removal of a post or a ban that the group announces, a Reject of a post, and
changes of its moderators collection.
"""

import logging
from typing import Any

import asyncpg

from actors.group import moderator_ids
from actors.vocabulary import as_list, first_id, id_of, ids_of, types_of
from federation.errors import FederationError
from federation.hosts import url_authority
from inbox.handlers import Context, Ignored
from outbox.actions import Actions
from outbox.groups import GroupActions
from storage import accounts, groups, social, statuses

log = logging.getLogger(__name__)

# Moderation activities a remote group may announce, as Lemmy sends them.
MODERATION_TYPES = frozenset({"Delete", "Block", "Add", "Remove"})
# Unknown moderators fetched per refresh of a remote group's collection. The
# refresh runs inside the inbox transaction, so each slow fetch keeps it open.
MAX_MODERATOR_FETCHES = 10


def addressed_ids(activity: dict[str, Any], obj: dict[str, Any]) -> list[str]:
    """Return the ids a Create and its object address: to, cc, audience and the
    hrefs of Mention tags.

    Mastodon names a mentioned group in the object's ``tag`` and ``cc``;
    FEP-1b12 servers name it in ``audience``; Lemmy also puts it in ``to``.
    """
    found: list[str] = []
    for document in (activity, obj):
        for key in ("to", "cc", "audience"):
            found += ids_of(document.get(key))
    for tag in as_list(obj.get("tag")):
        if isinstance(tag, dict) and tag.get("type") == "Mention":
            href = id_of(tag.get("href"))
            if href:
                found.append(href)
    return list(dict.fromkeys(found))


async def announce_to_groups(
    context: Context, obj: dict[str, Any], status: Any
) -> None:
    """Announce a newly stored status to the local groups it addresses."""
    addressed = [
        actor_id
        for actor_id in addressed_ids(context.activity, obj)
        if context.runtime.urls.is_local(actor_id)
    ]
    if not addressed:
        return
    author = await accounts.by_id(context.connection, status["account_id"])
    await GroupActions(context.runtime).announce_addressed(
        context.connection, status, author, addressed, context.activity
    )


# Follows of a local group


async def handle_group_follow(context: Context, group: Any, follower: Any) -> None:
    """Record a Follow of a local group: a membership, or a join request that
    notifies the group's moderators. A removed member's Follow is rejected.
    """
    connection = context.connection
    actions = Actions(context.runtime)
    if await groups.is_removed_member(connection, group["id"], follower["id"]):
        # Returning rather than raising Ignored keeps the queued Reject, which
        # the rollback of an ignored activity would drop.
        await actions.send_follow_answer(
            connection, group, follower, context.activity_id, accept=False
        )
        log.info(
            "Follow %s from %s to group %s rejected: a moderator removed them",
            context.activity_id,
            follower["actor_id"],
            group["actor_id"],
        )
        return

    existing = await social.follow_between(connection, follower["id"], group["id"])
    already = existing is not None and existing["accepted"]
    accepted = not group["manually_approves_followers"]
    await social.upsert_follow(
        connection, follower["id"], group["id"], context.activity_id, accepted
    )

    if accepted or already:
        # A repeated Follow of a membership gets another Accept, because the
        # member's server may have lost the first one.
        await actions.send_follow_answer(
            connection, group, follower, context.activity_id, accept=True
        )
    else:
        await GroupActions(context.runtime).request_to_join(connection, group, follower)
    log.info(
        "Follow %s from %s to group %s: %s",
        context.activity_id,
        follower["actor_id"],
        group["actor_id"],
        "member" if accepted or already else "join request",
    )


# A remote group's Reject of a local author's post


async def handle_rejected_post(context: Context) -> bool:
    """Record a group's Reject of a local teacher's Create (FEP-1b12): the
    author gets a ``group_post_rejected`` notification from the group.

    Returns False when the Reject is not about a Create, so that it is handled
    as a Reject of a Follow. Raises Ignored when it names no local Create, or
    when the sender is no group that the Create addressed.
    """
    obj = context.object
    connection = context.connection
    create_uri = first_id(obj)
    if not create_uri:
        return False
    if isinstance(obj, dict) and "Create" not in types_of(obj):
        return False
    sent = await connection.fetchrow(
        "SELECT account_id, type, body FROM activities WHERE uri = $1", create_uri
    )
    is_create = sent is not None and sent["type"] == "Create"
    if not isinstance(obj, dict) and not is_create:
        return False
    if sent is None or not is_create:
        raise Ignored(f"Reject of {create_uri}, not a Create sent from here")
    group = await context.actor()
    body = sent["body"] if isinstance(sent["body"], dict) else {}
    note = body.get("object") if isinstance(body.get("object"), dict) else {}
    if group["actor_type"] != "Group" or group["actor_id"] not in addressed_ids(
        body, note
    ):
        # Only a group the post was sent to may turn it down; anyone else
        # could otherwise fill a teacher's notifications.
        raise Ignored(
            f"{group['actor_id']} rejected {create_uri}, which did not address it"
        )
    status = await connection.fetchrow(
        "SELECT id FROM statuses WHERE activity_uri = $1 AND account_id = $2",
        create_uri,
        sent["account_id"],
    )
    await groups.notify_post_rejected(
        connection,
        sent["account_id"],
        group["id"],
        status["id"] if status is not None else None,
    )
    log.info(
        "group %s rejected Create %s by account %s (%s): %s",
        group["actor_id"],
        create_uri,
        sent["account_id"],
        context.activity_id,
        _reason(context.activity),
    )
    return True


def _reason(activity: dict[str, Any]) -> str:
    summary = activity.get("summary")
    return summary[:200] if isinstance(summary, str) else "no reason given"


# Moderation by a remote group


async def handle_forwarded_moderation(
    context: Context, embedded: dict[str, Any]
) -> bool:
    """Apply a moderation activity that a remote group announces (FEP-1b12).

    A Delete of a post by someone other than its author takes the post out of
    the group: the group's boost here is deleted and the post stays. A Block
    whose target is the group ends local teachers' membership (Lemmy's ban).
    Add and Remove with the group's moderators collection as target make the
    collection be fetched again.

    Returns False for activities this does not cover, which are processed as
    forwarded activities. Raises Ignored when the actor may not moderate.
    """
    kind = next(iter(types_of(embedded)), None)
    if kind not in MODERATION_TYPES:
        return False
    group = await context.actor()
    if group["actor_type"] != "Group" or group["domain"] is None:
        return False
    moderator_id = first_id(embedded.get("actor"))
    if not moderator_id:
        return False
    if kind == "Delete":
        return await _remove_post(context, group, embedded, moderator_id)
    if kind == "Block":
        if group["actor_id"] not in ids_of(embedded.get("target")):
            return False
        await _require_moderator(context, group, embedded, moderator_id)
        await _end_local_membership(context, group, embedded)
        return True
    target = first_id(embedded.get("target")) or ""
    if not target or not context.same_host(target) or target == group["actor_id"]:
        return False
    await _require_moderator(context, group, embedded, moderator_id)
    await refresh_moderators(context.runtime, context.connection, group)
    log.info(
        "moderators of group %s fetched again after %s %s by %s",
        group["actor_id"],
        kind,
        id_of(embedded),
        moderator_id,
    )
    return True


async def _remove_post(
    context: Context, group: Any, delete: dict[str, Any], moderator_id: str
) -> bool:
    connection = context.connection
    object_id = first_id(delete.get("object"))
    status = await statuses.by_uri(connection, object_id) if object_id else None
    if status is None:
        return False
    author = await accounts.by_id(connection, status["account_id"])
    if author is None or author["actor_id"] == moderator_id:
        # The author's own Delete deletes the post everywhere.
        return False
    await _require_moderator(context, group, delete, moderator_id)
    boost = await groups.live_announce_of(connection, group["id"], status["id"])
    if boost is not None:
        await statuses.mark_deleted(connection, boost)
    log.info(
        "moderator %s removed %s from group %s (%s, %s): %s",
        moderator_id,
        object_id,
        group["actor_id"],
        id_of(delete),
        context.activity_id,
        "boost deleted" if boost is not None else "no boost stored",
    )
    return True


async def _end_local_membership(
    context: Context, group: Any, block: dict[str, Any]
) -> None:
    connection = context.connection
    banned_id = first_id(block.get("object")) or ""
    banned = await accounts.by_actor_id(connection, banned_id)
    if banned is None or banned["domain"] is not None:
        raise Ignored(f"ban of {banned_id} by {group['actor_id']}: not a local account")
    follow = await social.delete_follow(connection, banned["id"], group["id"])
    await connection.execute(
        "DELETE FROM home_feed WHERE account_id = $1 AND status_id IN"
        " (SELECT id FROM statuses WHERE account_id = $2)",
        banned["id"],
        group["id"],
    )
    log.info(
        "group %s banned %s (%s, %s): %s",
        group["actor_id"],
        banned_id,
        id_of(block),
        context.activity_id,
        "membership ended" if follow is not None else "was not a member",
    )


async def _require_moderator(
    context: Context, group: Any, activity: dict[str, Any], moderator_id: str
) -> None:
    """Raise Ignored unless the activity may moderate the group.

    FEP-1b12 accepts an actor listed in the group's moderators collection, and
    an actor on the group's own server (its administrators). An activity from
    another host is also fetched from its id, so that the group cannot put a
    moderation in a moderator's name.
    """
    if context.same_host(moderator_id) and context.same_host(id_of(activity)):
        return
    moderator = await accounts.by_actor_id(context.connection, moderator_id)
    if moderator is None or not await groups.is_remote_moderator(
        context.connection, group["id"], moderator["id"]
    ):
        raise Ignored(f"{moderator_id} is not a moderator of {group['actor_id']}")
    activity_id = id_of(activity) or ""
    if _host(activity_id) != _host(moderator_id):
        raise Ignored(f"moderation {activity_id} is not on its actor's host")
    try:
        fetched = await context.runtime.resolver.fetch(activity_id)
    except FederationError as error:
        raise Ignored(f"moderation {activity_id} could not be fetched: {error.message}")
    if not isinstance(fetched, dict) or id_of(fetched) != activity_id:
        raise Ignored(f"moderation {activity_id} returned another document")
    if first_id(fetched.get("actor")) != moderator_id or types_of(fetched) != types_of(
        activity
    ):
        raise Ignored(f"moderation {activity_id} differs from the announced copy")


def _host(url: str) -> str:
    return url_authority(url)


# Moderators of remote groups


async def refresh_moderators(
    runtime: Any,
    connection: asyncpg.Connection | asyncpg.Pool,
    group: Any,
    document: dict[str, Any] | None = None,
) -> list[int]:
    """Fetch a remote group's moderators collection (its ``attributedTo``) and
    store the moderators; return their account ids.

    ``document`` is the group's actor document when the caller has it; it is
    fetched otherwise. A collection on another host than the group's is not
    read. A moderator whose actor cannot be fetched is left out and logged; a
    failed fetch of the collection keeps the stored list.
    """
    try:
        if document is None:
            document = await runtime.resolver.fetch(group["actor_id"])
        attributed = (
            document.get("attributedTo") if isinstance(document, dict) else None
        )
        if isinstance(attributed, (dict, list)) and moderator_ids(attributed):
            actor_ids = moderator_ids(attributed)
        else:
            url = first_id(attributed)
            if not url:
                actor_ids = []
            elif _host(url) != _host(group["actor_id"]):
                log.info(
                    "moderators of group %s not read: %s is on another host",
                    group["actor_id"],
                    url,
                )
                return []
            else:
                actor_ids = moderator_ids(await runtime.resolver.fetch(url))
    except FederationError as error:
        log.info(
            "moderators of group %s not fetched: %s (%s)",
            group["actor_id"],
            error.message,
            error.cause,
        )
        return []
    account_ids = []
    fetches = 0
    for actor_id in actor_ids:
        account = await accounts.by_actor_id(connection, actor_id)
        if account is None and fetches >= MAX_MODERATOR_FETCHES:
            log.info(
                "moderator %s of group %s not fetched: over %d new actors",
                actor_id,
                group["actor_id"],
                MAX_MODERATOR_FETCHES,
            )
            continue
        if account is None:
            fetches += 1
            try:
                account = await runtime.resolver.actor(actor_id)
            except FederationError as error:
                log.info(
                    "moderator %s of group %s not fetched: %s",
                    actor_id,
                    group["actor_id"],
                    error.message,
                )
                continue
        account_ids.append(account["id"])
    await groups.replace_remote_moderators(connection, group["id"], account_ids)
    log.info("stored %d moderators of group %s", len(account_ids), group["actor_id"])
    return account_ids
