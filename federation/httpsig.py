"""HTTP request signatures: draft-cavage-http-signatures-12 and RFC 9421.

Pure functions: a method, request target, headers, body and a key object go in;
headers, a SignatureInfo or a FederationError come out. Nothing here looks keys
up, stores anything or opens a socket. Callers load each PEM once with
load_private_key or load_public_key and pass the key object on every call.
Loading an RSA private key checks the key, which takes far longer than signing
with it.

Status codes: a Signature or Signature-Input header that cannot be parsed is a
400, and every other failure (missing signature, missing coverage, stale Date,
digest mismatch, unsupported algorithm, bad signature) is a 401. The message of
each FederationError is safe to send to the remote. Callers log rejections,
because only they know the actor and activity ids.
"""

import base64
import binascii
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import formatdate, parsedate_to_datetime
from typing import Any, NamedTuple, cast
from urllib.parse import SplitResult, parse_qsl, quote, urlsplit

import http_sf
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from federation.digest import (
    BodyDigest,
    check_body_digest,
    content_digest_header,
    digest_header,
    fold_headers,
)
from federation.errors import FederationError

__all__ = [
    "CAVAGE",
    "MAX_AGE_SECONDS",
    "MAX_FUTURE_SECONDS",
    "RFC9421",
    "VERIFICATION_FAILED",
    "BodyDigest",
    "SignatureInfo",
    "check_body_digest",
    "content_digest_header",
    "digest_header",
    "load_private_key",
    "load_public_key",
    "parse_signature",
    "should_fall_back",
    "sign_request",
    "signature_base",
    "verify_request",
    "verify_signature_bytes",
]

log = logging.getLogger(__name__)

CAVAGE = "cavage"
RFC9421 = "rfc9421"

# Date window: a signed Date (or created time) more than MAX_AGE_SECONDS in the
# past or more than MAX_FUTURE_SECONDS in the future is rejected. A sender has no
# reason to send an older signature, because our outbox signs every delivery
# attempt afresh and so does Mastodon (its ActivityPub::DeliveryWorker builds a
# new signed request per attempt). A replay inside the hour can only repeat an
# activity that the inbox already stored, and the inbox drops duplicates by
# activity id. The hour absorbs slow sender queues and clock drift. The five
# minutes ahead absorb a sender whose clock runs fast.
MAX_AGE_SECONDS = 3600.0
MAX_FUTURE_SECONDS = 300.0

# The scheme the verifier rebuilds the RFC 9421 @target-uri and @scheme with
# unless the caller passes the scheme the request arrived on. Federation is
# served over HTTPS except between development instances.
SERVED_SCHEME = "https"

RFC9421_LABEL = "sig1"

# The message of the one rejection that a fresh copy of the signer's key can
# cure (the key may have rotated). A retry after any other rejection fails again.
VERIFICATION_FAILED = "Signature verification failed"

# RFC 9421 section 6.2 algorithm names, also used internally for the cavage
# schemes: rsa-sha256 is rsa-v1_5-sha256, and hs2019 resolves through the key.
RSA_V1_5_SHA256 = "rsa-v1_5-sha256"
RSA_PSS_SHA512 = "rsa-pss-sha512"
ECDSA_P256_SHA256 = "ecdsa-p256-sha256"
ED25519 = "ed25519"

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


@dataclass(frozen=True)
class SignatureInfo:
    """The claims of a request's signature, parsed before any key is known."""

    scheme: str  # CAVAGE or RFC9421
    key_id: str
    algorithm: str | None
    covered: tuple[str, ...]  # covered header or component names, lower-case


@dataclass(frozen=True)
class _Parsed:
    """A parsed signature with what verification needs beyond SignatureInfo."""

    info: SignatureInfo
    signature: bytes
    created: float | None
    expires: float | None
    # Cavage: the raw parameter strings. RFC 9421: the Signature-Input member
    # as http_sf parsed it, (components, parameters).
    params: Mapping[str, str]
    member: Any = None


class _Request(NamedTuple):
    method: str
    target: str  # path plus query, as on the request line
    fields: dict[str, str]  # from fold_headers
    scheme: str


# Public entry points


