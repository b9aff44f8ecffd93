"""Create and Update of notes, articles and questions; Update of actors."""

import logging
from datetime import UTC, datetime
from typing import Any

import asyncpg

from actors.note import InvalidObject, RemoteNote, parse_note, parse_time
from actors.person import ACTOR_TYPES, InvalidActor, parse_actor
from actors.visibility import visibility_of
from actors.vocabulary import PUBLIC_FORMS, has_type, id_of, ids_of
from federation.errors import FederationError
from federation.sanitize import plain_text, sanitize_display_name, sanitize_html_async
from inbox.handlers import Context, Ignored
from inbox.handlers import event
from inbox.handlers import lesson_plan
from inbox.handlers import poll
from inbox.handlers.group import announce_to_groups, refresh_moderators
from storage import accounts, social, status_history, statuses, tags

log = logging.getLogger(__name__)

# Characters of a remote object's title that are kept; a longer one is cut.
MAX_OBJECT_NAME = 500
# Entries of a received object's ``audience`` looked up as groups.
MAX_AUDIENCE = 10


async def handle_create(context: Context, *, distribute: bool = True) -> None:
    """Store the note, article or question a remote actor created.

    ``distribute`` False keeps the status out of home feeds and notifications
    (an object fetched on demand, not sent). Raises Ignored for an unusable
    object, and unless the object and its attributedTo are on the sender's host.
    """
    obj = context.object
    if lesson_plan.concerns_collection(context):
        await lesson_plan.store_remote_collection(context, obj)
        return
    if not isinstance(obj, dict):
        # A Create with only the object's id: the object is fetched from its origin.
        object_id = id_of(obj)
        if not object_id or not context.same_host(object_id):
            raise Ignored("Create without an embedded object on the sender's host")
        obj = await _fetch_created(context, object_id)
    if poll.looks_like_vote(obj) and await poll.receive_vote(context, obj):
        return
    try:
        note = parse_note(obj)
    except InvalidObject as error:
        raise Ignored(str(error))
    if not context.same_host(note.attributed_to) or not context.same_host(note.uri):
        raise Ignored(
            f"object {note.uri} is attributed to another host than {context.actor_id}"
        )
    # FEP-1b12 names the group on the object, and some servers on the activity.
    audience = ids_of(obj.get("audience")) or ids_of(context.activity.get("audience"))
    status = await store_note(context, note, distribute=distribute, audience=audience)
    if status is not None and note.object_type == "Question":
        await poll.store_remote_poll(context, obj, status)
    if status is not None and note.object_type == "Event":
        await event.store_event(context, obj, status)
    if status is not None and note.object_type == "Article":
        await lesson_plan.store_remote_plan(context, obj, status)
    if status is not None:
        await announce_to_groups(context, obj, status)


async def _fetch_created(context: Context, object_id: str) -> Any:
    try:
        document = await context.runtime.resolver.fetch(object_id)
    except FederationError as error:
        if error.status in (404, 410):
            raise Ignored(f"created object {object_id} is gone")
        raise
    if id_of(document) != object_id:
        raise Ignored(f"created object {object_id} returned another id")
    return document


async def store_note(
    context: Context,
    note: RemoteNote,
    *,
    distribute: bool = True,
    audience: list[str] | None = None,
) -> asyncpg.Record | None:
    """Store a remote note with its mentions, tags and attachments, and deliver it
    to local home feeds and notifications. Returns None when already stored.

    ``audience`` is the object's ActivityStreams ``audience``; a non-public
    note for a known group it names is stored group-only (FEP-1b12).
    """
    connection = context.connection
    author, mentioned = await _author_and_mentioned(context, note)
    group = await _addressed_group(connection, note, audience or [])
    visibility = visibility_of(
        note.to,
        note.cc,
        author["followers_url"],
        None if group is None else (group["actor_id"], group["followers_url"]),
    )
    parent = (
        await statuses.by_uri(connection, note.in_reply_to_uri)
        if note.in_reply_to_uri
        else None
    )
    content = await _html_of(note)
    status = await statuses.insert(
        connection,
        uri=note.uri,
        url=note.url,
        account_id=author["id"],
        local=False,
        object_type=note.object_type,
        name=object_name(note),
        content=content,
        spoiler_text=plain_text(note.summary),
        visibility=visibility,
        sensitive=note.sensitive or bool(note.summary),
        language=note.language,
        in_reply_to=parent,
        in_reply_to_uri=note.in_reply_to_uri,
        to_uris=note.to,
        cc_uris=note.cc,
        activity_uri=context.activity_id,
        created_at=note.published,
        mention_ids=[row["id"] for row in mentioned],
        tag_names=note.hashtags,
        attachments=await _accepted_media(context, author, note.attachments),
        adopt_replies=True,
    )
    if status is None:
        log.debug("note %s already stored (%s)", note.uri, context.activity_id)
        return None
    if visibility == "group" and group is not None:
        status = await connection.fetchrow(
            "UPDATE statuses SET audience_id = $2 WHERE id = $1 RETURNING *",
            status["id"],
            group["id"],
        )
    if parent is not None:
        await statuses.count_reply(connection, parent["id"], status["visibility"], 1)
    if distribute:
        await _distribute(connection, author, status, mentioned, parent)
    log.debug(
        "stored %s %s by %s (%s)",
        note.object_type,
        note.uri,
        author["actor_id"],
        context.activity_id,
    )
    return status


