"""Inbox acceptance, its limits, and the memory of the processes under that load."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import psutil

from bench import common, data, profile
from bench.common import Result, Row
from bench.setup import Setup, inbox_spec, prepare
from bench.sizes import Size
from federation import httpsig


def verify_parse_rate(setup: Setup, samples: int) -> float:
    """Verified and parsed requests per second on this core: the CPU-only floor."""
    signed = []
    public = [httpsig.load_public_key(pem) for pem in setup.public_pems]
    for number in range(samples):
        actor = setup.actors[number % len(setup.actors)]
        body = json.dumps(data.create_note(actor, setup.teacher_actor), separators=(",", ":")).encode()
        headers = {"Content-Type": "application/activity+json"}
        headers |= httpsig.sign_request("POST", f"{setup.url}/inbox", headers, body,
                                        setup.keys[actor.key_index], actor.key_id,
                                        scheme=httpsig.CAVAGE)
        signed.append((headers, body, public[actor.key_index]))
    began = time.perf_counter()
    for headers, body, key in signed:
        json.loads(body)
        httpsig.parse_signature("POST", "/inbox", headers)
        httpsig.verify_request("POST", "/inbox", headers, body, key)
    return samples / (time.perf_counter() - began)


async def start_bare(setup: Setup, cpus: set[int]) -> common.Process:
    port = common.free_port()
    process = common.Process("bare-inbox", common.python_module("bench.bare_inbox", setup.dsn, str(port)),
                             cpus=cpus, cwd=common.ROOT, log_path=setup.directory / "bare.log")
    process.start()
    await process.wait_http(f"http://127.0.0.1:{port}/ready")
    process.address = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    return process


async def start_split(setup: Setup, web_cpus: set[int], worker_cpus: set[int]) -> common.Instance:
    """Start the instance as ``--role web`` on ``web_cpus`` and a ``--role worker``
    process on ``worker_cpus`` at low priority; return the web process."""
    web = common.Instance("pedagogue-web", url=setup.url, port=setup.port, dsn=setup.dsn,
                          directory=setup.directory, cpus=web_cpus)
    web.command += ["--role", "web"]
    setup.instances.append(web)
    await web.start_and_wait()
    worker = common.Instance("pedagogue-worker", url=setup.url, port=common.free_port(),
                             dsn=setup.dsn, directory=setup.directory, cpus=worker_cpus)
    worker.command += ["--role", "worker"]
    setup.instances.append(worker)
    worker.start()
    # The worker shares its core with the load generator, which must not wait for it.
    psutil.Process(worker.pid).nice(10)
    return web


async def run(size: Size, command: str) -> Result:
    result = Result("inbox", "Inbox acceptance", size.name, command)
    server_cpus, load_cpus = common.cores()
    setup = await prepare("inbox", size)
    samples: dict[tuple[str, int], list[dict[str, Any]]] = {}
    try:
        # The limit rows first, on the same core and database.
        pinned_before = common.os.sched_getaffinity(0)
        common.os.sched_setaffinity(0, server_cpus)
        try:
            verify_rates = [verify_parse_rate(setup, size.verify_samples) for _ in range(size.repeats)]
        finally:
            common.os.sched_setaffinity(0, pinned_before)

        bare = await start_bare(setup, server_cpus)
        try:
            for connections in size.connections:
                for _ in range(size.repeats):
                    target = {"signed_url": f"{setup.url}/inbox",
                              "address_url": f"{bare.address}/inbox"}  # type: ignore[attr-defined]
                    spec = inbox_spec(setup, [target], count=size.inbox_requests,
                                      warmup=size.inbox_warmup, connections=connections)
                    outcome = await common.run_loadgen(spec, cpus=load_cpus)
                    samples.setdefault(("bare", connections), []).append(outcome)
        finally:
            bare.stop()

        instance = await start_split(setup, server_cpus, load_cpus)
        for connections in size.connections:
            for _ in range(size.repeats):
                spec = inbox_spec(setup, [setup.inbox_target(instance)], count=size.inbox_requests,
                                  warmup=size.inbox_warmup, connections=connections)
                before = _cpu_seconds(instance.pid)
                outcome = await common.run_loadgen(spec, cpus=load_cpus)
                posts = outcome["requests"] + size.inbox_warmup
                outcome["web_cpu_us"] = (_cpu_seconds(instance.pid) - before) / posts * 1e6
                samples.setdefault(("pedagogue", connections), []).append(outcome)
        if size.name == "full" and profile.available():
            spec = inbox_spec(setup, [setup.inbox_target(instance)], count=size.inbox_requests,
                              warmup=0, connections=16)
            result.extra["profile"] = await profile.profile_during(
                instance.pid, common.run_loadgen(spec, cpus=load_cpus), setup.directory,
                spec["count"],
            )
        stored = await _stored(setup.dsn)
    finally:
        await setup.close()

    result.add(Row("verify + JSON parse alone, one core", "req/s", verify_rates, kind="limit"))
    for connections in size.connections:
        bare_runs = samples[("bare", connections)]
        ours = samples[("pedagogue", connections)]
        bare_label = f"bare verify + INSERT per request, {connections} conn"
        result.add(Row(bare_label, "req/s", [r["rate"] for r in bare_runs], kind="limit"))
        result.add(Row(f"Pedagogue accepted, {connections} conn", "req/s",
                       [r["rate"] for r in ours], limit=bare_label))
        result.add(Row(f"Pedagogue p50, {connections} conn", "ms", [r["p50_ms"] for r in ours],
                       higher_is_better=False))
        result.add(Row(f"Pedagogue p99, {connections} conn", "ms", [r["p99_ms"] for r in ours],
                       higher_is_better=False))
        result.add(Row(f"bare p99, {connections} conn", "ms", [r["p99_ms"] for r in bare_runs],
                       kind="limit", higher_is_better=False))
        result.add(Row(f"web process CPU per POST, {connections} conn", "µs",
                       [r["web_cpu_us"] for r in ours], kind="info", higher_is_better=False))
        result.add(Row(f"load generator CPU share, {connections} conn", "of a core",
                       [r["loadgen_cpu_share"] for r in ours], kind="info"))
        for outcome in ours + bare_runs:
            if outcome["ok"] != outcome["requests"]:
                result.notes.append(
                    f"{connections} conn: {outcome['requests'] - outcome['ok']} of "
                    f"{outcome['requests']} requests not accepted: {outcome['statuses']} "
                    f"{outcome['errors']}"
                )
    result.curves["accepted_vs_connections"] = {
        "x": list(size.connections),
        "series": {
            "Pedagogue": [_median(samples[("pedagogue", c)], "rate") for c in size.connections],
            "bare verify + INSERT per request": [_median(samples[("bare", c)], "rate")
                                                 for c in size.connections],
        },
        "xlabel": "connections", "ylabel": "accepted POSTs per second",
    }
    result.extra["stored"] = stored
    at16 = 16 if 16 in size.connections else size.connections[0]
    rate16 = _median(samples[("pedagogue", at16)], "rate")
    bare16 = _median(samples[("bare", at16)], "rate")
    result.target(f"at least 1,000 accepted/s at {at16} connections, server on one core",
                  rate16, 1000, unit="req/s")
    result.target(f"about twice the bare per-request-commit rate at {at16} connections",
                  rate16 / bare16 if bare16 else None, 2.0, unit="x bare")
    result.target(f"p99 under 50 ms at {at16} connections",
                  _median(samples[("pedagogue", at16)], "p99_ms"), 50, at_most=True, unit="ms")
    result.notes.append(
        "Requests are Create(Note) activities of about 5 KB shaped as Mastodon sends them "
        "(its JSON-LD context, a Mention of the local teacher, two Hashtags, an "
        "RsaSignature2017 block), signed with draft-cavage rsa-sha256 by "
        f"{size.actors} remote actors whose keys are stored before the run "
        f"({size.keys} distinct RSA-2048 keys, each actor with its own key id). They are "
        "signed in the load generator just before each timed run, inside the Date window."
    )
    result.notes.append(
        "Pedagogue runs as two processes on one database: `pedagogue run --role web`, "
        "pinned to the server core, answers the POSTs, and `--role worker`, on the load "
        "generator's core at nice 10, processes the queued Creates while the load runs."
    )
    return result


def _cpu_seconds(pid: int) -> float:
    # The web process's own CPU time. Load from other processes on the shared
    # core stretches the wall-clock figures but not this one.
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def _median(runs: list[dict[str, Any]], key: str) -> float:
    values = sorted(run[key] for run in runs)
    return values[len(values) // 2] if values else 0.0


async def _stored(dsn: str) -> dict[str, int]:
    import asyncpg

    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch("SELECT state, count(*) AS n FROM inbox_queue GROUP BY state")
    finally:
        await connection.close()
    return {row["state"]: row["n"] for row in rows}


async def memory(size: Size, command: str) -> Result:
    """Resident memory idle and under inbox load, beside PostgreSQL's."""
    result = Result("memory", "Memory", size.name, command)
    server_cpus, load_cpus = common.cores()
    setup = await prepare("memory", size)
    try:
        bare = await start_bare(setup, server_cpus)
        await asyncio.sleep(size.settle_seconds)
        bare_idle = common.rss_mib(bare.pid)
        bare.stop()
        (instance,) = await setup.start(1, cpus=[server_cpus])
        await asyncio.sleep(size.settle_seconds)
        idle = [common.rss_mib(instance.pid)]
        postgres_idle = common.postgres_pss_mib()
        spec = inbox_spec(setup, [setup.inbox_target(instance)], count=size.inbox_requests,
                          warmup=0, connections=64)
        with common.Sampler([instance.pid]) as sampler:
            await common.run_loadgen(spec, cpus=load_cpus)
        await asyncio.sleep(size.settle_seconds)
        after = common.rss_mib(instance.pid)
        children = len(__import__("psutil").Process(instance.pid).children(recursive=True))
    finally:
        await setup.close()
    result.add(Row("bare Quart + Hypercorn + asyncpg process, idle", "MiB", [bare_idle], kind="limit",
                   higher_is_better=False))
    result.add(Row("Pedagogue idle", "MiB", idle, limit="bare Quart + Hypercorn + asyncpg process, idle",
                   higher_is_better=False))
    result.add(Row("Pedagogue peak under inbox load (64 conn)", "MiB", [sampler.peak],
                   higher_is_better=False))
    result.add(Row("Pedagogue after the load", "MiB", [after], higher_is_better=False))
    result.add(Row("PostgreSQL (all processes, PSS) idle", "MiB", [postgres_idle], kind="info",
                   higher_is_better=False))
    result.add(Row("PostgreSQL (all processes, PSS) under load", "MiB", [sampler.postgres_peak],
                   kind="info", higher_is_better=False))
    result.target("at most 100 MiB idle for Pedagogue's own processes", idle[0], 100,
                  at_most=True, unit="MiB")
    result.notes.append(
        f"Pedagogue serves Hypercorn in its own process with its workers: {1 + children} "
        "process(es) in all. RSS counts the process and any children; PostgreSQL's figure is "
        "the sum of its processes' PSS, which shares shared buffers out instead of counting "
        "them once per backend."
    )
    return result
