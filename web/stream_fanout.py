"""Fan-out of status events to the streams of one process.

``update`` (a status stored) goes to the public, hashtag and direct streams.
``home`` (a status added to home feeds) goes to the user and list streams
whose timeline contains it, and ``status.update`` (an edit) to all of these.
``delete`` goes to every stream that could have shown the status. A subscriber with a token gets a status
only when ``status_visible`` lets that account read it and neither side
blocks or mutes the other; one without a token gets public statuses only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from storage import lists, stream_events
from storage.stream_events import StreamEvent
from web.reading import Page
from web.stream_hub import (
    HASHTAG_CHANNELS,
    PUBLIC_CHANNELS,
    Channel,
    Subscriber,
    encode,
)

if TYPE_CHECKING:
    from web.stream_hub import StreamHub

# A recipient: the connection, the channel it subscribed to, and the filter
# context of that channel (None where Mastodon applies no filters).
Target = tuple[Subscriber, Channel, str | None]


# The channels each kind of status event can reach. An event that none of
# this process's subscribers can receive costs no query.
RECEIVING_CHANNELS = {
    "update": PUBLIC_CHANNELS | HASHTAG_CHANNELS | {"direct"},
    "home": frozenset({"user", "list"}),
    "status.update": PUBLIC_CHANNELS | HASHTAG_CHANNELS | {"user", "list"},
    "delete": PUBLIC_CHANNELS | HASHTAG_CHANNELS | {"user", "direct"},
}


async def fan_out_status(hub: StreamHub, event: StreamEvent) -> None:
    """Send a status event (update, home, status.update, delete) to its streams."""
    if not hub.subscribed(RECEIVING_CHANNELS[event.kind]):
        return
    facts = await stream_events.status_facts(hub.runtime.pool, event.row_id)
    if facts is None:
        return
    if event.kind == "delete":
        await _send_delete(hub, facts)
        return
    if facts["deleted_at"] is not None:
        return
    targets: list[Target] = []
    if event.kind in ("home", "status.update"):
        targets += await _home_targets(hub, facts)
        targets += await _list_targets(hub, facts)
    if event.kind in ("update", "status.update"):
        targets += await _public_targets(hub, facts)
    name = "status.update" if event.kind == "status.update" else "update"
    if targets:
        await _send_status(hub, facts, targets, name)
    if event.kind == "update" and facts["visibility"] == "direct":
        await _send_conversation(hub, facts)


def shown_on(channel: Channel, facts: Any) -> bool:
    """Return whether a public or hashtag channel carries the status at all.

    Boosts and statuses of silenced or suspended accounts stay off these
    streams, as they stay off the public timelines. Whether one viewer may
    read the status is checked afterwards.
    """
    if facts["visibility"] not in ("public", "local") or facts["reblog_of_id"]:
        return False
    if facts["kept_off_public"] or facts["author_suspended"]:
        return False
    name = channel.name
    if name in HASHTAG_CHANNELS:
        if channel.parameter not in facts["tag_names"]:
            return False
        return name == "hashtag" or facts["local"]
    if name.startswith("public:local"):
        return bool(facts["local"])
    if name.startswith("public:remote"):
        return not facts["local"]
    return True


async def _public_targets(hub: StreamHub, facts: Any) -> list[Target]:
    candidates = [
        (subscriber, channel)
        for subscriber, channel in hub.subscribed(PUBLIC_CHANNELS | HASHTAG_CHANNELS)
        if shown_on(channel, facts)
    ]
    return await _readable(hub, facts, candidates, "public")


async def _readable(
    hub: StreamHub,
    facts: Any,
    candidates: list[tuple[Subscriber, Channel]],
    context: str,
) -> list[Target]:
    """Keep the candidates whose viewer may read the status."""
    viewer_ids = list({s.viewer_id for s, _ in candidates if s.viewer_id is not None})
    allowed = await stream_events.readers(hub.runtime.pool, facts["id"], viewer_ids)
    return [
        (subscriber, channel, context)
        for subscriber, channel in candidates
        if (
            subscriber.viewer_id in allowed
            if subscriber.viewer_id is not None
            # Without a token only what an anonymous visitor may read.
            else facts["visibility"] == "public"
        )
    ]


async def _home_targets(hub: StreamHub, facts: Any) -> list[Target]:
    candidates = hub.subscribed({"user"})
    account_ids = list({s.viewer_id for s, _ in candidates if s.viewer_id is not None})
    allowed = await stream_events.home_readers(
        hub.runtime.pool, facts["id"], account_ids
    )
    return [(s, channel, "home") for s, channel in candidates if s.viewer_id in allowed]


async def _list_targets(hub: StreamHub, facts: Any) -> list[Target]:
    """Return the list streams whose list timeline now contains the status."""
    targets: list[Target] = []
    # The page right around the status id: the list timeline query decides,
    # with its membership and replies rules, whether the status is on it.
    page = Page(
        max_id=facts["id"] + 1, after_id=facts["id"] - 1, ascending=False, limit=1
    )
    for subscriber, channel in hub.subscribed({"list"}):
        assert channel.parameter is not None
        rows = await lists.timeline(
            hub.runtime.pool, {"id": int(channel.parameter)}, page
        )
        if rows:
            targets.append((subscriber, channel, "home"))
    return targets


async def _send_status(
    hub: StreamHub, facts: Any, targets: list[Target], name: str
) -> None:
    entity = await hub.render_status(facts)
    if entity is None:
        return
    if not entity["media_attachments"]:
        targets = [t for t in targets if not t[1].name.endswith(":media")]
    viewer_ids = list({t[0].viewer_id for t in targets if t[0].viewer_id is not None})
    status_ids = [facts["id"]] + (
        [facts["reblog_of_id"]] if facts["reblog_of_id"] else []
    )
    marks = await stream_events.viewer_marks(hub.runtime.pool, status_ids, viewer_ids)
    payloads: dict[tuple[int | None, str | None], str | None] = {}
    for subscriber, channel, context in targets:
        if name == "update" and not subscriber.first_time(channel, name, facts["id"]):
            continue
        key = (subscriber.viewer_id, context)
        if key not in payloads:
            payloads[key] = await _payload(
                hub, entity, subscriber.viewer_id, context, marks
            )
        payload = payloads[key]
        if payload is not None:
            subscriber.offer(channel, name, payload)


async def _payload(
    hub: StreamHub,
    entity: dict[str, Any],
    viewer_id: int | None,
    context: str | None,
    marks: tuple[set[tuple[int, int]], set[tuple[int, int]]],
) -> str | None:
    """Return the JSON of the entity for one viewer, or None when a filter hides it."""
    if viewer_id is None:
        return encode(entity)
    shown = personalise(entity, viewer_id, marks)
    if context is not None:
        from web.api_filters import apply_filters

        kept = await apply_filters(
            hub.runtime.pool, {"id": viewer_id}, [shown], context
        )
        if not kept:
            return None
    return encode(shown)


def personalise(
    entity: dict[str, Any],
    viewer_id: int,
    marks: tuple[set[tuple[int, int]], set[tuple[int, int]]],
) -> dict[str, Any]:
    """Return a copy of an anonymous Status entity with the viewer's fields.

    NOTE: ``bookmarked`` and ``muted`` are always false and ``pinned`` is
    false on the viewer's own statuses. That is exact for a status just
    stored, but an edited status that the viewer had bookmarked or pinned
    shows the wrong flag until the client reads it again.
    """
    shown = dict(entity)
    _add_viewer_fields(shown, viewer_id, marks)
    if entity.get("reblog") is not None:
        shown["reblog"] = dict(entity["reblog"])
        _add_viewer_fields(shown["reblog"], viewer_id, marks)
    return shown


def _add_viewer_fields(
    entity: dict[str, Any],
    viewer_id: int,
    marks: tuple[set[tuple[int, int]], set[tuple[int, int]]],
) -> None:
    favourited, reblogged = marks
    status_id = int(entity["id"])
    entity["favourited"] = (viewer_id, status_id) in favourited
    entity["reblogged"] = (viewer_id, status_id) in reblogged
    entity["muted"] = False
    entity["bookmarked"] = False
    entity["filtered"] = []
    own = entity["account"]["id"] == str(viewer_id)
    if own and entity.get("reblog") is None and entity["visibility"] != "direct":
        entity["pinned"] = False


async def _send_conversation(hub: StreamHub, facts: Any) -> None:
    """Send a direct status as a ``conversation`` event to its participants."""
    candidates = hub.subscribed({"direct"})
    if not candidates:
        return
    accounts = await hub.participants_json(facts["id"])
    candidates = [(s, c) for s, c in candidates if s.viewer_id in accounts]
    if not candidates:
        return

    entity = await hub.render_status(facts)
    if entity is None:
        return

    viewer_ids = list({s.viewer_id for s, _ in candidates if s.viewer_id is not None})
    allowed = await stream_events.readers(hub.runtime.pool, facts["id"], viewer_ids)
    marks = await stream_events.viewer_marks(
        hub.runtime.pool, [facts["id"]], viewer_ids
    )
    # Conversations are named by the root status of their thread, as in
    # /api/v1/conversations.
    root_id = await stream_events.thread_root(hub.runtime.pool, facts["id"])
    for subscriber, channel in candidates:
        viewer_id = subscriber.viewer_id
        if viewer_id not in allowed:
            continue
        conversation = {
            "id": str(root_id),
            "unread": viewer_id != facts["account_id"],
            "accounts": [
                account
                for account_id, account in accounts.items()
                if account_id != viewer_id
            ],
            "last_status": personalise(entity, viewer_id, marks),
        }
        subscriber.offer(channel, "conversation", encode(conversation))


async def _send_delete(hub: StreamHub, facts: Any) -> None:
    """Send ``delete`` to every stream that could have shown the status."""
    pool = hub.runtime.pool
    public = [
        (subscriber, channel)
        for subscriber, channel in hub.subscribed(PUBLIC_CHANNELS | HASHTAG_CHANNELS)
        if shown_on(channel, facts)
    ]
    targets = [(s, c) for s, c, _ in await _readable(hub, facts, public, "public")]
    users = hub.subscribed({"user"})
    account_ids = list({s.viewer_id for s, _ in users if s.viewer_id is not None})
    audience = await stream_events.delete_audience(pool, facts["id"], account_ids)
    targets += [(s, c) for s, c in users if s.viewer_id in audience]
    if facts["visibility"] == "direct":
        direct = hub.subscribed({"direct"})
        viewer_ids = list({s.viewer_id for s, _ in direct if s.viewer_id is not None})
        allowed = await stream_events.readers(pool, facts["id"], viewer_ids)
        targets += [(s, c) for s, c in direct if s.viewer_id in allowed]
    # Mastodon sends the id alone, as a string of digits.
    payload = str(facts["id"])
    for subscriber, channel in targets:
        subscriber.offer(channel, "delete", payload)
