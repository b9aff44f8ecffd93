"""Normalised host names, so that one server has one spelling wherever hosts
are compared, stored or matched against domain blocks.

DNS resolves ``Example.org.`` (upper case, a trailing dot for the root) and
``example.org`` to the same server, and an internationalised name is looked up
in its ASCII ``xn--`` form (IDNA, RFC 5891). Comparing the raw ``netloc``
strings would treat them as different servers, which let a suspended domain
through with a trailing dot.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import idna

DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_host_name(name: str) -> str:
    """Return ``name`` in lower case, without one trailing dot, and in IDNA
    ASCII form. IPv6 literals keep their brackets. A name that IDNA rejects is
    returned lower-cased, so that it never equals a valid name by accident."""
    name = name.strip().lower()
    if name.startswith("["):
        return name
    name = name.removesuffix(".")
    if not name or name.isascii():
        return name
    try:
        return idna.encode(name, uts46=True).decode("ascii")
    except idna.IDNAError:
        return name


def split_authority(authority: str) -> tuple[str, str | None]:
    """Split ``host[:port]`` (the host may be a bracketed IPv6 literal) into
    the normalised host name and the port text, or None without a port."""
    authority = authority.strip().lower().rsplit("@", 1)[-1]
    if authority.startswith("["):
        end = authority.find("]")
        if end == -1:
            return authority, None
        host, rest = authority[: end + 1], authority[end + 1 :]
        port = rest[1:] if rest.startswith(":") and rest[1:] else None
        return host, port
    if authority.count(":") == 1:
        host, port = authority.split(":", 1)
        return normalize_host_name(host), port or None
    return normalize_host_name(authority), None


def url_authority(url_or_host: str) -> str:
    """Return the normalised ``host[:port]`` of a URL or of a bare authority.

    The port stays, because two instances on one host differ only by port,
    but a URL's default port for its scheme is dropped.
    """
    if "//" in url_or_host:
        parts = urlsplit(url_or_host)
        host, port = split_authority(parts.netloc)
        if port is not None and port == str(DEFAULT_PORTS.get(parts.scheme.lower())):
            port = None
    else:
        host, port = split_authority(url_or_host)
    return f"{host}:{port}" if port else host


def same_host(first: str | None, second: str | None) -> bool:
    """Return True when two URLs are on the same normalised host and port."""
    if not first or not second:
        return False
    return url_authority(first) == url_authority(second)
