"""Finding remote actors, keys and objects: the cache first, then a signed fetch."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urldefrag, urlsplit

import asyncpg

from actors.person import InvalidActor, parse_actor
from actors.vocabulary import id_of
from federation import httpsig, webfinger
from federation.errors import FederationError
from storage import accounts

if TYPE_CHECKING:
    from pedagogue.runtime import Runtime

log = logging.getLogger(__name__)


class Resolver:
    """Look up remote actors and keys, fetching (signed as the instance) on a miss."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        # key id -> (loaded public key, owner actor id). Verifying with a loaded
        # key costs about 25 microseconds; parsing the PEM each time would not.
        self._keys: dict[str, tuple[Any, str]] = {}

    async def fetch(self, url: str) -> Any:
        """GET a remote ActivityPub document signed by the instance actor."""
        runtime = self.runtime
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
            raise FederationError(502, f"unusable actor document at {actor_id}", str(error))
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
        scheme = "http" if self.runtime.settings.allow_http and _looks_local(domain) else "https"
        actor_id = await webfinger.lookup(self.runtime.fetcher, username, domain, scheme)
        return await self.actor(actor_id)

    async def public_key(self, key_id: str, *, refresh: bool = False) -> tuple[Any, str]:
        """Return (loaded public key, owner actor id) for a key id.

        A miss in memory tries the database, then fetches the owner's actor
        document. Raises FederationError(401) when the key cannot be found.
        """
        if not refresh:
            cached = self._keys.get(key_id)
            if cached is not None:
                return cached
            row = await accounts.public_key(self.runtime.pool, key_id)
            if row is not None:
                return self._remember(key_id, row["public_key_pem"], row["actor_id"])
        actor_url = urldefrag(key_id).url
        try:
            await self._fetch_key_owner(key_id, actor_url)
        except FederationError as error:
            raise FederationError(
                401, f"could not fetch key {key_id}", f"{error.message}: {error.cause}"
            )
        row = await accounts.public_key(self.runtime.pool, key_id)
        if row is None:
            raise FederationError(401, f"key {key_id} not found on its actor")
        return self._remember(key_id, row["public_key_pem"], row["actor_id"])

    async def _fetch_key_owner(self, key_id: str, url: str) -> None:
        document = await self.fetch(url)
        owner = id_of(document.get("owner")) if isinstance(document, dict) else None
        # Some servers (GoToSocial) serve a key id as a stub whose owner is the actor.
        if owner and owner != url and "inbox" not in document:
            if urlsplit(owner).netloc.lower() != urlsplit(key_id).netloc.lower():
                raise FederationError(401, f"key {key_id} names an owner on another host")
            await self.fetch_actor(owner)
            return
        try:
            actor = parse_actor(document, fetched_from=url)
        except InvalidActor as error:
            raise FederationError(502, f"unusable actor document at {url}", str(error))
        await accounts.upsert_remote(self.runtime.pool, actor)

    def _remember(self, key_id: str, pem: str, owner: str) -> tuple[Any, str]:
        entry = (httpsig.load_public_key(pem), owner)
        if len(self._keys) > 50_000:
            self._keys.clear()
        self._keys[key_id] = entry
        return entry

    def forget_key(self, key_id: str) -> None:
        self._keys.pop(key_id, None)


def _looks_local(domain: str) -> bool:
    host = domain.split(":")[0]
    return host in ("localhost", "127.0.0.1", "::1") or host.endswith(".localhost")
