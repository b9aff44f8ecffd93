"""Keyword filters: checking input and matching Status entities."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from actors.filters import (
    Filter,
    FilterSet,
    InvalidFilter,
    Keyword,
    build_filter,
    hidden,
    status_text,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
VIEWER_ID = 1


def status(content: str, *, author_id: str = "2", **fields: Any) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "id": "10",
        "account": {"id": author_id},
        "content": content,
        "spoiler_text": "",
        "poll": None,
        "card": None,
        "reblog": None,
    }
    entity.update(fields)
    return entity


def one_filter(
    keyword: str,
    *,
    whole_word: bool = True,
    action: str = "hide",
    contexts: tuple[str, ...] = ("home",),
    expires_at: datetime | None = None,
) -> FilterSet:
    item = Filter(
        title=keyword,
        contexts=frozenset(contexts),
        action=action,
        keywords=(Keyword(keyword, whole_word),),
        expires_at=expires_at,
    )
    return FilterSet([item], VIEWER_ID, NOW)


def matches(
    filter_set: FilterSet, entity: dict[str, Any], context: str = "home"
) -> bool:
    return bool(filter_set.match(entity, context))


def test_match_ignores_case() -> None:
    assert matches(one_filter("Testing"), status("<p>More TESTING this week</p>"))


def test_whole_word_skips_longer_words() -> None:
    assert not matches(one_filter("test"), status("<p>Our testing window</p>"))


def test_whole_word_matches_next_to_punctuation() -> None:
    assert matches(one_filter("test"), status("<p>Another test, again.</p>"))


def test_partial_keyword_matches_inside_words() -> None:
    assert matches(
        one_filter("test", whole_word=False), status("<p>Our testing window</p>")
    )


def test_whole_word_hashtag_keyword_matches() -> None:
    assert matches(one_filter("#exams"), status("<p>Revision for #exams</p>"))


def test_phrase_matches_across_markup() -> None:
    entity = status(
        '<p>state <a href="https://school-a.test/tags/t">testing</a> season</p>'
    )
    assert matches(one_filter("state testing season"), entity)


def test_keyword_is_not_a_regular_expression() -> None:
    assert not matches(one_filter("a.c", whole_word=False), status("<p>abc</p>"))


def test_markup_is_not_matched() -> None:
    assert not matches(
        one_filter("href", whole_word=False), status('<p><a href="x">link</a></p>')
    )


def test_content_warning_matches() -> None:
    assert matches(
        one_filter("grading"), status("<p>Long post</p>", spoiler_text="Grading rant")
    )


def test_card_title_matches() -> None:
    entity = status("<p>New plan</p>", card={"title": "Fractions with fraction strips"})
    assert matches(one_filter("fractions"), entity)


def test_poll_option_matches() -> None:
    entity = status(
        "<p>Vote</p>", poll={"options": [{"title": "Homework"}, {"title": "None"}]}
    )
    assert matches(one_filter("homework"), entity)


def test_boost_matched_on_boosted_status() -> None:
    boosted = status("<p>Standardised testing again</p>", author_id="3")
    boost = status("", author_id="4", reblog=boosted)
    assert matches(one_filter("testing"), boost)


def test_keyword_does_not_match_across_fields() -> None:
    entity = status("<p>day ends</p>", spoiler_text="Snow")
    assert not matches(one_filter("snow day"), entity)


def test_other_context_not_matched() -> None:
    assert not matches(one_filter("testing"), status("<p>testing</p>"), "public")


def test_expired_filter_ignored() -> None:
    filter_set = one_filter("testing", expires_at=NOW - timedelta(seconds=1))
    assert not matches(filter_set, status("<p>testing</p>"))


def test_unexpired_filter_applies() -> None:
    filter_set = one_filter("testing", expires_at=NOW + timedelta(hours=1))
    assert matches(filter_set, status("<p>testing</p>"))


def test_viewer_own_status_never_matches() -> None:
    entity = status("<p>testing</p>", author_id=str(VIEWER_ID))
    assert not matches(one_filter("testing"), entity)


def test_result_names_keyword_matched() -> None:
    item = Filter(
        title="Assessment",
        contexts=frozenset({"home"}),
        action="warn",
        keywords=(Keyword("exam"), Keyword("quiz"), Keyword("test")),
    )
    results = FilterSet([item], VIEWER_ID, NOW).match(
        status("<p>Quiz then exam</p>"), "home"
    )
    assert [result.keyword_matches for result in results] == [("exam", "quiz")]


def test_hidden_when_any_result_hides() -> None:
    warn = Filter("a", frozenset({"home"}), "warn", (Keyword("snow"),))
    hide = Filter("b", frozenset({"home"}), "hide", (Keyword("day"),))
    results = FilterSet([warn, hide], VIEWER_ID, NOW).match(
        status("<p>snow day</p>"), "home"
    )
    assert hidden(results)


def test_warn_results_not_hidden() -> None:
    warn = Filter("a", frozenset({"home"}), "warn", (Keyword("snow"),))
    results = FilterSet([warn], VIEWER_ID, NOW).match(status("<p>snow day</p>"), "home")
    assert not hidden(results)


def test_status_text_decodes_entities() -> None:
    assert status_text(status("<p>Fish &amp; chips</p>")) == "Fish & chips"


# Checking input


def build(**changes: Any) -> Filter:
    fields: dict[str, Any] = {
        "title": "testing",
        "keywords": [("testing", True)],
        "contexts": ["home"],
        "action": "warn",
        "expires_in": None,
        "now": NOW,
    }
    fields.update(changes)
    return build_filter(**fields)


def test_build_sets_expiry_from_seconds() -> None:
    assert build(expires_in=3600).expires_at == NOW + timedelta(hours=1)


def test_build_strips_keyword() -> None:
    assert build(keywords=[("  testing ", True)]).keywords[0].keyword == "testing"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": "  "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"contexts": []}, "context"),
        ({"contexts": ["home", "everywhere"]}, "context"),
        ({"action": "delete"}, "filter_action"),
        ({"expires_in": 0}, "expires_in"),
        ({"expires_in": -60}, "expires_in"),
        ({"keywords": [(" ", True)]}, "keyword"),
        ({"keywords": [("x" * 201, True)]}, "keyword"),
        ({"keywords": [("k", True)] * 51}, "keywords"),
    ],
)
def test_build_rejects_invalid_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidFilter) as raised:
        build(**changes)
    assert raised.value.field == field
