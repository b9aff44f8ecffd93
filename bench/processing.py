"""Processing: stored Creates turned into statuses, feeds and notifications by one worker."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import asyncpg

from bench import common, data
from bench.common import Result, Row
from bench.setup import Setup, prepare
from bench.sizes import Size

CHUNK = 5000
POLL = 0.25


async def queue_backlog(setup: Setup, count: int) -> None:
    """COPY ``count`` queued Create(Note) rows into inbox_queue in one transaction."""
    connection = await asyncpg.connect(setup.dsn)
    try:
        async with connection.transaction():
            for start in range(0, count, CHUNK):
                records = []
                for number in range(start, min(count, start + CHUNK)):
                    actor = setup.actors[number % len(setup.actors)]
                    document = data.create_note(actor, setup.teacher_actor)
                    records.append((document["id"], "Create", actor.actor_id, actor.key_id,
                                    json.dumps(document, separators=(",", ":"))))
                await connection.copy_records_to_table(
                    "inbox_queue", columns=["activity_id", "activity_type", "actor_id", "key_id", "body"],
                    records=records,
                )
        await connection.execute("NOTIFY pedagogue_inbox")
    finally:
        await connection.close()


async def drain(dsn: str, total: int, deadline: float) -> tuple[float, int, list[tuple[float, int]]]:
    """Poll until no row is queued or the deadline passes; return (seconds, done, curve)."""
    connection = await asyncpg.connect(dsn)
    began = time.perf_counter()
    curve: list[tuple[float, int]] = []
    try:
        while True:
            queued = await connection.fetchval("SELECT count(*) FROM inbox_queue WHERE state = 'queued'")
            elapsed = time.perf_counter() - began
            curve.append((elapsed, total - queued))
            if queued == 0 or elapsed > deadline:
                return elapsed, total - queued, curve
            await asyncio.sleep(POLL)
    finally:
        await connection.close()


_BARE_CLAIM = (
    "SELECT id, actor_id, body FROM inbox_queue WHERE state = 'queued'"
    " ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED"
)


async def bare_processing(setup: Setup, count: int) -> float:
    """The same writes per activity in one bare transaction each: claim, status,
    mention, two tags, home feed row, notification, done. Returns activities/s."""
    connection = await asyncpg.connect(setup.dsn)
    accounts = {
        row["actor_id"]: row["id"]
        for row in await connection.fetch("SELECT id, actor_id FROM accounts")
    }
    next_id = int(time.time() * 1000) << 16
    began = time.perf_counter()
    try:
        for _ in range(count):
            next_id += 1
            async with connection.transaction():
                row = await connection.fetchrow(_BARE_CLAIM)
                if row is None:
                    break
                document = json.loads(row["body"])
                note = document["object"]
                author = accounts[row["actor_id"]]
                await connection.execute(
                    "INSERT INTO statuses (id, uri, url, account_id, local, content, visibility,"
                    " to_uris, cc_uris, activity_uri) VALUES ($1, $2, $3, $4, false, $5, 'public',"
                    " $6, $7, $8)",
                    next_id, note["id"], note["url"], author, note["content"], note["to"],
                    note["cc"], document["id"],
                )
                await connection.execute(
                    "INSERT INTO mentions (status_id, account_id) VALUES ($1, $2)", next_id,
                    setup.teacher_id,
                )
                await connection.executemany(
                    "INSERT INTO status_tags (status_id, name) VALUES ($1, $2)",
                    [(next_id, tag["name"][1:]) for tag in note["tag"] if tag["type"] == "Hashtag"],
                )
                await connection.execute(
                    "INSERT INTO home_feed (account_id, status_id) VALUES ($1, $2)",
                    setup.teacher_id, next_id,
                )
                await connection.execute(
                    "INSERT INTO notifications (id, account_id, type, from_account_id, status_id)"
                    " VALUES ($1, $2, 'mention', $3, $1)", next_id, setup.teacher_id, author,
                )
                await connection.execute(
                    "UPDATE inbox_queue SET state = 'done', processed_at = now(),"
                    " attempts = attempts + 1 WHERE id = $1", row["id"],
                )
        return count / (time.perf_counter() - began)
    finally:
        await connection.close()


async def _outcome(dsn: str) -> dict[str, Any]:
    connection = await asyncpg.connect(dsn)
    try:
        states = {r["state"]: r["n"] for r in await connection.fetch(
            "SELECT state, count(*) AS n FROM inbox_queue GROUP BY state")}
        return {
            "states": states,
            "statuses": await connection.fetchval("SELECT count(*) FROM statuses"),
            "home_feed": await connection.fetchval("SELECT count(*) FROM home_feed"),
            "notifications": await connection.fetchval("SELECT count(*) FROM notifications"),
            "status_tags": await connection.fetchval("SELECT count(*) FROM status_tags"),
        }
    finally:
        await connection.close()


async def run(size: Size, command: str) -> Result:
    deadline = size.drain_deadline
    result = Result("processing", "Processing", size.name, command)
    server_cpus, _ = common.cores()
    keys = data.generate_keys(size.keys)
    bare_rates = []
    for _ in range(size.repeats):
        bare = await prepare("processing_bare", size, keys=keys)
        try:
            await queue_backlog(bare, size.bare_backlog)
            before = common.os.sched_getaffinity(0)
            common.os.sched_setaffinity(0, server_cpus)
            try:
                bare_rates.append(await bare_processing(bare, size.bare_backlog))
            finally:
                common.os.sched_setaffinity(0, before)
        finally:
            await bare.close()

    setup = await prepare("processing", size, keys=keys)
    try:
        await setup.start(1, cpus=[server_cpus], env={"PEDAGOGUE_FEDERATION__INBOX_WORKERS": "1"})
        await queue_backlog(setup, size.backlog)
        seconds, processed, curve = await drain(setup.dsn, size.backlog, deadline)
        outcome = await _outcome(setup.dsn)
    finally:
        await setup.close()
    rate = processed / seconds if seconds else 0.0
    bare_label = "bare transaction with the same writes, one core"
    result.add(Row(bare_label, "activities/s", bare_rates, kind="limit"))
    result.add(Row("Pedagogue, one inbox worker", "activities/s", [rate], limit=bare_label))
    drained = processed >= size.backlog
    if drained:
        drain_seconds = seconds
    elif rate:
        drain_seconds = size.backlog / rate
    else:
        drain_seconds = float("inf")
    result.add(Row(f"time to drain {size.backlog:,} queued activities", "s", [drain_seconds],
                   higher_is_better=False,
                   note="" if drained else f"extrapolated: {processed:,} processed in {seconds:.0f} s"))
    result.curves["drain"] = {
        "x": [point[0] for point in curve],
        "series": {"processed": [point[1] for point in curve]},
        "xlabel": "seconds", "ylabel": "activities processed", "kind": "line",
    }
    result.extra["outcome"] = outcome
    result.notes.append(
        f"{size.backlog:,} Create(Note) activities (each mentions the local teacher, carries "
        "two hashtags and comes from an actor she follows) are copied into the queue in one "
        "transaction while the instance runs with one inbox worker on one core; the clock "
        "runs from the commit until no row is queued. Outcome: "
        f"{outcome['states']}, {outcome['statuses']:,} statuses, {outcome['home_feed']:,} home "
        f"feed rows, {outcome['notifications']:,} notifications."
    )
    if not drained:
        result.notes.append(f"The drain was stopped after {deadline:.0f} s to bound the run; "
                            "the drain time is extrapolated from the rate.")
    result.notes.append(
        "The limit row runs the same inserts as plain SQL in one transaction per activity from "
        "a single connection on the server's core: no HTML sanitising, no parsing beyond "
        "json.loads, no lookups."
    )
    return result
