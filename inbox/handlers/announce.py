"""Announce (boost) of local and remote objects."""

import logging

from actors.note import InvalidObject, parse_note, parse_time
from actors.visibility import visibility_of
from actors.vocabulary import ids_of
from federation.errors import FederationError
from inbox.handlers import Context, Ignored
from inbox.handlers.create import store_note
from storage import social, statuses

log = logging.getLogger(__name__)


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
    return await store_note(context, note) or await statuses.by_uri(context.connection, object_id)


async def handle_announce(context: Context) -> None:
    object_id = context.object_id
    if not object_id:
        raise Ignored("Announce without an object")
    original = await _original(context, object_id)
    if original is None or original["deleted_at"] is not None:
        raise Ignored(f"announced object {object_id} is deleted")
    if original["visibility"] not in ("public", "unlisted"):
        raise Ignored(f"announced object {object_id} is not public")
    sender = await context.actor()
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
        await social.notify(context.connection, original["account_id"], "reblog", sender["id"], original["id"])
    log.info("%s announced %s (%s)", sender["actor_id"], object_id, context.activity_id)
