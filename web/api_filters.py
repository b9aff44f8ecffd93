"""Mastodon's filters v2 (``/api/v2/filters`` with keywords and statuses), the
legacy v1 filter list, and the ``filtered`` field of Status entities.

Filters are stored and matched by ``actors.filters`` and ``storage.filters``,
the same code the web interface uses, so a keyword hides the same statuses in
a Mastodon app and on the web pages.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from quart import Blueprint, Response, current_app, g, request

from actors.filters import (
    Filter,
    FilterSet,
    InvalidFilter,
    Keyword,
    build_filter,
)
from federation.errors import FederationError
from outbox.actions import ActionError
from storage import filters as filter_store
from web import reading
from web.api import (
    _action_error,
    _federation_error,
    _flag,
    _int_param,
    _json,
    _params,
    authenticated,
    row_id,
    scope_by_method,
)
from web.app import parse_id, runtime_of
from web.presenters import iso_millis

log = logging.getLogger(__name__)

blueprint = Blueprint("api_filters", __name__)
blueprint.register_error_handler(ActionError, _action_error)
blueprint.register_error_handler(FederationError, _federation_error)

FILTER_SCOPE = scope_by_method("read:filters", "write:filters")
# Form-encoded nested attributes: keywords_attributes[0][keyword] or
# keywords_attributes[][keyword], as Rails clients send them.
NESTED_KEY = re.compile(r"^keywords_attributes\[(\d*)\]\[(\w+)\]$")


# The filtered field


async def apply_filters(
    db: Any, viewer: Any, entities: list[dict[str, Any]], context: str
) -> list[dict[str, Any]]:
    """Fill ``filtered`` on Status entities and drop those a ``hide`` filter matches.

    A filter matches a status by a keyword in its text or by naming the status
    (or the status it boosts). Costs one query when the viewer has no active
    filter and two otherwise.
    """
    active = await filter_store.active_of_account(db, viewer["id"])
    in_context = [item for item in active if context in item.contexts]
    if not in_context or not entities:
        return entities
    by_filter = await _status_rows_by_filter(db, [item.id for item in in_context])
    matcher = FilterSet(in_context, viewer["id"], datetime.now(UTC))
    kept = []
    for entity in entities:
        results = _results_of(entity, context, matcher, in_context, by_filter)
        entity["filtered"] = [result for result, _ in results]
        if any(action == "hide" for _, action in results):
            continue
        kept.append(entity)
    return kept


async def _status_rows_by_filter(
    db: Any, filter_ids: list[int]
) -> dict[int, list[Any]]:
    by_filter: dict[int, list[Any]] = {}
    for row in await filter_store.statuses_of(db, filter_ids):
        by_filter.setdefault(row["filter_id"], []).append(row)
    return by_filter


def _results_of(
    entity: dict[str, Any],
    context: str,
    matcher: FilterSet,
    filters: list[Filter],
    by_filter: dict[int, list[Any]],
) -> list[tuple[dict[str, Any], str]]:
    """Return (FilterResult entity, action) pairs for one Status entity."""
    keyword_hits = {
        result.filter.id: list(result.keyword_matches)
        for result in matcher.match(entity, context)
    }
    named = {entity["id"]}
    if entity.get("reblog"):
        named.add(entity["reblog"]["id"])
    results = []
    for item in filters:
        rows = by_filter.get(item.id, [])
        status_hits = sorted(named & {str(row["status_id"]) for row in rows})
        keywords = keyword_hits.get(item.id)
        if not keywords and not status_hits:
            continue
        results.append(
            (
                {
                    "filter": filter_json(item, rows),
                    "keyword_matches": keywords or None,
                    "status_matches": status_hits or None,
                },
                item.action,
            )
        )
    return results


# Entities


def filter_json(item: Filter, status_rows: Any = ()) -> dict[str, Any]:
    """Return Mastodon's Filter entity (v2); ``status_rows`` are its
    filter_statuses rows."""
    return {
        "id": str(item.id),
        "title": item.title,
        "context": sorted(item.contexts),
        "expires_at": iso_millis(item.expires_at),
        "filter_action": item.action,
        "keywords": [keyword_json(keyword) for keyword in item.keywords],
        "statuses": [_status_entry_json(row) for row in status_rows],
    }


def keyword_json(keyword: Keyword) -> dict[str, Any]:
    return {
        "id": str(keyword.id),
        "keyword": keyword.keyword,
        "whole_word": keyword.whole_word,
    }


def _status_entry_json(row: Any) -> dict[str, Any]:
    return {"id": str(row["id"]), "status_id": str(row["status_id"])}


def _v1_json(item: Filter, keyword: Keyword) -> dict[str, Any]:
    """Return a keyword in the shape of Mastodon's legacy V1::Filter entity."""
    return {
        "id": str(keyword.id),
        "phrase": keyword.keyword,
        "context": sorted(item.contexts),
        "whole_word": keyword.whole_word,
        "expires_at": iso_millis(item.expires_at),
        "irreversible": item.action == "hide",
    }


