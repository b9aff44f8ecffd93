"""Bounded cost of sanitising hostile HTML, and what such HTML turns into.

The inputs are shaped so that html5lib, unguarded, spends seconds on them: the
time of each grows with the square of its length. The tests check the output
and the path taken (the log line of the fallback), not the time, so that a slow
machine cannot fail them. Measured times are in bench/ANALYSIS.md.
"""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from federation import sanitize
from federation.sanitize import (
    MAX_ATTRIBUTES,
    MAX_HTML_LENGTH,
    MAX_OPEN_ELEMENTS,
    escaped_paragraphs,
    sanitize_html,
    sanitize_html_async,
)

HOSTILE = {
    "paragraph and bold": "<p><b>" * 10_000,
    "bold": "<b>x" * 10_000,
    "bold closed by p": "<b>x</p>" * 10_000,
    "nested lists": "<ol><li>" * 5_000,
    "long tag name": "<a" + "a" * 50_000,
    "long end tag name": "</a" + "a" * 50_000,
    "long doctype": "<!DOCTYPE " + "x" * 50_000,
    "long character reference": "&#" + "1" * 50_000,
    "many attributes": "<a " + "b " * 20_000 + ">",
    "attributes after a quoted >": '<a title=">" ' + "b " * 20_000 + ">",
    "many lone <": "<" * 50_000,
}


def _stripped(caplog: pytest.LogCaptureFixture) -> bool:
    return any("stripped the markup" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_html_falls_back_to_text(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="federation.sanitize"):
        output = sanitize_html(HOSTILE[name], object_id="https://peer.example/n/1")
    assert _stripped(caplog)
    assert "<b>" not in output
    assert "<a" not in output
    assert "https://peer.example/n/1" in caplog.text


def test_fallback_keeps_text_escaped() -> None:
    text = "<p>a &amp; <b>bold" + "<b>" * (MAX_OPEN_ELEMENTS + 1) + "</p><p>1 &lt; 2"
    assert sanitize_html(text) == "<p>a &amp; bold</p><p>1 &lt; 2</p>"


def test_fallback_drops_script_content() -> None:
    text = "<i>" * (MAX_OPEN_ELEMENTS + 1) + "<script>alert('<p>x</p>')</script>kept"
    assert sanitize_html(text) == "<p>kept</p>"


def test_escaped_paragraphs_overlong_reference() -> None:
    assert escaped_paragraphs("&#" + "9" * 10_000 + "; x") == "<p>\ufffd x</p>"


def test_escaped_paragraphs_unclosed_tag_is_text() -> None:
    assert escaped_paragraphs("a <b") == "<p>a &lt;b</p>"


def test_nesting_at_limit_keeps_markup(caplog: pytest.LogCaptureFixture) -> None:
    text = "<b>" * MAX_OPEN_ELEMENTS + "deep"
    with caplog.at_level(logging.WARNING, logger="federation.sanitize"):
        output = sanitize_html(text)
    assert not _stripped(caplog)
    assert output.startswith("<b><b>")


def test_attributes_at_limit_keep_markup() -> None:
    names = " ".join(f"data-{i}" for i in range(MAX_ATTRIBUTES - 1))
    output = sanitize_html(f'<a href="https://a.example/" {names}>link</a>')
    assert output.startswith('<a href="https://a.example/"')


def test_unclosed_paragraphs_keep_markup(caplog: pytest.LogCaptureFixture) -> None:
    # <p> and <li> close themselves, so sloppy but ordinary HTML stays formatted.
    text = "<ul>" + "<li>item" * 500 + "</ul>" + "<p>para" * 500
    with caplog.at_level(logging.WARNING, logger="federation.sanitize"):
        output = sanitize_html(text)
    assert not _stripped(caplog)
    assert output.count("<li>") == 500
    assert output.count("<p>") == 500


def test_long_document_same_as_unchunked() -> None:
    paragraph = '<p>Plan <em>step</em> with <a href="https://a.example/x">a link</a></p>'
    text = "<h2>Title</h2>" + paragraph * 400 + "<ul><li>one<li>two</ul>"
    assert len(text) > 4 * sanitize.CHUNK_LENGTH
    assert sanitize_html(text) == sanitize._cleaner().clean(text)


def test_chunk_never_splits_open_formatting() -> None:
    text = "<b>" + "<p>bold text</p>" * 1_000 + "</b>"
    assert sanitize_html(text) == sanitize._cleaner().clean(text)


def test_input_cut_at_max_length(caplog: pytest.LogCaptureFixture) -> None:
    text = "x" * (MAX_HTML_LENGTH + 10)
    with caplog.at_level(logging.WARNING, logger="federation.sanitize"):
        output = sanitize_html(text, object_id="https://peer.example/n/2")
    assert len(output) == MAX_HTML_LENGTH
    assert "https://peer.example/n/2" in caplog.text


def test_sanitize_html_rejects_non_str() -> None:
    with pytest.raises(TypeError):
        sanitize_html(None)  # type: ignore[arg-type]


def test_async_runs_long_input_in_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[str] = []
    original = sanitize._cleaner

    def recording_cleaner() -> object:
        threads.append(threading.current_thread().name)
        return original()

    monkeypatch.setattr(sanitize, "_cleaner", recording_cleaner)
    text = "<p>word</p>" * (sanitize.OFF_LOOP_LENGTH // 11 + 1)
    output = asyncio.run(sanitize_html_async(text))
    assert output == sanitize_html(text)
    assert threads[0] != threading.main_thread().name


def test_async_short_input_stays_on_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[str] = []
    original = sanitize._cleaner

    def recording_cleaner() -> object:
        threads.append(threading.current_thread().name)
        return original()

    monkeypatch.setattr(sanitize, "_cleaner", recording_cleaner)
    assert asyncio.run(sanitize_html_async("<p>hi</p>")) == "<p>hi</p>"
    assert threads == [threading.main_thread().name]


def test_threads_each_get_own_cleaner() -> None:
    cleaners: list[object] = []
    worker = threading.Thread(target=lambda: cleaners.append(sanitize._cleaner()))
    worker.start()
    worker.join()
    assert cleaners[0] is not sanitize._cleaner()
