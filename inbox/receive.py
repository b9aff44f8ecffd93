"""The synchronous inbox path: size cap, JSON parse, signature, signer check, store.

Nothing here processes the activity. JSON-LD expansion and every fetch other
than an unknown signer's key happen later, in the workers.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from actors.vocabulary import first_id, id_of, is_http_id
from federation import httpsig, strict_json
from federation.errors import FederationError
from federation.hosts import same_host, url_authority
from inbox.batch import InboxItem

if TYPE_CHECKING:
    from pedagogue.runtime import Runtime

log = logging.getLogger(__name__)

MAX_JSON_DEPTH = 32
"""Arrays and objects may nest this deep, the activity itself counting as one."""

MAX_RECIPIENTS = 500
"""Entries in ``to``, ``cc``, ``bto``, ``bcc`` and ``audience`` of an activity and
of its embedded object, counted together. Each one may cost a lookup or a
delivery while the activity is processed."""

MAX_TAGS = 200
"""Entries in the ``tag`` array (mentions, hashtags, emoji) of an activity and of
its embedded object, counted together."""

MAX_ATTACHMENTS = 32
"""Entries in the ``attachment`` array of an activity and of its embedded object,
counted together."""

ADDRESSING_FIELDS = ("to", "cc", "bto", "bcc", "audience")

# Every byte but brackets and the double quote, for bytes.translate to delete.
_NOT_STRUCTURAL = bytes(set(range(256)) - set(b'[]{}"'))
_BRACES_AS_BRACKETS = bytes.maketrans(b"{}", b"[]")


class RateLimited(FederationError):
    """A remote host sent more inbox POSTs than its rate limit allows (429)."""

    def __init__(self, host: str, retry_after: float) -> None:
        super().__init__(
            429,
            f"too many requests from {host}, retry later",
            f"rate limit of {host} exhausted",
        )
        self.retry_after = retry_after


class InboxRejection(FederationError):
    """A rejected inbox POST, with the ids known at the rejection for its log line.

    ``activity_id`` and ``key_id`` are None when the request did not get far
    enough to name them; both are shortened and escaped for logging.
    ``retry_after`` is the seconds a rate-limited sender should wait, else None.
    """

    def __init__(
        self, error: FederationError, activity_id: str | None, key_id: str | None
    ) -> None:
        super().__init__(error.status, error.message, error.cause)
        self.activity_id = _loggable(activity_id)
        self.key_id = _loggable(key_id)
        self.retry_after: float | None = getattr(error, "retry_after", None)


def _loggable(value: Any) -> str | None:
    # Ids come from the sender; a newline in one must not start a log line.
    if not isinstance(value, str) or not value:
        return None
    return value[:300].encode("unicode_escape").decode("ascii")


def signature_key_id(
    method: str, target: str, headers: Mapping[str, str]
) -> str | None:
    """Return the key id a request's signature names, or None when it names none."""
    try:
        return httpsig.parse_signature(method, target, headers).key_id
    except FederationError:
        return None


@dataclass
class Accepted:
    activity_id: str
    activity_type: str
    actor_id: str
    duplicate: bool


