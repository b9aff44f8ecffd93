"""Local event actions: creating, editing, cancelling and deleting events,
joining and leaving them, deciding participation requests, and the reminders
sent before an event starts.

RSVP uses the activities Mobilizon uses: Join (with ``participationMessage``)
of the Event, Accept or Reject of that Join by the organiser, and Leave of the
Event. A Join past the capacity is rejected, because there is no waiting list.
An edit or a cancellation is an Update of the Event (a cancelled one carries
``ical:status`` CANCELLED, as Mobilizon marks it); a deletion is a Delete of a
Tombstone.
"""

from __future__ import annotations

import asyncio
import logging
import math
import unicodedata
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import asyncpg

from actors import text as text_format
from actors.event import (
    EVENT_CONTEXT,
    JOIN_MODES,
    PLACE_TEXT_FIELDS,
    STATUSES,
    EventFields,
    is_web_url,
    local_iso,
    render_event,
    zone_of,
)
from actors.visibility import addressing
from federation.errors import FederationError
from outbox.actions import ActionError, Actions
from storage import accounts, groups, social, statuses
from storage import events as event_store

if TYPE_CHECKING:
    from pedagogue.runtime import Runtime

log = logging.getLogger(__name__)

MAX_NAME = 200
MAX_DESCRIPTION = 20_000
MAX_MESSAGE = 1000
MAX_CAPACITY = 1_000_000
# Years an event may fall in. PostgreSQL's timestamptz reaches 294276 AD, but
# a far year is a typing mistake, and Python's datetime overflows at year 9999
# once an offset is applied.
MIN_YEAR = 1900
MAX_YEAR = 9000
# The largest row id (PostgreSQL bigint).
MAX_ROW_ID = 2**63 - 1


class EventError(ActionError):
    """Invalid event input, naming the field at fault."""

    def __init__(self, status: int, field_name: str, message: str) -> None:
        super().__init__(status, f"{field_name}: {message}")
        self.field = field_name


@dataclass
class NewEvent:
    """Client input for a new event, not yet checked."""

    name: Any = None
    description: Any = ""
    starts_at: Any = None
    ends_at: Any = None
    timezone: Any = "UTC"
    online_url: Any = None
    place: Any = None
    capacity: Any = None
    join_mode: Any = "free"
    registration_open: Any = True
    visibility: Any = "public"
    group_id: Any = None
    status: Any = "CONFIRMED"
    extra: dict[str, Any] = field(default_factory=dict)


# The fields of NewEvent a client may send.
EVENT_INPUT_FIELDS = tuple(
    item.name for item in dataclass_fields(NewEvent) if item.name != "extra"
)
# Fields an edit may not change: the audience and the group were chosen when
# the event was published, and peers already filed it under them.
FIXED_ON_EDIT = ("visibility", "group_id")


def _text(
    value: Any,
    name: str,
    limit: int,
    required: bool = False,
    single_line: bool = True,
) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise EventError(422, name, "must be text")
    value = value.strip()
    if required and not value:
        raise EventError(422, name, "can't be blank")
    if len(value) > limit:
        raise EventError(422, name, f"is over {limit} characters")
    if single_line and _has_control_character(value):
        raise EventError(422, name, "must be a single line without control characters")
    return value


def _has_control_character(value: str) -> bool:
    # Unicode category Cc covers C0 and C1 controls, line breaks and tabs.
    return any(unicodedata.category(character) == "Cc" for character in value)


def _time(value: Any, name: str, zone: Any) -> datetime:
    """Parse an ISO 8601 time; a time without an offset is in ``zone``.

    Raises EventError (422) for text that does not parse, a year outside
    MIN_YEAR to MAX_YEAR, and a wall-clock time that the zone skips.
    """
    if value in (None, ""):
        raise EventError(422, name, "can't be blank")
    if not isinstance(value, str):
        raise EventError(422, name, "must be an ISO 8601 date and time")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise EventError(422, name, f"{value[:40]!r} is not an ISO 8601 date and time")
    if moment.tzinfo is None:
        # A time without an offset is wall-clock time in the event's zone.
        moment = moment.replace(tzinfo=zone)
        if _skipped(moment):
            raise EventError(
                422,
                name,
                f"{value[:40]!r} does not exist in {zone.key}"
                " (the clocks move forward over it)",
            )
    try:
        instant = moment.astimezone(UTC)
    except OverflowError:
        instant = None
    if instant is None or not MIN_YEAR <= instant.year <= MAX_YEAR:
        raise EventError(
            422, name, f"must be within the years {MIN_YEAR} to {MAX_YEAR}"
        )
    return moment


