"""Sanitising of HTML and text that arrives from other servers.

Remote ``content``, ``summary`` and profile fields are HTML written by software we
do not control. ``sanitize_html`` keeps a small allowlist of formatting markup and
drops everything else, ``plain_text`` reduces HTML to text for places that show no
markup, and ``sanitize_display_name`` cleans the plain-text ``name`` of an actor.

Policy, in short:

- Tags: paragraphs, line breaks, links, inline emphasis, code, quotes and lists.
  Headings ``h1``-``h6`` become ``<p><strong>…</strong></p>`` so that a remote post
  cannot add headings to the outline of our pages. Unknown tags are removed and
  their text is kept, except for the elements in ``DROPPED_ELEMENTS`` (scripts,
  styles, embedded documents, SVG and MathML), which are removed with everything
  inside them.
- Attributes: ``href``, ``rel`` and ``class`` on ``a``; ``class`` on ``span``;
  ``start`` and ``reversed`` on ``ol``; ``value`` on ``li``. Only the classes in
  ``ALLOWED_CLASSES`` survive, because remote HTML must not be able to pick up our
  own CSS classes. No ``style``, no event handlers.
- Links: only absolute URLs with a scheme in ``ALLOWED_PROTOCOLS``. A link whose
  URL is missing, relative or of another scheme loses the ``a`` element and keeps
  its text, because a relative URL would resolve against our own host. Every kept
  link gets ``rel="nofollow noopener noreferrer"`` (plus ``tag`` when the sender
  marked a hashtag) and ``target="_blank"``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import bleach
from bleach.html5lib_shim import Filter

ALLOWED_TAGS = frozenset(
    {
        "p", "br", "a", "span", "strong", "b", "em", "i", "u", "del", "s",
        "code", "pre", "blockquote", "ul", "ol", "li", "sub", "sup", "hr",
        "h1", "h2", "h3", "h4", "h5", "h6",
    }
)  # fmt: skip
"""Tags kept by ``sanitize_html``; headings are rewritten, see the module doc."""

HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})

DROPPED_ELEMENTS = frozenset(
    {
        "script", "style", "template", "noscript", "iframe", "frame", "frameset",
        "object", "embed", "applet", "noembed", "noframes", "xmp", "plaintext",
        "svg", "math", "title", "textarea", "select", "head",
    }
)  # fmt: skip
"""Elements removed together with their content: code, styles, embedded documents
and foreign (SVG, MathML) markup, whose text is not meant to be read as prose."""

ALLOWED_ATTRIBUTES: dict[str, list[str]] = {
    "a": ["href", "rel", "class"],
    "span": ["class"],
    "ol": ["start", "reversed"],
    "li": ["value"],
}

ALLOWED_CLASSES = frozenset(
    {"mention", "hashtag", "ellipsis", "invisible", "h-card", "u-url"}
)
"""Classes that Mastodon-compatible servers put on mentions, hashtags and shortened
links; ``invisible`` and ``ellipsis`` shorten long URLs when rendered."""

ALLOWED_PROTOCOLS = frozenset(
    {"http", "https", "mailto", "xmpp", "matrix", "magnet", "gemini"}
)
"""URL schemes kept in links: the web and mail, plus chat addresses (XMPP, Matrix)
found in profile fields, magnet links that PeerTube publishes, and Gemini capsules.
Everything else, including ``javascript:``, ``data:`` and ``vbscript:``, is dropped."""

KEPT_REL_VALUES = frozenset({"tag"})
LINK_REL = "nofollow noopener noreferrer"
LINK_TARGET = "_blank"

_ATTRIBUTE_KEY = tuple[str | None, str]
_WHITESPACE = re.compile(r"\s+")
_BLOCK_TAGS = frozenset(
    {"p", "br", "div", "li", "ul", "ol", "blockquote", "pre", "hr", "tr", "td"}
    | HEADING_TAGS
)
# Format characters (Unicode category Cf) include the bidirectional embedding,
# override and isolate controls, which reorder the text around a name on screen
# (Unicode TR #9), and zero-width characters that hide text. The two zero-width
# joiners are kept because emoji sequences and several scripts need them.
_KEPT_FORMAT_CHARACTERS = frozenset("\u200c\u200d")


class _DropSubtrees(Filter):
    """Token filter that removes the elements in DROPPED_ELEMENTS with their content.

    It runs on the parsed tree before bleach's sanitizer, which would otherwise
    keep the text inside a removed ``<script>`` or ``<style>``.
    """

    def __iter__(self) -> Iterator[dict[str, Any]]:
        depth = 0
        for token in super().__iter__():
            kind = token["type"]
            name = token.get("name", "").lower()
            if depth:
                if kind == "StartTag":
                    depth += 1
                elif kind == "EndTag":
                    depth -= 1
                continue
            if kind == "StartTag" and name in DROPPED_ELEMENTS:
                depth = 1
                continue
            if kind == "EmptyTag" and name in DROPPED_ELEMENTS:
                continue
            yield token


class _RewriteLinksAndClasses(Filter):
    """Token filter, run after the sanitizer, that enforces the link and class rules.

    Links keep only an absolute URL with an allowed scheme and get our ``rel`` and
    ``target``; other ``a`` elements are unwrapped. Class lists are reduced to
    ALLOWED_CLASSES, and headings become a bold paragraph.
    """

    def __iter__(self) -> Iterator[dict[str, Any]]:
        # One entry per open <a>: whether its start tag was kept, so that the
        # matching end tag is kept or dropped with it.
        open_links: list[bool] = []
        for token in super().__iter__():
            kind = token["type"]
            name = token.get("name")
            if name in HEADING_TAGS:
                yield from _heading_tokens(kind)
                continue
            if kind in ("StartTag", "EmptyTag"):
                _filter_classes(token)
            if name != "a":
                yield token
                continue
            if kind == "StartTag":
                kept = _rewrite_link(token)
                open_links.append(kept)
                if kept:
                    yield token
            elif kind == "EndTag":
                if open_links and open_links.pop():
                    yield token


def _heading_tokens(kind: str) -> list[dict[str, Any]]:
    if kind == "StartTag":
        return [
            {"type": "StartTag", "name": "p", "namespace": None, "data": {}},
            {"type": "StartTag", "name": "strong", "namespace": None, "data": {}},
        ]
    if kind == "EndTag":
        return [
            {"type": "EndTag", "name": "strong", "namespace": None},
            {"type": "EndTag", "name": "p", "namespace": None},
        ]
    return []


def _filter_classes(token: dict[str, Any]) -> None:
    attributes: dict[_ATTRIBUTE_KEY, str] = token["data"]
    key = (None, "class")
    if key not in attributes:
        return
    kept = [c for c in attributes[key].split() if c in ALLOWED_CLASSES]
    if kept:
        attributes[key] = " ".join(kept)
    else:
        del attributes[key]


def _rewrite_link(token: dict[str, Any]) -> bool:
    """Apply the link rules to an ``a`` start tag; return False to unwrap it."""
    attributes: dict[_ATTRIBUTE_KEY, str] = token["data"]
    href = attributes.get((None, "href"), "").strip()
    if not _is_allowed_url(href):
        return False
    remote_rel = attributes.get((None, "rel"), "").split()
    rel = [value for value in remote_rel if value in KEPT_REL_VALUES]
    attributes[(None, "href")] = href
    attributes[(None, "rel")] = " ".join([*rel, LINK_REL])
    attributes[(None, "target")] = LINK_TARGET
    return True


def _is_allowed_url(url: str) -> bool:
    if not url:
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_PROTOCOLS:
        return False
    # http(s) links need a host: "https:/path" would be relative to our site.
    return scheme not in ("http", "https") or bool(parts.netloc)


class _RemoteHtmlCleaner(bleach.sanitizer.Cleaner):
    """bleach Cleaner that removes DROPPED_ELEMENTS with their content first.

    NOTE: this relies on two details of bleach 6.x's Cleaner: the HTML parser is
    built in ``__init__`` from the ``tags`` given there, and ``clean()`` walks the
    parsed tree through ``self.walker`` before sanitising with ``self.tags``. The
    parser must know the dropped elements, or it strips their tags early and keeps
    their text; the sanitizer must not allow them. The script and style tests in
    tests/federation/test_sanitize.py fail if a bleach upgrade changes this.
    """

    def __init__(self) -> None:
        super().__init__(
            tags=ALLOWED_TAGS | DROPPED_ELEMENTS,
            attributes=ALLOWED_ATTRIBUTES,
            protocols=ALLOWED_PROTOCOLS,
            strip=True,
            strip_comments=True,
            filters=[_RewriteLinksAndClasses],
        )
        self.tags = ALLOWED_TAGS
        tree_walker = self.walker
        self.walker = lambda tree: _DropSubtrees(tree_walker(tree))


# Built once: constructing a Cleaner sets up the html5lib parser and serializer.
_CLEANER = _RemoteHtmlCleaner()


def sanitize_html(text: str) -> str:
    """Return remote HTML reduced to the allowlist described in the module doc.

    The result is safe to insert into our pages as HTML. Raises TypeError when
    ``text`` is not a str.
    """
    return _CLEANER.clean(text)


class _TextExtractor(HTMLParser):
    """Collects the text of an HTML fragment, skipping DROPPED_ELEMENTS."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._dropped: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DROPPED_ELEMENTS:
            self._dropped.append(tag)
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_startendtag(
        self, tag: str, attrs: list[tuple[str, str | None]]
    ) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if self._dropped:
            if tag in self._dropped:
                # Close the innermost open element of that name and anything
                # left unclosed inside it.
                while self._dropped and self._dropped.pop() != tag:
                    pass
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._dropped:
            self.parts.append(data)


