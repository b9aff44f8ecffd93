"""Storing local activities and queueing their deliveries, in the caller's transaction."""

import logging
from typing import Any

import asyncpg

from actors.vocabulary import PUBLIC_FORMS
from federation.hosts import url_authority
from storage.ids import new_id

log = logging.getLogger(__name__)


async def store_activity(
    db: asyncpg.Connection,
    *,
    activity_id: int,
    uri: str,
    account_id: int,
    body: dict[str, Any],
    public: bool | None = None,
) -> None:
    """Insert a local activity so that it dereferences at its uri.

    ``public`` marks whether remote fetches and the outbox may show it; None
    derives it from the addressing. A local-only status's activities pass False.
    """
    recipients = set(_as_list(body.get("to"))) | set(_as_list(body.get("cc")))
    obj = body.get("object")
    if isinstance(obj, list):
        # A Flag names several objects: the account first, then its posts.
        obj = obj[0] if obj else None
    object_uri = obj if isinstance(obj, str) else (obj or {}).get("id")
    await db.execute(
        "INSERT INTO activities (id, uri, account_id, type, object_uri, public, body)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        activity_id,
        uri,
        account_id,
        body["type"],
        object_uri,
        bool(PUBLIC_FORMS & recipients) if public is None else public,
        body,
    )


def _as_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return [value] if isinstance(value, str) else []


async def enqueue_deliveries(
    db: asyncpg.Connection,
    activity_id: int,
    inboxes: list[str],
    deadline_seconds: float,
) -> int:
    """Queue one delivery per distinct inbox; inboxes that answered 410 are skipped."""
    unique = sorted(set(inboxes))
    if not unique:
        return 0
    rows = await db.fetch(
        "INSERT INTO deliveries (activity_id, inbox_url, host, deadline_at)"
        " SELECT $1, inbox, host, now() + make_interval(secs => $4)"
        " FROM unnest($2::text[], $3::text[]) AS t(inbox, host)"
        " WHERE NOT EXISTS (SELECT 1 FROM gone_inboxes g WHERE g.inbox_url = t.inbox)"
        " ON CONFLICT DO NOTHING RETURNING id",
        activity_id,
        unique,
        [url_authority(inbox) for inbox in unique],
        deadline_seconds,
    )
    await db.execute("NOTIFY pedagogue_delivery")
    log.debug("queued %d deliveries of activity %s", len(rows), activity_id)
    return len(rows)


def next_activity_id() -> int:
    return new_id()
