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
  inside them. Images are removed too: media arrives as attachments.
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
from collections.abc import Iterable, Iterator
from html.parser import HTMLParser
from typing import Any, cast
from urllib.parse import urlsplit

import bleach

ALLOWED_TAGS = frozenset(
    {
        "p", "br", "a", "span", "strong", "b", "em", "i", "u", "del", "s",
        "code", "pre", "blockquote", "ul", "ol", "li", "sub", "sup", "hr",
        "h1", "h2", "h3", "h4", "h5", "h6",
    }
)  # fmt: skip
"""Tags kept by ``sanitize_html``. Headings are rewritten, see the module doc."""

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
links. ``invisible`` and ``ellipsis`` shorten long URLs when rendered."""

ALLOWED_PROTOCOLS = frozenset(
    {"http", "https", "mailto", "xmpp", "matrix", "magnet", "gemini"}
)
"""URL schemes kept in links: the web and mail, plus chat addresses (XMPP, Matrix)
found in profile fields, magnet links that PeerTube publishes, and Gemini capsules.
Everything else, including ``javascript:``, ``data:`` and ``vbscript:``, is dropped."""

KEPT_REL_VALUES = frozenset({"tag"})
LINK_REL = "nofollow noopener noreferrer"
LINK_TARGET = "_blank"

# An html5lib token is a dict, and its attribute keys are (namespace, name) pairs.
_Token = dict[str, Any]
_AttributeKey = tuple[str | None, str]
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


class _PolicyFilter:
    """Token filter, run after bleach's sanitizer, that applies our own rules.

    It removes DROPPED_ELEMENTS with everything inside them. It keeps a link only
    when the URL is absolute and of an allowed scheme, and then sets our ``rel``
    and ``target``. Other ``a`` elements are unwrapped. It also reduces class
    lists to ALLOWED_CLASSES and turns headings into a bold paragraph.

    bleach calls each class in ``Cleaner(filters=...)`` with ``source=`` the
    sanitised token stream and serialises whatever the instance yields.
    """

    def __init__(self, source: Iterable[_Token]) -> None:
        self.source = source

    def __iter__(self) -> Iterator[_Token]:
        # Nesting depth inside a dropped element, 0 outside one.
        dropped_depth = 0
        # One entry per open <a>: whether its start tag was kept, so that the
        # matching end tag is kept or dropped with it.
        open_links: list[bool] = []
        for token in self.source:
            kind = token["type"]
            name = token.get("name")
            if dropped_depth:
                if kind == "StartTag":
                    dropped_depth += 1
                elif kind == "EndTag":
                    dropped_depth -= 1
                continue
            if name in DROPPED_ELEMENTS:
                if kind == "StartTag":
                    dropped_depth = 1
                continue
            if name in HEADING_TAGS:
                yield from _heading_tokens(kind)
                continue
            if kind in ("StartTag", "EmptyTag"):
                _filter_classes(token)
            if name != "a":
                yield token
            elif kind == "StartTag":
                kept = _rewrite_link(token)
                open_links.append(kept)
                if kept:
                    yield token
            elif kind == "EndTag" and open_links and open_links.pop():
                yield token


def _heading_tokens(kind: str) -> list[_Token]:
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


def _filter_classes(token: _Token) -> None:
    attributes: dict[_AttributeKey, str] = token["data"]
    key = (None, "class")
    if key not in attributes:
        return
    kept = [c for c in attributes[key].split() if c in ALLOWED_CLASSES]
    if kept:
        attributes[key] = " ".join(kept)
    else:
        del attributes[key]


def _rewrite_link(token: _Token) -> bool:
    """Apply the link rules to an ``a`` start tag, or return False to unwrap it."""
    attributes: dict[_AttributeKey, str] = token["data"]
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


# The dropped elements are in the Cleaner's tags so that the parser and the
# sanitizer keep them as elements, with their content inside: a tag that is not
# listed loses its start and end tags but keeps its text, which for <script> is
# code. _PolicyFilter then removes them whole, so none reaches the output.
# Built once: constructing a Cleaner sets up the html5lib parser and serializer.
_CLEANER = bleach.Cleaner(
    tags=ALLOWED_TAGS | DROPPED_ELEMENTS,
    attributes=ALLOWED_ATTRIBUTES,
    protocols=ALLOWED_PROTOCOLS,
    strip=True,
    strip_comments=True,
    # bleach's type stubs (types-bleach) ask for html5lib Filter subclasses, but
    # bleach's serializer only iterates over what a filter yields.
    filters=[cast(Any, _PolicyFilter)],
)


def sanitize_html(text: str) -> str:
    """Return remote HTML reduced to the allowlist described in the module doc.

    The result is safe to insert into our pages as HTML. Raises TypeError when
    ``text`` is not a str.
    """
    cleaned: str = _CLEANER.clean(text)
    return cleaned


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

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
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