def plain_text(text: str) -> str:
    """Return the text of an HTML fragment: no tags, entities decoded, one space
    between words.

    Block boundaries (paragraphs, line breaks, list items) become spaces. The
    content of DROPPED_ELEMENTS is removed. The result is text, not HTML: escape
    it before putting it into a page. Raises TypeError when ``text`` is not a str.
    """
    if not isinstance(text, str):
        raise TypeError(f"plain_text() expects str, not {type(text).__name__}")
    extractor = _TextExtractor()
    extractor.feed(text)
    extractor.close()
    return _WHITESPACE.sub(" ", "".join(extractor.parts)).strip()


def sanitize_display_name(text: str, max_length: int = 100) -> str:
    """Return an actor's plain-text name made safe to show next to other names.

    The name is NFC-normalised. Control characters, format characters (which
    include the bidirectional controls) other than the zero-width joiners, and
    lone surrogates are removed, and whitespace runs become one space.
    A name longer than ``max_length`` characters is cut to ``max_length - 1``
    characters plus "…". Markup is not parsed: ``name`` is plain text in
    ActivityStreams, so "<b>" stays literal and is escaped when rendered.
    Raises ValueError when ``max_length`` is below 1 and TypeError when ``text``
    is not a str.
    """
    if not isinstance(text, str):
        raise TypeError(
            f"sanitize_display_name() expects str, not {type(text).__name__}"
        )
    if max_length < 1:
        raise ValueError(f"max_length must be at least 1, got {max_length}")
    normalized = unicodedata.normalize("NFC", text)
    kept = "".join(ch for ch in normalized if _is_displayable(ch))
    collapsed = _WHITESPACE.sub(" ", kept).strip()
    if len(collapsed) <= max_length:
        return collapsed
    return collapsed[: max_length - 1].rstrip() + "…"


def _is_displayable(ch: str) -> bool:
    category = unicodedata.category(ch)
    if category == "Cc":
        # Tabs and line breaks count as whitespace and are collapsed later.
        return ch in "\t\n\r"
    if category == "Cf":
        return ch in _KEPT_FORMAT_CHARACTERS
    # A lone surrogate (JSON allows "\ud800") cannot be encoded as UTF-8. Code
    # points unassigned in this Python's Unicode tables stay: newer emoji are
    # among them.
    return category != "Cs"
