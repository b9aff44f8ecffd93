"""Recent public posts of a remote account, read from its outbox.

A remote profile otherwise lists only the posts this instance was sent. When a
teacher opens one, the first page of the account's outbox is fetched (signed
as the instance actor) and its public Create activities are stored through
the inbox's own Create handler, as if they had been delivered. They reach no
home feed and no notification, because they were not delivered to anyone here.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from actors.visibility import visibility_of
from actors.vocabulary import as_list, has_type, id_of
from federation.errors import FederationError
from federation.hosts import same_host
from inbox.handlers import Context, Ignored, create
from storage import accounts

if TYPE_CHECKING:
    from pedagogue.runtime import Runtime

log = logging.getLogger(__name__)

# Outbox items read per fetch: the first page, cut to this many.
MAX_ITEMS = 20
# Seconds for the whole fetch: the collection and, when it links its first
# page, that page. Storing the items afterwards is not counted.
FETCH_TIMEOUT = 5.0
# A profile viewed again within this interval is not fetched again.
REFETCH_INTERVAL = timedelta(minutes=30)
STORED_TYPES = ("Note", "Article", "Event")

# Fetches still running after the page that started them was sent. asyncio
# keeps only weak references to tasks, so the set keeps them alive.
_running: set[asyncio.Task[int]] = set()


def is_due(account: Any) -> bool:
    """Return True when ``account`` is remote and its outbox may be fetched now.

    This reads the row the caller already has; claim_outbox_fetch decides.
    """
    if account["domain"] is None or not account["outbox_url"]:
        return False
    fetched_at = account["outbox_fetched_at"]
    if fetched_at is None:
        return True
    return datetime.now(UTC) - fetched_at >= REFETCH_INTERVAL


async def refresh_in_background(runtime: Runtime, account: Any, wait: float) -> None:
    """Start refresh_outbox for ``account`` and wait for it at most ``wait`` seconds.

    A fetch that takes longer goes on after this returns, so the page that
    called it shows what was stored by then and the next view shows the rest.
    """
    if not is_due(account):
        return
    task = asyncio.create_task(_refresh_logged(runtime, account))
    _running.add(task)
    task.add_done_callback(_running.discard)
    await asyncio.wait({task}, timeout=wait)


async def _refresh_logged(runtime: Runtime, account: Any) -> int:
    # The last stop of a task nobody awaits: log every fault with the actor.
    try:
        return await refresh_outbox(runtime, account)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("outbox refresh of %s failed", account["actor_id"])
        return 0


async def refresh_outbox(runtime: Runtime, account: Any) -> int:
    """Fetch the first page of a remote account's outbox and store its public
    posts, plans and events; return how many were new.

    Does nothing, and returns 0, when the outbox was fetched (or tried) less
    than REFETCH_INTERVAL ago. A failed fetch is logged with the actor id and
    returns 0; one unusable item is logged and skipped.
    """
    actor_id = account["actor_id"]
    outbox_url = account["outbox_url"]
    if not outbox_url or not _same_host(outbox_url, actor_id):
        log.info("outbox of %s is missing or on another host: %s", actor_id, outbox_url)
        return 0
    if not await accounts.claim_outbox_fetch(
        runtime.pool, account["id"], REFETCH_INTERVAL
    ):
        return 0
    try:
        async with asyncio.timeout(FETCH_TIMEOUT):
            items = await _first_page_items(runtime, outbox_url, actor_id)
    except TimeoutError:
        log.warning(
            "outbox %s of %s timed out after %.0f s",
            outbox_url,
            actor_id,
            FETCH_TIMEOUT,
        )
        return 0
    except FederationError as error:
        log.warning(
            "outbox %s of %s could not be fetched: %s (%s)",
            outbox_url,
            actor_id,
            error.message,
            error.cause,
        )
        return 0
    stored = 0
    for item in items[:MAX_ITEMS]:
        if await _store_item(runtime, actor_id, item):
            stored += 1
    log.info(
        "outbox of %s: %d items read, %d new",
        actor_id,
        min(len(items), MAX_ITEMS),
        stored,
    )
    return stored


async def _first_page_items(
    runtime: Runtime, outbox_url: str, actor_id: str
) -> list[Any]:
    """Return the items of the outbox's first page.

    Raises FederationError(502) for a document that is no collection and for
    a first page on another host than the actor's.
    """
    collection = await runtime.resolver.fetch(outbox_url)
    if not isinstance(collection, dict):
        raise FederationError(502, f"outbox {outbox_url} is not a JSON object")
    page: Any = collection
    first = collection.get("first")
    if "orderedItems" not in collection and "items" not in collection and first:
        # ActivityStreams 2.0 section 2.3: "first" is a page or its link.
        page = first
        if isinstance(first, str):
            if not _same_host(first, actor_id):
                raise FederationError(
                    502, f"first page {first} of {outbox_url} is on another host"
                )
            page = await runtime.resolver.fetch(first)
    if not isinstance(page, dict):
        raise FederationError(502, f"first page of {outbox_url} is not a JSON object")
    items = page.get("orderedItems", page.get("items", []))
    return as_list(items)


async def _store_item(runtime: Runtime, actor_id: str, item: Any) -> bool:
    """Store one outbox item through the Create handler; True when it was new."""
    reason = _rejection(actor_id, item)
    if reason is not None:
        log.debug("outbox item of %s skipped: %s", actor_id, reason)
        return False
    object_id = id_of(item["object"])
    row = {"activity_id": id_of(item), "actor_id": actor_id, "activity_type": "Create"}
    try:
        async with accounts.transaction(runtime.pool) as connection:
            before = await connection.fetchval(
                "SELECT 1 FROM statuses WHERE uri = $1", object_id
            )
            if before:
                return False
            await create.handle_create(
                Context(runtime, connection, item, row), distribute=False
            )
    except Ignored as error:
        log.info(
            "outbox item %s of %s ignored: %s", row["activity_id"], actor_id, error
        )
        return False
    except FederationError as error:
        # Raised while fetching an author or object the item names.
        log.warning(
            "outbox item %s of %s not stored: %s (%s)",
            row["activity_id"],
            actor_id,
            error.message,
            error.cause,
        )
        return False
    return True


def _rejection(actor_id: str, item: Any) -> str | None:
    """Return why an outbox item is not stored, or None for a usable one."""
    if not isinstance(item, dict):
        # NOTE: items given only by id are skipped rather than fetched one by
        # one; Mastodon, GoToSocial and Pedagogue embed them.
        return "item is not an embedded activity"
    if not has_type(item, "Create"):
        return f"{id_of(item)} is not a Create"
    if id_of(item.get("actor")) != actor_id:
        return f"{id_of(item)} was created by another actor"
    obj = item.get("object")
    if not isinstance(obj, dict) or not has_type(obj, *STORED_TYPES):
        return f"{id_of(item)} creates no embedded post, plan or event"
    for url in (id_of(item), id_of(obj)):
        if not url or not _same_host(url, actor_id):
            return f"{id_of(item)} names an id on another host than {actor_id}"
    to = [id_of(value) or "" for value in as_list(obj.get("to"))]
    cc = [id_of(value) or "" for value in as_list(obj.get("cc"))]
    if visibility_of(to, cc, None) not in ("public", "unlisted"):
        return f"{id_of(obj)} is not public"
    return None


def _same_host(url: str, actor_id: str) -> bool:
    return same_host(url, actor_id)