def parse_signature(
    method: str, target: str, headers: Mapping[str, str]
) -> SignatureInfo:
    """Parse the request's signature headers without checking anything else.

    headers: any mapping whose items() yields (name, value) pairs, in any letter
    case. RFC 9421 (Signature-Input) wins over draft-cavage (Signature, or
    Authorization: Signature). Raises FederationError(401, "Signature header
    missing") when there is none and FederationError(400) when it is malformed.
    """
    return _parse(fold_headers(headers)).info


def verify_request(
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes | None,
    public_key: PublicKey,
    *,
    now: float | None = None,
    max_age: float = MAX_AGE_SECONDS,
    max_future: float = MAX_FUTURE_SECONDS,
    require_digest: bool = True,
    scheme: str = SERVED_SCHEME,
) -> SignatureInfo:
    """Verify a received request's signature against public_key.

    target is the path plus query string as received, and scheme the one it
    arrived on (http or https), for RFC 9421 @scheme and @target-uri. The
    checks run in this order. The algorithm must fit the key. The signature must cover the method,
    target, host and a time (Date or created), plus a digest when the body is
    not empty and require_digest is set. The time must lie in the window. Every
    Digest and Content-Digest must match the body. Last, the signature must
    verify. Raises FederationError(400) for a malformed signature header and
    FederationError(401) naming the problem for every other failure.
    """
    fields = fold_headers(headers)
    parsed = _parse(fields)
    algorithms = _candidate_algorithms(parsed.info, public_key)
    needs_digest = bool(body) and require_digest
    _check_coverage(parsed, target, needs_digest)
    now = time.time() if now is None else now
    _check_time(parsed, fields, now, max_age, max_future)
    if needs_digest or "digest" in fields or "content-digest" in fields:
        check_body_digest(fields, body or b"")
    base = _base(parsed, _Request(method, target, fields, scheme))
    if not any(
        _verify_with(name, public_key, base, parsed.signature) for name in algorithms
    ):
        raise _rejected(VERIFICATION_FAILED, f"key {parsed.info.key_id}")
    log.debug(
        "signature verified: %s key_id=%s", parsed.info.scheme, parsed.info.key_id
    )
    return parsed.info


def sign_request(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes | None,
    private_key: PrivateKey,
    key_id: str,
    *,
    scheme: str = CAVAGE,
    now: float | None = None,
    body_digest: BodyDigest | None = None,
) -> dict[str, str]:
    """Return the headers that sign this request; mutates nothing.

    The result contains Host and Date unless headers has them, Digest (cavage) or
    Content-Digest (RFC 9421) when body is not None, and Signature plus, for
    RFC 9421, Signature-Input. RSA keys sign rsa-sha256 (cavage)
    or rsa-v1_5-sha256 (RFC 9421), Ed25519 keys hs2019 or ed25519. A caller
    that sends one body many times passes its BodyDigest, which must have been
    made from this very body object. Raises ValueError for an unknown scheme,
    another key type, a key_id with a quote or outside printable ASCII, or a
    body_digest of another body.
    """
    now = time.time() if now is None else now
    if body is not None and body_digest is None:
        body_digest = BodyDigest(body)
    elif body_digest is not None and body_digest.body is not body:
        raise ValueError("body_digest was computed for another body")
    parts = urlsplit(url)
    existing = fold_headers(headers)
    added: dict[str, str] = {}
    if "host" not in existing:
        added["Host"] = _host(parts)
    if "date" not in existing:
        added["Date"] = formatdate(now, usegmt=True)
    request = _Request(method, _target(parts), existing | _lower(added), parts.scheme)
    if scheme == CAVAGE:
        return added | _sign_cavage(request, body_digest, private_key, key_id)
    if scheme == RFC9421:
        return added | _sign_rfc9421(
            request, body_digest, private_key, key_id, int(now)
        )
    raise ValueError(f"unknown signature scheme: {scheme!r}")


def signature_base(method: str, target: str, headers: Mapping[str, str]) -> bytes:
    """Build the bytes the request's signature covers: the cavage signing string
    or the RFC 9421 signature base. Raises FederationError(400/401) like
    verify_request when the headers are malformed or a covered one is missing."""
    fields = fold_headers(headers)
    return _base(_parse(fields), _Request(method, target, fields, SERVED_SCHEME))


