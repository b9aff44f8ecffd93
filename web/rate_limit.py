"""In-memory token buckets for rate limits per remote host and per account.

Each key (a remote host, an account id) has a bucket of ``burst`` tokens that
refills at ``rate`` tokens per second. A request takes one token, and a request
that finds the bucket empty gets a 429 response with the seconds until a token
is back as ``Retry-After`` (RFC 9110, section 10.2.3).

The buckets live in one process. With several server processes each keeps its
own, so the effective limit is the configured one times the process count.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

MAX_KEYS = 10_000
"""Buckets kept at once. The least recently used bucket is dropped beyond this,
so a sender that invents host names cannot grow the table without bound. A
dropped bucket comes back full, which only errs towards letting requests in."""


class TokenBuckets:
    """Token buckets keyed by a string, refilled continuously.

    A ``rate`` of 0 or less turns the limit off: ``take`` then always succeeds.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_keys: int = MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self.max_keys = max_keys
        self._clock = clock
        # key -> (tokens left, time of the last refill)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, key: str) -> float | None:
        """Take one token for ``key``; return None, or the seconds to wait.

        The wait is the time until the bucket contains one token again.
        """
        if not self.enabled:
            return None
        now = self._clock()
        tokens, last = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._store(key, tokens - 1.0, now)
            return None
        self._store(key, tokens, now)
        return (1.0 - tokens) / self.rate

    def _store(self, key: str, tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)


def retry_after_header(wait: float) -> str:
    """Return ``wait`` seconds as a Retry-After value: whole seconds, at least 1."""
    return str(max(1, math.ceil(wait)))
