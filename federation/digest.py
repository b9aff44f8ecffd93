"""Body digests for signed requests: RFC 3230 Digest and RFC 9530 Content-Digest.

Pure functions over header mappings and body bytes. The signature code in
federation.httpsig calls check_body_digest before it checks a signature, so a
request whose body was changed in transit is rejected without the RSA work.
"""

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import Any, cast

import http_sf

from federation.errors import FederationError

# Hash algorithms accepted when checking a body. RFC 3230 names them case-insensitively
# ("SHA-256"); RFC 9530 uses lower-case dictionary keys ("sha-256").
_HASHES: dict[str, Callable[[bytes], "hashlib._Hash"]] = {
    "sha-256": hashlib.sha256,
    "sha-512": hashlib.sha512,
}


def fold_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Return the header fields keyed by lower-case name, one value per name.

    Accepts a plain dict in any letter case and the multi-value mappings of
    werkzeug, Quart and aiohttp, whose items() yields one pair per field line.
    Repeated fields are joined with ", " and each value loses its surrounding
    whitespace, as draft-cavage-http-signatures-12 section 2.3 and RFC 9421
    section 2.1 require for the signed form of a field.
    """
    folded: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        value = value.strip()
        folded[key] = f"{folded[key]}, {value}" if key in folded else value
    return folded


def digest_header(body: bytes) -> str:
    """Return the RFC 3230 Digest value for body as Mastodon sends it: SHA-256=<b64>."""
    return "SHA-256=" + _b64(hashlib.sha256(body).digest())


def content_digest_header(body: bytes) -> str:
    """Return the RFC 9530 Content-Digest value for body: sha-256=:<b64>:."""
    return f"sha-256=:{_b64(hashlib.sha256(body).digest())}:"


class BodyDigest:
    """The SHA-256 digest of one body in the forms Digest and Content-Digest take.

    A body sent to many inboxes is hashed once, and every signed request that
    sends it reuses the values.
    """

    __slots__ = ("body", "content_digest", "digest")

    def __init__(self, body: bytes) -> None:
        encoded = _b64(hashlib.sha256(body).digest())
        self.body = body
        self.digest = f"SHA-256={encoded}"
        self.content_digest = f"sha-256=:{encoded}:"


def check_body_digest(headers: Mapping[str, str], body: bytes) -> None:
    """Check each SHA-256 and SHA-512 digest in Digest and Content-Digest against body.

    Raises FederationError(401) when neither header is present, when a present
    header is malformed or offers neither algorithm, or when a digest does not
    match the body. Digests in other algorithms (MD5, SHA-1) are ignored.
    """
    fields = fold_headers(headers)
    if "digest" not in fields and "content-digest" not in fields:
        raise FederationError(
            401, "Digest header missing", "no Digest or Content-Digest"
        )
    computed: dict[str, bytes] = {}
    for field, algorithm, expected in _offered_digests(fields):
        if algorithm not in computed:
            computed[algorithm] = _HASHES[algorithm](body).digest()
        if not hmac.compare_digest(computed[algorithm], expected):
            raise FederationError(
                401, f"{field} header does not match the body", f"{algorithm} differs"
            )


def _offered_digests(fields: dict[str, str]) -> list[tuple[str, str, bytes]]:
    """List (header name, algorithm, digest) for every digest we can compute."""
    offered: list[tuple[str, str, bytes]] = []
    if "digest" in fields:
        offered += _require_any("Digest", _legacy_digests(fields["digest"]))
    if "content-digest" in fields:
        offered += _require_any(
            "Content-Digest", _content_digests(fields["content-digest"])
        )
    return offered


def _require_any(
    field: str, digests: list[tuple[str, bytes]]
) -> list[tuple[str, str, bytes]]:
    if not digests:
        raise FederationError(
            401, f"{field} header offers no SHA-256 or SHA-512 digest"
        )
    return [(field, algorithm, value) for algorithm, value in digests]


def _legacy_digests(value: str) -> list[tuple[str, bytes]]:
    """Parse an RFC 3230 Digest value: comma-separated algorithm=base64 pairs."""
    digests = []
    for entry in value.split(","):
        algorithm, _, encoded = entry.strip().partition("=")
        if algorithm.lower() in _HASHES:
            digests.append((algorithm.lower(), _b64decode(encoded.strip(), "Digest")))
    return digests


def _content_digests(value: str) -> list[tuple[str, bytes]]:
    """Parse an RFC 9530 Content-Digest value: a structured-field dictionary."""
    try:
        parsed = http_sf.parse(value.encode(), tltype="dictionary")
    except (http_sf.StructuredFieldError, UnicodeError) as error:
        raise FederationError(
            401, "Content-Digest header is malformed", str(error)
        ) from error
    digests = []
    members = cast(dict[str, tuple[Any, Any]], parsed)
    for algorithm, (digest, _params) in members.items():
        if algorithm not in _HASHES:
            continue
        if not isinstance(digest, bytes):
            raise FederationError(401, "Content-Digest header is malformed", algorithm)
        digests.append((algorithm, digest))
    return digests


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(encoded: str, field: str) -> bytes:
    try:
        return base64.b64decode(encoded, validate=True)
    except binascii.Error as error:
        raise FederationError(
            401, f"{field} header is malformed", str(error)
        ) from error