def parse_body(body: bytes) -> dict[str, Any]:
    """Parse an activity; raise FederationError(400) naming what is wrong."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise FederationError(400, "body is not UTF-8", str(error))
    try:
        document = strict_json.loads(text)
    except strict_json.NonFiniteNumber as error:
        # Python's json reads NaN and Infinity, and 1e400 as an infinity, but
        # neither JSON nor PostgreSQL's json type can hold them.
        raise FederationError(
            400, f"body is not valid JSON: {error.token} is not a finite number"
        )
    except RecursionError:
        # The decoder recurses per nesting level; a body of brackets reaches
        # the interpreter's limit well inside the size cap.
        raise FederationError(400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    except ValueError as error:
        raise FederationError(400, "body is not valid JSON", str(error))
    if not isinstance(document, dict):
        raise FederationError(400, "activity must be a JSON object")
    if _nested_too_deep(body):
        raise FederationError(400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    # PostgreSQL text cannot hold U+0000, so such an activity could never be
    # processed. The text search skips the walk for every ordinary body.
    if "\\u0000" in text and _any_text(document, _has_nul):
        raise FederationError(400, "JSON contains a NUL character")
    # An escaped lone surrogate (\ud800) decodes to a str that UTF-8, and so
    # PostgreSQL, cannot store.
    if ("\\ud" in text or "\\uD" in text) and _any_text(document, _has_surrogate):
        raise FederationError(400, "JSON contains an unpaired surrogate")
    return document


def _has_nul(text: str) -> bool:
    return "\x00" in text


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _any_text(value: Any, test: Any) -> bool:
    """Return True when ``test`` holds for any key or string in ``value``."""
    if isinstance(value, str):
        return bool(test(value))
    if isinstance(value, dict):
        return any(test(key) or _any_text(item, test) for key, item in value.items())
    if isinstance(value, list):
        return any(_any_text(item, test) for item in value)
    return False


def _nested_too_deep(body: bytes) -> bool:
    """Return True when arrays and objects in ``body`` nest deeper than the cap.

    ``body`` must be valid JSON. Every step is a C-level bytes operation, so
    the check is linear in the body's length times at most MAX_JSON_DEPTH.
    """
    # Fewer opening brackets than the cap cannot nest past it. Most activities
    # stop here.
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return False
    # Valid JSON closes every bracket with its own kind, so measuring the
    # nesting need not distinguish the kinds.
    brackets = _structure(body).translate(_BRACES_AS_BRACKETS)
    # Each pass removes the pairs that were innermost before it, so the pass
    # that empties the string is the nesting depth.
    for _ in range(MAX_JSON_DEPTH):
        brackets = brackets.replace(b"[]", b"")
        if not brackets:
            return False
    return True


def _structure(body: bytes) -> bytes:
    # Valid JSON has backslashes only inside strings, where each starts an
    # escape of one character. Dropping escaped backslashes first and then
    # escaped quotes leaves only the quotes that open and close strings. Of
    # the brackets and quotes that remain, every second piece between quotes
    # is string content.
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    pieces = body.translate(None, _NOT_STRUCTURAL).split(b'"')
    return b"".join(pieces[::2])


def _required_fields(document: dict[str, Any]) -> tuple[str, str, str]:
    activity_id = id_of(document)
    activity_type = document.get("type")
    actor_id = first_id(document.get("actor"))
    if not is_http_id(activity_id):
        raise FederationError(400, "activity id missing or not an http(s) URL")
    if isinstance(activity_type, list):
        activity_type = next((t for t in activity_type if isinstance(t, str)), None)
    if not isinstance(activity_type, str) or not activity_type:
        raise FederationError(400, "activity type missing")
    if not is_http_id(actor_id):
        raise FederationError(400, "activity actor missing or not an http(s) URL")
    if not same_host(activity_id, actor_id):
        raise FederationError(400, "activity id and actor are on different hosts")
    return activity_id, activity_type, actor_id


def check_limits(document: dict[str, Any]) -> None:
    """Raise FederationError(422) when ``document`` has too many recipients, tags
    or attachments.

    The activity and its embedded object are counted together, so moving the
    addressing from one to the other does not double the allowance.
    """
    parts = [document]
    if isinstance(document.get("object"), dict):
        parts.append(document["object"])
    recipients = sum(
        _count(part.get(name)) for part in parts for name in ADDRESSING_FIELDS
    )
    if recipients > MAX_RECIPIENTS:
        raise FederationError(
            422,
            f"activity has {recipients} recipients, over the limit of {MAX_RECIPIENTS}",
        )
    tags = sum(_count(part.get("tag")) for part in parts)
    if tags > MAX_TAGS:
        raise FederationError(
            422, f"activity has {tags} tags, over the limit of {MAX_TAGS}"
        )
    attachments = sum(_count(part.get("attachment")) for part in parts)
    if attachments > MAX_ATTACHMENTS:
        raise FederationError(
            422,
            f"activity has {attachments} attachments, over the limit of {MAX_ATTACHMENTS}",
        )


def _count(value: Any) -> int:
    # ActivityStreams allows a single value where an array is expected.
    if value is None:
        return 0
    return len(value) if isinstance(value, list) else 1


def _is_unknown_actor_delete(
    document: dict[str, Any], activity_type: str, actor_id: str
) -> bool:
    return activity_type == "Delete" and first_id(document.get("object")) == actor_id


class InboxReceiver:
    """Verify and store POSTed activities for the per-actor and shared inboxes."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        # RFC 9421's @target-uri is rebuilt with the scheme of the public URL,
        # which is right behind a TLS-terminating proxy too.
        self.served_scheme = urlsplit(runtime.settings.base_url).scheme

    async def receive(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
        recipient: str | None,
    ) -> Accepted | None:
        """Verify one POST and store it; return None when it was dropped on purpose.

        Raises InboxRejection: 400 for bad JSON or a malformed signature, 401
        when the signature is missing or does not verify, or the signer may not
        speak for the actor, 403 when the actor or its domain is suspended or
        the domain is off the allowlist, 422 for too many recipients, tags or
        attachments, and 429 when the signer's host is over its rate limit.
        Nothing is stored for a rejected request.
        """
        document: Any = None
        try:
            document = parse_body(body)
            return await self._receive(
                method, target, headers, body, document, recipient
            )
        except FederationError as error:
            activity_id = id_of(document) if isinstance(document, dict) else None
            key_id = signature_key_id(method, target, headers)
            raise InboxRejection(error, activity_id, key_id) from error

    async def _receive(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
        document: dict[str, Any],
        recipient: str | None,
    ) -> Accepted | None:
        # The signature header is checked before the activity's fields, so an
        # unsigned request gets 401 whatever its body holds.
        signature = httpsig.parse_signature(method, target, headers)
        activity_id, activity_type, actor_id = _required_fields(document)
        key_id = signature.key_id
        check_limits(document)
        context = (activity_id, activity_type, actor_id, key_id)
        # Checked before the key is fetched, so a suspended domain costs no
        # request to it.
        refused = await self.runtime.domain_policy.rejection(actor_id)
        if refused is not None:
            raise FederationError(403, refused, f"actor {actor_id}")
        if await self.runtime.domain_policy.suspended_actor(actor_id):
            raise FederationError(
                403, f"actor {actor_id} is suspended by this instance", f"actor {actor_id}"
            )

        if _is_unknown_actor_delete(document, activity_type, actor_id) and (
            await self.runtime.resolver.known_actor(actor_id) is None
        ):
            # An actor deleting itself that we never saw: fetching its key would
            # only find a 410, and there is nothing of it to remove.
            log.debug("dropped Delete of unknown actor %s (%s)", actor_id, activity_id)
            return None

        owner = await self._verify(method, target, headers, body, key_id, context)
        self._check_signer(owner, key_id, actor_id)
        self._check_rate(owner)

        item = InboxItem(
            activity_id, activity_type, actor_id, key_id, recipient, body.decode()
        )
        fresh = await self.runtime.inbox_writer.store(item)
        log.debug(
            "stored %s %s from %s (new: %s)",
            activity_type,
            activity_id,
            actor_id,
            fresh,
        )
        return Accepted(activity_id, activity_type, actor_id, not fresh)

    async def _verify(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
        key_id: str,
        context: tuple[str, str, str, str],
    ) -> str:
        resolver = self.runtime.resolver
        settings = self.runtime.settings.federation
        signer = await resolver.public_key(key_id)
        try:
            httpsig.verify_request(
                method,
                target,
                headers,
                body,
                signer.key,
                max_age=settings.signature_max_age,
                max_future=settings.signature_max_future,
                scheme=self.served_scheme,
            )
            return signer.owner
        except FederationError as error:
            # Only a signature that fails against the key can be cured by a
            # fresh key. A stale Date or a wrong digest cannot, and a key
            # fetched for this very request is already fresh.
            if error.message != httpsig.VERIFICATION_FAILED or signer.fetched:
                raise
            # Keys rotate: fetch the owner once more and try again.
            log.info(
                "signature by %s failed, refreshing the key (%s)", key_id, context[0]
            )
        signer = await resolver.public_key(key_id, refresh=True)
        httpsig.verify_request(
            method,
            target,
            headers,
            body,
            signer.key,
            max_age=settings.signature_max_age,
            max_future=settings.signature_max_future,
            scheme=self.served_scheme,
        )
        return signer.owner

    def _check_rate(self, owner: str) -> None:
        # Counted per host of the verified signer, which a sender cannot
        # claim falsely. NOTE: requests that fail before verification (bad
        # JSON, missing or invalid signatures) are not counted here; a limit
        # per client address for those belongs in front of the server.
        host = url_authority(owner)
        wait = self.runtime.inbox_rate.take(host)
        if wait is not None:
            raise RateLimited(host, wait)

    @staticmethod
    def _check_signer(owner: str, key_id: str, actor_id: str) -> None:
        # The signer must be the actor, or an actor on the same host (a server
        # actor relaying for its users, as some peers do for forwarded posts).
        if owner == actor_id:
            return
        if same_host(owner, actor_id):
            return
        raise FederationError(
            401, "signer is not the activity's actor", f"key {key_id} owned by {owner}"
        )