async def _filters_json(runtime: Any, items: list[Filter]) -> list[dict[str, Any]]:
    rows = await filter_store.statuses_of(runtime.pool, [item.id for item in items])
    by_filter: dict[int, list[Any]] = {}
    for row in rows:
        by_filter.setdefault(row["filter_id"], []).append(row)
    return [filter_json(item, by_filter.get(item.id, [])) for item in items]


# Parameters


def _invalid(error: InvalidFilter) -> ActionError:
    return ActionError(422, f"Validation failed: {error.message}")


def _contexts(params: dict[str, Any]) -> list[str] | None:
    value = params.get("context[]", params.get("context"))
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str) for item in values):
        raise ActionError(422, "Validation failed: context must be a list of strings")
    return values


def _expires_in(params: dict[str, Any]) -> int | None:
    """Return ``expires_in`` in seconds; None (or an empty value) never expires."""
    value = params.get("expires_in")
    if value in (None, ""):
        return None
    try:
        return _int_param({"expires_in": value}, "expires_in")
    except FederationError:
        raise ActionError(
            422,
            f"Validation failed: expires_in must be whole seconds, not {str(value)[:40]!r}",
        ) from None


def _text(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is not None and not isinstance(value, str):
        raise ActionError(422, f"Validation failed: {name} must be a string")
    return value


async def _keyword_attributes(params: dict[str, Any]) -> list[dict[str, Any]]:
    """Return ``keywords_attributes`` as a list of dicts, from JSON or a form."""
    value = params.get("keywords_attributes")
    if isinstance(value, list):
        items = value
    elif isinstance(value, dict):
        # JSON clients may send {"0": {...}, "1": {...}}, as Rails accepts.
        items = list(value.values())
    else:
        items = await _form_attributes()
    if not all(isinstance(item, dict) for item in items):
        raise ActionError(422, "Validation failed: keywords_attributes must be objects")
    return items


async def _form_attributes() -> list[dict[str, Any]]:
    if request.mimetype != "application/x-www-form-urlencoded":
        form = await request.form
        pairs = [(key, item) for key in form for item in form.getlist(key)]
    else:
        body = (await request.get_data()).decode("utf-8", errors="replace")
        pairs = parse_qsl(body, keep_blank_values=True)
    indexed: dict[str, dict[str, Any]] = {}
    listed: list[dict[str, Any]] = []
    for key, value in pairs:
        match = NESTED_KEY.match(key)
        if match is None:
            continue
        index, name = match.groups()
        if index:
            indexed.setdefault(index, {})[name] = value
        elif not listed or name in listed[-1]:
            # With "[]", a repeated field name starts the next keyword.
            listed.append({name: value})
        else:
            listed[-1][name] = value
    return [indexed[key] for key in sorted(indexed, key=int)] + listed


def _keyword_of(item: dict[str, Any]) -> tuple[str, bool]:
    text = item.get("keyword")
    if not isinstance(text, str):
        raise ActionError(422, "Validation failed: keyword must be a string")
    return text, _flag(item.get("whole_word", True))


async def _own_filter(filter_id: str) -> Filter:
    number = parse_id(filter_id)
    found = None
    if number is not None:
        found = await filter_store.get(
            runtime_of(current_app).pool, g.account["id"], number
        )
    if found is None:
        raise FederationError(404, "Record not found")
    return found


# Filters v2


@blueprint.get("/api/v2/filters")
@authenticated(scope="read:filters")
async def list_filters() -> Response:
    runtime = runtime_of(current_app)
    items = await filter_store.of_account(runtime.pool, g.account["id"])
    return _json(await _filters_json(runtime, items))


@blueprint.post("/api/v2/filters")
@authenticated(scope="write:filters")
async def create_filter() -> Response:
    runtime = runtime_of(current_app)
    params = await _params()
    attributes = await _keyword_attributes(params)
    try:
        new = build_filter(
            title=_text(params, "title") or "",
            keywords=[_keyword_of(item) for item in attributes],
            contexts=_contexts(params) or [],
            action=_text(params, "filter_action") or "warn",
            expires_in=_expires_in(params),
            now=datetime.now(UTC),
        )
    except InvalidFilter as error:
        raise _invalid(error) from None
    try:
        stored = await filter_store.create(runtime.pool, g.account["id"], new)
    except filter_store.TooManyFilters:
        raise ActionError(
            422,
            f"Validation failed: an account has at most"
            f" {filter_store.MAX_FILTERS_PER_ACCOUNT} filters",
        ) from None
    log.info("filter %s created by account %s", stored.id, g.account["id"])
    return _json(filter_json(stored))


@blueprint.get("/api/v2/filters/<filter_id>")
@authenticated(scope="read:filters")
async def get_filter(filter_id: str) -> Response:
    item = await _own_filter(filter_id)
    return _json((await _filters_json(runtime_of(current_app), [item]))[0])


@blueprint.put("/api/v2/filters/<filter_id>")
@authenticated(scope="write:filters")
async def update_filter(filter_id: str) -> Response:
    runtime = runtime_of(current_app)
    current = await _own_filter(filter_id)
    params = await _params()
    keywords, removed = _changed_keywords(current, await _keyword_attributes(params))
    changed = _changed_filter(current, params, keywords)
    stored = await filter_store.update(runtime.pool, g.account["id"], changed, removed)
    if stored is None:
        raise FederationError(404, "Record not found")
    log.info("filter %s changed by account %s", stored.id, g.account["id"])
    return _json((await _filters_json(runtime, [stored]))[0])


def _changed_filter(
    current: Filter, params: dict[str, Any], keywords: list[Keyword]
) -> Filter:
    """Apply the fields of a PUT to ``current`` and check the result."""
    expires_at = current.expires_at
    expires_in = None
    if "expires_in" in params:
        expires_in = _expires_in(params)
        expires_at = None
    try:
        checked = build_filter(
            title=_text(params, "title") or current.title,
            keywords=[(item.keyword, item.whole_word) for item in keywords],
            contexts=_contexts(params) or current.contexts,
            action=_text(params, "filter_action") or current.action,
            expires_in=expires_in,
            now=datetime.now(UTC),
        )
    except InvalidFilter as error:
        raise _invalid(error) from None
    return Filter(
        id=current.id,
        title=checked.title,
        contexts=checked.contexts,
        action=checked.action,
        # Keep the ids, which the checked copy drops.
        keywords=tuple(
            Keyword(new.keyword, new.whole_word, old.id)
            for old, new in zip(keywords, checked.keywords, strict=True)
        ),
        expires_at=checked.expires_at if expires_in is not None else expires_at,
    )


def _changed_keywords(
    current: Filter, attributes: list[dict[str, Any]]
) -> tuple[list[Keyword], list[int]]:
    """Return the filter's keywords after ``keywords_attributes`` and the removed ids.

    An item with ``id`` changes that keyword, with ``_destroy`` removes it, and
    one without ``id`` adds a keyword. Raises FederationError(404) for an id
    that is not one of the filter's keywords.
    """
    keywords = {item.id: item for item in current.keywords}
    added: list[Keyword] = []
    removed: list[int] = []
    for item in attributes:
        if item.get("id") in (None, ""):
            text, whole_word = _keyword_of(item)
            added.append(Keyword(text, whole_word))
            continue
        keyword_id = row_id(item["id"])
        if keyword_id not in keywords:
            raise FederationError(404, "Record not found")
        if _flag(item.get("_destroy", False)):
            removed.append(keyword_id)  # type: ignore[arg-type]
            del keywords[keyword_id]
            continue
        old = keywords[keyword_id]
        text = item.get("keyword", old.keyword)
        if not isinstance(text, str):
            raise ActionError(422, "Validation failed: keyword must be a string")
        whole_word = _flag(item.get("whole_word", old.whole_word))
        keywords[keyword_id] = Keyword(text, whole_word, keyword_id)
    return [*keywords.values(), *added], removed


@blueprint.delete("/api/v2/filters/<filter_id>")
@authenticated(scope="write:filters")
async def delete_filter(filter_id: str) -> Response:
    item = await _own_filter(filter_id)
    await filter_store.delete(runtime_of(current_app).pool, g.account["id"], item.id)  # type: ignore[arg-type]
    log.info("filter %s deleted by account %s", item.id, g.account["id"])
    return _json({})


# Keywords of a filter


@blueprint.route("/api/v2/filters/<filter_id>/keywords", methods=["GET", "POST"])
@authenticated(scope=FILTER_SCOPE)
async def filter_keywords(filter_id: str) -> Response:
    item = await _own_filter(filter_id)
    if request.method == "GET":
        return _json([keyword_json(keyword) for keyword in item.keywords])
    text, whole_word = _keyword_of(await _params())
    changed = _changed_filter(item, {}, [*item.keywords, Keyword(text, whole_word)])
    stored = await _store(changed, [])
    return _json(keyword_json(stored.keywords[-1]))


async def _store(changed: Filter, removed: list[int]) -> Filter:
    stored = await filter_store.update(
        runtime_of(current_app).pool, g.account["id"], changed, removed
    )
    if stored is None:
        raise FederationError(404, "Record not found")
    return stored


async def _own_keyword(keyword_id: str) -> tuple[Filter, Keyword]:
    number = parse_id(keyword_id)
    owner = None
    if number is not None:
        owner = await filter_store.keyword_owner(
            runtime_of(current_app).pool, g.account["id"], number
        )
    if owner is None:
        raise FederationError(404, "Record not found")
    keyword = next(item for item in owner.keywords if item.id == number)
    return owner, keyword


@blueprint.route(
    "/api/v2/filters/keywords/<keyword_id>", methods=["GET", "PUT", "DELETE"]
)
@authenticated(scope=FILTER_SCOPE)
async def filter_keyword(keyword_id: str) -> Response:
    owner, keyword = await _own_keyword(keyword_id)
    if request.method == "GET":
        return _json(keyword_json(keyword))
    others = [item for item in owner.keywords if item.id != keyword.id]
    if request.method == "DELETE":
        await _store(_changed_filter(owner, {}, others), [keyword.id])  # type: ignore[list-item]
        return _json({})
    params = await _params()
    text = params.get("keyword", keyword.keyword)
    if not isinstance(text, str):
        raise ActionError(422, "Validation failed: keyword must be a string")
    replaced = Keyword(
        text, _flag(params.get("whole_word", keyword.whole_word)), keyword.id
    )
    keywords = [replaced if item.id == keyword.id else item for item in owner.keywords]
    stored = await _store(_changed_filter(owner, {}, keywords), [])
    return _json(
        keyword_json(next(item for item in stored.keywords if item.id == keyword.id))
    )


# Statuses of a filter


@blueprint.route("/api/v2/filters/<filter_id>/statuses", methods=["GET", "POST"])
@authenticated(scope=FILTER_SCOPE)
async def filter_statuses(filter_id: str) -> Response:
    runtime = runtime_of(current_app)
    item = await _own_filter(filter_id)
    if request.method == "GET":
        rows = await filter_store.statuses_of(runtime.pool, [item.id])  # type: ignore[list-item]
        return _json([_status_entry_json(row) for row in rows])
    params = await _params()
    status_id = _int_param(params, "status_id")
    if status_id is None:
        raise ActionError(422, "Validation failed: status_id is missing")
    status = await _visible_status(runtime, status_id)
    row = await filter_store.add_status(runtime.pool, item.id, status["id"])  # type: ignore[arg-type]
    if row is None:
        raise ActionError(
            422, "Validation failed: the filter contains this status already"
        )
    return _json(_status_entry_json(row))


async def _visible_status(runtime: Any, status_id: int) -> Any:
    row = await runtime.pool.fetchrow(
        "SELECT * FROM statuses WHERE id = $1 AND deleted_at IS NULL", status_id
    )
    if row is None or not await reading.can_see(runtime.pool, row, g.account):
        raise FederationError(404, "Record not found")
    return row


@blueprint.route("/api/v2/filters/statuses/<entry_id>", methods=["GET", "DELETE"])
@authenticated(scope=FILTER_SCOPE)
async def filter_status(entry_id: str) -> Response:
    runtime = runtime_of(current_app)
    number = parse_id(entry_id)
    row = None
    if number is not None:
        row = await filter_store.status_entry(runtime.pool, g.account["id"], number)
    if row is None:
        raise FederationError(404, "Record not found")
    if request.method == "DELETE":
        await filter_store.delete_status_entry(runtime.pool, row["id"])
        return _json({})
    return _json(_status_entry_json(row))


# Legacy filters v1: each keyword of a v2 filter is one v1 filter.


@blueprint.get("/api/v1/filters")
@authenticated(scope="read:filters")
async def list_filters_v1() -> Response:
    items = await filter_store.of_account(runtime_of(current_app).pool, g.account["id"])
    return _json(
        [_v1_json(item, keyword) for item in items for keyword in item.keywords]
    )


@blueprint.get("/api/v1/filters/<keyword_id>")
@authenticated(scope="read:filters")
async def get_filter_v1(keyword_id: str) -> Response:
    owner, keyword = await _own_keyword(keyword_id)
    return _json(_v1_json(owner, keyword))
