"""Events: their ActivityStreams form, and reading remote ones.

The shape follows the Event object of ActivityStreams with the extension terms
Mobilizon publishes (``joinMode``, ``participantCount``, ``timezone``,
``isOnline``, schema.org capacity terms, ``ical:status``), so that Mobilizon and
Pedagogue instances read each other's events. The online location travels as a
``Link`` attachment named "Website"; a physical one as a ``Place`` whose
``address`` is a schema.org ``PostalAddress``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from actors.vocabulary import CONTEXT, as_list, first_id, has_type, id_of

log = logging.getLogger(__name__)

JOIN_MODES = ("free", "restricted", "invite")
STATUSES = ("CONFIRMED", "TENTATIVE", "CANCELLED")
# The attachment name Mobilizon gives the link of an online event.
ONLINE_LINK_NAME = "Website"
PLACE_TEXT_FIELDS = (
    "name",
    "streetAddress",
    "postalCode",
    "addressLocality",
    "addressRegion",
    "addressCountry",
)
MAX_TEXT = 500
# Bounds of the integer columns that remote numbers are stored in (int4).
MAX_STORED_INT = 2**31 - 1
# Years a remote event may fall in; outside them its time is unusable.
MIN_YEAR = 1900
MAX_YEAR = 9000
# Characters RFC 3986 does not allow anywhere in a URI. A URL containing them
# would be written verbatim into iCalendar URI values and HTML attributes.
_NOT_IN_URI = frozenset(' "<>\\^`{|}')

# Mobilizon's namespace and the schema.org and iCalendar terms it uses.
EVENT_TERMS: dict[str, Any] = {
    "mz": "https://joinmobilizon.org/ns#",
    "sc": "http://schema.org#",
    "ical": "http://www.w3.org/2002/12/cal/ical#",
    "joinMode": {"@id": "mz:joinMode", "@type": "mz:joinModeType"},
    "participationMessage": {"@id": "mz:participationMessage", "@type": "sc:Text"},
    "participantCount": {"@id": "mz:participantCount", "@type": "sc:Integer"},
    "timezone": {"@id": "mz:timezone", "@type": "sc:Text"},
    "isOnline": {"@id": "mz:isOnline", "@type": "sc:Boolean"},
    "anonymousParticipationEnabled": {
        "@id": "mz:anonymousParticipationEnabled",
        "@type": "sc:Boolean",
    },
    "maximumAttendeeCapacity": "sc:maximumAttendeeCapacity",
    "remainingAttendeeCapacity": "sc:remainingAttendeeCapacity",
    "PostalAddress": "sc:PostalAddress",
    "address": {"@id": "sc:address", "@type": "sc:PostalAddress"},
    "streetAddress": "sc:streetAddress",
    "postalCode": "sc:postalCode",
    "addressLocality": "sc:addressLocality",
    "addressRegion": "sc:addressRegion",
    "addressCountry": "sc:addressCountry",
}
EVENT_CONTEXT = [*CONTEXT[:-1], {**CONTEXT[-1], **EVENT_TERMS}]


class InvalidEvent(ValueError):
    """A remote Event that lacks what an event needs (a start time)."""


@dataclass
class EventFields:
    """The event-specific fields of an Event, local or remote."""

    uri: str
    name: str
    starts_at: datetime
    ends_at: datetime
    timezone: str | None = None
    online_url: str | None = None
    place: dict[str, Any] | None = None
    capacity: int | None = None
    join_mode: str = "free"
    registration_open: bool = True
    status: str = "CONFIRMED"
    participant_count: int | None = None
    organiser: str | None = None
    group: str | None = None
    # Fields of a remote Event that had the wrong type and were left out.
    dropped: list[str] = field(default_factory=list)


def zone_of(name: str | None) -> ZoneInfo | None:
    """Return the IANA time zone called ``name``, or None when there is none."""
    if not name or not isinstance(name, str) or len(name) > 64:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local_iso(moment: datetime, zone_name: str | None) -> str:
    """Return ISO 8601 with the offset of the event's zone (RFC 3339 section 5.6)."""
    zone = zone_of(zone_name) or UTC
    return moment.astimezone(zone).isoformat()