def _skipped(moment: datetime) -> bool:
    """Return True for a wall-clock time in a daylight-saving gap of its zone."""
    try:
        back = moment.astimezone(UTC).astimezone(moment.tzinfo)
    except OverflowError:
        return False
    return back.replace(tzinfo=None) != moment.replace(tzinfo=None)


def _flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise EventError(422, name, "must be true or false")


def _place(value: Any) -> dict[str, Any] | None:
    if value in (None, "", {}):
        return None
    if not isinstance(value, dict):
        raise EventError(422, "place", "must be an object")
    place: dict[str, Any] = {}
    for key in PLACE_TEXT_FIELDS:
        if value.get(key) is not None:
            place[key] = _text(value[key], f"place.{key}", 500)
    for key, bound in (("latitude", 90.0), ("longitude", 180.0)):
        number = value.get(key)
        if number is None:
            continue
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise EventError(422, f"place.{key}", "must be a number")
        if not math.isfinite(number) or abs(number) > bound:
            raise EventError(422, f"place.{key}", f"must be within ±{bound:g}")
        place[key] = float(number)
    unknown = set(value) - set(PLACE_TEXT_FIELDS) - {"latitude", "longitude"}
    if unknown:
        raise EventError(422, "place", f"unknown key {min(unknown)!r}")
    return place or None


def validate(new: NewEvent, uri: str = "") -> tuple[EventFields, str, str]:
    """Check client input; return the fields, the description and the visibility.

    Raises EventError (422) naming the first field at fault.
    """
    name = _text(new.name, "name", MAX_NAME, required=True)
    description = _text(
        new.description, "description", MAX_DESCRIPTION, single_line=False
    )
    zone_name = _text(new.timezone or "UTC", "timezone", 64)
    zone = zone_of(zone_name)
    if zone is None:
        raise EventError(422, "timezone", f"{zone_name!r} is not an IANA time zone")
    starts_at = _time(new.starts_at, "starts_at", zone)
    ends_at = _time(new.ends_at, "ends_at", zone)
    # Compare instants: two times in the same zone compare by wall-clock time,
    # which is wrong across a daylight-saving change.
    if ends_at.astimezone(UTC) < starts_at.astimezone(UTC):
        raise EventError(422, "ends_at", "the event ends before it starts")
    online_url = None
    if new.online_url not in (None, ""):
        if not is_web_url(new.online_url):
            raise EventError(
                422,
                "online_url",
                "must be an http or https URL without spaces, quotes or angle brackets",
            )
        online_url = new.online_url
    capacity = _capacity(new.capacity)
    join_mode = new.join_mode or "free"
    if join_mode not in JOIN_MODES:
        raise EventError(422, "join_mode", f"must be one of {', '.join(JOIN_MODES)}")
    visibility = new.visibility or "public"
    if visibility not in ("public", "unlisted"):
        raise EventError(422, "visibility", "must be public or unlisted")
    status = new.status or "CONFIRMED"
    if not isinstance(status, str) or status.upper() not in STATUSES:
        raise EventError(422, "status", f"must be one of {', '.join(STATUSES)}")
    fields = EventFields(
        uri=uri,
        name=name,
        starts_at=starts_at,
        ends_at=ends_at,
        timezone=zone_name,
        online_url=online_url,
        place=_place(new.place),
        capacity=capacity,
        join_mode=join_mode,
        registration_open=_flag(new.registration_open, "registration_open"),
        status=status.upper(),
    )
    return fields, description, visibility


def _capacity(value: Any) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, (bool, float)):
        # JSON 40.0, Infinity and 1e400 arrive as floats.
        raise EventError(
            422, "capacity", f"must be a whole number from 1 to {MAX_CAPACITY}"
        )
    try:
        capacity = int(value)
    except (TypeError, ValueError):
        raise EventError(422, "capacity", "must be a whole number")
    if not 0 < capacity <= MAX_CAPACITY:
        raise EventError(422, "capacity", f"must be from 1 to {MAX_CAPACITY}")
    return capacity


