"""The load generator: its own process, a JSON spec on stdin, a JSON result on stdout.

Two modes. ``inbox`` signs Create(Note) POSTs as the remote actors (draft-cavage
over (request-target), host, date and digest, as Mastodon signs) and sends them
over N keep-alive connections. The requests are signed just before the timed
phase, well inside the receiver's Date window, so that signing on this core does
not throttle the sender. ``get`` fetches a list of URLs over N connections.
Latency is measured here, from sending the request to reading the whole answer.
"""

from __future__ import annotations

import asyncio
import json
import random
import resource
import sys
import time
from typing import Any

import aiohttp

from bench.common import percentile
from bench.data import RemoteActor, create_note
from federation import httpsig

ACTIVITY_JSON = "application/activity+json"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def presign(spec: dict[str, Any], total: int) -> list[list[tuple[str, dict[str, str], bytes]]]:
    """Sign ``total`` POSTs; return one list per target."""
    keys = [httpsig.load_private_key(pem) for pem in spec["key_pems"]]
    actors = [RemoteActor(**actor) for actor in spec["actors"]]
    targets = spec["targets"]
    per_target: list[list[tuple[str, dict[str, str], bytes]]] = [[] for _ in targets]
    for number in range(total):
        actor = actors[number % len(actors)]
        target = targets[number % len(targets)]
        body = json.dumps(
            create_note(actor, spec.get("teacher"), size=spec.get("note_size", 5000)),
            separators=(",", ":"),
        ).encode()
        headers = {"Content-Type": ACTIVITY_JSON, "Accept": ACTIVITY_JSON}
        headers |= httpsig.sign_request(
            "POST", target["signed_url"], headers, body, keys[actor.key_index],
            actor.key_id, scheme=httpsig.CAVAGE,
        )
        per_target[number % len(targets)].append((target["address_url"], headers, body))
    return per_target


async def _drive(work: list[list[Any]], connections: int, send: Any) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors: list[str] = []
    connector = aiohttp.TCPConnector(limit=connections, limit_per_host=connections)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout,
                                     auto_decompress=False) as session:

        async def worker(queue: list[Any]) -> None:
            while queue:
                item = queue.pop()
                began = time.perf_counter()
                try:
                    status = await send(session, item)
                except (aiohttp.ClientError, TimeoutError) as error:
                    errors.append(repr(error)[:200])
                    continue
                latencies.append(time.perf_counter() - began)
                statuses[str(status)] = statuses.get(str(status), 0) + 1

        cpu = _cpu()
        began = time.perf_counter()
        await asyncio.gather(*(worker(work[w % len(work)]) for w in range(connections)))
        elapsed = time.perf_counter() - began
        cpu = _cpu() - cpu
    ok = sum(n for code, n in statuses.items() if code.startswith("2"))
    return {
        "requests": len(latencies) + len(errors),
        "ok": ok,
        "statuses": statuses,
        "errors": errors[:5],
        "error_count": len(errors),
        "elapsed": elapsed,
        "rate": ok / elapsed if elapsed else 0.0,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "loadgen_cpu_share": cpu / elapsed if elapsed else 0.0,
    }


async def _post(session: aiohttp.ClientSession, item: Any) -> int:
    url, headers, body = item
    async with session.post(url, data=body, headers=headers) as response:
        await response.read()
        return response.status


async def _get(session: aiohttp.ClientSession, item: Any) -> int:
    url, headers = item
    async with session.get(url, headers=headers) as response:
        await response.read()
        return response.status


async def run_inbox(spec: dict[str, Any]) -> dict[str, Any]:
    warmup, count = spec.get("warmup", 0), spec["count"]
    began = time.perf_counter()
    signed = presign(spec, warmup + count)
    sign_seconds = time.perf_counter() - began
    connections = spec["connections"]
    if warmup:
        # The first requests of a run open connections and fill the key caches.
        head = [queue[: max(1, warmup // len(signed))] for queue in signed]
        signed = [queue[len(h):] for queue, h in zip(signed, head)]
        await _drive(head, connections, _post)
    result = await _drive(signed, connections, _post)
    result["sign_seconds"] = sign_seconds
    return result


async def run_get(spec: dict[str, Any]) -> dict[str, Any]:
    """GET random URLs from ``urls``; with ``signers``, each request is signed
    (draft-cavage over (request-target), host and date) as a random actor, the way
    servers fetch from peers that require signed fetches."""
    rng = random.Random(7)
    urls = spec["urls"]
    headers = spec.get("headers", {})
    connections = spec["connections"]
    signers = spec.get("signers")
    keys = [httpsig.load_private_key(pem) for pem in spec.get("key_pems", [])]
    actors = [RemoteActor(**actor) for actor in signers or []]

    def item(url: Any) -> tuple[str, dict[str, str]]:
        if isinstance(url, str):
            return url, headers
        actor = actors[rng.randrange(len(actors))]
        signed = headers | httpsig.sign_request(
            "GET", url["signed_url"], headers, None, keys[actor.key_index], actor.key_id,
            scheme=httpsig.CAVAGE,
        )
        return url["address_url"], signed

    def batch(count: int) -> list[list[Any]]:
        return [[item(urls[rng.randrange(len(urls))]) for _ in range(count)]]

    if spec.get("warmup"):
        await _drive(batch(spec["warmup"]), connections, _get)
    return await _drive(batch(spec["count"]), connections, _get)


def main() -> None:
    spec = json.load(sys.stdin)
    runner = run_inbox if spec["mode"] == "inbox" else run_get
    result = asyncio.run(runner(spec))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