def render_event(
    status: Any,
    event: Any,
    *,
    organiser_id: str,
    url: str,
    participant_count: int,
) -> dict[str, Any]:
    """Return the Event of a local event.

    ``status`` and ``event`` are the statuses and events rows. A closed
    registration is published as joinMode "invite": nobody joins uninvited.
    """
    join_mode = event["join_mode"] if event["registration_open"] else "invite"
    capacity = event["capacity"]
    document: dict[str, Any] = {
        "id": status["uri"],
        "type": "Event",
        "name": event["name"],
        "content": status["content"],
        "mediaType": "text/html",
        "url": url,
        "attributedTo": event["group_uri"] or organiser_id,
        "actor": organiser_id,
        "published": _utc(status["created_at"]),
        "startTime": local_iso(event["starts_at"], event["timezone"]),
        "endTime": local_iso(event["ends_at"], event["timezone"]),
        "timezone": event["timezone"],
        "to": list(status["to_uris"]),
        "cc": list(status["cc_uris"]),
        "joinMode": join_mode,
        "maximumAttendeeCapacity": capacity,
        "remainingAttendeeCapacity": (
            max(capacity - participant_count, 0) if capacity else None
        ),
        "participantCount": participant_count,
        "anonymousParticipationEnabled": False,
        "isOnline": bool(event["online_url"]),
        "ical:status": event["status"],
        # Mobilizon 4 sends the status under both names and reads ``status``
        # first; ``ical:status`` is the older of the two.
        "status": event["status"],
        "attachment": [],
    }
    if event["updated_at"] is not None:
        document["updated"] = _utc(event["updated_at"])
    if event["group_uri"]:
        # FEP-1b12: the group the event belongs to.
        document["audience"] = event["group_uri"]
    if event["online_url"]:
        document["attachment"].append(
            {
                "type": "Link",
                "name": ONLINE_LINK_NAME,
                "mediaType": "text/html",
                "href": event["online_url"],
            }
        )
    place = event["place"]
    if place:
        document["location"] = render_place(place)
    return document


def render_place(place: dict[str, Any]) -> dict[str, Any]:
    """Return a Place with its schema.org PostalAddress."""
    address = {
        key: place[key] for key in PLACE_TEXT_FIELDS if key != "name" and place.get(key)
    }
    document: dict[str, Any] = {"type": "Place", "name": place.get("name") or ""}
    if address:
        document["address"] = {"type": "PostalAddress", **address}
    for key in ("latitude", "longitude"):
        if place.get(key) is not None:
            document[key] = place[key]
    return document


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_event(document: dict[str, Any]) -> EventFields:
    """Read the event fields of a remote Event.

    Fields of the wrong type are left out and named in ``dropped``. Raises
    InvalidEvent when the id or a usable ``startTime`` is missing.
    """
    if not has_type(document, "Event"):
        raise InvalidEvent("object is not an Event")
    uri = id_of(document)
    if not uri:
        raise InvalidEvent("Event without an id")
    dropped: list[str] = []
    zone_name = document.get("timezone")
    zone = zone_of(zone_name)
    if zone_name is not None and zone is None:
        dropped.append("timezone")
        zone_name = None
    starts_at = _parse_time(document.get("startTime"), zone)
    if starts_at is None:
        raise InvalidEvent(f"Event {uri} has no usable startTime")
    ends_at = _parse_time(document.get("endTime"), zone)
    # Compare instants, because two times in one zone compare by wall clock.
    if document.get("endTime") is not None and (
        ends_at is None or ends_at.astimezone(UTC) < starts_at.astimezone(UTC)
    ):
        dropped.append("endTime")
        ends_at = None
    name = document.get("name")
    if not isinstance(name, str):
        if name is not None:
            dropped.append("name")
        name = ""
    fields = EventFields(
        uri=uri,
        name=name[:MAX_TEXT],
        starts_at=starts_at,
        ends_at=ends_at or starts_at,
        timezone=zone_name if isinstance(zone_name, str) else None,
        organiser=first_id(document.get("actor"))
        or first_id(document.get("attributedTo")),
        dropped=dropped,
    )
    attributed = first_id(document.get("attributedTo"))
    if attributed and attributed != fields.organiser:
        fields.group = attributed
    elif isinstance(document.get("audience"), str):
        fields.group = document["audience"]
    _read_options(document, fields)
    return fields