def check_fields(names: Any) -> None:
    """Raise EventError (422) for the first name that is not an event field."""
    for name in names:
        if name not in EVENT_INPUT_FIELDS:
            raise EventError(422, name, "is not a field of an event")


def edited(event: Any, status: Any, changes: dict[str, Any]) -> NewEvent:
    """Return the client input of an edit: the event as stored, with ``changes``.

    Raises EventError (422) for a field that is unknown or may not change.
    Times left out keep their instant, even when the time zone changes.
    """
    check_fields(changes)
    current = NewEvent(
        name=event["name"],
        description=status["source_text"] or "",
        starts_at=local_iso(event["starts_at"], event["timezone"]),
        ends_at=local_iso(event["ends_at"], event["timezone"]),
        timezone=event["timezone"] or "UTC",
        online_url=event["online_url"],
        place=event_store.place_of(event),
        capacity=event["capacity"],
        join_mode=event["join_mode"],
        registration_open=event["registration_open"],
        visibility=status["visibility"],
        group_id=str(event["group_account_id"]) if event["group_account_id"] else None,
        status=event["status"],
    )
    for name in FIXED_ON_EDIT:
        if name in changes and str(changes[name] or "") != str(
            getattr(current, name) or ""
        ):
            raise EventError(422, name, "can't change after the event is published")
    for name, value in changes.items():
        if name not in FIXED_ON_EDIT:
            setattr(current, name, value)
    return current