async def _html_of(note: RemoteNote) -> str:
    content = await sanitize_html_async(note.content, object_id=note.uri)
    if note.name and note.object_type != "Note":
        # Articles, pages and videos show their title above the text.
        content = f"<p><strong>{_escape(object_name(note))}</strong></p>{content}"
    return content


def object_name(note: RemoteNote) -> str:
    """Return the title of an object as literal text.

    AS2 ``name`` is plain text (``summary`` and ``content`` are HTML), so
    "x<y>z" stays as it is and is escaped where it is shown. Controls and
    format characters are removed, as in actor names.
    """
    return sanitize_display_name(note.name, MAX_OBJECT_NAME)


async def _addressed_group(
    connection: asyncpg.Connection, note: RemoteNote, audience: list[str]
) -> asyncpg.Record | None:
    """Return the known group a received note is for: the one it names in
    ``audience``, else one whose members collection it addresses."""
    if PUBLIC_FORMS.intersection(note.to) or PUBLIC_FORMS.intersection(note.cc):
        # Public and unlisted notes keep their level whatever group they name.
        return None
    # FEP-1b12 counts a group's followers as its members, so the members
    # collection is the group's followers collection.
    return await connection.fetchrow(
        "SELECT * FROM accounts WHERE actor_type = 'Group' AND deleted_at IS NULL"
        " AND (actor_id = ANY($1::text[]) OR followers_url = ANY($2::text[]))"
        " ORDER BY actor_id = ANY($1::text[]) DESC, id LIMIT 1",
        audience[:MAX_AUDIENCE],
        [*note.to, *note.cc],
    )


def _escape(text: str) -> str:
    import html

    return html.escape(text, quote=False)


async def _author_and_mentioned(
    context: Context, note: RemoteNote
) -> tuple[asyncpg.Record, list[asyncpg.Record]]:
    # One query finds the author and the mentioned accounts that are stored;
    # only an unknown author is fetched.
    hrefs = note.mention_hrefs[:100]
    # Mention hrefs are actor ids for most servers and profile URLs for some.
    rows = await context.connection.fetch(
        "SELECT * FROM accounts WHERE actor_id = ANY($1::text[]) OR"
        " (domain IS NULL AND url = ANY($2::text[]))",
        [note.attributed_to, *hrefs],
        hrefs,
    )
    author = next((row for row in rows if row["actor_id"] == note.attributed_to), None)
    if author is None:
        author = await context.runtime.resolver.actor(note.attributed_to)
    wanted = set(hrefs)
    mentioned = [
        row
        for row in rows
        if row["actor_id"] in wanted or (row["domain"] is None and row["url"] in wanted)
    ]
    return author, mentioned


async def _distribute(
    connection: asyncpg.Connection,
    author: Any,
    status: Any,
    mentioned: list[Any],
    parent: Any,
) -> None:
    local_mentions = [row["id"] for row in mentioned if row["domain"] is None]
    readers = list(local_mentions)
    if status["visibility"] == "public":
        readers += await tags.hashtag_follower_ids(connection, status["id"])
    # A public reply to a local status reaches its author even without a mention.
    notified = list(local_mentions)
    if (
        parent is not None
        and parent["local"]
        and status["visibility"] in ("public", "unlisted")
    ):
        notified.append(parent["account_id"])
        readers.append(parent["account_id"])
    await social.distribute_status(
        connection,
        status["id"],
        author["id"],
        readers=readers,
        followers_of=author["id"] if status["visibility"] != "direct" else None,
        notified=notified,
    )


