"""Hashtag pages: the posts and lesson plans with a hashtag, and the same URL
as an ActivityPub collection for servers that request one."""

from __future__ import annotations

import logging
from typing import Any

from quart import Response, current_app

from actors.vocabulary import AS_CONTEXT
from storage import tags
from storage.lesson_plans import visible_to
from web import reading
from web.api_profiles import _hashtag
from web.app import runtime_of
from web.json import activity_json
from web.signed_fetch import wants_activity_json
from web.ui import blueprint
from web.ui.muted_words import without_hidden
from web.ui.session import current_viewer, render
from web.ui.views import page_from_args, pagination, render_statuses

log = logging.getLogger(__name__)

# Keyword filters apply as on the local and federated timelines.
FILTER_CONTEXT = "public"
# Lesson plans listed above the posts, newest first, on the first page only.
PLAN_LIMIT = 10
# Local posts listed in the ActivityPub collection, newest first.
COLLECTION_SIZE = 20


@blueprint.get("/tags/<name>")
async def tag_page(name: str) -> Any:
    """Render the hashtag page, or its ActivityPub collection when the client
    requests ``application/activity+json``."""
    tag = _hashtag(name)
    if wants_activity_json():
        return await _tag_collection(tag)

    runtime = runtime_of(current_app)
    viewer = await current_viewer()
    page = page_from_args()
    first_page = page.max_id is None and page.after_id is None
    async with runtime.pool.acquire() as db:
        rows = await reading.tag_rows(db, tag, page, viewer=viewer)
        rendered = await render_statuses(runtime, viewer, rows, db)
        plans = await _tagged_plans(db, tag, viewer) if first_page else []
        following = viewer is not None and await tags.is_following(
            db, viewer["id"], "hashtag", tag
        )
    response = await render(
        "tag.html",
        tag=tag,
        statuses=await without_hidden(rendered, FILTER_CONTEXT),
        plans=plans,
        following=following,
        filter_context=FILTER_CONTEXT,
        # Pages follow the rows read, so a page of hidden posts still links on.
        pages=pagination([row["id"] for row in rows], page),
        tag_url=runtime.urls.tag(tag),
    )
    # The same URL serves the ActivityPub collection, so caches must key on Accept.
    response.headers["Vary"] = "Accept"
    return response


async def _tagged_plans(db: Any, tag: str, viewer: Any) -> list[Any]:
    """Return the newest lesson plans with hashtag ``tag`` that ``viewer`` may read."""
    viewer_id = None if viewer is None else viewer["id"]
    return list(
        await db.fetch(
            "SELECT p.status_id, p.title, p.summary FROM status_tags t"
            " JOIN lesson_plans p ON p.status_id = t.status_id"
            " JOIN statuses s ON s.id = p.status_id AND s.deleted_at IS NULL"
            f" WHERE t.name = $1 AND {visible_to('$2::bigint')}"
            # The same levels as the hashtag timeline. status_visible shows
            # local-only plans to local readers only.
            " AND s.visibility IN ('public', 'local')"
            " AND NOT account_kept_off_public(s.account_id)"
            " AND NOT account_hidden_from(s.account_id, $2)"
            " ORDER BY t.status_id DESC LIMIT $3",
            tag,
            viewer_id,
            PLAN_LIMIT,
        )
    )


async def _tag_collection(tag: str) -> Response:
    """Return the hashtag as an OrderedCollection of the ids of this server's
    newest public posts with it, as Mastodon serves ``/tags/<name>``."""
    runtime = runtime_of(current_app)
    condition = (
        "FROM status_tags t JOIN statuses s ON s.id = t.status_id"
        " WHERE t.name = $1 AND s.local AND s.visibility = 'public'"
        " AND s.deleted_at IS NULL AND NOT account_kept_off_public(s.account_id)"
    )
    async with runtime.pool.acquire() as db:
        total = await db.fetchval(f"SELECT count(*) {condition}", tag)
        rows = await db.fetch(
            f"SELECT s.uri {condition} ORDER BY t.status_id DESC LIMIT $2",
            tag,
            COLLECTION_SIZE,
        )
    log.debug("tag collection %s served with %s of %s items", tag, len(rows), total)
    return activity_json(
        {
            "@context": AS_CONTEXT,
            "id": runtime.urls.tag(tag),
            "type": "OrderedCollection",
            "totalItems": total,
            "orderedItems": [row["uri"] for row in rows],
        }
    )
