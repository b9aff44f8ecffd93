"""Finding remote actors, keys and objects: the cache first, then a signed fetch."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urldefrag

import asyncpg

from actors.person import InvalidActor, parse_actor
from actors.vocabulary import as_list, first_id, has_type, id_of
from federation import httpsig, webfinger
from federation.errors import FederationError
from federation.hosts import same_host
from storage import accounts, statuses

if TYPE_CHECKING:
    from pedagogue.runtime import Runtime

log = logging.getLogger(__name__)

# Seconds between two refreshes of the same key (see Resolver.public_key).
KEY_REFRESH_INTERVAL = 60.0
# Object types that searching by URL fetches and stores: posts, lesson plans
# (Article) and events.
FETCHABLE_OBJECT_TYPES = ("Note", "Article", "Event", "Question")


class SignerKey(NamedTuple):
    """A loaded public key, its owner's actor id, and whether it was just fetched."""

    key: Any
    owner: str
    fetched: bool


class Resolver:
    """Look up remote actors and keys, fetching (signed as the instance) on a miss."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        # Loaded keys by key id. Verifying with a loaded key costs about 25
        # microseconds; parsing the PEM each time would not.
        self._keys: dict[str, SignerKey] = {}
        # key id -> monotonic time of its last refresh, so that a stream of
        # bad signatures naming one key costs its owner one fetch per interval.
        self._refreshed: dict[str, float] = {}

    async def fetch(self, url: str) -> Any:
        """GET a remote ActivityPub document signed by the instance actor.

        Raises FederationError(403) without a request when the host is
        suspended or, in allowlist mode, not listed.
        """
        runtime = self.runtime
        await self.check_domain(url)
        return await runtime.signed.get_json(
            url, key_id=runtime.urls.instance_key, private_key=runtime.instance_key
        )

    async def fetch_actor(self, actor_id: str) -> asyncpg.Record:
        """Fetch an actor document, store it with its keys and return the account.

        Raises FederationError: 404/410 when the actor is gone, 502 when its
        document is unusable or its server unreachable.
        """
        if self.runtime.urls.is_local(actor_id):
            raise FederationError(400, f"{actor_id} is a local actor")
        document = await self.fetch(actor_id)
        try:
            actor = parse_actor(document, fetched_from=actor_id)
        except InvalidActor as error:
            raise FederationError(
                502, f"unusable actor document at {actor_id}", str(error)
            )
        if actor.actor_id != actor_id:
            # The document lives under another id on the same host (a key URL
            # or an alias); trust it only from its own id.
            document = await self.fetch(actor.actor_id)
            try:
                actor = parse_actor(document, fetched_from=actor.actor_id)
            except InvalidActor as error:
                raise FederationError(502, "unusable actor document", str(error))
        row = await accounts.upsert_remote(self.runtime.pool, actor)
        for key_id, _ in actor.keys:
            self._keys.pop(key_id, None)
        log.info("fetched actor %s (%d keys)", actor.actor_id, len(actor.keys))
        return row

    async def actor(self, actor_id: str, *, refresh: bool = False) -> asyncpg.Record:
        """Return the stored account for an actor id, fetching it when unknown."""
        if not refresh:
            row = await accounts.by_actor_id(self.runtime.pool, actor_id)
            if row is not None:
                return row
        return await self.fetch_actor(actor_id)

    async def fetch_object(self, uri: str, reader: Any) -> asyncpg.Record:
        """Fetch a remote post, lesson plan or event by its id, store it as
        its Create would be stored, and return its status row.

        The GET goes through the guarded fetcher, signed with ``reader``'s key,
        so an origin that serves followers-only objects to their addressees
        can serve it. The object is stored without reaching home feeds, because
        nobody was sent it. Raises FederationError: 400 for a local or non-web
        URI, 422 for a document that is not one of FETCHABLE_OBJECT_TYPES,
        is served under another id or is unusable, and the fetch's own error
        when the fetch fails.
        """
        from inbox.handlers import Context, Ignored, create

        runtime = self.runtime
        schemes = (
            ("https://", "http://") if runtime.settings.allow_http else ("https://",)
        )
        if not uri.startswith(schemes) or runtime.urls.is_local(uri):
            raise FederationError(400, f"{uri[:80]} is not a remote https URI")
        await self.check_domain(uri)
        key_id, private_key = runtime.sign_as(reader)
        document = await runtime.signed.get_json(
            uri, key_id=key_id, private_key=private_key
        )
        if not isinstance(document, dict) or id_of(document) != uri:
            # Stored only under the id its origin serves it at, so no host can
            # plant an object under another URI.
            raise FederationError(
                422, f"{uri[:80]} returned a document with another id"
            )
        if not any(has_type(document, kind) for kind in FETCHABLE_OBJECT_TYPES):
            raise FederationError(
                422, f"{uri[:80]} is not a post, lesson plan or event"
            )
        author = first_id(document.get("attributedTo"))
        if not author:
            raise FederationError(422, f"{uri[:80]} has no attributedTo")
        activity = {
            "@context": document.get("@context"),
            "id": uri,
            "type": "Create",
            "actor": author,
            "object": document,
        }
        row = {"activity_id": uri, "actor_id": author, "activity_type": "Create"}
        try:
            async with accounts.transaction(runtime.pool) as connection:
                context = Context(runtime, connection, activity, row)
                await create.handle_create(context, distribute=False)
        except Ignored as error:
            raise FederationError(422, f"{uri[:80]} was not stored", str(error))
        status = await statuses.by_uri(runtime.pool, uri)
        if status is None:
            raise FederationError(422, f"{uri[:80]} was not stored")
        log.info("stored fetched object %s for %s", uri, reader["actor_id"])
        return status

    async def check_domain(self, url: str) -> None:
        """Raise FederationError(403) when the instance does not federate with
        the host of ``url``."""
        refused = await self.runtime.domain_policy.rejection(url)
        if refused is not None:
            log.info("fetch of %s rejected: %s", url[:300], refused)
            raise FederationError(403, refused)

    async def known_actor(self, actor_id: str) -> asyncpg.Record | None:
        return await accounts.by_actor_id(self.runtime.pool, actor_id)

    async def actor_by_handle(self, username: str, domain: str) -> asyncpg.Record:
        """Find ``username@domain`` locally or through the remote WebFinger."""
        domain = domain.lower()
        if domain == self.runtime.settings.domain:
            row = await accounts.local_by_username(self.runtime.pool, username)
            if row is None:
                raise FederationError(404, f"no account @{username}")
            return row
        row = await accounts.by_handle(self.runtime.pool, username, domain)
        if row is not None:
            return row
        await self.check_domain(domain)
        scheme = (
            "http"
            if self.runtime.settings.allow_http and _looks_local(domain)
            else "https"
        )
        actor_id = await webfinger.lookup(
            self.runtime.fetcher, username, domain, scheme
        )
        return await self.actor(actor_id)

    async def public_key(self, key_id: str, *, refresh: bool = False) -> SignerKey:
        """Return the loaded public key of a key id, with its owner's actor id.

        A miss in memory tries the database, then fetches the owner's actor
        document. ``refresh`` skips both caches, at most once per key in
        KEY_REFRESH_INTERVAL; a repeat within it returns the cached key. Keys of
        local actors are never fetched. Raises FederationError(401) when the key
        cannot be found.
        """
        if refresh and not self._may_refresh(key_id):
            refresh = False
            log.info("key %s was refreshed recently; not fetching it again", key_id)
        if not refresh:
            cached = self._keys.get(key_id)
            if cached is not None:
                return cached
            row = await accounts.public_key(self.runtime.pool, key_id)
            if row is not None:
                return self._remember(key_id, row["public_key_pem"], row["actor_id"])
        if self.runtime.urls.is_local(key_id):
            raise FederationError(401, f"key {key_id} not found on this instance")
        try:
            await self._fetch_key_owner(key_id, urldefrag(key_id).url)
        except FederationError as error:
            raise FederationError(
                401, f"could not fetch key {key_id}", f"{error.message}: {error.cause}"
            )
        row = await accounts.public_key(self.runtime.pool, key_id)
        if row is None:
            raise FederationError(401, f"key {key_id} not found on its actor")
        entry = self._remember(key_id, row["public_key_pem"], row["actor_id"])
        return entry._replace(fetched=True)

    async def _fetch_key_owner(self, key_id: str, url: str) -> None:
        document = await self.fetch(url)
        if not isinstance(document, dict):
            raise FederationError(502, f"key document at {url} is not a JSON object")
        if "inbox" in document:
            try:
                actor = parse_actor(document, fetched_from=url)
            except InvalidActor as error:
                raise FederationError(
                    502, f"unusable actor document at {url}", str(error)
                )
            await accounts.upsert_remote(self.runtime.pool, actor)
            return
        # Not a full actor: a Key document naming its owner, or (GoToSocial) a
        # stub of the actor that holds only the key. The owner's own document
        # is the one to trust.
        owner = _key_owner(document, key_id)
        if owner is None:
            raise FederationError(502, f"key document at {url} names no owner")
        if not same_host(owner, key_id):
            raise FederationError(401, f"key {key_id} names an owner on another host")
        await self.fetch_actor(owner)

    def _may_refresh(self, key_id: str) -> bool:
        now = time.monotonic()
        last = self._refreshed.get(key_id)
        if last is not None and now - last < KEY_REFRESH_INTERVAL:
            return False
        if len(self._refreshed) > 50_000:
            self._refreshed.clear()
        self._refreshed[key_id] = now
        return True

    def _remember(self, key_id: str, pem: str, owner: str) -> SignerKey:
        entry = SignerKey(httpsig.load_public_key(pem), owner, fetched=False)
        if len(self._keys) > 50_000:
            self._keys.clear()
        self._keys[key_id] = entry
        return entry

    def forget_key(self, key_id: str) -> None:
        self._keys.pop(key_id, None)


def _looks_local(domain: str) -> bool:
    host = domain.split(":")[0]
    return host in ("localhost", "127.0.0.1", "::1") or host.endswith(".localhost")


def _key_owner(document: dict[str, Any], key_id: str) -> str | None:
    """Return the actor that a key document names as the key's owner."""
    owner = id_of(document.get("owner"))
    if owner:
        return owner
    for key in as_list(document.get("publicKey")):
        if isinstance(key, dict) and key.get("id") == key_id:
            return id_of(key.get("owner")) or id_of(document)
    return None
