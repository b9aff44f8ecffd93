"""The inbox limit row: the same stack with a bare endpoint.

Quart on Hypercorn served in-process, as Pedagogue serves, with one route:
parse the JSON, verify the signature with the project's own verifier against a
key loaded at start, and INSERT the row into inbox_queue in its own
transaction (one commit per request). It stores what Pedagogue stores and
skips everything else, so its rate bounds what a per-request-commit inbox on
this stack can reach.

Usage: python -m bench.bare_inbox DSN PORT
"""

from __future__ import annotations

import asyncio
import json
import sys

import asyncpg
from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart, Response, request

from federation import httpsig
from federation.errors import FederationError

_INSERT = (
    "INSERT INTO inbox_queue (activity_id, activity_type, actor_id, key_id, body)"
    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (activity_id) DO NOTHING"
)


async def main(dsn: str, port: int) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=10)
    assert pool is not None
    keys = {
        row["key_id"]: httpsig.load_public_key(row["public_key_pem"])
        for row in await pool.fetch("SELECT key_id, public_key_pem FROM account_keys")
    }
    app = Quart(__name__)

    @app.get("/ready")
    async def ready() -> Response:
        return Response("ok")

    @app.post("/inbox")
    async def inbox() -> Response:
        body = await request.get_data(cache=False)
        document = json.loads(body)
        target = request.scope["raw_path"].decode("latin-1")
        try:
            info = httpsig.parse_signature("POST", target, request.headers)
            httpsig.verify_request("POST", target, request.headers, body, keys[info.key_id])
        except (FederationError, KeyError):
            return Response("", status=401)
        await pool.execute(
            _INSERT, document["id"], document["type"], document["actor"], info.key_id,
            body.decode(),
        )
        return Response("", status=202)

    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.keep_alive_timeout = 30
    await serve(app, config)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
