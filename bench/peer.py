"""Side by side: inbox and actor fetches against bovine-herd, in the same run."""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

from bench import common, data, fanout, peer_env
from bench.common import Result, Row
from bench.setup import Setup, inbox_spec, prepare
from bench.sizes import Size

CONNECTIONS = 16


async def _register(python: Path, directory: Path, name: str, domain: str) -> None:
    process = await asyncio.create_subprocess_exec(
        str(python), "-m", "bovine_tool.register", name, "--domain", domain,
        cwd=directory, env=peer_env.tool_environment(BOVINE_DB_URL="sqlite://bovine.sqlite3"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    if process.returncode != 0:
        raise RuntimeError(f"bovine_tool.register failed: {stdout.decode()}{stderr.decode()}")


async def _actor_url(address: str, host: str, name: str) -> str:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{address}/.well-known/webfinger",
                               params={"resource": f"acct:{name}@{host}"},
                               headers={"Host": host}) as response:
            document = await response.json(content_type=None)
    return next(link["href"] for link in document["links"] if link.get("rel") == "self")


async def _signed_get(setup: Setup, url: str, address: str) -> dict[str, Any]:
    from federation import httpsig

    actor = setup.actors[0]
    headers = {"Accept": "application/activity+json"}
    headers |= httpsig.sign_request("GET", url, headers, None, setup.keys[actor.key_index],
                                    actor.key_id, scheme=httpsig.CAVAGE)
    async with aiohttp.ClientSession() as session:
        async with session.get(address, headers=headers) as response:
            if response.status != 200:
                raise RuntimeError(f"bovine answered {response.status} to a signed GET of {url}")
            return await response.json(content_type=None)


def _address(url: str, port: int) -> str:
    path = url.split("://", 1)[1].split("/", 1)[1]
    return f"http://127.0.0.1:{port}/{path}"


async def run(size: Size, command: str, mode: str = "auto") -> Result:
    result = Result("peer", "Side by side with bovine-herd", size.name, command)
    if mode == "skip" or (mode == "auto" and size.name != "full"):
        result.notes.append(
            "bovine-herd was not run at this size: starting it and warming its key cache "
            "takes about half a minute, over the budget of the CI-size run. It runs at "
            "--size full, or at any size with --peer build."
        )
        return result
    try:
        python = await asyncio.to_thread(peer_env.bovine_python, build=True)
    except peer_env.PeerUnavailable as error:
        result.notes.append(f"bovine-herd not run: {error}.")
        return result
    server_cpus, load_cpus = common.cores()
    remote_port = common.free_port()
    setup = await prepare("peer", size, base=lambda index: f"http://127.0.0.1:{remote_port}")
    remote = peer = None
    runs: dict[str, list[dict[str, Any]]] = {}
    try:
        actors = {f"/users/{actor.username}": data.actor_document(actor, setup.public_pems[actor.key_index])
                  for actor in setup.actors}
        remote = await fanout.start_remote(setup, remote_port, load_cpus, actors=actors, keys={})
        directory = Path(tempfile.mkdtemp(prefix="pedagogue-bench-bovine-"))
        peer_env.seed_jsonld_cache(directory)
        port = common.free_port()
        host = f"localhost:{port}"
        peer = common.Process("bovine", [str(python), str(common.ROOT / "bench" / "bovine_server.py"),
                                         str(port)], cpus=server_cpus, cwd=directory,
                              env=peer_env.tool_environment(), log_path=directory / "bovine.log")
        peer.start()
        await peer.wait_http(f"http://127.0.0.1:{port}/.well-known/nodeinfo")
        await _register(python, directory, "bench", f"http://{host}")
        actor_url = await _actor_url(f"http://127.0.0.1:{port}", host, "bench")
        document = await _signed_get(setup, actor_url, _address(actor_url, port))
        bovine_inbox = document["inbox"]
        (instance,) = await setup.start(1, cpus=[server_cpus])
        targets = {
            "bovine": {"signed_url": bovine_inbox, "address_url": _address(bovine_inbox, port)},
            "pedagogue": setup.inbox_target(instance),
        }
        actor_targets = {
            "bovine": {"signed_url": actor_url, "address_url": _address(actor_url, port)},
            "pedagogue": {"signed_url": f"{setup.url}/users/teacher",
                          "address_url": f"{instance.address}/users/teacher"},
        }
        # Every actor posts once first, so that bovine has fetched and cached
        # every key before the timed runs, as Pedagogue has them stored.
        for name in ("bovine", "pedagogue"):
            spec = inbox_spec(setup, [targets[name]], count=len(setup.actors), warmup=0,
                              connections=CONNECTIONS)
            await common.run_loadgen(spec, cpus=load_cpus)
        for _ in range(size.repeats):
            for name in ("bovine", "pedagogue"):
                spec = inbox_spec(setup, [targets[name]], count=size.peer_requests,
                                  warmup=0, connections=CONNECTIONS)
                runs.setdefault(f"{name}_inbox", []).append(
                    await common.run_loadgen(spec, cpus=load_cpus))
                spec = {"mode": "get", "urls": [actor_targets[name]],
                        "headers": {"Accept": "application/activity+json"},
                        "signers": setup.loadgen_actors(), "key_pems": setup.key_pems,
                        "count": size.peer_requests, "warmup": 50, "connections": CONNECTIONS}
                runs.setdefault(f"{name}_actor", []).append(
                    await common.run_loadgen(spec, cpus=load_cpus))
        memory = {"bovine": common.rss_mib(peer.pid), "pedagogue": common.rss_mib(instance.pid)}
    finally:
        if peer is not None:
            peer.stop()
        if remote is not None:
            remote.stop()
        await setup.close()
    for key, outcomes in runs.items():
        for outcome in outcomes:
            if outcome["ok"] != outcome["requests"]:
                result.notes.append(f"{key}: {outcome['requests'] - outcome['ok']} of "
                                    f"{outcome['requests']} not accepted: {outcome['statuses']} "
                                    f"{outcome['errors']}")
    rates = {key: [o["rate"] for o in outcomes] for key, outcomes in runs.items()}
    bovine_inbox_label = f"bovine-herd inbox accepted, {CONNECTIONS} conn"
    bovine_actor_label = f"bovine-herd signed actor fetches, {CONNECTIONS} conn"
    result.add(Row(bovine_inbox_label, "req/s", rates["bovine_inbox"], kind="limit"))
    result.add(Row(f"Pedagogue inbox accepted, {CONNECTIONS} conn", "req/s", rates["pedagogue_inbox"],
                   limit=bovine_inbox_label))
    result.add(Row(f"bovine-herd inbox p99, {CONNECTIONS} conn", "ms",
                   [o["p99_ms"] for o in runs["bovine_inbox"]], kind="limit", higher_is_better=False))
    result.add(Row(f"Pedagogue inbox p99, {CONNECTIONS} conn", "ms",
                   [o["p99_ms"] for o in runs["pedagogue_inbox"]], higher_is_better=False))
    result.add(Row(bovine_actor_label, "req/s", rates["bovine_actor"], kind="limit"))
    result.add(Row(f"Pedagogue signed actor fetches, {CONNECTIONS} conn", "req/s",
                   rates["pedagogue_actor"], limit=bovine_actor_label))
    result.add(Row("bovine-herd resident memory after the runs", "MiB", [memory["bovine"]],
                   kind="info", higher_is_better=False))
    result.add(Row("Pedagogue resident memory after the runs", "MiB", [memory["pedagogue"]],
                   kind="info", higher_is_better=False))
    ours = sorted(rates["pedagogue_inbox"])[len(rates["pedagogue_inbox"]) // 2]
    theirs = sorted(rates["bovine_inbox"])[len(rates["bovine_inbox"]) // 2]
    result.target("at least three times bovine-herd's inbox rate", ours / theirs if theirs else None,
                  3.0, unit="x bovine-herd")
    result.notes.append(
        "bovine-herd (bovine-herd 0.5.19 with its default SQLite store, served by Hypercorn "
        "in-process without an access log) and Pedagogue each run pinned to the same core in "
        "turn, receiving the same Mastodon-shaped Create(Note) POSTs signed by the same remote "
        "actors, whose documents a loopback process serves; each actor posts once before the "
        "timed runs so bovine-herd has fetched its key. Both answer 202 before processing. "
        "Actor fetches are signed, because bovine-herd answers 401 to unsigned ones."
    )
    return result
