"""Read paths: home timeline, actor and object fetches, each beside a bare query."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import asyncpg

from bench import common, data
from bench.common import Result, Row, percentile
from bench.setup import Setup, prepare
from bench.sizes import Size
from storage.pool import create_pool

CHUNK = 100_000
LOCAL_STATUSES = 1000
# The bare timeline query has a statement per paging mode, with no optional
# conditions, so no plan can be worse for an absent cursor.
TIMELINE_FIRST_SQL = (
    "SELECT s.* FROM home_feed h JOIN statuses s ON s.id = h.status_id"
    " WHERE h.account_id = $1 AND s.deleted_at IS NULL"
    " ORDER BY h.status_id DESC LIMIT $2"
)
TIMELINE_BELOW_SQL = (
    "SELECT s.* FROM home_feed h JOIN statuses s ON s.id = h.status_id"
    " WHERE h.account_id = $1 AND s.deleted_at IS NULL"
    " AND h.status_id < $2 AND s.id < $2"
    " ORDER BY h.status_id DESC LIMIT $3"
)
ACTOR_SQL = (
    "SELECT * FROM accounts WHERE domain IS NULL AND lower(username) = lower($1)"
    " AND deleted_at IS NULL"
)
KEY_SQL = "SELECT key_id, public_key_pem FROM account_keys WHERE account_id = $1 ORDER BY created_at LIMIT 1"
STATUS_SQL = "SELECT * FROM statuses WHERE id = $1"


async def load_dataset(setup: Setup, size: Size) -> dict[str, Any]:
    """COPY the statuses, the teacher's follows and her home feed; ANALYZE."""
    began = time.perf_counter()
    rng = random.Random(11)
    followed = setup.remote_ids[: size.followed]
    followed_set = set(followed)
    local_count = min(LOCAL_STATUSES, size.statuses // 10)
    first = int((time.time() - 86400 * 30) * 1000) << 16
    step = (86400 * 30 * 1000 << 16) // size.statuses
    text = data.PARAGRAPH[:400]
    local_ids: list[int] = []
    feed_ids: list[int] = []
    connection = await asyncpg.connect(setup.dsn)
    try:
        await data.follow_all(connection, [setup.teacher_id], followed, first_id=4 * 10**15)
        for start in range(0, size.statuses, CHUNK):
            records = []
            feed = []
            for number in range(start, min(size.statuses, start + CHUNK)):
                status_id = first + number * step
                if number % (size.statuses // local_count) == 0 and len(local_ids) < local_count:
                    author = setup.teacher_id
                    uri = f"{setup.url}/users/teacher/statuses/{status_id}"
                    local = True
                    local_ids.append(status_id)
                else:
                    author = setup.remote_ids[rng.randrange(len(setup.remote_ids))]
                    uri = f"http://remote.bench.test/statuses/{status_id}"
                    local = False
                    if author in followed_set:
                        feed.append((setup.teacher_id, status_id))
                records.append((status_id, uri, author, local, text, "public",
                                [data.PUBLIC], []))
            await connection.copy_records_to_table(
                "statuses", columns=["id", "uri", "account_id", "local", "content", "visibility",
                                     "to_uris", "cc_uris"], records=records,
            )
            await connection.copy_records_to_table(
                "home_feed", columns=["account_id", "status_id"], records=feed,
            )
            feed_ids.extend(status_id for _, status_id in feed)
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    return {"local_ids": local_ids, "feed_ids": feed_ids, "seconds": time.perf_counter() - began}


async def bare(dsn: str, count: int, concurrency: int, query: Any) -> dict[str, float]:
    """Run ``query(connection)`` ``count`` times over ``concurrency`` connections of a
    pool made as the application makes its own (json and jsonb as Python values)."""
    pool = await create_pool(dsn, min_size=concurrency, max_size=concurrency)
    latencies: list[float] = []
    remaining = [count]
    try:
        async def worker() -> None:
            async with pool.acquire() as connection:
                while remaining[0] > 0:
                    remaining[0] -= 1
                    began = time.perf_counter()
                    await query(connection)
                    latencies.append(time.perf_counter() - began)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    finally:
        await pool.close()
    return {"rate": len(latencies) / elapsed, "p50_ms": percentile(latencies, 0.5) * 1000,
            "p99_ms": percentile(latencies, 0.99) * 1000}


def _get_spec(urls: list[str], headers: dict[str, str], count: int, connections: int) -> dict[str, Any]:
    return {"mode": "get", "urls": urls, "headers": headers, "count": count,
            "warmup": min(200, count // 5), "connections": connections}


async def run(size: Size, command: str) -> Result:
    result = Result("reads", "Read paths", size.name, command)
    server_cpus, load_cpus = common.cores()
    setup = await prepare("reads", size, actors=size.accounts - 1, follow_remote=False,
                          keys=data.generate_keys(1))
    rng = random.Random(5)
    runs: dict[str, list[dict[str, float]]] = {}
    try:
        loaded = await load_dataset(setup, size)
        (instance,) = await setup.start(1, cpus=[server_cpus])
        feed = sorted(loaded["feed_ids"], reverse=True)
        # Half the requests read the first page, half a page further down.
        pages: list[int | None] = [None] * 50 + [rng.choice(feed[20:]) for _ in range(50)]
        timeline_urls = [f"{instance.address}/api/v1/timelines/home"
                         + (f"?max_id={page}" if page else "") for page in pages]
        actor_urls = [f"{instance.address}/users/teacher"]
        object_urls = [f"{instance.address}/users/teacher/statuses/{status_id}"
                       for status_id in loaded["local_ids"][:500]]
        activity = {"Accept": "application/activity+json"}
        before = common.os.sched_getaffinity(0)
        for _ in range(size.repeats):
            for connections, key in ((1, "timeline1"), (16, "timeline16")):
                runs.setdefault(key, []).append(await common.run_loadgen(
                    _get_spec(timeline_urls, setup.auth(), size.read_requests, connections),
                    cpus=load_cpus))
            runs.setdefault("actor", []).append(await common.run_loadgen(
                _get_spec(actor_urls, activity, size.read_requests, 16), cpus=load_cpus))
            runs.setdefault("object", []).append(await common.run_loadgen(
                _get_spec(object_urls, activity, size.read_requests, 16), cpus=load_cpus))
            # The bare queries run from this process on the server's core.
            common.os.sched_setaffinity(0, server_cpus)
            try:
                async def timeline(connection: asyncpg.Connection) -> None:
                    page = rng.choice(pages)
                    if page is None:
                        await connection.fetch(TIMELINE_FIRST_SQL, setup.teacher_id, 20)
                    else:
                        await connection.fetch(TIMELINE_BELOW_SQL, setup.teacher_id, page, 20)

                async def actor(connection: asyncpg.Connection) -> None:
                    row = await connection.fetchrow(ACTOR_SQL, "teacher")
                    await connection.fetchrow(KEY_SQL, row["id"])

                async def status(connection: asyncpg.Connection) -> None:
                    await connection.fetchrow(STATUS_SQL, rng.choice(loaded["local_ids"]))

                runs.setdefault("bare_timeline1", []).append(
                    await bare(setup.dsn, size.read_requests, 1, timeline))
                runs.setdefault("bare_timeline16", []).append(
                    await bare(setup.dsn, size.read_requests, 16, timeline))
                runs.setdefault("bare_actor", []).append(await bare(setup.dsn, size.read_requests, 16, actor))
                runs.setdefault("bare_object", []).append(await bare(setup.dsn, size.read_requests, 16, status))
            finally:
                common.os.sched_setaffinity(0, before)
        for key in ("timeline1", "timeline16", "actor", "object"):
            for outcome in runs[key]:
                if outcome["ok"] != outcome["requests"]:
                    result.notes.append(f"{key}: {outcome['requests'] - outcome['ok']} requests "
                                        f"failed: {outcome['statuses']} {outcome['errors']}")
    finally:
        await setup.close()

    def values(key: str, field: str) -> list[float]:
        return [outcome[field] for outcome in runs[key]]

    bare_p50, bare_p99 = "bare query p50, 1 conn", "bare query p99, 1 conn"
    result.add(Row(bare_p50, "ms", values("bare_timeline1", "p50_ms"), kind="limit", higher_is_better=False))
    result.add(Row(bare_p99, "ms", values("bare_timeline1", "p99_ms"), kind="limit", higher_is_better=False))
    result.add(Row("home timeline p50, 1 conn", "ms", values("timeline1", "p50_ms"), limit=bare_p50,
                   higher_is_better=False))
    result.add(Row("home timeline p99, 1 conn", "ms", values("timeline1", "p99_ms"), limit=bare_p99,
                   higher_is_better=False))
    bare16 = "bare timeline query, 16 conn"
    result.add(Row(bare16, "req/s", values("bare_timeline16", "rate"), kind="limit"))
    result.add(Row("home timeline, 16 conn", "req/s", values("timeline16", "rate"), limit=bare16))
    result.add(Row("home timeline p99, 16 conn", "ms", values("timeline16", "p99_ms"),
                   higher_is_better=False))
    bare_actor = "bare actor + key queries, 16 conn"
    result.add(Row(bare_actor, "req/s", values("bare_actor", "rate"), kind="limit"))
    result.add(Row("actor fetches, 16 conn", "req/s", values("actor", "rate"), limit=bare_actor))
    bare_object = "bare status query, 16 conn"
    result.add(Row(bare_object, "req/s", values("bare_object", "rate"), kind="limit"))
    result.add(Row("object (Note) fetches, 16 conn", "req/s", values("object", "rate"), limit=bare_object))
    p99 = sorted(values("timeline1", "p99_ms"))[len(runs["timeline1"]) // 2]
    bare99 = sorted(values("bare_timeline1", "p99_ms"))[len(runs["bare_timeline1"]) // 2]
    result.target("home timeline p99 at most three times the bare query's", p99 / bare99, 3.0,
                  at_most=True, unit="x bare")
    result.extra["dataset"] = {
        "statuses": size.statuses, "accounts": size.accounts, "followed": size.followed,
        "home_feed_rows": len(loaded["feed_ids"]), "local_statuses": len(loaded["local_ids"]),
        "load_seconds": round(loaded["seconds"], 1),
    }
    result.notes.append(
        f"Dataset: {size.statuses:,} statuses by {size.accounts:,} accounts, the teacher following "
        f"{size.followed:,} of them ({len(loaded['feed_ids']):,} rows in her home feed), bulk-loaded "
        f"with COPY in {loaded['seconds']:.0f} s. Timeline requests read 20 statuses: half the first "
        "page, half a page at a random max_id. The bare rows run the same SELECT through asyncpg "
        "from a process on the server's core, without HTTP or rendering; the timeline API renders "
        "each status with its account, mentions, tags, attachments and the viewer's state."
    )
    result.notes.append("Actor and object fetches ask for application/activity+json without a "
                        "signature (Pedagogue serves public objects without authorized fetch).")
    return result
