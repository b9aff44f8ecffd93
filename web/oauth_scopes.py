"""OAuth 2 scopes of the Mastodon client API and the rules that relate them.

A scope is a top-level scope (``read``, ``write``, ``follow``, ``push``,
``profile``, ``admin:read``, ``admin:write``) or a granular one below it
(``read:statuses``, ``admin:write:accounts``). The rules follow Mastodon 4.3:
a top-level scope grants every granular scope below it, ``follow`` grants the
read and write scopes of follows, blocks and mutes, and ``profile`` grants
only reading the signed-in account.
"""

from __future__ import annotations

from collections.abc import Iterable

READ_SCOPES = (
    "read:accounts",
    "read:blocks",
    "read:bookmarks",
    "read:favourites",
    "read:filters",
    "read:follows",
    "read:lists",
    "read:mutes",
    "read:notifications",
    "read:search",
    "read:statuses",
)
WRITE_SCOPES = (
    "write:accounts",
    "write:blocks",
    "write:bookmarks",
    "write:conversations",
    "write:favourites",
    "write:filters",
    "write:follows",
    "write:lists",
    "write:media",
    "write:mutes",
    "write:notifications",
    "write:reports",
    "write:statuses",
)
ADMIN_SUBJECTS = (
    "accounts",
    "reports",
    "domain_allows",
    "domain_blocks",
    "ip_blocks",
    "email_domain_blocks",
    "canonical_email_blocks",
)
ADMIN_READ_SCOPES = tuple(f"admin:read:{subject}" for subject in ADMIN_SUBJECTS)
ADMIN_WRITE_SCOPES = tuple(f"admin:write:{subject}" for subject in ADMIN_SUBJECTS)

# The granular scopes that the deprecated ``follow`` scope grants.
FOLLOW_SCOPES = frozenset(
    {
        "read:follows",
        "write:follows",
        "read:blocks",
        "write:blocks",
        "read:mutes",
        "write:mutes",
    }
)

TOP_LEVEL_SCOPES = (
    "read",
    "write",
    "follow",
    "push",
    "profile",
    "admin:read",
    "admin:write",
)
SUPPORTED_SCOPES = (
    *TOP_LEVEL_SCOPES,
    *READ_SCOPES,
    *WRITE_SCOPES,
    *ADMIN_READ_SCOPES,
    *ADMIN_WRITE_SCOPES,
)
_SUPPORTED = frozenset(SUPPORTED_SCOPES)

# Scopes of a token created with ``pedagogue token create``, which acts for
# its account as the web interface does.
ALL_SCOPES = " ".join(TOP_LEVEL_SCOPES)
# Scopes of an app or authorization request that names none (Mastodon's default).
DEFAULT_SCOPES = "read"


def parse_scopes(text: str) -> list[str]:
    """Split a space-delimited scope string (RFC 6749, section 3.3), keeping order.

    Duplicates are dropped. Unknown scopes are kept so that the caller can
    name them in its error.
    """
    scopes: list[str] = []
    for scope in text.split():
        if scope not in scopes:
            scopes.append(scope)
    return scopes


def unknown_scopes(scopes: Iterable[str]) -> list[str]:
    """Return the scopes of ``scopes`` that Pedagogue does not support."""
    return [scope for scope in scopes if scope not in _SUPPORTED]


def parent_scope(scope: str) -> str | None:
    """Return the top-level scope that grants ``scope``, or None for a top-level one."""
    if scope.startswith("admin:"):
        parts = scope.split(":")
        return ":".join(parts[:2]) if len(parts) == 3 else None
    head, separator, _ = scope.partition(":")
    return head if separator else None


def grants(granted: Iterable[str], required: str) -> bool:
    """Return whether a token with the scopes ``granted`` may use ``required``."""
    held = set(granted)
    if required in held:
        return True
    parent = parent_scope(required)
    if parent is not None and parent in held:
        return True
    return required in FOLLOW_SCOPES and "follow" in held


def grants_any(granted: Iterable[str], alternatives: Iterable[str]) -> bool:
    """Return whether ``granted`` grants at least one scope of ``alternatives``."""
    held = list(granted)
    return any(grants(held, required) for required in alternatives)


def within(requested: Iterable[str], allowed: Iterable[str]) -> bool:
    """Return whether every requested scope is granted by the ``allowed`` ones.

    An app registered with ``read`` may thus ask for ``read:statuses``, but
    one registered with ``read:statuses`` may not ask for ``read``.
    """
    held = list(allowed)
    return all(grants(held, scope) for scope in requested)