def _read_options(document: dict[str, Any], fields: EventFields) -> None:
    dropped = fields.dropped
    capacity = document.get("maximumAttendeeCapacity")
    if capacity is not None:
        if _is_int(capacity) and 0 <= capacity <= MAX_STORED_INT:
            # Mobilizon sends 0 for "no limit".
            fields.capacity = capacity or None
        else:
            dropped.append("maximumAttendeeCapacity")

    count = document.get("participantCount")
    if count is not None:
        if _is_int(count) and 0 <= count <= MAX_STORED_INT:
            fields.participant_count = count
        else:
            dropped.append("participantCount")

    join_mode = document.get("joinMode")
    if join_mode is not None:
        if join_mode in JOIN_MODES:
            fields.join_mode = join_mode
            fields.registration_open = join_mode != "invite"
        else:
            dropped.append("joinMode")

    status = document.get("ical:status", document.get("status"))
    if status is not None:
        if isinstance(status, str) and status.upper() in STATUSES:
            fields.status = status.upper()
        else:
            dropped.append("ical:status")

    fields.online_url = _online_url(document.get("attachment"), dropped)
    location = document.get("location")
    if location is not None:
        fields.place = _parse_place(location, dropped)
        if fields.place is None:
            dropped.append("location")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_time(value: Any, zone: ZoneInfo | None) -> datetime | None:
    """Return the time, or None when it does not parse or falls outside the
    years MIN_YEAR to MAX_YEAR."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone or UTC)
    try:
        year = moment.astimezone(UTC).year
    except OverflowError:
        return None
    if not MIN_YEAR <= year <= MAX_YEAR:
        return None
    return moment


def is_web_url(value: Any) -> bool:
    """Return True for an absolute http or https URL of reasonable length.

    Spaces, quotes, angle brackets and control characters are not allowed:
    RFC 3986 excludes them, and they would reach iCalendar and HTML verbatim.
    """
    if not isinstance(value, str) or len(value) > 2000:
        return False
    if any(
        character in _NOT_IN_URI
        or ord(character) < 0x21
        or 0x7F <= ord(character) <= 0x9F
        for character in value
    ):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _online_url(attachments: Any, dropped: list[str]) -> str | None:
    for item in as_list(attachments):
        if not isinstance(item, dict) or not has_type(item, "Link"):
            continue
        if item.get("name") != ONLINE_LINK_NAME:
            continue
        if is_web_url(item.get("href")):
            return str(item["href"])
        dropped.append("attachment")
    return None


def _parse_place(location: Any, dropped: list[str]) -> dict[str, Any] | None:
    location = as_list(location)[0] if as_list(location) else None
    if not isinstance(location, dict) or not has_type(location, "Place"):
        return None
    place: dict[str, Any] = {}
    if isinstance(location.get("name"), str):
        place["name"] = location["name"][:MAX_TEXT]
    address = location.get("address")
    if isinstance(address, dict):
        for key in PLACE_TEXT_FIELDS[1:]:
            if isinstance(address.get(key), str):
                place[key] = address[key][:MAX_TEXT]
    elif isinstance(address, str):
        # ActivityStreams allows a plain-text address.
        place["streetAddress"] = address[:MAX_TEXT]
    for key, bound in (("latitude", 90.0), ("longitude", 180.0)):
        value = location.get(key)
        if value is None:
            continue
        if (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isfinite(value)
            and abs(value) <= bound
        ):
            place[key] = float(value)
        else:
            # NaN and Infinity would make every API response carrying the
            # place invalid JSON.
            dropped.append(f"location.{key}")
    return place or None
