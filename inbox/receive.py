"""The synchronous inbox path: size cap, JSON parse, signature, signer check, store.

Nothing here processes the activity. JSON-LD expansion and every fetch other
than an unknown signer's key happen later, in the workers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from actors.vocabulary import first_id, id_of
from federation import httpsig
from federation.errors import FederationError
from inbox.batch import InboxItem

if TYPE_CHECKING:
    from pedagogue.runtime import Runtime

log = logging.getLogger(__name__)

MAX_JSON_DEPTH = 32
MAX_ID_LENGTH = 2048


@dataclass
class Accepted:
    activity_id: str
    activity_type: str
    actor_id: str
    duplicate: bool


def parse_body(body: bytes) -> dict[str, Any]:
    """Parse an activity; raise FederationError(400) naming what is wrong."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise FederationError(400, "body is not valid JSON", str(error))
    if not isinstance(document, dict):
        raise FederationError(400, "activity must be a JSON object")
    if _depth(document) > MAX_JSON_DEPTH:
        raise FederationError(400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return document


def _depth(value: Any, level: int = 1) -> int:
    # Iterative enough for the cap: stops descending once past the limit.
    if level > MAX_JSON_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level)
    return level


def _required_fields(document: dict[str, Any]) -> tuple[str, str, str]:
    activity_id = id_of(document)
    activity_type = document.get("type")
    actor_id = first_id(document.get("actor"))
    if not activity_id or len(activity_id) > MAX_ID_LENGTH:
        raise FederationError(400, "activity id missing or too long")
    if isinstance(activity_type, list):
        activity_type = next((t for t in activity_type if isinstance(t, str)), None)
    if not isinstance(activity_type, str) or not activity_type:
        raise FederationError(400, "activity type missing")
    if not actor_id:
        raise FederationError(400, "activity actor missing")
    if urlsplit(activity_id).netloc.lower() != urlsplit(actor_id).netloc.lower():
        raise FederationError(400, "activity id and actor are on different hosts")
    return activity_id, activity_type, actor_id


def _is_unknown_actor_delete(document: dict[str, Any], activity_type: str, actor_id: str) -> bool:
    return activity_type == "Delete" and first_id(document.get("object")) == actor_id


class InboxReceiver:
    """Verify and store POSTed activities for the per-actor and shared inboxes."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def receive(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
        recipient: str | None,
    ) -> Accepted | None:
        """Verify one POST and store it; return None when it was dropped on purpose.

        Raises FederationError: 400 for bad JSON or a malformed signature, 401
        when the signature is missing or does not verify, or the signer may not
        speak for the actor.
        """
        document = parse_body(body)
        activity_id, activity_type, actor_id = _required_fields(document)
        signature = httpsig.parse_signature(method, target, headers)
        key_id = signature.key_id
        context = (activity_id, activity_type, actor_id, key_id)

        known = await self.runtime.resolver.known_actor(actor_id)
        if known is None and _is_unknown_actor_delete(document, activity_type, actor_id):
            # An actor deleting itself that we never saw: fetching its key would
            # only find a 410, and there is nothing of it to remove.
            log.debug("dropped Delete of unknown actor %s (%s)", actor_id, activity_id)
            return None

        owner = await self._verify(method, target, headers, body, key_id, context)
        self._check_signer(owner, key_id, actor_id)

        item = InboxItem(activity_id, activity_type, actor_id, key_id, recipient, body.decode())
        fresh = await self.runtime.inbox_writer.store(item)
        log.debug("stored %s %s from %s (new: %s)", activity_type, activity_id, actor_id, fresh)
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
        public_key, owner = await resolver.public_key(key_id)
        try:
            httpsig.verify_request(
                method, target, headers, body, public_key,
                max_age=settings.signature_max_age,
                max_future=settings.signature_max_future,
            )
            return owner
        except FederationError as error:
            # Only a signature that fails against the key can be cured by a
            # fresh key; a stale Date or a wrong digest cannot.
            if error.message != httpsig.VERIFICATION_FAILED:
                raise
            # Keys rotate: fetch the owner once more and try again.
            log.info("signature by %s failed (%s), refreshing key for %s", key_id, error.message, context[0])
        public_key, owner = await resolver.public_key(key_id, refresh=True)
        httpsig.verify_request(
            method, target, headers, body, public_key,
            max_age=settings.signature_max_age,
            max_future=settings.signature_max_future,
        )
        return owner

    @staticmethod
    def _check_signer(owner: str, key_id: str, actor_id: str) -> None:
        # The signer must be the actor, or an actor on the same host (a server
        # actor relaying for its users, as some peers do for forwarded posts).
        if owner == actor_id:
            return
        if urlsplit(owner).netloc.lower() == urlsplit(actor_id).netloc.lower():
            return
        raise FederationError(
            401, "signer is not the activity's actor", f"key {key_id} owned by {owner}"
        )
