"""Token buckets behind the rate limits, driven by a clock the test sets."""

from __future__ import annotations

from web.rate_limit import TokenBuckets, retry_after_header


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_burst_then_refuses() -> None:
    buckets = TokenBuckets(1.0, 2, clock=Clock())

    assert buckets.take("a") is None
    assert buckets.take("a") is None
    assert buckets.take("a") == 1.0


def test_bucket_refills_at_rate() -> None:
    clock = Clock()
    buckets = TokenBuckets(2.0, 1, clock=clock)
    buckets.take("a")

    clock.now = 0.5

    assert buckets.take("a") is None


def test_bucket_keys_independent() -> None:
    buckets = TokenBuckets(1.0, 1, clock=Clock())
    buckets.take("a")

    assert buckets.take("b") is None


def test_bucket_table_bounded() -> None:
    buckets = TokenBuckets(1.0, 1, max_keys=2, clock=Clock())
    for key in ("a", "b", "c"):
        buckets.take(key)

    # "a" was dropped as least recently used and comes back full.
    assert buckets.take("a") is None


def test_zero_rate_disables_limit() -> None:
    buckets = TokenBuckets(0.0, 1, clock=Clock())

    assert all(buckets.take("a") is None for _ in range(100))


def test_retry_after_rounds_up_to_whole_seconds() -> None:
    assert retry_after_header(0.2) == "1"
    assert retry_after_header(2.5) == "3"