class EventActions(Actions):
    """Event actions of the client API, and the responses to remote RSVPs."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)

    # Creating

    async def create_event(self, account: Any, new: NewEvent) -> asyncpg.Record:
        """Store an event with its status and deliver its Create to followers.

        Raises EventError (422) for invalid input, before anything is stored.
        """
        fields, description, visibility = validate(new)
        if fields.status == "CANCELLED":
            raise EventError(422, "status", "a new event can't be cancelled")
        group = await self._group(new.group_id, account)
        content = text_format.render_text(
            description, mention_url=lambda user, host: None, tag_url=self.urls.tag
        )
        to, cc = addressing(visibility, self.urls.followers(account["username"]), [])
        if group is not None:
            fields.group = group["actor_id"]
            cc.append(group["actor_id"])
        async with accounts.transaction(self.runtime.pool) as connection:
            status = await statuses.insert(
                connection,
                uri=None,
                uri_for_id=lambda sid: self.urls.status(account["username"], sid),
                account_id=account["id"],
                local=True,
                object_type="Event",
                name=fields.name,
                content=content,
                source_text=description,
                visibility=visibility,
                to_uris=to,
                cc_uris=cc,
            )
            assert status is not None
            url = self.urls.status_page(account["username"], status["id"])
            await connection.execute(
                "UPDATE statuses SET url = $2 WHERE id = $1", status["id"], url
            )
            status = await statuses.by_id(connection, status["id"])
            fields.uri = status["uri"]
            event = await event_store.insert(
                connection,
                status["id"],
                True,
                fields,
                account["id"],
                group["id"] if group is not None else None,
            )
            await self._distribute_locally(connection, account, status, [])
            document = self.render_event(status, event, account, 0)
            inboxes = await self._inboxes_for(connection, account, visibility, [])
            if group is not None and group["domain"] is not None:
                inboxes.append(group["shared_inbox_url"] or group["inbox_url"])
            body = await self._send(
                connection,
                account,
                lambda uri: _activity(
                    "Create", uri, account["actor_id"], document, to=to, cc=cc
                ),
                inboxes,
            )
            await connection.execute(
                "UPDATE statuses SET activity_uri = $2 WHERE id = $1",
                status["id"],
                body["id"],
            )
        log.info("event %s created by %s", status["uri"], account["actor_id"])
        return event

    async def _group(self, group_id: Any, account: Any) -> Any:
        """Return the group an event is added to, after checking the organiser.

        Members (accepted followers) and moderators of a group may add events
        to it. A group that approves members by hand thereby keeps its calendar
        to the members it approved. Raises EventError (422) for an unknown
        group and (403) for anyone else.
        """
        if group_id in (None, ""):
            return None
        text = str(group_id).strip()
        if isinstance(group_id, bool) or not text.isascii() or not text.isdigit():
            raise EventError(422, "group_id", "must be a group's account id")
        number = int(text)
        group = None
        if number <= MAX_ROW_ID:
            group = await accounts.by_id(self.runtime.pool, number)
        if group is None or group["actor_type"] != "Group" or group["deleted_at"]:
            raise EventError(422, "group_id", "no group has that id")
        pool = self.runtime.pool
        if not (
            await groups.is_member(pool, group["id"], account["id"])
            or await groups.moderator_role(pool, group["id"], account["id"])
        ):
            log.info(
                "rejected event of %s in group %s: not a member",
                account["actor_id"],
                group["actor_id"],
            )
            raise EventError(
                403, "group_id", "only members of the group may add events to it"
            )
        return group

    def render_event(self, status: Any, event: Any, account: Any, count: int) -> dict:
        """Return the Event of a local event, without @context."""
        return render_event(
            status,
            {**dict(event), "place": event_store.place_of(event)},
            organiser_id=account["actor_id"],
            url=status["url"]
            or self.urls.status_page(account["username"], status["id"]),
            participant_count=count,
        )

    # Editing, cancelling and deleting

    async def update_event(
        self, account: Any, event: Any, changes: dict[str, Any]
    ) -> asyncpg.Record:
        """Apply an edit by the organiser and deliver it as Update(Event).

        ``changes`` contains the client fields to change; the others keep their
        stored values and the whole result is validated as on creation. The
        Update goes to the organiser's followers, the remote participants and
        a remote group; local participants get a notification. An edit that
        changes nothing sends nothing. Raises ActionError 403 for anyone but the
        organiser, and EventError (422) for invalid input, before anything is
        stored.
        """
        self._check_organiser(account, event)
        async with accounts.transaction(self.runtime.pool) as connection:
            event = await event_store.lock(connection, event["status_id"])
            status = await statuses.by_id(connection, event["status_id"])
            fields, description, _ = validate(edited(event, status, changes))
            if fields.capacity is not None and "capacity" in changes:
                taken = await event_store.accepted_count(connection, event["status_id"])
                if fields.capacity < taken:
                    raise EventError(
                        422,
                        "capacity",
                        f"is below the {taken} participants already accepted",
                    )
            changed = event_store.changed_columns(event, fields)
            if description != (status["source_text"] or ""):
                changed.append("description")
            if not changed:
                return event
            await event_store.set_status_text(
                connection,
                status["id"],
                name=fields.name,
                content=self._render_description(description),
                source_text=description,
            )
            updated = await event_store.update_fields(
                connection, event["status_id"], fields
            )
            if "starts_at" in changed:
                await event_store.reset_reminders(connection, event["status_id"])
            kind = (
                "event_cancelled"
                if "status" in changed and fields.status == "CANCELLED"
                else "event_updated"
            )
            await event_store.notify_participants(
                connection, event["status_id"], kind, account["id"]
            )
            await self._send_update(connection, account, updated, with_pending=True)
        log.info(
            "event %s %s by %s: %s",
            event["uri"],
            "cancelled" if kind == "event_cancelled" else "updated",
            account["actor_id"],
            ", ".join(changed),
        )
        return updated

    async def cancel_event(self, account: Any, event: Any) -> asyncpg.Record:
        """Mark the organiser's event CANCELLED and deliver the Update.

        The event stays listed, in the feeds with STATUS:CANCELLED, and rejects
        new participants. Cancelling a cancelled event changes nothing.
        """
        return await self.update_event(account, event, {"status": "CANCELLED"})

    async def delete_event(self, account: Any, event: Any) -> None:
        """Delete the organiser's event and deliver Delete with a Tombstone.

        The Delete reaches everyone who got the event: followers, remote
        participants, a remote group and servers that replied to or boosted
        it. Local participants get an ``event_deleted`` notification. Raises
        ActionError 403 for anyone but the organiser.
        """
        self._check_organiser(account, event)
        async with accounts.transaction(self.runtime.pool) as connection:
            status = await statuses.by_id(connection, event["status_id"])
            inboxes = await self._event_inboxes(
                connection, account, event, status, with_pending=True
            )
            inboxes += await self._interacting_inboxes(connection, status["id"])
            await statuses.mark_deleted(connection, status)
            # After mark_deleted, which removes the notifications of the status.
            await event_store.notify_participants(
                connection, event["status_id"], "event_deleted", account["id"]
            )
            tombstone = {
                "id": status["uri"],
                "type": "Tombstone",
                "formerType": "Event",
                "deleted": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            await self._send(
                connection,
                account,
                lambda uri: _activity(
                    "Delete",
                    uri,
                    account["actor_id"],
                    tombstone,
                    to=list(status["to_uris"]),
                    cc=list(status["cc_uris"]),
                ),
                inboxes,
            )
        log.info("event %s deleted by %s", event["uri"], account["actor_id"])

    @staticmethod
    def _check_organiser(account: Any, event: Any) -> None:
        if not event["local"] or event["account_id"] != account["id"]:
            raise ActionError(403, "only the organiser may change this event")

    def _render_description(self, description: str) -> str:
        return text_format.render_text(
            description, mention_url=lambda user, host: None, tag_url=self.urls.tag
        )

    async def _event_inboxes(
        self,
        connection: asyncpg.Connection,
        organiser: Any,
        event: Any,
        status: Any,
        with_pending: bool = False,
    ) -> list[str]:
        """Return the inboxes that hold a copy of the event: the organiser's
        followers, its remote participants and its group when remote."""
        inboxes = await self._inboxes_for(
            connection, organiser, status["visibility"], []
        )
        states = ("accepted", "pending") if with_pending else ("accepted",)
        inboxes += await event_store.participant_inboxes(
            connection, event["status_id"], states
        )
        if event["group_account_id"] is not None:
            group = await accounts.by_id(connection, event["group_account_id"])
            if group is not None and group["domain"] is not None:
                inboxes.append(group["shared_inbox_url"] or group["inbox_url"])
        return list(dict.fromkeys(inbox for inbox in inboxes if inbox))

    # Joining

    async def join(self, account: Any, event: Any, message: str = "") -> asyncpg.Record:
        """Ask to take part in an event.

        A local event decides at once; a remote one gets a Join and the
        participation stays pending until its Accept or Reject arrives. Raises
        ActionError 422 when the organiser joins their own event.
        """
        message = _text(message, "message", MAX_MESSAGE, single_line=False)
        if event["account_id"] == account["id"]:
            raise ActionError(422, "you organise this event")
        if not event["local"] and event["status"] == "CANCELLED":
            # A local event returns a rejected participation instead, as
            # its organiser's server rejects a remote Join with Reject.
            raise EventError(422, "status", "the event is cancelled")
        async with accounts.transaction(self.runtime.pool) as connection:
            if event["local"]:
                await self.admit(connection, event, account, None, message)
                return await event_store.participant(
                    connection, event["status_id"], account["id"]
                )
            organiser = await accounts.by_id(connection, event["account_id"])
            body = await self._send(
                connection,
                account,
                lambda uri: _activity(
                    "Join",
                    uri,
                    account["actor_id"],
                    event["uri"],
                    to=[organiser["actor_id"]],
                    participationMessage=message or None,
                ),
                [organiser["inbox_url"]],
            )
            return await event_store.upsert_participant(
                connection,
                event["status_id"],
                account["id"],
                body["id"],
                "pending",
                message,
            )

    async def admit(
        self,
        connection: asyncpg.Connection,
        event: Any,
        joiner: Any,
        join_uri: str | None,
        message: str,
    ) -> tuple[str, str]:
        """Decide a Join of a local event, store it and tell who needs to know.

        Returns (state, reason). A remote joiner gets Accept or Reject now, or
        later for a restricted event, when the organiser decides.
        """
        event = await event_store.lock(connection, event["status_id"])
        existing = await event_store.participant(
            connection, event["status_id"], joiner["id"]
        )
        if existing is not None and existing["state"] == "accepted":
            state, reason = "accepted", "already accepted"
        else:
            state, reason = await self._decide(connection, event)
        participant = await event_store.upsert_participant(
            connection, event["status_id"], joiner["id"], join_uri, state, message
        )
        organiser = await accounts.by_id(connection, event["account_id"])
        kind = "event_join" if state == "accepted" else "event_join_request"
        if state != "rejected":
            await social.notify(
                connection, organiser["id"], kind, joiner["id"], event["status_id"]
            )
        if joiner["domain"] is not None and state != "pending":
            await self._answer_join(
                connection, organiser, joiner, participant, event, state == "accepted"
            )
        if state == "accepted":
            await self._send_update(connection, organiser, event)
        log.info(
            "Join %s of %s by %s: %s (%s)",
            join_uri or "(local join)",
            event["uri"],
            joiner["actor_id"],
            state,
            reason,
        )
        return state, reason

    async def _decide(
        self, connection: asyncpg.Connection, event: Any
    ) -> tuple[str, str]:
        if event["status"] == "CANCELLED":
            return "rejected", "the event is cancelled"
        if not event["registration_open"] or event["join_mode"] == "invite":
            return "rejected", "registration is closed"
        if event["capacity"] is not None:
            taken = await event_store.accepted_count(connection, event["status_id"])
            if taken >= event["capacity"]:
                return "rejected", "the event is full"
        if event["join_mode"] == "restricted":
            return "pending", "the organiser approves participants"
        return "accepted", "open registration"

    async def answer(
        self, organiser: Any, event: Any, joiner_id: int, accept: bool
    ) -> str:
        """Accept or reject a pending participant of the organiser's event.

        Raises ActionError 403 for anyone but the organiser, 404 when the
        account has not asked to join, 422 when accepting would pass capacity.
        """
        if event["account_id"] != organiser["id"] or not event["local"]:
            raise ActionError(
                403, "only the organiser may accept or reject participants"
            )
        async with accounts.transaction(self.runtime.pool) as connection:
            event = await event_store.lock(connection, event["status_id"])
            participant = await event_store.participant(
                connection, event["status_id"], joiner_id
            )
            if participant is None:
                raise ActionError(404, "that account has not asked to join")
            if accept and participant["state"] != "accepted" and event["capacity"]:
                taken = await event_store.accepted_count(connection, event["status_id"])
                if taken >= event["capacity"]:
                    raise EventError(422, "capacity", "the event is full")
            state = "accepted" if accept else "rejected"
            await event_store.set_state(connection, participant["id"], state)
            joiner = await accounts.by_id(connection, joiner_id)
            await social.remove_notification(
                connection,
                organiser["id"],
                "event_join_request",
                joiner_id,
                event["status_id"],
            )
            if joiner["domain"] is not None:
                await self._answer_join(
                    connection, organiser, joiner, participant, event, accept
                )
            if accept:
                await self._send_update(connection, organiser, event)
        log.info(
            "participant %s of %s %s by the organiser",
            joiner["actor_id"],
            event["uri"],
            state,
        )
        return state

    async def _answer_join(
        self,
        connection: asyncpg.Connection,
        organiser: Any,
        joiner: Any,
        participant: Any,
        event: Any,
        accept: bool,
    ) -> None:
        # The Join is embedded, as Mobilizon embeds it, so the joiner's server
        # need not fetch it.
        join = {
            "type": "Join",
            "id": participant["uri"]
            or f"{joiner['actor_id']}#join-{event['status_id']}",
            "actor": joiner["actor_id"],
            "object": event["uri"],
        }
        await self._send(
            connection,
            organiser,
            lambda uri: _activity(
                "Accept" if accept else "Reject",
                uri,
                organiser["actor_id"],
                join,
                to=[joiner["actor_id"]],
            ),
            [joiner["inbox_url"]],
        )

    async def _send_update(
        self,
        connection: asyncpg.Connection,
        organiser: Any,
        event: Any,
        with_pending: bool = False,
    ) -> None:
        """Send the Event as it is now (fields and participant count) to the
        inboxes that hold a copy of it."""
        status = await statuses.by_id(connection, event["status_id"])
        count = await event_store.accepted_count(connection, event["status_id"])
        document = self.render_event(status, event, organiser, count)
        inboxes = await self._event_inboxes(
            connection, organiser, event, status, with_pending
        )
        await self._send(
            connection,
            organiser,
            lambda uri: _activity(
                "Update",
                uri,
                organiser["actor_id"],
                document,
                to=document["to"],
                cc=document["cc"],
            ),
            inboxes,
        )

    async def leave(self, account: Any, event: Any) -> None:
        """Stop taking part; a remote organiser gets Leave. Raises ActionError 404
        when the account takes no part."""
        async with accounts.transaction(self.runtime.pool) as connection:
            removed = await event_store.remove_participant(
                connection, event["status_id"], account["id"]
            )
            if removed is None:
                raise ActionError(404, "you take no part in this event")
            organiser = await accounts.by_id(connection, event["account_id"])
            if event["local"]:
                if removed["state"] == "accepted":
                    await self._send_update(connection, organiser, event)
                return
            await self._send(
                connection,
                account,
                lambda uri: _activity(
                    "Leave",
                    uri,
                    account["actor_id"],
                    event["uri"],
                    to=[organiser["actor_id"]],
                ),
                [organiser["inbox_url"]],
            )

    async def remote_left(
        self, connection: asyncpg.Connection, event: Any, account: Any
    ) -> bool:
        """Remove a remote participant who sent Leave; True when one was removed."""
        removed = await event_store.remove_participant(
            connection, event["status_id"], account["id"]
        )
        if removed is None:
            return False
        if event["local"] and removed["state"] == "accepted":
            organiser = await accounts.by_id(connection, event["account_id"])
            await self._send_update(connection, organiser, event)
        return True


def _activity(kind: str, uri: str, actor_id: str, obj: Any, **extra: Any) -> dict:
    body = {
        "@context": EVENT_CONTEXT,
        "id": uri,
        "type": kind,
        "actor": actor_id,
        "object": obj,
    }
    body.update({key: value for key, value in extra.items() if value is not None})
    return body


# Reminders


class EventReminders:
    """Notifies accepted local participants once, shortly before an event starts."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings.events

    async def run(self, stopping: asyncio.Event) -> None:
        """Check for due reminders every ``events.reminder_interval`` seconds.

        An error ends only the current pass: it is logged and the next pass
        runs on time.
        """
        while not stopping.is_set():
            try:
                await self.run_once()
            except Exception:
                log.exception("event reminder pass failed; trying again next pass")
            try:
                await asyncio.wait_for(stopping.wait(), self.settings.reminder_interval)
            except TimeoutError:
                pass

    async def run_once(self) -> int:
        """Create the reminders now due; return how many were created.

        A reminder that fails is logged with its event and participant and
        left for the next pass; the others still go out.
        """
        minutes = self.settings.reminder_minutes
        if minutes <= 0:
            return 0
        due = await event_store.due_reminders(self.runtime.pool, minutes)
        created = 0
        for row in due:
            try:
                if await self._remind(row):
                    created += 1
            except Exception:
                log.exception(
                    "reminder of event status %s for account %s (participant %s)"
                    " failed; retrying next pass",
                    row["status_id"],
                    row["account_id"],
                    row["id"],
                )
        return created

    async def _remind(self, row: Any) -> bool:
        async with accounts.transaction(self.runtime.pool) as connection:
            # The mark and the notification commit together. A second worker
            # process waits on the row lock of the mark, then finds it set and
            # skips, so each participant is reminded once.
            if not await event_store.mark_reminded(connection, row["id"]):
                return False
            await social.notify(
                connection,
                row["account_id"],
                "event_reminder",
                row["organiser_id"],
                row["status_id"],
            )
        log.info(
            "reminded account %s of event status %s",
            row["account_id"],
            row["status_id"],
        )
        return True


async def event_document(runtime: Runtime, status: Any, account: Any) -> dict[str, Any]:
    """Return the Event of a local event status, with @context, for fetches."""
    event = await event_store.by_status_id(runtime.pool, status["id"])
    if event is None:
        raise FederationError(404, "event not found")
    count = await event_store.accepted_count(runtime.pool, status["id"])
    document = EventActions(runtime).render_event(status, event, account, count)
    return {"@context": EVENT_CONTEXT, **document}
