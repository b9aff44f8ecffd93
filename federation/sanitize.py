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
- Cost: html5lib spends time in proportion to the number of open elements for
  each tag it reads, so text that leaves thousands of elements open takes
  quadratic time. ``sanitize_html`` cuts its input to ``MAX_HTML_LENGTH``
  characters and scans the tags first. It skips bleach and returns the text
  with every tag stripped, as escaped paragraphs, when more than
  ``MAX_OPEN_ELEMENTS`` elements would stay open, a tag has more than
  ``MAX_ATTRIBUTES`` attributes, the text has more than
  ``MAX_MARKUP_CHARACTERS`` "<" and "&" characters, or a tag name, doctype or
  numeric character reference is long. Long documents are parsed in chunks that
  start at top-level blocks. ``sanitize_html_async`` runs long input in a
  worker thread so that an event loop keeps serving meanwhile.
- Links: only absolute URLs with a scheme in ``ALLOWED_PROTOCOLS``. A link whose
  URL is missing, relative or of another scheme loses the ``a`` element and keeps
  its text, because a relative URL would resolve against our own host. Every kept
  link gets ``rel="nofollow noopener noreferrer"`` (plus ``tag`` when the sender
  marked a hashtag) and ``target="_blank"``.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import threading
import unicodedata
from collections.abc import Iterable, Iterator
from html.parser import HTMLParser
from typing import Any, cast
from urllib.parse import urlsplit

import bleach

log = logging.getLogger(__name__)

MAX_HTML_LENGTH = 200_000
"""Characters of remote HTML that ``sanitize_html`` reads; the rest is cut off.

The HTML of the longest lesson plan body we accept (100,000 characters of
Markdown) fits. For comparison, Mastodon stores the text of remote posts uncut
and cuts remote profile notes at 20 KiB (``Account::NOTE_LENGTH_HARD_LIMIT``)."""

MAX_OPEN_ELEMENTS = 64
"""Elements that may be left open at once before ``sanitize_html`` stops trusting
the markup and strips every tag. Formatting and list markup written by people or
by Markdown renderers stays far below this."""

MAX_MARKUP_CHARACTERS = 40_000
"""Count of "<" and "&" characters over which ``sanitize_html`` strips the markup.

html5lib turns each of them into tokens of their own, which costs about 20
microseconds apiece on one core (Python 3.11, bleach 6.x), so this bounds the
parse at about a second. bench/ANALYSIS.md has the figures measured under
load. HTML with a tag every ten characters, denser than most formatted text,
stays below it up to MAX_HTML_LENGTH."""

MAX_ATTRIBUTES = 32
"""Attributes one tag may carry before ``sanitize_html`` strips the markup.
html5lib compares each new attribute name with all earlier ones in its tag."""

CHUNK_LENGTH = 4_000
"""Characters after which ``sanitize_html`` may parse the rest as a new chunk."""

OFF_LOOP_LENGTH = 4_000
"""Input length from which ``sanitize_html_async`` moves the work to a thread."""

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
# Void elements have no content, and these other elements are closed by the
# parser when a sibling starts, so neither kind stays open for the pre-scan.
_SELF_CLOSING_ELEMENTS = frozenset(
    {
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link",
        "meta", "source", "track", "wbr", "param", "keygen", "image",
        "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "thead",
        "tbody", "tfoot", "caption", "colgroup", "rb", "rt", "rtc", "rp",
        "html", "head", "body",
    }
)  # fmt: skip
# Tokens that html5lib builds one character at a time with a scan per step,
# so their cost grows with the square of their length: long tag names, doctype
# names and long numeric character references. No real post needs any of them.
_COSTLY_TOKEN = re.compile(
    r"</?[A-Za-z][^\s/>]{64}|<!doctype|&#[0-9]{16}|&#[xX][0-9A-Fa-f]{16}",
    re.IGNORECASE,
)
# A start tag with its attributes, split the way html5lib's tokenizer splits
# them: a quoted value may contain ">", but a quote elsewhere belongs to a name.
_START_TAG = re.compile(
    r"""<[A-Za-z][^\s/>]*+(?:[\s/]++|[^\s/>][^\s/>=]*+"""
    r"""(?:\s*+=\s*+(?:"[^"]*+"?|'[^']*+'?|[^\s>]*+))?)*+"""
)
_ATTRIBUTE = re.compile(
    r"""[^\s/>][^\s/>=]*+(?:\s*+=\s*+(?:"[^"]*+"?|'[^']*+'?|[^\s>]*+))?"""
)
# Start tags shorter than this cannot hold MAX_ATTRIBUTES attributes.
_SHORT_TAG_LENGTH = 2 * MAX_ATTRIBUTES
_OVERLONG_REFERENCE = re.compile(r"&#(?:[0-9]{8,}|[xX][0-9A-Fa-f]{7,});?")
# Start tags before which a chunk may begin: blocks that end an open paragraph.
_CHUNK_START_TAGS = frozenset(
    {"p", "ul", "ol", "blockquote", "pre", "hr", "div"} | HEADING_TAGS
)
# A start or end tag as far as its name. A "<" without a ">" later is no tag
# for html5lib, but counting it only makes the pre-scan more cautious.
_TAG_NAME = re.compile(r"<(/?)([A-Za-z][^\s/>]*)")
# Any markup from "<" to the next ">". Excluding "<" from the body keeps the
# scan linear: an unclosed "<" stops at the next one instead of at the end.
_MARKUP = re.compile(r"<(/?)([A-Za-z][^\s/<>]*+)?[^<>]*+>")
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
# A Cleaner keeps parser state while it cleans, so each thread builds its own,
# once: constructing one sets up the html5lib parser and serializer.
_THREAD_STATE = threading.local()