def verify_signature_bytes(
    algorithm: str, public_key: PublicKey, base: bytes, signature: bytes
) -> None:
    """Check signature over base with an RFC 9421 algorithm name.

    Raises FederationError(401) when the algorithm is unknown, does not fit the
    key, or the signature does not verify.
    """
    _require_key_type(algorithm, public_key)
    if not _verify_with(algorithm, public_key, base, signature):
        raise _rejected(VERIFICATION_FAILED, algorithm)


def should_fall_back(status: int) -> bool:
    """Return True when a host's response status to an RFC 9421-signed request
    calls for a retry signed with draft-cavage: 400, 401 or 500.

    A server that does not know RFC 9421 answers 400 or 401. Some answer 500
    instead, because they crash on the unfamiliar Signature-Input header
    (bovine 0.5.19 does so with http-sf 1.1 and later), so a 500 also earns one
    draft-cavage retry. 502, 503 and 504 mean the host is down and do not.
    """
    return status in (400, 401, 500)


def load_private_key(pem: str | bytes) -> PrivateKey:
    """Load an unencrypted PEM private key (RSA or Ed25519) once, for reuse.

    Raises ValueError when the PEM is invalid or contains another key type.
    """
    key = serialization.load_pem_private_key(_bytes(pem), password=None)
    if not isinstance(key, (rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)):
        # The PEM text is the bad input, so callers catch ValueError for every
        # unusable PEM rather than a TypeError for this one case.
        message = f"unsupported private key type: {type(key).__name__}"
        raise ValueError(message)  # noqa: TRY004
    return key


def load_public_key(pem: str | bytes) -> PublicKey:
    """Load a PEM public key (SPKI or PKCS#1 RSA; RSA, P-256 or Ed25519) once.

    Raises ValueError when the PEM is invalid or contains another key type.
    """
    key = serialization.load_pem_public_key(_bytes(pem))
    if not isinstance(
        key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey)
    ):
        message = f"unsupported public key type: {type(key).__name__}"
        raise ValueError(message)  # noqa: TRY004
    return key


# Parsing


def _parse(fields: dict[str, str]) -> _Parsed:
    if "signature-input" in fields:
        return _parse_rfc9421(fields)
    if "signature" in fields:
        return _parse_cavage(fields["signature"])
    authorization = fields.get("authorization", "")
    if authorization[:10].lower() == "signature ":
        return _parse_cavage(authorization[10:])
    raise _rejected("Signature header missing")


# draft-cavage-12 section 2.1: name="quoted string" or name=number, comma-separated.
_CAVAGE_PARAM = re.compile(
    r'\s*([A-Za-z]+)\s*=\s*(?:"([^"]*)"|([0-9]+(?:\.[0-9]+)?))\s*(?:,|$)'
)


def _parse_cavage(value: str) -> _Parsed:
    params = _cavage_params(value.strip())
    key_id, signature = params.get("keyId"), params.get("signature")
    if not key_id or not signature:
        raise _malformed("Signature header needs keyId and signature")
    algorithm = params.get("algorithm")
    # draft-cavage-12 section 2.1.6 makes (created) the default header list.
    # With an rsa-* algorithm (created) is an error, so Mastodon and Appendix
    # C.1 fall back to date there.
    default = "date" if algorithm not in (None, "hs2019") else "(created)"
    covered = tuple(params.get("headers", default).lower().split())
    if not covered:
        raise _malformed("Signature header lists no headers")
    info = SignatureInfo(CAVAGE, key_id, algorithm, covered)
    created, expires = _number(params.get("created")), _number(params.get("expires"))
    return _Parsed(info, _b64decode(signature, "Signature"), created, expires, params)


def _cavage_params(value: str) -> dict[str, str]:
    params: dict[str, str] = {}
    position = 0
    while position < len(value):
        match = _CAVAGE_PARAM.match(value, position)
        if match is None:
            raise _malformed("Signature header is malformed", f"at offset {position}")
        name, quoted, number = match.groups()
        if name in params:
            raise _malformed(f"Signature header repeats {name}")
        params[name] = quoted if quoted is not None else number
        position = match.end()
    return params


