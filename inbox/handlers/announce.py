"""Announce (boost) of local and remote objects, and activities a group forwards."""

import logging
from typing import Any

from actors.note import NOTE_TYPES, InvalidObject, parse_note, parse_time
from actors.visibility import visibility_of
from actors.vocabulary import first_id, has_type, id_of, ids_of, types_of
from federation.errors import FederationError
from federation.hosts import url_authority
from inbox.handlers import Context, Ignored, dispatch, group
from inbox.handlers.create import store_note
from storage import social, statuses

log = logging.getLogger(__name__)

# Activities a group may forward to its followers inside an Announce
# (FEP-1b12); Lemmy communities forward their members' posts, comments, votes
# and their undoing this way.
FORWARDED_TYPES = frozenset({"Create", "Update", "Delete", "Like", "Undo"})


async def _original(context: Context, object_id: str):  # type: ignore[no-untyped-def]
    """Find the announced status, fetching it from its origin when unknown.

    An embedded copy is never trusted: the announcer could put words in
    another actor's mouth, so the object is fetched from its own id.
    """
    status = await statuses.by_uri(context.connection, object_id)
    if status is not None:
        return status
    if context.runtime.urls.is_local(object_id):
        raise Ignored(f"Announce of unknown local object {object_id}")
    try:
        document = await context.runtime.resolver.fetch(object_id)
        note = parse_note(document)
    except InvalidObject as error:
        raise Ignored(f"announced object unusable: {error}")
    except FederationError as error:
        if error.status in (404, 410):
            raise Ignored(f"announced object {object_id} is gone")
        raise
    if note.uri != object_id:
        raise Ignored(f"announced object {object_id} answered with id {note.uri}")
    if _host(note.attributed_to) != _host(note.uri):
        # A server may only publish its own actors' words.
        raise Ignored(f"announced object {object_id} is attributed to another host")
    audience = ids_of(document.get("audience"))
    return await store_note(context, note, audience=audience) or await statuses.by_uri(
        context.connection, object_id
    )


async def handle_announce(context: Context) -> None:
    """Store a boost of a public status, or process the activity a group forwards.

    Raises Ignored when the object is unknown, gone, not public or not usable.
    """
    object_id = context.object_id
    if not object_id:
        raise Ignored("Announce without an object")
    if _is_activity(context.object):
        await _handle_forwarded(context, context.object)
        return
    original = await _original(context, object_id)
    if original is None or original["deleted_at"] is not None:
        raise Ignored(f"announced object {object_id} is deleted")
    if original["visibility"] not in ("public", "unlisted"):
        raise Ignored(f"announced object {object_id} is not public")
    sender = await context.actor()
    if await _reblog_of(context, sender["id"], original["id"]) is not None:
        # One live boost per account and status; a second Announce with
        # another id (a peer retrying after a lost Undo) changes nothing.
        raise Ignored(f"{sender['actor_id']} already announced {object_id}")
    to, cc = ids_of(context.activity.get("to")), ids_of(context.activity.get("cc"))
    reblog = await statuses.insert(
        context.connection,
        uri=context.activity_id,
        account_id=sender["id"],
        local=False,
        content="",
        visibility=visibility_of(to, cc, sender["followers_url"]),
        to_uris=to,
        cc_uris=cc,
        reblog_of_id=original["id"],
        activity_uri=context.activity_id,
        created_at=parse_time(context.activity.get("published")),
    )
    if reblog is None:
        raise Ignored("Announce already stored")
    await statuses.bump_counter(context.connection, original["id"], "reblogs_count", 1)
    if reblog["visibility"] != "direct":
        readers = await social.local_follower_ids(context.connection, sender["id"])
        await social.add_to_home_feeds(context.connection, reblog["id"], readers)
    if original["local"]:
        await social.notify(
            context.connection,
            original["account_id"],
            "reblog",
            sender["id"],
            original["id"],
        )
    log.debug(
        "%s announced %s (%s)", sender["actor_id"], object_id, context.activity_id
    )


async def _reblog_of(context: Context, account_id: int, status_id: int) -> Any:
    return await context.connection.fetchrow(
        "SELECT id FROM statuses WHERE account_id = $1 AND reblog_of_id = $2"
        " AND deleted_at IS NULL",
        account_id,
        status_id,
    )


def _is_activity(obj: Any) -> bool:
    return isinstance(obj, dict) and "actor" in obj and not has_type(obj, *NOTE_TYPES)


def _host(url: str) -> str:
    return url_authority(url)


async def _handle_forwarded(context: Context, embedded: dict[str, Any]) -> None:
    """Process an activity that a group forwards inside its Announce.

    The embedded copy is used when the activity and its actor are on the
    group's own host, which signed the Announce. Otherwise the activity is
    fetched from its id, so a group cannot forward words its members never wrote.
    """
    if await group.handle_forwarded_moderation(context, embedded):
        return
    kind = next(iter(types_of(embedded)), None)
    if kind not in FORWARDED_TYPES:
        raise Ignored(f"Announce of a {kind} activity is not processed")
    inner_id, inner_actor = id_of(embedded), first_id(embedded.get("actor"))
    if not inner_id or not inner_actor:
        raise Ignored("forwarded activity without an id or actor")
    activity = embedded
    if not (context.same_host(inner_id) and context.same_host(inner_actor)):
        activity = await _fetch_forwarded(context, inner_id)
        inner_actor = first_id(activity.get("actor")) or ""
        if _host(inner_actor) != _host(inner_id):
            raise Ignored(f"forwarded activity {inner_id} has an actor on another host")
    log.debug("processing %s %s forwarded by %s", kind, inner_id, context.actor_id)
    await dispatch(context.forwarded(activity, inner_actor))


async def _fetch_forwarded(context: Context, activity_id: str) -> dict[str, Any]:
    try:
        document = await context.runtime.resolver.fetch(activity_id)
    except FederationError as error:
        if error.status in (404, 410):
            raise Ignored(f"forwarded activity {activity_id} is gone")
        raise
    if not isinstance(document, dict) or id_of(document) != activity_id:
        raise Ignored(f"forwarded activity {activity_id} returned another document")
    if not _is_activity(document) or not has_type(document, *FORWARDED_TYPES):
        raise Ignored(f"forwarded activity {activity_id} is not a forwardable activity")
    return document