def _cleaner() -> bleach.Cleaner:
    cleaner: bleach.Cleaner | None = getattr(_THREAD_STATE, "cleaner", None)
    if cleaner is None:
        cleaner = bleach.Cleaner(
            tags=ALLOWED_TAGS | DROPPED_ELEMENTS,
            attributes=ALLOWED_ATTRIBUTES,
            protocols=ALLOWED_PROTOCOLS,
            strip=True,
            strip_comments=True,
            # bleach's type stubs (types-bleach) ask for html5lib Filter
            # subclasses, but bleach's serializer only iterates over what a
            # filter yields.
            filters=[cast(Any, _PolicyFilter)],
        )
        _THREAD_STATE.cleaner = cleaner
    return cleaner


def sanitize_html(text: str, *, object_id: str | None = None) -> str:
    """Return remote HTML reduced to the allowlist described in the module doc.

    The result is safe to insert into our pages as HTML. Input over
    MAX_HTML_LENGTH characters is cut to that length, and input that would
    leave more than MAX_OPEN_ELEMENTS elements open loses all its markup (see
    the module doc). Both cases are logged with ``object_id``, the id of the
    object the HTML came from. Raises TypeError when ``text`` is not a str.
    """
    if not isinstance(text, str):
        raise TypeError(f"sanitize_html() expects str, not {type(text).__name__}")
    if len(text) > MAX_HTML_LENGTH:
        log.warning(
            "cut HTML of %s from %d to %d characters",
            object_id or "unknown object",
            len(text),
            MAX_HTML_LENGTH,
        )
        text = text[:MAX_HTML_LENGTH]
    markup = text.count("<") + text.count("&")
    if markup > MAX_MARKUP_CHARACTERS:
        log.warning(
            "stripped the markup of HTML of %s: %d '<' and '&' characters",
            object_id or "unknown object",
            markup,
        )
        return escaped_paragraphs(text)
    costly = _costly_token(text)
    if costly is not None:
        log.warning(
            "stripped the markup of HTML of %s: %s",
            object_id or "unknown object",
            costly,
        )
        return escaped_paragraphs(text)
    cuts = _split_points(text)
    if cuts is None:
        log.warning(
            "stripped the markup of HTML of %s: over %d elements left open",
            object_id or "unknown object",
            MAX_OPEN_ELEMENTS,
        )
        return escaped_paragraphs(text)
    cleaner = _cleaner()
    if not cuts:
        cleaned: str = cleaner.clean(text)
        return cleaned
    bounds = zip([0, *cuts], [*cuts, len(text)], strict=True)
    return "".join(cleaner.clean(text[start:end]) for start, end in bounds)


async def sanitize_html_async(text: str, *, object_id: str | None = None) -> str:
    """Run sanitize_html, in a worker thread when ``text`` is long.

    bleach is pure Python and holds the GIL, but the interpreter switches
    threads every few milliseconds, so the calling event loop keeps serving
    requests while a long text is cleaned.
    """
    if not isinstance(text, str) or len(text) < OFF_LOOP_LENGTH:
        return sanitize_html(text, object_id=object_id)
    return await asyncio.to_thread(sanitize_html, text, object_id=object_id)


