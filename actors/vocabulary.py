"""ActivityStreams constants and helpers for reading loosely shaped documents.

Peers send the same property in several shapes: a string or an array, an id or
an embedded object. These helpers turn each shape into one form.
"""

import re
from typing import Any
from urllib.parse import urlsplit

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
SECURITY_CONTEXT = "https://w3id.org/security/v1"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
# Peers also write the public collection in its compacted forms.
PUBLIC_FORMS = frozenset({PUBLIC, "as:Public", "Public"})

# The extension terms Mastodon's clients and servers look for.
EXTENSION_CONTEXT = {
    "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
    "sensitive": "as:sensitive",
    "Hashtag": "as:Hashtag",
    "toot": "http://joinmastodon.org/ns#",
    "discoverable": "toot:discoverable",
    "indexable": "toot:indexable",
    # The focal point of an image attachment, [x, y] from -1 to 1.
    "focalPoint": {"@container": "@list", "@id": "toot:focalPoint"},
    "schema": "http://schema.org#",
    "PropertyValue": "schema:PropertyValue",
    "value": "schema:value",
}
CONTEXT = [AS_CONTEXT, SECURITY_CONTEXT, EXTENSION_CONTEXT]


def as_list(value: Any) -> list[Any]:
    """Return ``value`` as a list: None is empty, a single item becomes one."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def id_of(value: Any) -> str | None:
    """Return the id of a reference: the string itself or an object's ``id``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        found = value.get("id") or value.get("href")
        return found if isinstance(found, str) else None
    return None


def ids_of(value: Any) -> list[str]:
    """Return the ids of a reference or list of references, skipping bad items."""
    return [item for item in map(id_of, as_list(value)) if item]


def first_id(value: Any) -> str | None:
    """Return the first id in a reference or list of references."""
    found = ids_of(value)
    return found[0] if found else None


def types_of(document: Any) -> list[str]:
    """Return the ``type`` of a document as a list of strings."""
    if not isinstance(document, dict):
        return []
    return [item for item in as_list(document.get("type")) if isinstance(item, str)]


def has_type(document: Any, *names: str) -> bool:
    return any(name in names for name in types_of(document))


def text_value(document: dict[str, Any], key: str) -> str:
    """Return a natural-language property, falling back to its ``...Map`` form.

    Akkoma and others may send only ``contentMap``; the first language wins.
    """
    value = document.get(key)
    if isinstance(value, str):
        return value
    mapped = document.get(f"{key}Map")
    if isinstance(mapped, dict):
        for text in mapped.values():
            if isinstance(text, str):
                return text
    return ""


def language_of(document: dict[str, Any], key: str = "content") -> str | None:
    mapped = document.get(f"{key}Map")
    if isinstance(mapped, dict):
        for language in mapped:
            if isinstance(language, str) and 0 < len(language) <= 16:
                return language
    return None


MAX_ID_LENGTH = 2048
# Whitespace and control characters never belong in an id; rejecting them also
# keeps ids safe to write into log lines.
_BAD_ID_CHARACTER = re.compile(r"[\s\x00-\x1f\x7f]")


def is_http_id(value: Any) -> bool:
    """Return True when ``value`` is an http(s) URL usable as an object id."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LENGTH:
        return False
    if _BAD_ID_CHARACTER.search(value):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def http_url(value: Any) -> str | None:
    """Return ``value`` when it is an http(s) URL, else None.

    Remote servers choose the links and image addresses of their objects, and
    clients put them in ``href`` and ``src``, so a ``javascript:`` or ``data:``
    URL is dropped when the object is parsed.
    """
    return value if is_http_id(value) else None
