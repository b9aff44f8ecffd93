"""Notes (statuses): their ActivityStreams form, and reading remote ones."""

import html
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from actors.text import hashtag_name
from actors.vocabulary import (
    CONTEXT,
    as_list,
    first_id,
    has_type,
    http_url,
    id_of,
    ids_of,
    is_http_id,
    language_of,
    text_value,
)

# Object types shown as statuses. A Question is shown as a note with its
# options listed; Page (Lemmy), Article and Video (PeerTube) show their name.
NOTE_TYPES = frozenset({"Note", "Article", "Question", "Page", "Video", "Event"})


class InvalidObject(ValueError):
    """A remote object that cannot be stored."""


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def render_note(
    status: Any,
    *,
    actor_id: str,
    url: str,
    in_reply_to_uri: str | None,
    mentions: list[tuple[str, str]],
    tags: list[tuple[str, str]],
) -> dict[str, Any]:
    """Return the Note of a local status.

    ``mentions`` holds (actor id, @handle) pairs and ``tags`` (name, tag page URL).
    """
    note: dict[str, Any] = {
        "id": status["uri"],
        "type": status["object_type"],
        "attributedTo": actor_id,
        "content": status["content"],
        "url": url,
        "published": iso(status["created_at"]),
        "to": list(status["to_uris"]),
        "cc": list(status["cc_uris"]),
        "inReplyTo": in_reply_to_uri,
        "sensitive": status["sensitive"],
        # AS2 summary is HTML, and the content warning is plain text, so
        # "x<y>z" must reach receivers as "x&lt;y&gt;z".
        "summary": html.escape(status["spoiler_text"], quote=False) or None,
        "tag": [{"type": "Mention", "href": href, "name": name} for href, name in mentions]
        + [{"type": "Hashtag", "href": href, "name": f"#{name}"} for name, href in tags],
    }
    if status["language"]:
        note["contentMap"] = {status["language"]: status["content"]}
    if status["edited_at"]:
        note["updated"] = iso(status["edited_at"])
    return note


def with_context(document: dict[str, Any]) -> dict[str, Any]:
    return {"@context": CONTEXT, **document}


def render_tombstone(uri: str, deleted_at: datetime | None) -> dict[str, Any]:
    tombstone: dict[str, Any] = {"@context": CONTEXT, "id": uri, "type": "Tombstone"}
    if deleted_at:
        tombstone["deleted"] = iso(deleted_at)
    return tombstone


@dataclass
class Attachment:
    url: str
    media_type: str
    mime_type: str | None
    description: str | None
    blurhash: str | None
    # Mastodon's focalPoint: x and y from -1 to 1, the centre at 0, 0.
    focus: tuple[float, float] | None = None
    width: int | None = None
    height: int | None = None


@dataclass
class RemoteNote:
    """The fields of a remote object that the instance stores as a status."""

    uri: str
    object_type: str
    attributed_to: str
    content: str
    name: str
    summary: str
    sensitive: bool
    language: str | None
    url: str | None
    in_reply_to_uri: str | None
    to: list[str]
    cc: list[str]
    published: datetime | None
    mention_hrefs: list[str] = field(default_factory=list)
    hashtags: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _attachment(item: Any) -> Attachment | None:
    if not isinstance(item, dict):
        return None
    url = first_id(item.get("url")) or id_of(item.get("href"))
    if not url or urlsplit(url).scheme not in ("http", "https"):
        return None
    mime = item.get("mediaType") if isinstance(item.get("mediaType"), str) else None
    kind = (mime or "").split("/")[0]
    media_type = {"image": "image", "video": "video", "audio": "audio"}.get(kind, "unknown")
    # Alt text is the attachment's name; GoToSocial puts it in summary.
    texts = [item.get(key) for key in ("name", "summary")]
    name = next((text for text in texts if isinstance(text, str)), None)
    blurhash = item.get("blurhash") if isinstance(item.get("blurhash"), str) else None
    width, height = _dimension(item.get("width")), _dimension(item.get("height"))
    if width is None or height is None:
        width = height = None
    return Attachment(
        url, media_type, mime, name, blurhash, _focal_point(item), width, height
    )


# Maximum width or height kept from a remote attachment, in pixels.
MAX_DIMENSION = 100_000


def _focal_point(item: dict[str, Any]) -> tuple[float, float] | None:
    """Return a valid ``focalPoint`` ([x, y], each from -1 to 1), else None."""
    value = item.get("focalPoint")
    if not isinstance(value, list) or len(value) != 2:
        return None
    if not all(isinstance(n, (int, float)) and not isinstance(n, bool) for n in value):
        return None
    x, y = float(value[0]), float(value[1])
    if not (-1 <= x <= 1 and -1 <= y <= 1):
        return None
    return x, y


def _dimension(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_DIMENSION:
        return value
    return None


def _tags(document: dict[str, Any]) -> tuple[list[str], list[str]]:
    mentions, hashtags = [], []
    for tag in as_list(document.get("tag")):
        if not isinstance(tag, dict):
            continue
        if has_type(tag, "Mention") and isinstance(tag.get("href"), str):
            mentions.append(tag["href"])
        elif has_type(tag, "Hashtag"):
            name = hashtag_name(tag.get("name"))
            if name is not None:
                hashtags.append(name)
    return mentions, hashtags


def _question_text(document: dict[str, Any]) -> str:
    # The web pages show no polls, so the options are listed in the content too.
    # NOTE: Mastodon apps show a received poll's options twice, because the
    # client API also serves the stored poll (inbox.handlers.poll).
    options = as_list(document.get("oneOf")) + as_list(document.get("anyOf"))
    names = [o.get("name") for o in options if isinstance(o, dict)]
    items = "".join(f"<li>{name}</li>" for name in names if isinstance(name, str))
    return f"<ul>{items}</ul>" if items else ""


def parse_note(document: Any) -> RemoteNote:
    """Read a remote Note-like object; raise InvalidObject when it is unusable.

    Content is returned as sent: callers sanitise it before storing.
    """
    if not isinstance(document, dict):
        raise InvalidObject("object is not a JSON object")
    uri = id_of(document)
    if not is_http_id(uri):
        raise InvalidObject("object id missing or not an http(s) URL")
    if not has_type(document, *NOTE_TYPES):
        raise InvalidObject(f"object type {document.get('type')!r} is not supported")
    attributed_to = first_id(document.get("attributedTo"))
    if not attributed_to:
        raise InvalidObject(f"object {uri} has no attributedTo")
    content = text_value(document, "content")
    if has_type(document, "Question"):
        content += _question_text(document)
    mentions, hashtags = _tags(document)
    attachments = [_attachment(item) for item in as_list(document.get("attachment"))]
    return RemoteNote(
        uri=uri,
        object_type=next(t for t in as_list(document["type"]) if t in NOTE_TYPES),
        attributed_to=attributed_to,
        content=content,
        name=text_value(document, "name"),
        summary=text_value(document, "summary"),
        sensitive=document.get("sensitive") is True,
        language=language_of(document),
        url=http_url(first_id(document.get("url"))),
        in_reply_to_uri=first_id(document.get("inReplyTo")),
        to=ids_of(document.get("to")),
        cc=ids_of(document.get("cc")),
        published=parse_time(document.get("published")),
        mention_hrefs=mentions,
        hashtags=hashtags,
        attachments=[item for item in attachments if item][:16],
    )
