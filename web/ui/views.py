"""Turning rows into what the templates show, through the client API's presenters."""

from __future__ import annotations

import re
from typing import Any

from quart import request

from federation.errors import FederationError
from federation.sanitize import sanitize_html
from storage import statuses
from web.app import parse_id
from web.presenters import StatusPresenter, notifications_json
from web.reading import Page, can_see
from web.ui.i18n import _

PAGE_SIZE = 20


def page_from_args() -> Page:
    """Return the page of ``?max_id=`` (older) or ``?min_id=`` (newer) requested."""
    max_id = parse_id(request.args.get("max_id", ""))
    min_id = parse_id(request.args.get("min_id", ""))
    return Page(
        max_id=max_id, after_id=min_id, ascending=min_id is not None, limit=PAGE_SIZE
    )


def pagination(ids: list[int], page: Page) -> dict[str, str | None]:
    """Return the paths of the older and newer pages around ``ids``."""
    if not ids:
        older = None
        newer = f"{request.path}?min_id={page.max_id}" if page.max_id else None
        if page.after_id is not None:
            older = f"{request.path}?max_id={page.after_id + 1}"
        return {"older": older, "newer": newer}
    full = len(ids) >= page.limit
    older = f"{request.path}?max_id={min(ids)}" if full or page.ascending else None
    newer = None
    if page.max_id is not None or (page.ascending and full):
        newer = f"{request.path}?min_id={max(ids)}"
    return {"older": older, "newer": newer}


def _clean(entity: dict[str, Any], local_domain: str) -> dict[str, Any]:
    """Sanitise remote HTML once more before it reaches a page.

    Remote content is sanitised when it is stored; doing it again here keeps a
    page safe even if a row was written by an older, looser sanitiser.
    """
    if "@" in entity["account"]["acct"]:
        entity["content"] = sanitize_html(entity["content"] or "")
        entity["content"] = local_hashtag_links(entity["content"], entity["tags"])
        entity["account"]["note"] = sanitize_html(entity["account"]["note"] or "")
    if entity.get("reblog"):
        entity["reblog"] = _clean(entity["reblog"], local_domain)
    return entity


# A sanitised remote hashtag link: the sanitiser keeps rel="tag" and the link
# text is "#name", with the name in a span as Mastodon writes it.
_HASHTAG_LINK = re.compile(
    r'<a\s[^>]*\brel="[^"]*\btag\b[^"]*"[^>]*>(#(?:<span>)?(\w{1,100})(?:</span>)?)</a>'
)


def local_hashtag_links(content: str, tags: list[dict[str, Any]]) -> str:
    """Point the hashtag links of remote HTML at this server's tag pages.

    Only names among the status's stored ``tags`` are rewritten, so a link
    that merely looks like a hashtag keeps its remote target.
    """
    names = {tag["name"] for tag in tags}

    def replace(match: re.Match[str]) -> str:
        name = match.group(2).lower()
        if name not in names:
            return match.group(0)
        return f'<a href="/tags/{name}" class="mention hashtag" rel="tag">{match.group(1)}</a>'

    return _HASHTAG_LINK.sub(replace, content) if names else content


async def render_statuses(
    runtime: Any, viewer: Any, rows: list[Any], db: Any | None = None
) -> list[dict[str, Any]]:
    rendered = await StatusPresenter(runtime, viewer, db).render(list(rows))
    return [_clean(item, runtime.settings.domain) for item in rendered]


async def render_notifications(runtime: Any, viewer: Any, rows: list[Any]) -> list[dict[str, Any]]:
    rendered = await notifications_json(runtime, viewer, list(rows))
    for item in rendered:
        if item.get("status"):
            item["status"] = _clean(item["status"], runtime.settings.domain)
        if "@" in item["account"]["acct"]:
            item["account"]["note"] = sanitize_html(item["account"]["note"] or "")
    return rendered


async def visible_status(runtime: Any, status_id: str, viewer: Any) -> Any:
    """Return the status row ``viewer`` may see; raise FederationError(404) otherwise."""
    number = parse_id(status_id)
    row = None if number is None else await statuses.by_id(runtime.pool, number)
    if row is None or row["deleted_at"] is not None:
        raise FederationError(404, _("This post does not exist or was deleted."))
    if not await can_see(runtime.pool, row, viewer):
        raise FederationError(404, _("This post does not exist or was deleted."))
    return row
