"""CPU time per inbox POST through the ASGI layer and through Quart, in one process.

Usage: python -m bench.inbox_layers [--rounds N] [--posts N]

Both paths run in this process on one benchmark database, in alternating
rounds, with the same kind of signed Create POSTs and 16 requests in flight.
The ASGI applications are called directly, so Hypercorn, h11 and the sockets
are left out and the figures show the part of the request path that
web.asgi.InboxEndpoint replaces. The figure per round is this process's CPU
time per accepted POST; PostgreSQL's is not counted. Not part of
``python -m bench run``: it compares two code paths rather than measuring a
target.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench import common, data
from bench.setup import Setup, prepare
from bench.sizes import FULL
from federation import httpsig
from pedagogue.config import load_settings
from pedagogue.runtime import Runtime
from web.app import create_app
from web.asgi import InboxEndpoint

IN_FLIGHT = 16

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def signed_posts(setup: Setup, count: int) -> list[tuple[list[tuple[bytes, bytes]], bytes]]:
    """Sign ``count`` Create POSTs for the shared inbox as (header lines, body)."""
    host = setup.url.split("//", 1)[1]
    posts = []
    for number in range(count):
        actor = setup.actors[number % len(setup.actors)]
        note = data.create_note(actor, setup.teacher_actor)
        body = json.dumps(note, separators=(",", ":")).encode()
        headers = {"Host": host, "Content-Type": "application/activity+json",
                   "Content-Length": str(len(body))}
        headers |= httpsig.sign_request("POST", f"{setup.url}/inbox", headers, body,
                                        setup.keys[actor.key_index], actor.key_id,
                                        scheme=httpsig.CAVAGE)
        posts.append(([(name.lower().encode(), value.encode())
                       for name, value in headers.items()], body))
    return posts


async def post(application: ASGIApp, port: int, headers: list[tuple[bytes, bytes]],
               body: bytes, statuses: dict[int, int]) -> None:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/inbox", "raw_path": b"/inbox",
             "query_string": b"", "root_path": "", "headers": headers,
             "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", port), "extensions": {}}
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            # The client stays connected until the response is sent.
            await asyncio.Event().wait()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses[message["status"]] = statuses.get(message["status"], 0) + 1

    await application(scope, receive, send)


async def drive(application: ASGIApp, port: int,
                posts: list[tuple[list[tuple[bytes, bytes]], bytes]]) -> dict[int, int]:
    statuses: dict[int, int] = {}
    waiting = list(posts)

    async def client() -> None:
        while waiting:
            headers, body = waiting.pop()
            await post(application, port, headers, body, statuses)

    await asyncio.gather(*(client() for _ in range(IN_FLIGHT)))
    return statuses


async def main(rounds: int, per_round: int) -> None:
    server_cpus, _ = common.cores()
    os.sched_setaffinity(0, server_cpus)
    setup = await prepare("inbox-layers", dataclasses.replace(FULL, actors=200, keys=8))
    settings = load_settings(None, overrides={"instance": {"url": setup.url}}, environ={})
    runtime = Runtime(settings, setup.dsn)
    try:
        await runtime.start()
        layer = create_app(runtime).asgi_app
        if not isinstance(layer, InboxEndpoint):
            raise TypeError(f"expected InboxEndpoint in front of Quart, found {layer!r}")
        paths: dict[str, ASGIApp] = {"quart": layer.app, "asgi layer": layer}  # type: ignore[dict-item]
        posts = signed_posts(setup, rounds * per_round * len(paths))
        for number in range(rounds):
            for name, application in paths.items():
                batch, posts = posts[:per_round], posts[per_round:]
                began = time.process_time()
                statuses = await drive(application, setup.port, batch)
                cpu_us = (time.process_time() - began) / per_round * 1e6
                print(json.dumps({"round": number, "path": name, "cpu_us_per_post": round(cpu_us),
                                  "statuses": statuses, "load": round(os.getloadavg()[0], 1)}),
                      flush=True)
    finally:
        await runtime.stop()
        await setup.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.inbox_layers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds (default 4)")
    parser.add_argument("--posts", type=int, default=1000,
                        help="POSTs per path and round (default 1000)")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rounds, arguments.posts))
