"""Events received from peers, and the RSVP activities around them.

Join and Leave name an Event; Accept and Reject respond to a Join. The shapes are
the ones Mobilizon sends and reads (see ``outbox.events``). Update and Delete of
an Event come through ``inbox.handlers.create`` and ``inbox.handlers.delete``,
which call ``check_sender``, ``apply_update`` and ``event_deleted`` here.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg

from actors.event import MAX_TEXT, InvalidEvent, parse_event
from actors.vocabulary import first_id, has_type, id_of
from federation.errors import FederationError
from federation.sanitize import plain_text, sanitize_display_name
from inbox.handlers import Context, Ignored
from outbox.events import EventActions
from storage import accounts, statuses
from storage import events as event_store

log = logging.getLogger(__name__)


async def store_event(context: Context, document: dict[str, Any], status: Any) -> None:
    """Store the event fields of a remote Event whose status was just stored.

    Fields of the wrong type are left out and logged. An Event without a
    usable start time stays a plain status, which is logged too.
    """
    try:
        fields = parse_event(document)
    except InvalidEvent as error:
        log.warning(
            "Event %s from %s kept as a status only: %s (%s)",
            status["uri"],
            context.actor_id,
            error,
            context.activity_id,
        )
        return
    if fields.dropped:
        log.warning(
            "Event %s from %s stored without its malformed fields %s (%s)",
            fields.uri,
            context.actor_id,
            ", ".join(fields.dropped),
            context.activity_id,
        )
    # AS2 name is plain text: "x<y>z" is kept and escaped where shown.
    fields.name = sanitize_display_name(fields.name, MAX_TEXT) or status["name"] or ""
    organiser = await _organiser(context, fields.organiser, status)
    group = None
    if fields.group and context.same_host(fields.group):
        # A group on another host has not accepted the event, so it is only
        # linked when the group lives on the sender's host.
        group = await accounts.by_actor_id(context.connection, fields.group)
    await event_store.insert(
        context.connection,
        status["id"],
        False,
        fields,
        organiser["id"],
        group["id"] if group is not None else None,
    )
    if fields.online_url:
        # The online location is a Link attachment, not media to display.
        await context.connection.execute(
            "DELETE FROM media_attachments WHERE status_id = $1 AND remote_url = $2",
            status["id"],
            fields.online_url,
        )
    log.info(
        "stored event %s by %s (%s)",
        fields.uri,
        organiser["actor_id"],
        context.activity_id,
    )


async def _organiser(context: Context, actor_id: str | None, status: Any) -> Any:
    # Mobilizon names the person in ``actor`` and the group in ``attributedTo``.
    if actor_id and context.same_host(actor_id):
        try:
            return await context.runtime.resolver.actor(actor_id)
        except FederationError as error:
            log.info(
                "organiser %s not resolved: %s (%s)",
                actor_id,
                error.message,
                context.activity_id,
            )
    return await accounts.by_id(context.connection, status["account_id"])


async def handle_join(context: Context) -> None:
    """Decide a remote actor's Join of a local event and send the response.

    Raises Ignored when the object is no local event.
    """
    event_uri = context.object_id
    event = await event_store.by_uri(context.connection, event_uri or "")
    if event is None or not event["local"]:
        raise Ignored(f"Join of {event_uri}, not a local event")
    joiner = await context.actor()
    message = context.activity.get("participationMessage")
    message = plain_text(message)[:1000] if isinstance(message, str) else ""
    await EventActions(context.runtime).admit(
        context.connection, event, joiner, context.activity_id, message
    )


async def handle_leave(context: Context) -> None:
    """Remove the sender from the participants of an event.

    Raises Ignored when the event is unknown or the sender takes no part.
    """
    event_uri = context.object_id
    event = await event_store.by_uri(context.connection, event_uri or "")
    if event is None:
        raise Ignored(f"Leave of unknown event {event_uri}")
    account = await context.actor()
    if not await EventActions(context.runtime).remote_left(
        context.connection, event, account
    ):
        raise Ignored(f"{context.actor_id} takes no part in {event_uri}")
    log.info("%s left %s (%s)", context.actor_id, event_uri, context.activity_id)


async def answer_join(context: Context, accept: bool) -> bool:
    """Apply an Accept or Reject of a local account's Join. Returns False when
    the activity responds to something else.

    Raises Ignored when the sender is not the event's organiser or group.
    """
    participant = await _our_participation(context.connection, context.object)
    if participant is None:
        return False
    event = await event_store.by_status_id(context.connection, participant["event_id"])
    if event is None:
        raise Ignored(f"response to a Join of a deleted event ({context.activity_id})")
    sender = await context.actor()
    if sender["id"] not in (event["account_id"], event["group_account_id"]):
        raise Ignored(f"{context.actor_id} does not organise {event['uri']}")
    state = "accepted" if accept else "rejected"
    await event_store.set_state(context.connection, participant["id"], state)
    log.info(
        "participation %s in %s %s by %s (%s)",
        participant["uri"],
        event["uri"],
        state,
        context.actor_id,
        context.activity_id,
    )
    return True


async def _our_participation(connection: asyncpg.Connection, obj: Any) -> Any:
    join_uri = first_id(obj)
    if join_uri:
        found = await event_store.participant_by_uri(connection, join_uri)
        if found is not None:
            return found
    if not isinstance(obj, dict) or not has_type(obj, "Join"):
        return None
    # A peer that made up its own id for our Join: match actor and event.
    event = await event_store.by_uri(connection, id_of(obj.get("object")) or "")
    joiner = await accounts.by_actor_id(connection, first_id(obj.get("actor")) or "")
    if event is None or joiner is None or joiner["domain"] is not None:
        return None
    return await event_store.participant(connection, event["status_id"], joiner["id"])


async def check_sender(context: Context, status: Any, owner: Any) -> None:
    """Raise Ignored, and log it, unless the sender may change this event.

    The status's author may, and so may the event's organiser and its group:
    Mobilizon attributes a group's event to the group and names the organiser
    in ``actor``, and either of them sends the Update or Delete.

    NOTE: Mobilizon also lets any moderator of the group edit or delete a
    group's event. Such an activity from a moderator who is neither the
    organiser nor the group is rejected here.
    """
    if owner["actor_id"] == context.actor_id:
        return
    event = await event_store.by_status_id(context.connection, status["id"])
    sender = await accounts.by_actor_id(context.connection, context.actor_id)
    if (
        event is not None
        and sender is not None
        and sender["id"] in (event["account_id"], event["group_account_id"])
    ):
        return
    log.warning(
        "rejected %s of event %s from %s, who does not organise it (%s)",
        context.row["activity_type"],
        status["uri"],
        context.actor_id,
        context.activity_id,
    )
    raise Ignored(f"{context.actor_id} does not organise {status['uri']}")


async def apply_update(context: Context, document: dict[str, Any], status: Any) -> None:
    """Store a received Update of an Event whose status text was just updated.

    ``status`` is the row as it was before the Update. A change of the event's
    fields or description bumps its sequence and notifies the local
    participants (``event_cancelled`` when it became CANCELLED, else
    ``event_updated``); a new participant count alone does neither.
    """
    connection = context.connection
    before = await event_store.by_status_id(connection, status["id"])
    await store_event(context, document, status)
    after = await event_store.by_status_id(connection, status["id"])
    if before is None or after is None:
        return
    changed = event_store.changed_columns(before, after)
    current = await statuses.by_id(connection, status["id"])
    if current["content"] != status["content"]:
        changed.append("description")
    if not changed:
        return
    await event_store.bump_sequence(connection, status["id"])
    if "starts_at" in changed:
        await event_store.reset_reminders(connection, status["id"])
    cancelled = "status" in changed and after["status"] == "CANCELLED"
    kind = "event_cancelled" if cancelled else "event_updated"
    notified = await event_store.notify_participants(
        connection, status["id"], kind, after["account_id"]
    )
    log.info(
        "event %s %s by %s: %s; %d local participants notified (%s)",
        after["uri"],
        "cancelled" if cancelled else "changed",
        context.actor_id,
        ", ".join(changed),
        len(notified),
        context.activity_id,
    )


async def event_deleted(context: Context, status: Any) -> None:
    """Notify the local participants of a remote event that was just deleted."""
    event = await context.connection.fetchrow(
        "SELECT * FROM events WHERE status_id = $1", status["id"]
    )
    if event is None:
        return
    notified = await event_store.notify_participants(
        context.connection, status["id"], "event_deleted", event["account_id"]
    )
    log.info(
        "event %s deleted by %s; %d local participants notified (%s)",
        event["uri"],
        context.actor_id,
        len(notified),
        context.activity_id,
    )