async def handle_update(context: Context) -> None:
    """Apply an Update of the sender's own note or profile.

    An Update of another actor of the sender's host makes that actor be fetched
    again. Raises Ignored for unknown objects and for objects of other owners.
    """
    obj = context.object
    if not isinstance(obj, dict):
        raise Ignored("Update without an embedded object")
    if has_type(obj, *ACTOR_TYPES):
        await _update_actor(context, obj)
        return
    if lesson_plan.concerns_collection(context):
        await lesson_plan.store_remote_collection(context, obj)
        return
    try:
        note = parse_note(obj)
    except InvalidObject as error:
        raise Ignored(str(error))
    existing = await statuses.by_uri(context.connection, note.uri)
    if existing is None:
        raise Ignored(f"Update of unknown object {note.uri}")
    owner = await accounts.by_id(context.connection, existing["account_id"])
    if note.object_type == "Event":
        await event.check_sender(context, existing, owner)
    elif owner["actor_id"] != context.actor_id:
        raise Ignored(f"{context.actor_id} does not own {note.uri}")
    if existing["deleted_at"] is not None:
        raise Ignored(f"Update of deleted object {note.uri}")
    edited_at = _edit_time(obj)
    if _already_applied(existing, edited_at):
        # A reordered Update: applying it would undo a newer edit.
        raise Ignored(f"Update of {note.uri} is older than the stored edit")
    content = await _html_of(note)
    spoiler_text = plain_text(note.summary)
    name = object_name(note)
    unchanged = (content, spoiler_text, name) == (
        existing["content"],
        existing["spoiler_text"],
        existing["name"],
    )
    # A Question's Update often carries only new vote totals.
    poll_updated = await poll.update_remote_poll(context, obj, existing)
    if unchanged and poll_updated:
        log.debug("poll totals of %s updated (%s)", note.uri, context.activity_id)
        return
    # Events and plans have fields of their own that the Update may change.
    if unchanged and note.object_type not in ("Event", "Article"):
        raise Ignored(f"Update of {note.uri} changes nothing")
    if not unchanged:
        await status_history.save_version(
            context.connection, existing, poll_options=None, media_ids=[]
        )
    # NOTE: an edit replaces the text, title and content warning only; the
    # mentions, hashtags and attachments of the first version stay.
    await statuses.update_content(
        context.connection,
        existing["id"],
        content=content,
        spoiler_text=spoiler_text,
        sensitive=note.sensitive or bool(note.summary),
        name=name,
        edited_at=edited_at,
    )
    if note.object_type == "Event":
        await event.apply_update(context, obj, existing)
    if note.object_type == "Article":
        await lesson_plan.update_remote_plan(context, obj, existing)
    log.debug("updated %s by %s (%s)", note.uri, context.actor_id, context.activity_id)


def _edit_time(obj: dict[str, Any]) -> datetime | None:
    # A time in the future would make every later edit look older.
    edited_at = parse_time(obj.get("updated"))
    if edited_at is None:
        return None
    return min(edited_at, datetime.now(UTC))


def _already_applied(existing: asyncpg.Record, edited_at: datetime | None) -> bool:
    # Without an "updated" time the Update is applied, and edited_at becomes
    # the time it arrived, with microseconds. Times carry whole seconds, so
    # two edits within one second have equal times and both apply, which is
    # why the stored time is compared truncated to its second. Applying one
    # twice changes nothing, because edited_at is taken from the Update.
    stored = existing["edited_at"]
    if edited_at is None or stored is None:
        return False
    return edited_at < stored.replace(microsecond=0)


async def _update_actor(context: Context, document: dict) -> None:
    actor_id = id_of(document)
    if actor_id != context.actor_id:
        await _refresh_other_actor(context, actor_id)
        return
    try:
        actor = parse_actor(document, fetched_from=context.actor_id)
    except InvalidActor as error:
        raise Ignored(str(error))
    actor.summary = await sanitize_html_async(actor.summary, object_id=actor_id)
    row = await accounts.upsert_remote(context.connection, actor)
    for key_id, _ in actor.keys:
        context.runtime.resolver.forget_key(key_id)
    if actor.actor_type == "Group":
        # FEP-1b12: the moderators collection may have changed with the group.
        await refresh_moderators(context.runtime, context.connection, row, document)
    log.info("updated actor %s (%s)", context.actor_id, context.activity_id)


async def _refresh_other_actor(context: Context, actor_id: str | None) -> None:
    """Refetch a known actor that another actor of its host reports as changed.

    Lemmy sends a moderator's Update of the community's Group. The embedded
    profile is not trusted; the actor's own document is fetched again.
    """
    if not actor_id or not context.same_host(actor_id):
        raise Ignored(f"{context.actor_id} may not update {actor_id}")
    known = await accounts.by_actor_id(context.connection, actor_id)
    if known is None or known["domain"] is None:
        raise Ignored(f"Update of unknown actor {actor_id}")
    await context.runtime.resolver.fetch_actor(actor_id)
    log.info(
        "refetched actor %s updated by %s (%s)",
        actor_id,
        context.actor_id,
        context.activity_id,
    )


async def _accepted_media(context: Context, author: Any, attachments: Any) -> Any:
    # A domain blocked with reject_media keeps its posts but not their media.
    if attachments and await context.runtime.domain_policy.rejects_media(author["actor_id"]):
        log.info("media of %s dropped: its domain's media are rejected", context.activity_id)
        return []
    return attachments