def _parse_rfc9421(fields: dict[str, str]) -> _Parsed:
    if "signature" not in fields:
        raise _rejected("Signature header missing", "Signature-Input without Signature")
    inputs = _sf_dictionary(fields["signature-input"], "Signature-Input")
    signatures = _sf_dictionary(fields["signature"], "Signature")
    # RFC 9421 leaves the choice among several signatures to the verifier; the
    # first label of Signature-Input that Signature also carries is checked.
    label = next((name for name in inputs if name in signatures), None)
    if label is None:
        raise _malformed("Signature-Input and Signature share no label")
    member, (signature, _) = inputs[label], signatures[label]
    if not isinstance(member[0], list) or not isinstance(signature, bytes):
        raise _malformed(
            f"Signature-Input or Signature member {label} has the wrong type"
        )
    params = member[1]
    info = SignatureInfo(
        RFC9421, _keyid(params), _string_param(params, "alg"), _names(member[0])
    )
    created, expires = _int_param(params, "created"), _int_param(params, "expires")
    return _Parsed(info, signature, created, expires, {}, member)


def _sf_dictionary(value: str, field: str) -> dict[str, Any]:
    try:
        parsed = http_sf.parse(value.encode(), tltype="dictionary")
    except (http_sf.StructuredFieldError, UnicodeError) as error:
        raise _malformed(f"{field} header is malformed", str(error)) from error
    return cast(dict[str, Any], parsed)


def _names(components: list[Any]) -> tuple[str, ...]:
    names = []
    for name, params in components:
        if not isinstance(name, str) or name != name.lower():
            raise _malformed(
                "Signature-Input component names must be lower-case strings"
            )
        names.append(name + http_sf.ser((name, params))[len(name) + 2 :])
    if len(set(names)) != len(names):
        raise _malformed("Signature-Input covers a component twice")
    return tuple(names)


def _keyid(params: dict[str, Any]) -> str:
    key_id = _string_param(params, "keyid")
    if not key_id:
        raise _malformed("Signature-Input has no keyid")
    return key_id


