"""The two sizes of the suite: ``small`` for CI (about a minute), ``full`` by hand."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Size:
    name: str
    repeats: int
    actors: int
    keys: int
    # Inbox
    inbox_requests: int
    inbox_warmup: int
    connections: tuple[int, ...]
    verify_samples: int
    # Processing
    backlog: int
    bare_backlog: int
    # Fan-out
    hosts: int
    posts: int
    sign_seconds: float
    # Read paths
    statuses: int
    accounts: int
    followed: int
    read_requests: int
    # Lesson-plan search
    plans: int
    search_requests: int
    # Side by side
    peer: bool
    peer_requests: int
    # Bounds on the time a run takes
    drain_deadline: float = 420.0
    settle_seconds: float = 3.0


SMALL = Size(
    name="small", repeats=1, actors=40, keys=2,
    inbox_requests=300, inbox_warmup=40, connections=(16, 64), verify_samples=300,
    backlog=300, bare_backlog=150,
    hosts=40, posts=1, sign_seconds=0.3,
    statuses=5_000, accounts=300, followed=30, read_requests=200,
    plans=2_000, search_requests=100,
    peer=False, peer_requests=100, drain_deadline=60.0, settle_seconds=1.0,
)

FULL = Size(
    name="full", repeats=3, actors=1000, keys=32,
    inbox_requests=5000, inbox_warmup=1000, connections=(4, 16, 64), verify_samples=3000,
    backlog=100_000, bare_backlog=5_000,
    hosts=1000, posts=3, sign_seconds=2.0,
    statuses=1_000_000, accounts=10_000, followed=1000, read_requests=1000,
    plans=100_000, search_requests=300,
    peer=True, peer_requests=400, drain_deadline=150.0,
)

SIZES = {"small": SMALL, "full": FULL}
