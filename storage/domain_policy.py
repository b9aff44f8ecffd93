"""The in-memory copy of domain blocks and allows, and of suspended remote
actors, checked on every inbox POST, delivery and fetch.

Each process keeps the two tables and the actor ids in memory, so a check is a
few dictionary lookups. A change made through ``storage.moderation`` sends a
NOTIFY that empties the copy of every process listening on the database, and
the process that made the change also empties its own at once. Suspending or
reinstating a remote account sends the same NOTIFY from a trigger (storage
migration 0021). A process whose listening connection is lost still reloads
after RELOAD_SECONDS.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import asyncpg

from federation.hosts import split_authority, url_authority
from storage.moderation import POLICY_CHANNEL

if TYPE_CHECKING:
    from pedagogue.runtime import Runtime

log = logging.getLogger(__name__)

RELOAD_SECONDS = 60.0


@dataclass(frozen=True)
class DomainRule:
    severity: str
    reject_media: bool
    reject_reports: bool


def host_of(url_or_host: str) -> str:
    """Return the normalised ``host[:port]`` of a URL, or of a bare host
    (see federation.hosts)."""
    return url_authority(url_or_host)


def domain_candidates(host: str) -> list[str]:
    """Return the names a domain block or allow may be keyed by for ``host``:
    the host with its port, the host name and each of its parent domains.

    The host is normalised first (lower case, no trailing dot, IDNA ASCII), as
    stored blocks are, so ``Blocked.test.`` matches a block of ``blocked.test``.
    """
    name, port = split_authority(host)
    candidates = [f"{name}:{port}"] if port else []
    labels = name.split(".")
    candidates += [".".join(labels[index:]) for index in range(len(labels) - 1)]
    if len(labels) == 1:
        candidates.append(name)
    return candidates


class DomainPolicy:
    """Decides from a cached copy whether the instance federates with a host."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.mode = runtime.settings.federation.federation_mode
        self._local = runtime.settings.domain
        self._rules: dict[str, DomainRule] = {}
        self._allowed: frozenset[str] = frozenset()
        self._suspended_actors: frozenset[str] = frozenset()
        self._loaded_at: float | None = None
        # Counts invalidations, so a load that raced one is not kept as fresh.
        self._generation = 0
        self._lock = asyncio.Lock()
        self._listener: asyncpg.Connection | None = None

    def invalidate(self, *_: object) -> None:
        """Drop the cached copy; the next check reloads it."""
        self._generation += 1
        self._loaded_at = None

    async def close(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            await self._listener.close()
        self._listener = None

    async def rule(self, host: str) -> DomainRule | None:
        """Return the strongest domain block that applies to ``host``, if any."""
        await self._fresh()
        found = [self._rules[name] for name in domain_candidates(host) if name in self._rules]
        if not found:
            return None
        order = {"suspend": 0, "silence": 1, "noop": 2}
        strongest = min(found, key=lambda rule: order[rule.severity])
        return DomainRule(
            strongest.severity,
            any(rule.reject_media for rule in found),
            any(rule.reject_reports for rule in found),
        )

    async def rejection(self, url_or_host: str) -> str | None:
        """Return why nothing is exchanged with the host of ``url_or_host``, or
        None when it may federate: a suspension, or allowlist mode without the
        host on the list. This instance's own host is never rejected."""
        host = host_of(url_or_host)
        if not host or host == self._local:
            return None
        rule = await self.rule(host)
        if rule is not None and rule.severity == "suspend":
            return f"domain {host} is suspended by this instance"
        if self.mode == "allowlist" and not self._allowed.intersection(
            domain_candidates(host)
        ):
            return f"domain {host} is not on this instance's allowlist"
        return None

    async def suspended_actor(self, actor_id: str) -> bool:
        """Return True when a moderator suspended the remote actor ``actor_id``."""
        await self._fresh()
        return actor_id in self._suspended_actors

    async def load(self) -> None:
        """Reload the copy when it is stale, so that the ``cached_*`` checks,
        which cannot wait for a query, read current rules."""
        await self._fresh()

    def cached_rejects_media(self, domain: str | None) -> bool:
        """Return True when media from the account domain ``domain`` are not
        shown, from the copy as last loaded; None is this instance.

        Callers in async code call ``load`` first. A copy never loaded yet
        has no rules and rejects nothing.
        """
        if not domain:
            return False
        found = [
            self._rules[name] for name in domain_candidates(domain) if name in self._rules
        ]
        return any(rule.reject_media or rule.severity == "suspend" for rule in found)

    async def silenced(self, url_or_host: str) -> bool:
        rule = await self.rule(host_of(url_or_host))
        return rule is not None and rule.severity == "silence"

    async def rejects_media(self, url_or_host: str) -> bool:
        # Posts received after the block arrive without media. Media stored
        # before it, and avatars and headers, are hidden when shown instead
        # (cached_rejects_media, used by web/presenters.py).
        rule = await self.rule(host_of(url_or_host))
        return rule is not None and (rule.reject_media or rule.severity == "suspend")

    async def rejects_reports(self, url_or_host: str) -> bool:
        rule = await self.rule(host_of(url_or_host))
        return rule is not None and rule.reject_reports

    async def _fresh(self) -> None:
        loaded = self._loaded_at
        if loaded is not None and time.monotonic() - loaded < RELOAD_SECONDS:
            return
        async with self._lock:
            if self._loaded_at is not None and time.monotonic() - self._loaded_at < RELOAD_SECONDS:
                return
            await self._listen()
            await self._load()

    async def _load(self) -> None:
        pool = self.runtime.pool
        generation = self._generation
        started = time.monotonic()
        blocks = await pool.fetch(
            "SELECT domain, severity, reject_media, reject_reports FROM domain_blocks"
        )
        allows = await pool.fetch("SELECT domain FROM domain_allows")
        suspended = await pool.fetch(
            "SELECT actor_id FROM accounts"
            " WHERE domain IS NOT NULL AND suspended_at IS NOT NULL"
        )
        self._rules = {
            row["domain"]: DomainRule(row["severity"], row["reject_media"], row["reject_reports"])
            for row in blocks
        }
        self._allowed = frozenset(row["domain"] for row in allows)
        self._suspended_actors = frozenset(row["actor_id"] for row in suspended)
        # A NOTIFY that arrived during the reads leaves the copy stale, so it
        # is used for this check but loaded again for the next one.
        if generation == self._generation:
            self._loaded_at = started
        log.debug(
            "loaded %d domain blocks, %d allowed domains and %d suspended"
            " remote actors (mode %s)",
            len(self._rules),
            len(self._allowed),
            len(self._suspended_actors),
            self.mode,
        )

    async def _listen(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        try:
            self._listener = await asyncpg.connect(self.runtime.dsn)
            await self._listener.add_listener(POLICY_CHANNEL, self.invalidate)
        except (OSError, asyncpg.PostgresError) as error:
            # Changes made by other processes then show after RELOAD_SECONDS.
            log.warning("cannot listen for domain policy changes: %s", error)
            self._listener = None
