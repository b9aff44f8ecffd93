"""Turning a teacher's plain text into the HTML of a note."""

import html
import re
from collections.abc import Callable

# @user or @user@host[:port]; the same shapes Mastodon links.
MENTION = re.compile(
    r"(?<![\w/@])@([a-zA-Z0-9_]+(?:[.-][a-zA-Z0-9_]+)*)"
    r"(?:@([a-zA-Z0-9.-]+\.?[a-zA-Z0-9-]*(?::\d+)?))?"
)
HASHTAG = re.compile(r"(?<![\w/&#])#([\w]{1,100})", re.UNICODE)
URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")
# A hashtag name received from another server or an archive: word characters
# (letters, digits, underscore) with middle dots allowed between them, as
# Mastodon accepts for names such as "l·l".
HASHTAG_NAME = re.compile(r"\w(?:[\w\u00b7]{0,98}\w)?", re.UNICODE)
MAX_HASHTAG_LENGTH = 100


def find_mentions(text: str) -> list[tuple[str, str | None]]:
    """Return the (username, host or None) pairs mentioned in ``text``, in order."""
    found = dict.fromkeys((m.group(1), m.group(2)) for m in MENTION.finditer(text))
    return list(found)


def hashtag_name(value: object) -> str | None:
    """Return the stored form of a received hashtag name (no leading "#",
    lower case), or None when it is not a valid name."""
    if not isinstance(value, str):
        return None
    name = value.strip().removeprefix("#").lower()
    if len(name) > MAX_HASHTAG_LENGTH or not HASHTAG_NAME.fullmatch(name):
        return None
    return name


def find_hashtags(text: str) -> list[str]:
    return list(dict.fromkeys(m.group(1).lower() for m in HASHTAG.finditer(text)))


def render_text(
    text: str,
    *,
    mention_url: Callable[[str, str | None], str | None],
    tag_url: Callable[[str], str],
) -> str:
    """Escape ``text`` and link its URLs, mentions and hashtags, as paragraphs.

    ``mention_url`` returns the profile URL of a mentioned account, or None to
    leave the mention as plain text.
    """
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    rendered = []
    for paragraph in paragraphs:
        lines = [_render_line(line, mention_url, tag_url) for line in paragraph.split("\n")]
        rendered.append("<p>" + "<br>".join(lines) + "</p>")
    return "".join(rendered)


def _render_line(line: str, mention_url, tag_url) -> str:  # type: ignore[no-untyped-def]
    pieces: list[str] = []
    position = 0
    pattern = re.compile(f"{URL.pattern}|{MENTION.pattern}|{HASHTAG.pattern}", re.UNICODE)
    for match in pattern.finditer(line):
        pieces.append(html.escape(line[position : match.start()], quote=False))
        pieces.append(_render_token(match.group(0), mention_url, tag_url))
        position = match.end()
    pieces.append(html.escape(line[position:], quote=False))
    return "".join(pieces)


def _render_token(token: str, mention_url, tag_url) -> str:  # type: ignore[no-untyped-def]
    escaped = html.escape(token)
    if token.startswith("http"):
        return f'<a href="{escaped}" rel="nofollow noopener noreferrer" target="_blank">{escaped}</a>'
    if token.startswith("@"):
        match = MENTION.fullmatch(token)
        url = mention_url(match.group(1), match.group(2)) if match else None
        if not url:
            return escaped
        name = html.escape(match.group(1))
        return (
            f'<span class="h-card"><a href="{html.escape(url)}" class="u-url mention">'
            f"@<span>{name}</span></a></span>"
        )
    name = token[1:]
    return (
        f'<a href="{html.escape(tag_url(name.lower()))}" class="mention hashtag" rel="tag">'
        f"#<span>{html.escape(name)}</span></a>"
    )