def _string_param(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is not None and not isinstance(value, str):
        raise _malformed(f"Signature-Input parameter {name} must be a string")
    return value


def _int_param(params: dict[str, Any], name: str) -> float | None:
    value = params.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise _malformed(f"Signature-Input parameter {name} must be an integer")
    return value


# Policy checks


def _candidate_algorithms(info: SignatureInfo, key: PublicKey) -> tuple[str, ...]:
    """Map the stated algorithm and the key to the RFC 9421 algorithms to try."""
    stated = _stated_algorithm(info)
    if stated is None:
        return _algorithms_for_key(key)
    _require_key_type(stated, key)
    return (stated,)


def _stated_algorithm(info: SignatureInfo) -> str | None:
    if info.scheme == RFC9421:
        return info.algorithm
    if info.algorithm == "rsa-sha256":
        return RSA_V1_5_SHA256
    if info.algorithm in (None, "hs2019"):
        return None
    raise _rejected(f"Signature algorithm {_short(info.algorithm)} is not supported")


def _algorithms_for_key(key: PublicKey) -> tuple[str, ...]:
    # With no usable alg (RFC 9421 section 3.2, cavage hs2019) the key decides.
    # An RSA key object carries no padding choice. Mastodon reads hs2019 with an
    # RSA key as PKCS#1 v1.5 with SHA-256 (app/lib/signed_request.rb), while
    # draft-cavage-12 specifies RSASSA-PSS, so both are tried.
    if isinstance(key, rsa.RSAPublicKey):
        return (RSA_V1_5_SHA256, RSA_PSS_SHA512)
    if isinstance(key, ed25519.Ed25519PublicKey):
        return (ED25519,)
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(
        key.curve, ec.SECP256R1
    ):
        return (ECDSA_P256_SHA256,)
    raise _rejected("Signature key type is not supported", type(key).__name__)


def _require_key_type(algorithm: str, key: PublicKey) -> None:
    if algorithm not in _VERIFIERS:
        raise _rejected(f"Signature algorithm {_short(algorithm)} is not supported")
    if algorithm not in _algorithms_for_key(key):
        raise _rejected(f"Signature algorithm {algorithm} does not match the key type")


# The coverage each scheme requires, as (fact, wording in the error message).
# The facts come from _covered_facts, which lets one component stand for another.
_CAVAGE_REQUIRED = (
    ("(request-target)", "(request-target)"),
    ("host", "host"),
    ("date", "date or (created)"),
)
_RFC9421_REQUIRED = (
    ("@method", "@method"),
    ("@request-target", "@target-uri, or @path with @query"),
    ("@authority", "@authority or @target-uri"),
    ("date", "a created parameter or date"),
)


def _check_coverage(parsed: _Parsed, target: str, needs_digest: bool) -> None:
    facts = _covered_facts(parsed, target)
    required: tuple[tuple[str, str], ...] = (
        _CAVAGE_REQUIRED if parsed.info.scheme == CAVAGE else _RFC9421_REQUIRED
    )
    if needs_digest:
        required += (("digest", "digest or content-digest"),)
    for fact, wording in required:
        if fact not in facts:
            raise _rejected(f"Signature does not cover {wording}")


def _covered_facts(parsed: _Parsed, target: str) -> set[str]:
    facts = set(parsed.info.covered)
    if "(created)" in facts or (
        parsed.info.scheme == RFC9421 and parsed.created is not None
    ):
        facts.add("date")
    if "content-digest" in facts:
        facts.add("digest")
    if "@target-uri" in facts:
        facts |= {"@request-target", "@authority"}
    if "@path" in facts and ("@query" in facts or "?" not in target):
        facts.add("@request-target")
    if "host" in facts:
        facts.add("@authority")
    return facts


def _check_time(
    parsed: _Parsed,
    fields: dict[str, str],
    now: float,
    max_age: float,
    max_future: float,
) -> None:
    if "date" in parsed.info.covered:
        _check_window("Date", _http_date(fields), now, max_age, max_future)
    if parsed.created is not None:
        _check_window(
            "Signature created time", parsed.created, now, max_age, max_future
        )
    if parsed.expires is not None and now > parsed.expires:
        raise _rejected(
            "Signature has expired", f"expires={parsed.expires:.0f} now={now:.0f}"
        )


def _check_window(
    what: str, moment: float, now: float, max_age: float, max_future: float
) -> None:
    if not now - max_age <= moment <= now + max_future:
        age = now - moment
        cause = (
            f"{age:.0f}s old; accepted {max_age:.0f}s old to {max_future:.0f}s ahead"
        )
        raise _rejected(f"{what} outside the accepted window", cause)


def _http_date(fields: dict[str, str]) -> float:
    if "date" not in fields:
        raise _rejected("Date header missing")
    try:
        moment = parsedate_to_datetime(fields["date"])
    except (TypeError, ValueError, OverflowError) as error:
        # A year past the C long range raises OverflowError, not ValueError.
        raise _rejected("Date header is not a valid HTTP date", str(error)) from error
    # A "-0000" zone parses to a naive datetime, which timestamp() would read as
    # local time. HTTP dates are UTC (RFC 9110 section 5.6.7).
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


# Signature bases


def _base(parsed: _Parsed, request: _Request) -> bytes:
    if parsed.info.scheme == CAVAGE:
        return _cavage_string(parsed.info, parsed.params, request)
    return _rfc9421_base(parsed.member, request)


def _cavage_string(
    info: SignatureInfo, params: Mapping[str, str], request: _Request
) -> bytes:
    """draft-cavage-12 section 2.3: one "name: value" line per covered header."""
    lines = [
        f"{name}: {_cavage_value(name, info, params, request)}" for name in info.covered
    ]
    return _encode("\n".join(lines))


def _cavage_value(
    name: str, info: SignatureInfo, params: Mapping[str, str], request: _Request
) -> str:
    if name == "(request-target)":
        return f"{request.method.lower()} {request.target}"
    if name in ("(created)", "(expires)"):
        return _cavage_time_param(name, info, params)
    if name.startswith("("):
        raise _rejected(f"Signature covers unknown pseudo-header {_short(name)}")
    return _field(request, name)


def _cavage_time_param(
    name: str, info: SignatureInfo, params: Mapping[str, str]
) -> str:
    # draft-cavage-12 section 2.3: only hs2019 (or no algorithm) may sign these.
    if info.algorithm not in (None, "hs2019"):
        raise _rejected(f"Signature covers {name}, which needs algorithm hs2019")
    value = params.get(name[1:-1])
    if value is None:
        raise _rejected(f"Signature covers {name} but has no {name[1:-1]} parameter")
    return value


def _rfc9421_base(member: Any, request: _Request) -> bytes:
    """RFC 9421 section 2.5: one line per component, then @signature-params."""
    components, _ = member
    lines = [
        f"{http_sf.ser(component)}: {_component_value(component, request)}"
        for component in components
    ]
    lines.append(f'"@signature-params": {http_sf.ser([member])}')
    return _encode("\n".join(lines))


def _component_value(component: tuple[str, dict[str, Any]], request: _Request) -> str:
    name, params = component
    if name == "@query-param":
        return _query_param(request, params)
    if params:
        raise _rejected(
            f"Signature component parameters on {_short(name)} are not supported"
        )
    if name.startswith("@"):
        return _derived(name, request)
    return _field(request, name)


def _derived(name: str, request: _Request) -> str:
    """RFC 9421 section 2.2: the derived components a request has."""
    path, _, query = request.target.partition("?")
    if name == "@method":
        return request.method
    if name in ("@target-uri", "@authority"):
        authority = _authority(request)
        if name == "@authority":
            return authority
        return f"{request.scheme}://{authority}{request.target}"
    values = {"@scheme": request.scheme, "@request-target": request.target}
    values |= {"@path": path or "/", "@query": f"?{query}"}
    if name not in values:
        raise _rejected(
            f"Signature covers {_short(name)}, which a request does not have"
        )
    return values[name]


def _authority(request: _Request) -> str:
    # RFC 9421 section 2.2.3: lower-case host, default port left out.
    host = _field(request, "host").lower()
    default_port = {"https": ":443", "http": ":80"}.get(request.scheme, "")
    return host.removesuffix(default_port) if default_port else host


def _query_param(request: _Request, params: dict[str, Any]) -> str:
    """RFC 9421 section 2.2.8: the single value of a named query parameter,
    with name and value percent-encoded."""
    name = params.get("name")
    if set(params) != {"name"} or not isinstance(name, str):
        raise _malformed("@query-param needs exactly one name parameter")
    query = request.target.partition("?")[2]
    pairs = parse_qsl(query, keep_blank_values=True)
    values = [
        quote(value, safe="") for key, value in pairs if quote(key, safe="") == name
    ]
    if len(values) != 1:
        raise _rejected(
            f"Signed query parameter {_short(name)} must occur exactly once"
        )
    return values[0]


def _field(request: _Request, name: str) -> str:
    value = request.fields.get(name)
    if value is None:
        raise _rejected(f"Signature covers header {_short(name)}, which is missing")
    return value


# Signing


def _sign_cavage(
    request: _Request, body: BodyDigest | None, key: PrivateKey, key_id: str
) -> dict[str, str]:
    added: dict[str, str] = {}
    covered: tuple[str, ...] = ("(request-target)", "host", "date")
    if body is not None:
        added["Digest"] = body.digest
        covered += ("digest",)
    # Mastodon names RSA signatures rsa-sha256; Ed25519 only exists under hs2019.
    algorithm = "rsa-sha256" if isinstance(key, rsa.RSAPrivateKey) else "hs2019"
    info = SignatureInfo(CAVAGE, key_id, algorithm, covered)
    base = _cavage_string(
        info, {}, request._replace(fields=request.fields | _lower(added))
    )
    signature = base64.b64encode(_sign_with(key, base)).decode("ascii")
    added["Signature"] = (
        f'keyId="{_quotable(key_id)}",algorithm="{algorithm}",'
        f'headers="{" ".join(covered)}",signature="{signature}"'
    )
    return added


def _sign_rfc9421(
    request: _Request,
    body: BodyDigest | None,
    key: PrivateKey,
    key_id: str,
    created: int,
) -> dict[str, str]:
    added: dict[str, str] = {}
    components = ["@method", "@target-uri"]
    if body is not None:
        added["Content-Digest"] = body.content_digest
        components.append("content-digest")
    algorithm = RSA_V1_5_SHA256 if isinstance(key, rsa.RSAPrivateKey) else ED25519
    request = request._replace(fields=request.fields | _lower(added))
    # The RFC 8941 serialisation of the Signature-Input member, written out
    # directly: http_sf's general serialiser costs a third as much CPU time as
    # the RSA signature. Component names and the algorithm are fixed
    # lower-case tokens, created is an integer, and _sf_string checks the key
    # id, so no value here needs escaping.
    names = " ".join(f'"{name}"' for name in components)
    signature_params = (
        f'({names});created={created};keyid="{_sf_string(key_id)}";alg="{algorithm}"'
    )
    lines = [
        f'"{name}": {_component_value((name, {}), request)}' for name in components
    ]
    lines.append(f'"@signature-params": {signature_params}')
    signature = _sign_with(key, _encode("\n".join(lines)))
    added["Signature-Input"] = f"{RFC9421_LABEL}={signature_params}"
    encoded = base64.b64encode(signature).decode("ascii")
    added["Signature"] = f"{RFC9421_LABEL}=:{encoded}:"
    return added


def _sign_with(key: PrivateKey, data: bytes) -> bytes:
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    raise ValueError(f"unsupported private key type: {type(key).__name__}")


# Verification primitives, by RFC 9421 section 3.3 algorithm name.


def _verify_rsa_v1_5(key: Any, data: bytes, signature: bytes) -> None:
    key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())


