"""Fan-out: one teacher's post delivered to followers on many hosts, and the signing limit."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import psutil

from bench import common, data
from bench.common import Result, Row
from bench.setup import Setup, prepare
from bench.sizes import Size
from federation import httpsig

DELIVERY_TIMEOUT = 180.0


def sign_rate(seconds: float) -> tuple[float, float]:
    """RSA-2048 PKCS#1 v1.5 signatures per second on the current core.

    Returns the rate by the wall clock and by this process's CPU time. On a
    shared core the second is the steadier figure for the limit.
    """
    key = data.generate_keys(1)[0]
    message = b"x" * 300
    count = 0
    began, began_cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() - began < seconds:
        for _ in range(50):
            httpsig._sign_with(key, message)
        count += 50
    cpu = time.process_time() - began_cpu
    return count / (time.perf_counter() - began), count / cpu if cpu else 0.0


def host_of(index: int, port: int) -> str:
    return f"h{index:04d}.bench.test:{port}"


async def prepare_fanout(purpose: str, size: Size) -> tuple[Setup, int, Path]:
    """A teacher followed by one actor on each of ``size.hosts`` hosts."""
    remote_port = common.free_port()
    setup = await prepare(purpose, size, actors=size.hosts, follow_remote=False,
                          base=lambda index: f"http://{host_of(index, remote_port)}")
    connection = await asyncpg.connect(setup.dsn)
    try:
        await data.follow_all(connection, setup.remote_ids, [setup.teacher_id], first_id=3 * 10**15)
    finally:
        await connection.close()
    host_map = "\n".join(f'"h{index:04d}.bench.test" = "127.0.0.1"' for index in range(size.hosts))
    config = setup.directory / "fanout.toml"
    # delivery_concurrency is left at its default, so the figures are the shipped setting's.
    config.write_text(f"[federation.host_map]\n{host_map}\n")
    return setup, remote_port, config


async def start_remote(setup: Setup, port: int, cpus: set[int] | None,
                       actors: dict[str, Any] | None = None,
                       keys: dict[str, str] | None = None) -> common.Process:
    config = setup.directory / f"remote-{port}.json"
    config.write_text(json.dumps({
        "actors": actors or {},
        "keys": keys if keys is not None else {setup.teacher_key_id: setup.teacher_public_pem},
    }))
    process = common.Process("remote", common.python_module("bench.remote", str(config), str(port)),
                             cpus=cpus, cwd=common.ROOT, log_path=setup.directory / "remote.log")
    process.start()
    await process.wait_http(f"http://127.0.0.1:{port}/_stats")
    return process


async def post_and_wait(setup: Setup, instance: common.Instance, remote_port: int,
                        expected: int, number: int) -> dict[str, Any]:
    """Post a public status; wait until every follower host has acknowledged it."""
    stats_url = f"http://127.0.0.1:{remote_port}/_stats"
    async with aiohttp.ClientSession() as session:
        async with session.get(stats_url) as response:
            seen = set((await response.json())["activities"])
        began = time.time()
        async with session.post(f"{instance.address}/api/v1/statuses", headers=setup.auth(),
                                json={"status": f"Benchmark post {number} #fanout",
                                      "visibility": "public"}) as response:
            if response.status != 200:
                raise RuntimeError(f"posting answered {response.status}: {await response.text()}")
        deadline = time.monotonic() + DELIVERY_TIMEOUT
        while True:
            async with session.get(stats_url) as response:
                stats = await response.json()
            fresh = {key: value for key, value in stats["activities"].items() if key not in seen}
            entry = next(iter(fresh.values()), None)
            if entry and entry["count"] >= expected:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {entry and entry['count']} of {expected} deliveries "
                                   f"acknowledged in {DELIVERY_TIMEOUT:.0f} s; rejected: {stats['bad']} "
                                   f"{stats['errors']}")
            await asyncio.sleep(0.05)
    seconds = entry["last"] - began
    return {"seconds": seconds, "rate": entry["count"] / seconds, "count": entry["count"],
            "hosts": entry["hosts"], "rejected": stats["bad"], "errors": stats["errors"]}


async def measure(size: Size, processes: int, server_cpus: list[set[int] | None],
                  remote_cpus: set[int] | None) -> list[dict[str, Any]]:
    setup, remote_port, config = await prepare_fanout(f"fanout{processes}", size)
    remote = None
    try:
        remote = await start_remote(setup, remote_port, remote_cpus)
        instances = await setup.start(processes, cpus=server_cpus, config=config)
        runs = []
        for number in range(size.posts):
            before = _cpu_seconds(instances)
            run = await post_and_wait(setup, instances[0], remote_port, size.hosts, number)
            run["cpu_us"] = (_cpu_seconds(instances) - before) / run["count"] * 1e6
            runs.append(run)
        return runs
    finally:
        if remote is not None:
            remote.stop()
        await setup.close()


def _cpu_seconds(instances: list[common.Instance]) -> float:
    # CPU time of the instance processes. On a shared machine it is steadier
    # than the wall-clock rate, which waits whenever another process has the core.
    total = 0.0
    for instance in instances:
        times = psutil.Process(instance.pid).cpu_times()
        total += times.user + times.system
    return total


async def run(size: Size, command: str) -> Result:
    result = Result("fanout", "Fan-out", size.name, command)
    server_cpus, load_cpus = common.cores()
    before = common.os.sched_getaffinity(0)
    common.os.sched_setaffinity(0, server_cpus)
    try:
        rates = [sign_rate(size.sign_seconds) for _ in range(size.repeats)]
    finally:
        common.os.sched_setaffinity(0, before)
    signing = [wall for wall, _ in rates]
    runs = await measure(size, 1, [server_cpus], load_cpus)
    limit = "RSA-2048 signatures, one core"
    cpu_limit = "RSA-2048 signatures per CPU-second"
    result.add(Row(limit, "sig/s", signing, kind="limit"))
    result.add(Row(cpu_limit, "sig/s", [cpu for _, cpu in rates], kind="limit"))
    result.add(Row(f"deliveries to {size.hosts:,} hosts, all posts", "deliveries/s",
                   [r["rate"] for r in runs], limit=limit))
    result.add(Row("deliveries/s, first post (fresh hosts)", "deliveries/s", [runs[0]["rate"]],
                   limit=limit))
    if len(runs) > 1:
        result.add(Row("deliveries/s, later posts (hosts known)", "deliveries/s",
                       [r["rate"] for r in runs[1:]], limit=limit))
    result.add(Row("instance CPU per delivery", "µs", [r["cpu_us"] for r in runs],
                   kind="info", higher_is_better=False))
    result.add(Row("deliveries per CPU-second of the instance", "deliveries/s",
                   [1e6 / r["cpu_us"] for r in runs], limit=cpu_limit))
    result.add(Row(f"time until all {size.hosts:,} deliveries acknowledged", "s",
                   [r["seconds"] for r in runs], higher_is_better=False))
    rates = sorted(r["rate"] for r in runs)
    sign_median = sorted(signing)[len(signing) // 2]
    result.target("at least 70% of the signing limit per core",
                  rates[len(rates) // 2] / sign_median, 0.7, unit="of the limit")
    rejected = max(r["rejected"] for r in runs)
    result.notes.append(
        f"The teacher's {size.hosts:,} followers each sit on their own host "
        "(h0000.bench.test ...), mapped to 127.0.0.1 by federation.host_map, so every "
        "delivery opens its own connection as it would across the network. One process "
        "on the other core serves all the hosts' shared inboxes and verifies every "
        f"signature before answering 202 ({rejected} rejected). The clock runs from the "
        "client API POST until the last delivery is acknowledged; each post is one sample."
    )
    result.extra["runs"] = runs
    return result
