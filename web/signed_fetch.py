"""Signed GETs of ActivityPub documents (authorized fetch).

A GET that carries an HTTP signature names the remote actor asking, so a
followers-only, direct or group-only object can be served to the actors it is
addressed to. With ``federation.authorized_fetch`` (Mastodon's secure mode)
every ActivityPub GET must be signed, except the documents a peer needs before
it can sign or verify anything: the instance actor, WebFinger, host-meta,
NodeInfo, the bundled JSON-LD context and each actor's own document, which
contains its public key and is then served in a reduced form.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlsplit

from quart import Response, current_app, g, request

from federation import httpsig
from federation.errors import FederationError
from storage import accounts
from web.app import error_response, log_text, runtime_of

log = logging.getLogger(__name__)

_SIGNATURE_HEADERS = ("signature", "signature-input")
# Paths served to unsigned GETs in secure mode.
_EXEMPT_PREFIXES = ("/.well-known/", "/nodeinfo/", "/ns/")
_EXEMPT_PATHS = ("/actor",)
# An actor document, at its id or at the profile URL with an ActivityPub Accept.
_ACTOR_PATH = re.compile(r"^/(users/|@)[^/]+/?$")
# JSON-only ActivityPub routes, whatever the Accept header requests.
_ACTIVITYPUB_PATH = re.compile(
    r"^/activities/|^/users/[^/]+/(outbox|followers|following|moderators"
    r"|lesson_plan_collections)(/|$)|^/users/[^/]+/statuses/[^/]+/replies$"
)
# Members of an actor document served to unsigned GETs in secure mode: what a
# peer needs to verify the actor's signatures and to deliver to it.
RESTRICTED_ACTOR_FIELDS = (
    "@context",
    "id",
    "type",
    "preferredUsername",
    "inbox",
    "outbox",
    "publicKey",
    "endpoints",
)

_NOT_VERIFIED = object()


def has_signature() -> bool:
    """Return True when the request carries an HTTP signature of either scheme."""
    headers = request.headers
    if any(name in headers for name in _SIGNATURE_HEADERS):
        return True
    return headers.get("Authorization", "").lower().startswith("signature ")


async def request_signer() -> Any | None:
    """Verify the request's signature; return the signer's account, or None
    when the request is not signed.

    Raises FederationError(400) for a malformed signature header, and
    FederationError(403) for a key on a domain this instance does not
    federate with (suspended, or not on the allowlist). Raises
    FederationError(401) for a signature that does not verify, a key that
    cannot be fetched, or a signer that is not an actor known here. The
    result is kept for the rest of the request.
    """
    cached = g.get("signed_fetch_signer", _NOT_VERIFIED)
    if cached is not _NOT_VERIFIED:
        return cached
    signer = None
    if has_signature():
        signer = await _verified_signer()
    g.signed_fetch_signer = signer
    return signer


async def _verified_signer() -> Any:
    runtime = runtime_of(current_app)
    target = _target()
    key_id = "none"
    try:
        key_id = httpsig.parse_signature(request.method, target, request.headers).key_id
        # Checked before the key is fetched, so a suspended domain costs no
        # request to it.
        refused = await runtime.domain_policy.rejection(key_id)
        if refused is not None:
            raise FederationError(403, refused, f"key {key_id}")
        owner = await _verify(runtime, target, key_id)
    except FederationError as error:
        log.warning(
            "signed %s %s rejected (key %s): %s [%s]",
            request.method,
            log_text(target),
            log_text(key_id),
            log_text(error.message),
            log_text(str(error.cause)),
        )
        raise
    account = await accounts.by_actor_id(runtime.pool, owner)
    if account is None or account["deleted_at"] is not None:
        log.warning("signed GET by key %s of unknown actor %s", log_text(key_id), owner)
        raise FederationError(401, f"the owner of key {key_id[:200]} is not known here")
    log.debug("signed %s %s by %s", request.method, log_text(target), owner)
    return account


async def _verify(runtime: Any, target: str, key_id: str) -> str:
    """Verify the signature with the key of ``key_id``; return the key's owner.

    A signature that fails against a cached key is tried once more with the
    key fetched afresh, because actors rotate keys.
    """
    resolver = runtime.resolver
    signer = await resolver.public_key(key_id)
    try:
        _check(runtime, target, signer.key)
        return str(signer.owner)
    except FederationError as error:
        if error.message != httpsig.VERIFICATION_FAILED or signer.fetched:
            raise
    signer = await resolver.public_key(key_id, refresh=True)
    _check(runtime, target, signer.key)
    return str(signer.owner)


def _check(runtime: Any, target: str, key: Any) -> None:
    settings = runtime.settings.federation
    httpsig.verify_request(
        request.method,
        target,
        request.headers,
        None,
        key,
        max_age=settings.signature_max_age,
        max_future=settings.signature_max_future,
        scheme=urlsplit(runtime.settings.base_url).scheme,
    )


def _target() -> str:
    raw_path = request.scope.get("raw_path") or request.path.encode()
    query = request.scope.get("query_string") or b""
    target = raw_path.decode("latin-1")
    return f"{target}?{query.decode('latin-1')}" if query else target


def wants_activity_json() -> bool:
    """Return True when the client asked for ActivityStreams rather than HTML."""
    accept = request.headers.get("Accept", "")
    return "application/activity+json" in accept or "application/ld+json" in accept


def is_activitypub_read() -> bool:
    """Return True for a GET or HEAD of an ActivityPub document."""
    if request.method not in ("GET", "HEAD"):
        return False
    return wants_activity_json() or bool(_ACTIVITYPUB_PATH.match(request.path))


def _exempt(path: str) -> bool:
    return (
        path in _EXEMPT_PATHS
        or path.startswith(_EXEMPT_PREFIXES)
        or bool(_ACTOR_PATH.match(path))
    )


async def require_signed_fetch() -> Response | None:
    """Reject an unsigned ActivityPub GET with 401 when authorized fetch is on.

    Registered on the whole app, so ActivityPub documents served by other
    blueprints (lesson plans, collections, group moderators) are covered too.
    A request with a bad signature is rejected whatever the setting, except on
    the exempt paths, whose signatures are not checked at all. Verifying one
    may fetch the signer's key from its server, which may verify the signature
    of that key fetch in turn, so two servers would wait on each other.
    """
    if not is_activitypub_read() or _exempt(request.path):
        return None
    try:
        signer = await request_signer()
    except FederationError as error:
        return error_response(error.status, error.message)
    if signer is not None:
        return None
    if not runtime_of(current_app).settings.federation.authorized_fetch:
        return None
    log.info("unsigned GET %s rejected: authorized fetch is on", log_text(request.path))
    response = error_response(
        401, "Request not signed: this server requires signed GETs"
    )
    response.headers["WWW-Authenticate"] = 'Signature realm="ActivityPub"'
    return response


async def restrict_actor(document: dict[str, Any]) -> dict[str, Any]:
    """Return the actor document to serve: reduced to RESTRICTED_ACTOR_FIELDS
    for an unsigned GET when authorized fetch is on, whole otherwise."""
    if not runtime_of(current_app).settings.federation.authorized_fetch:
        return document
    if await request_signer() is not None:
        return document
    return {
        key: value for key, value in document.items() if key in RESTRICTED_ACTOR_FIELDS
    }
