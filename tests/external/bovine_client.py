"""Act as a bovine-herd user through bovine's own client library.

Runs inside the bovine virtual environment. It signs in with Moo-Auth-1 (an
Ed25519 secret registered by ``bovine_tool.manage --new_did_key``), the way a
bovine client application talks to its server, and prints one JSON document on
stdout.

Usage, with the secret in the BOVINE_SECRET environment variable:

    python bovine_client.py BASE_URL actor          the actor document
    python bovine_client.py BASE_URL send < ACTIVITY post to the actor's outbox
    python bovine_client.py BASE_URL inbox LIMIT    up to LIMIT inbox items
    python bovine_client.py BASE_URL fetch URL      fetch through the server
"""

import asyncio
import json
import os
import sys

from bovine import BovineClient


async def run(base_url: str, command: str, argument: str | None) -> object:
    async with BovineClient(
        domain=base_url, secret=os.environ["BOVINE_SECRET"]
    ) as client:
        if command == "actor":
            return client.information
        if command == "send":
            response = await client.send_to_outbox(json.load(sys.stdin))
            return {
                "status": response.status,
                "location": response.headers.get("location"),
            }
        if command == "inbox":
            limit = int(argument or "20")
            items = []
            async for item in client.inbox():
                items.append(item)
                if len(items) >= limit:
                    break
            return items
        if command == "fetch":
            # The server fetches the URL signed as this actor (its proxyUrl endpoint).
            return await client.proxy(argument)
    raise SystemExit(f"unknown command {command!r}")


def main() -> None:
    base_url, command = sys.argv[1], sys.argv[2]
    argument = sys.argv[3] if len(sys.argv) > 3 else None
    result = asyncio.run(run(base_url, command, argument))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
