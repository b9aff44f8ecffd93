"""Keyword filters shaped like Mastodon's filters v2: checking new filters and
matching statuses against stored ones.

A filter has a title, the contexts it applies in, an action (``hide`` drops a
matching status, ``warn`` shows it collapsed behind the filter's title), an
optional expiry, and keywords. A keyword matches case-insensitively in the
plain text of a status: its content, content warning, poll options and
preview card title (where lesson plans and events put their titles). A
``whole_word`` keyword matches only between word boundaries.

This module imports neither storage nor the web layer, so the web interface
and the client API (Mastodon's ``filtered`` status field) match the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from federation.sanitize import plain_text

# Mastodon's filter contexts; "public" covers the local and federated timelines.
CONTEXTS = ("home", "notifications", "public", "thread", "account")
ACTIONS = ("hide", "warn")

MAX_TITLE_CHARACTERS = 200
MAX_KEYWORD_CHARACTERS = 200
MAX_KEYWORDS_PER_FILTER = 50
# Maximum expiry in seconds, about ten years.
MAX_EXPIRES_IN = 10 * 366 * 86400


class InvalidFilter(Exception):
    """A filter that cannot be stored. ``field`` names the invalid input."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class Keyword:
    keyword: str
    whole_word: bool = True
    id: int | None = None


@dataclass(frozen=True)
class Filter:
    """A filter with its keywords. ``id`` is None until it is stored."""

    title: str
    contexts: frozenset[str]
    action: str
    keywords: tuple[Keyword, ...]
    expires_at: datetime | None = None
    id: int | None = None
    _pattern: re.Pattern[str] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        # The pattern is compiled once per filter, and a frozen dataclass needs
        # object.__setattr__ to set it.
        object.__setattr__(self, "_pattern", _compile(self.keywords))

    def active(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now

    def keyword_matches(self, text: str) -> list[str]:
        """Return the keywords found in ``text``, each once, in keyword order."""
        if self._pattern is None:
            return []
        found = {match.lastgroup for match in self._pattern.finditer(text)}
        return [
            item.keyword
            for index, item in enumerate(self.keywords)
            if f"k{index}" in found
        ]


@dataclass(frozen=True)
class FilterResult:
    """A filter that matched a status, as in Mastodon's FilterResult entity."""

    filter: Filter
    keyword_matches: tuple[str, ...]


def _keyword_pattern(keyword: Keyword) -> str:
    escaped = re.escape(keyword.keyword)
    if not keyword.whole_word:
        return escaped
    # A boundary is only meaningful next to a word character: "#math" starts
    # with "#", so requiring \b before it would never match after a space.
    start = r"\b" if re.match(r"\w", keyword.keyword) else ""
    end = r"\b" if re.search(r"\w$", keyword.keyword) else ""
    return start + escaped + end


def _compile(keywords: Sequence[Keyword]) -> re.Pattern[str] | None:
    if not keywords:
        return None
    alternatives = (
        f"(?P<k{index}>{_keyword_pattern(item)})" for index, item in enumerate(keywords)
    )
    return re.compile("|".join(alternatives), re.IGNORECASE)


def status_text(status: dict[str, Any]) -> str:
    """Return the plain text a filter is matched against, from a Status entity.

    A boost is matched on the boosted status. Lines are joined with newlines so
    that a keyword never matches across two fields.
    """
    shown = status.get("reblog") or status
    parts = [shown.get("spoiler_text") or "", plain_text(shown.get("content") or "")]
    poll = shown.get("poll")
    if poll:
        parts.extend(
            str(option.get("title") or "") for option in poll.get("options", [])
        )
    card = shown.get("card")
    if card:
        parts.append(str(card.get("title") or ""))
    return "\n".join(part for part in parts if part)


class FilterSet:
    """The active filters of one viewer, matched against many statuses."""

    def __init__(
        self, filters: Iterable[Filter], viewer_id: int | None, now: datetime
    ) -> None:
        self.filters = [item for item in filters if item.active(now)]
        self.viewer_id = viewer_id

    def match(self, status: dict[str, Any], context: str) -> list[FilterResult]:
        """Return the filters of ``context`` that match a Status entity.

        The viewer's own statuses never match, so a teacher who mutes a word
        still gets the posts where they used it.
        """
        shown = status.get("reblog") or status
        if self.viewer_id is not None and shown["account"]["id"] == str(self.viewer_id):
            return []
        candidates = [item for item in self.filters if context in item.contexts]
        if not candidates:
            return []
        text = status_text(status)
        results = []
        for item in candidates:
            found = item.keyword_matches(text)
            if found:
                results.append(FilterResult(item, tuple(found)))
        return results


def hidden(results: Sequence[FilterResult]) -> bool:
    """Return True when a ``hide`` filter is among ``results``."""
    return any(result.filter.action == "hide" for result in results)


def build_filter(
    *,
    title: str,
    keywords: Sequence[tuple[str, bool]],
    contexts: Iterable[str],
    action: str,
    expires_in: int | None,
    now: datetime,
) -> Filter:
    """Check client input and return the Filter to store.

    ``keywords`` are (keyword, whole_word) pairs and ``expires_in`` is in
    seconds, None for a filter that never expires. Raises InvalidFilter naming
    the first invalid field.
    """
    title = title.strip()
    if not title:
        raise InvalidFilter("title", "Title can't be blank")
    if len(title) > MAX_TITLE_CHARACTERS:
        raise InvalidFilter("title", f"Title is over {MAX_TITLE_CHARACTERS} characters")
    chosen = frozenset(contexts)
    if not chosen:
        raise InvalidFilter("context", "Choose at least one context")
    unknown = sorted(chosen - set(CONTEXTS))
    if unknown:
        raise InvalidFilter(
            "context",
            f"Invalid context {unknown[0][:20]!r}: use {', '.join(CONTEXTS)}",
        )
    if action not in ACTIONS:
        raise InvalidFilter(
            "filter_action", f"Invalid filter action {action[:20]!r}: use hide or warn"
        )
    expires_at = None
    if expires_in is not None:
        if not 0 < expires_in <= MAX_EXPIRES_IN:
            raise InvalidFilter(
                "expires_in", f"Expiry must be between 1 and {MAX_EXPIRES_IN} seconds"
            )
        expires_at = now + timedelta(seconds=expires_in)
    return Filter(
        title=title,
        contexts=chosen,
        action=action,
        keywords=_checked_keywords(keywords),
        expires_at=expires_at,
    )


def _checked_keywords(keywords: Sequence[tuple[str, bool]]) -> tuple[Keyword, ...]:
    if len(keywords) > MAX_KEYWORDS_PER_FILTER:
        raise InvalidFilter(
            "keywords", f"A filter has at most {MAX_KEYWORDS_PER_FILTER} keywords"
        )
    checked = []
    for text, whole_word in keywords:
        text = text.strip()
        if not text:
            raise InvalidFilter("keyword", "Keyword can't be blank")
        if len(text) > MAX_KEYWORD_CHARACTERS:
            raise InvalidFilter(
                "keyword", f"Keyword is over {MAX_KEYWORD_CHARACTERS} characters"
            )
        checked.append(Keyword(text, whole_word))
    return tuple(checked)
