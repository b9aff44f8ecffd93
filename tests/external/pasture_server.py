"""Serve the fediverse-pasture actor verifier on loopback.

Runs inside the pasture virtual environment, never the project's, because the
tool pins its own web framework versions. The command line that ships with the
tool listens on every interface, so this launcher builds the same application
and binds it to 127.0.0.1 alone.

Usage: python pasture_server.py PORT

The tool writes its generated actor keys (data.toml) into the working
directory, so the caller starts this in a scratch directory.
"""

import asyncio
import sys

from fediverse_pasture.verify_actor import build_app
from hypercorn.asyncio import serve
from hypercorn.config import Config

# Seconds the verifier waits for each request to the server under test.
REQUEST_TIMEOUT = 10.0


def main() -> None:
    port = int(sys.argv[1])
    # The verifier names its actors http://localhost:PORT/<name>; the server
    # under test fetches them there, so that host must reach this socket.
    app = build_app(False, f"localhost:{port}", False, REQUEST_TIMEOUT)
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = "-"
    # Tests stop the server with SIGTERM and have no requests worth draining.
    config.graceful_timeout = 0.5
    asyncio.run(serve(app, config))


if __name__ == "__main__":
    main()