def _verify_rsa_pss(key: Any, data: bytes, signature: bytes) -> None:
    # RFC 9421 section 3.3.1: MGF1 with SHA-512 and a 64-byte salt.
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64)
    key.verify(signature, data, pss, hashes.SHA512())


def _verify_ecdsa_p256(key: Any, data: bytes, signature: bytes) -> None:
    # RFC 9421 section 3.3.4: r and s as two 32-byte big-endian integers.
    if len(signature) != 64:
        raise InvalidSignature("ECDSA P-256 signature must be 64 bytes")
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))


def _verify_ed25519(key: Any, data: bytes, signature: bytes) -> None:
    key.verify(signature, data)


_VERIFIERS: dict[str, Callable[[Any, bytes, bytes], None]] = {
    RSA_V1_5_SHA256: _verify_rsa_v1_5,
    RSA_PSS_SHA512: _verify_rsa_pss,
    ECDSA_P256_SHA256: _verify_ecdsa_p256,
    ED25519: _verify_ed25519,
}


def _verify_with(algorithm: str, key: PublicKey, data: bytes, signature: bytes) -> bool:
    try:
        _VERIFIERS[algorithm](key, data, signature)
    except InvalidSignature:
        return False
    return True


# Small helpers


def _rejected(message: str, cause: str | None = None) -> FederationError:
    return FederationError(401, message, cause)