def _costly_token(text: str) -> str | None:
    """Return why html5lib would take superlinear time on one token of ``text``.

    Returns None when no tag, doctype or character reference is costly.
    """
    if "<" not in text and "&#" not in text:
        return None
    found = _COSTLY_TOKEN.search(text)
    if found is not None:
        return f"costly token at offset {found.start()}"
    for tag in _START_TAG.finditer(text):
        if tag.end() - tag.start() < _SHORT_TAG_LENGTH:
            continue
        name_end = tag.start() + 1
        count = sum(1 for _ in _ATTRIBUTE.finditer(text, name_end, tag.end())) - 1
        if count > MAX_ATTRIBUTES:
            return f"tag at offset {tag.start()} has over {MAX_ATTRIBUTES} attributes"
    return None


def _split_points(text: str) -> list[int] | None:
    """Return offsets where ``text`` can be cut into separately parsed chunks.

    Returns None when the tags leave over MAX_OPEN_ELEMENTS elements open. Each
    element name keeps a count of start tags not yet matched by an end tag.
    Only an end tag of the same name lowers the count, because html5lib keeps
    an unclosed formatting element such as ``b`` active past the end of its
    parent and opens it again in the next block.

    A cut goes before a block start tag at which no counted element is open,
    at least CHUNK_LENGTH characters after the previous cut. Parsing there
    starts afresh in the state the parser would be in anyway. html5lib's tree
    walker spends time in proportion to the number of siblings for each node,
    so parsing chunks keeps long documents of many paragraphs linear. The scan
    itself is linear in the length of ``text``.
    """
    cuts: list[int] = []
    if text.count("<") <= MAX_OPEN_ELEMENTS and len(text) <= CHUNK_LENGTH:
        return cuts
    open_counts: dict[str, int] = {}
    total = 0
    previous_cut = 0
    for match in _TAG_NAME.finditer(text):
        name = match.group(2).lower()
        closing = bool(match.group(1))
        if (
            not total
            and not closing
            and name in _CHUNK_START_TAGS
            and match.start() - previous_cut >= CHUNK_LENGTH
        ):
            previous_cut = match.start()
            cuts.append(previous_cut)
        if name in _SELF_CLOSING_ELEMENTS:
            continue
        count = open_counts.get(name, 0)
        if closing:
            if count:
                open_counts[name] = count - 1
                total -= 1
        else:
            open_counts[name] = count + 1
            total += 1
            if total > MAX_OPEN_ELEMENTS:
                return None
    return cuts


def escaped_paragraphs(text: str) -> str:
    """Return the text of an HTML fragment as escaped ``<p>`` paragraphs.

    Every tag is removed, with the content of DROPPED_ELEMENTS, and entities
    are decoded before the text is escaped again. Block tags end a paragraph.
    Unlike ``sanitize_html`` and ``plain_text`` this is a single regular
    expression scan, linear in the length of ``text`` whatever the markup.
    """
    pieces: list[str] = []
    # The dropped element being skipped and how deep it nests in itself.
    dropped: str | None = None
    dropped_depth = 0
    position = 0
    for match in _MARKUP.finditer(text):
        closing, name = match.group(1), (match.group(2) or "").lower()
        if dropped is None:
            pieces.append(text[position : match.start()])
        position = match.end()
        if dropped is not None:
            if name == dropped:
                dropped_depth += -1 if closing else 1
                if dropped_depth == 0:
                    dropped = None
        elif name in DROPPED_ELEMENTS and not closing:
            dropped, dropped_depth = name, 1
        elif name in _BLOCK_TAGS:
            pieces.append("\n")
    if dropped is None:
        pieces.append(text[position:])
    # Every code point fits in 7 decimal or 6 hex digits. html.unescape turns a
    # longer reference into U+FFFD too, but converts its digits first.
    text = _OVERLONG_REFERENCE.sub("\ufffd", "".join(pieces))
    paragraphs = html.unescape(text).split("\n")
    return "".join(
        f"<p>{html.escape(line, quote=False)}</p>"
        for line in (_WHITESPACE.sub(" ", part).strip() for part in paragraphs)
        if line
    )


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
