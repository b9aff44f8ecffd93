"""Muted words: the settings page that adds and removes keyword filters, and
the template function that applies the viewer's filters to status cards.

Each muted word is stored as one filter with one keyword, titled by the word,
so the client API's filters v2 endpoints can list and edit it later. Matching
lives in ``actors.filters``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from quart import current_app, g, redirect, request

from actors.filters import (
    CONTEXTS,
    FilterSet,
    InvalidFilter,
    build_filter,
    hidden,
)
from storage import filters as stored_filters
from web.app import parse_id, runtime_of
from web.ui import blueprint
from web.ui.i18n import _
from web.ui.session import FormError, current_viewer, render, signed_in

log = logging.getLogger(__name__)

# Durations the form offers, in seconds. None never expires.
DURATIONS: dict[str, int | None] = {
    "never": None,
    "hour": 3600,
    "day": 86400,
    "week": 7 * 86400,
}


def _default_values() -> dict[str, Any]:
    return {
        "keyword": "",
        "whole_word": True,
        "contexts": list(CONTEXTS),
        "action": "warn",
        "duration": "never",
    }


def _error_text(error: InvalidFilter) -> str:
    """Return the page's translated message for an invalid field."""
    messages = {
        "title": _("Enter a word or phrase of at most 200 characters."),
        "keyword": _("Enter a word or phrase of at most 200 characters."),
        "context": _("Choose at least one place where the word is muted."),
        "filter_action": _("Choose whether to hide matching posts or show a warning."),
        "expires_in": _("Choose how long the word stays muted."),
    }
    return messages.get(error.field, error.message)


@blueprint.get("/settings/muted-words")
@signed_in
async def muted_words() -> Any:
    return await _page(_default_values(), notice=request.args.get("done"))


async def _page(
    values: dict[str, Any],
    status: int = 200,
    error: str | None = None,
    notice: str | None = None,
) -> Any:
    runtime = runtime_of(current_app)
    existing = await stored_filters.of_account(runtime.pool, g.viewer["id"])
    return await render(
        "muted_words.html",
        status=status,
        filters=existing,
        values=values,
        error=error,
        notice=notice,
        now=datetime.now(UTC),
        contexts=CONTEXTS,
    )


@blueprint.post("/settings/muted-words")
@signed_in
async def add_muted_word() -> Any:
    runtime = runtime_of(current_app)
    form = await request.form
    values = {
        "keyword": form.get("keyword", ""),
        "whole_word": form.get("whole_word") == "on",
        "contexts": form.getlist("context"),
        "action": form.get("action", ""),
        "duration": form.get("duration", ""),
    }
    try:
        if values["duration"] not in DURATIONS:
            raise InvalidFilter(
                "expires_in",
                f"Invalid duration {values['duration'][:20]!r}: use never, hour, day or week",
            )
        new = build_filter(
            title=values["keyword"],
            keywords=[(values["keyword"], values["whole_word"])],
            contexts=values["contexts"],
            action=values["action"],
            expires_in=DURATIONS[values["duration"]],
            now=datetime.now(UTC),
        )
        stored = await stored_filters.create(runtime.pool, g.viewer["id"], new)
    except InvalidFilter as error:
        log.info("muted word of account %s rejected: %s", g.viewer["id"], error.message)
        return await _page(values, status=422, error=_error_text(error))
    except stored_filters.TooManyFilters:
        log.info(
            "muted word of account %s rejected: filter limit reached", g.viewer["id"]
        )
        message = _(
            "You have %(count)s muted words, the most this server keeps. Remove one first.",
            count=stored_filters.MAX_FILTERS_PER_ACCOUNT,
        )
        return await _page(values, status=422, error=message)
    log.info("account %s added filter %s", g.viewer["id"], stored.id)
    return redirect("/settings/muted-words?done=added", 303)


@blueprint.post("/settings/muted-words/<filter_id>/delete")
@signed_in
async def remove_muted_word(filter_id: str) -> Any:
    runtime = runtime_of(current_app)
    number = parse_id(filter_id)
    if number is None or not await stored_filters.delete(
        runtime.pool, g.viewer["id"], number
    ):
        raise FormError(
            404, _("This muted word does not exist or was already removed.")
        )
    log.info("account %s removed filter %s", g.viewer["id"], number)
    return redirect("/settings/muted-words?done=removed", 303)


# Applying filters to pages


async def viewer_filters() -> FilterSet | None:
    """Return the signed-in viewer's active filters, read once per request."""
    if "ui_filters" in g:
        return g.ui_filters
    viewer = await current_viewer()
    filter_set = None
    if viewer is not None:
        runtime = runtime_of(current_app)
        active = await stored_filters.active_of_account(runtime.pool, viewer["id"])
        filter_set = (
            FilterSet(active, viewer["id"], datetime.now(UTC)) if active else None
        )
    g.ui_filters = filter_set
    return filter_set


@blueprint.app_template_global("filter_status")
async def filter_status(
    status: dict[str, Any] | None, context: str | None, focus: bool = False
) -> dict[str, Any] | None:
    """Return how a status card shows under the viewer's filters (template function).

    None shows the card as usual. Otherwise ``hide`` drops it and ``titles``
    names the matching filters for the collapsed form. A focused status, the
    one a thread page was opened for, is collapsed but never hidden.
    """
    if status is None or not context:
        return None
    filter_set = await viewer_filters()
    if filter_set is None:
        return None
    results = filter_set.match(status, context)
    if not results:
        return None
    return {
        "hide": hidden(results) and not focus,
        "titles": [result.filter.title for result in results],
    }


async def without_hidden(
    items: list[dict[str, Any]], context: str
) -> list[dict[str, Any]]:
    """Return the Status entities a ``hide`` filter of ``context`` does not match."""
    filter_set = await viewer_filters()
    if filter_set is None:
        return items
    return [item for item in items if not hidden(filter_set.match(item, context))]