def _malformed(message: str, cause: str | None = None) -> FederationError:
    return FederationError(400, message, cause)


def _short(value: object) -> str:
    """Quote a remote-supplied value for an error message, cut to a sane length."""
    text = repr(value)
    return text if len(text) <= 64 else text[:61] + "..."


def _number(value: str | None) -> float | None:
    return None if value is None else float(value)


def _b64decode(value: str, field: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as error:
        raise _malformed(
            f"{field} header has an invalid base64 signature", str(error)
        ) from error


def _encode(text: str) -> bytes:
    # Latin-1 gives back the bytes an ASGI server decoded the header values from.
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError as error:
        raise _rejected(
            "Signed header value is not Latin-1 text", str(error)
        ) from error


def _bytes(pem: str | bytes) -> bytes:
    return pem.encode("ascii") if isinstance(pem, str) else pem


def _lower(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _sf_string(key_id: str) -> str:
    # RFC 8941 section 3.3.3: an sf-string contains printable ASCII only, and the
    # quote and backslash, which it would escape, are rejected by _quotable.
    if not (key_id.isascii() and key_id.isprintable()):
        raise ValueError(f"key_id is not printable ASCII: {key_id!r}")
    return _quotable(key_id)


def _quotable(key_id: str) -> str:
    if '"' in key_id or "\\" in key_id:
        raise ValueError(f"key_id cannot be quoted in a signature header: {key_id!r}")
    return key_id


def _host(parts: SplitResult) -> str:
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal keeps its brackets in Host
    default = {"https": 443, "http": 80}.get(parts.scheme)
    return host if parts.port in (None, default) else f"{host}:{parts.port}"


def _target(parts: SplitResult) -> str:
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
