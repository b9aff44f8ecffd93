"""Simulated remote servers on loopback, in their own process.

One aiohttp server stands for many remote hosts: deliveries arrive at
``POST /inbox`` under any Host name (the instance maps each name to 127.0.0.1),
and actor documents are served at ``GET /users/NAME`` for peers that fetch the
signer's key. Each delivery's signature is verified against the sender's
public key, RFC 9421 or draft-cavage, as a receiving server would; the counts
of verified and rejected deliveries are read at ``GET /_stats``.

Usage: python -m bench.remote CONFIG.json PORT
CONFIG: {"actors": {"/users/a0000": {...actor document...}},
         "keys": {"KEY ID": "PUBLIC KEY PEM"}}
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from aiohttp import web

from federation import httpsig
from federation.digest import check_body_digest, fold_headers
from federation.errors import FederationError


def verify(target: str, headers: Any, body: bytes, keys: dict[str, Any]) -> str:
    """Verify a delivery signed for an http:// URL; return the key id.

    The project's verifier derives RFC 9421's @target-uri with the https scheme
    it serves under; these hosts are reached over plain HTTP, so the signature
    base is built here with the http scheme.
    """
    fields = fold_headers(headers)
    parsed = httpsig._parse(fields)
    key = keys[parsed.info.key_id]
    check_body_digest(fields, body)
    base = httpsig._base(parsed, httpsig._Request("POST", target, fields, "http"))
    algorithms = httpsig._candidate_algorithms(parsed.info, key)
    if not any(httpsig._verify_with(name, key, base, parsed.signature) for name in algorithms):
        raise FederationError(401, httpsig.VERIFICATION_FAILED)
    return parsed.info.key_id


def build_app(config: dict[str, Any]) -> web.Application:
    actors: dict[str, bytes] = {
        path: json.dumps(document).encode() for path, document in config["actors"].items()
    }
    keys = {key_id: httpsig.load_public_key(pem) for key_id, pem in config["keys"].items()}
    stats: dict[str, Any] = {"ok": 0, "bad": 0, "activities": {}, "errors": []}

    async def inbox(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            verify(request.raw_path, request.headers, body, keys)
        except (FederationError, KeyError) as error:
            stats["bad"] += 1
            if len(stats["errors"]) < 5:
                stats["errors"].append(repr(error)[:300])
            return web.Response(status=401)
        stats["ok"] += 1
        activity = json.loads(body).get("id", "")
        now = time.time()
        entry = stats["activities"].setdefault(activity, [0, now, now, set()])
        entry[0] += 1
        entry[2] = now
        entry[3].add(request.host)
        return web.Response(status=202)

    async def actor(request: web.Request) -> web.Response:
        document = actors.get(request.path)
        if document is None:
            return web.Response(status=404)
        return web.Response(body=document, content_type="application/activity+json")

    async def read_stats(request: web.Request) -> web.Response:
        activities = {
            key: {"count": value[0], "first": value[1], "last": value[2], "hosts": len(value[3])}
            for key, value in stats["activities"].items()
        }
        return web.json_response({"ok": stats["ok"], "bad": stats["bad"],
                                  "errors": stats["errors"], "activities": activities})

    app = web.Application(client_max_size=2**20)
    app.router.add_post("/inbox", inbox)
    app.router.add_get("/users/{name}", actor)
    app.router.add_get("/_stats", read_stats)
    return app


def main() -> None:
    with open(sys.argv[1]) as handle:
        config = json.load(handle)
    web.run_app(build_app(config), host="127.0.0.1", port=int(sys.argv[2]),
                access_log=None, print=None)


if __name__ == "__main__":
    main()
