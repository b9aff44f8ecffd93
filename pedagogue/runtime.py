"""The running instance: settings, database pool, HTTP clients, keys and workers."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg

from actors.keys import PrivateKeyCache, generate_key_pair
from actors.urls import LocalUrls
from federation.fetch import Fetcher, FetchPolicy
from federation.signed import SchemeMemory, SignedClient
from pedagogue import __version__
from pedagogue.config import Settings
from storage import accounts
from storage.pool import create_pool

log = logging.getLogger(__name__)

INSTANCE_ACTOR_USERNAME = "instance.actor"


def _user_agent(settings: Settings) -> str:
    contact = settings.federation.user_agent_contact
    suffix = f"; {contact}" if contact else ""
    return f"Pedagogue/{__version__} (+{settings.base_url}/{suffix})"


class Runtime:
    """Everything a request handler or worker needs, created once per process."""

    def __init__(self, settings: Settings, dsn: str) -> None:
        self.settings = settings
        self.dsn = dsn
        self.urls = LocalUrls(settings.base_url)
        self.pool: asyncpg.Pool = None  # type: ignore[assignment]
        federation = settings.federation
        self.fetcher = Fetcher(
            FetchPolicy(
                allow_http=settings.allow_http,
                allow_private=settings.allow_private,
                host_map={k.lower(): v for k, v in federation.host_map.items()},
                ca_file=federation.ca_file or None,
                connect_timeout=federation.connect_timeout,
                read_timeout=federation.read_timeout,
                total_timeout=federation.request_timeout,
                max_response_bytes=federation.max_response_bytes,
                user_agent=_user_agent(settings),
            )
        )
        self.schemes = SchemeMemory()
        self.signed = SignedClient(self.fetcher, self.schemes)
        self.private_keys = PrivateKeyCache()
        self.instance_account: asyncpg.Record | None = None
        self.instance_key: Any = None
        self.inbox_wakeup = asyncio.Event()
        self.delivery_wakeup = asyncio.Event()
        from web.rate_limit import TokenBuckets

        self.inbox_rate = TokenBuckets(
            federation.inbox_rate_per_host, federation.inbox_burst_per_host
        )
        self.api_write_rate = TokenBuckets(
            settings.web.api_write_rate, settings.web.api_write_burst
        )
        from pedagogue.resolve import Resolver

        self.resolver = Resolver(self)
        from storage.domain_policy import DomainPolicy

        self.domain_policy = DomainPolicy(self)
        self.inbox_writer: Any = None

    async def start(self) -> None:
        """Open the pool, load host memory and make sure the instance actor exists."""
        database = self.settings.database
        self.pool = await create_pool(
            self.dsn, min_size=database.pool_min, max_size=database.pool_max
        )
        rows = await self.pool.fetch(
            "SELECT host, signature_scheme FROM hosts WHERE signature_scheme IS NOT NULL"
        )
        for row in rows:
            self.schemes._schemes[row["host"]] = row["signature_scheme"]
        self.schemes.listener = self._store_scheme
        await self._load_instance_actor()
        from inbox.batch import InboxWriter

        self.inbox_writer = InboxWriter(self)
        self.inbox_writer.start()

    async def stop(self) -> None:
        """Flush pending inbox writes and close connections."""
        if self.inbox_writer is not None:
            await self.inbox_writer.stop()
        await self.domain_policy.close()
        await self.fetcher.close()
        if self.pool is not None:
            await self.pool.close()

    async def _store_scheme(self, host: str, scheme: str) -> None:
        await self.pool.execute(
            "INSERT INTO hosts (host, signature_scheme) VALUES ($1, $2)"
            " ON CONFLICT (host) DO UPDATE SET signature_scheme = EXCLUDED.signature_scheme",
            host,
            scheme,
        )

    async def _load_instance_actor(self) -> None:
        row = await accounts.by_actor_id(self.pool, self.urls.instance_actor)
        if row is None:
            private_pem, public_pem = generate_key_pair()
            try:
                row = await accounts.create_local(
                    self.pool,
                    username=INSTANCE_ACTOR_USERNAME,
                    actor_id=self.urls.instance_actor,
                    key_id=self.urls.instance_key,
                    private_key_pem=private_pem,
                    public_key_pem=public_pem,
                    display_name=self.settings.domain,
                    actor_type="Application",
                    urls={
                        "inbox": f"{self.urls.instance_actor}/inbox",
                        "shared_inbox": self.urls.shared_inbox,
                    },
                )
                log.info("created instance actor %s", self.urls.instance_actor)
            except asyncpg.UniqueViolationError:
                # Another process sharing the database created it first.
                row = await accounts.by_actor_id(self.pool, self.urls.instance_actor)
        assert row is not None
        self.instance_account = row
        self.instance_key = self.private_keys.get(row["id"], row["private_key_pem"])

    def private_key(self, account: Any) -> Any:
        """Return the loaded private key of a local account."""
        return self.private_keys.get(account["id"], account["private_key_pem"])

    def sign_as(self, account: Any) -> tuple[str, Any]:
        """Return (key id, loaded private key) for signing as a local account."""
        if account["actor_type"] == "Application":
            return self.urls.instance_key, self.instance_key
        return self.urls.key(account["username"]), self.private_key(account)

