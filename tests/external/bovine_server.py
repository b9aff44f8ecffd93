"""Serve a bovine-herd ActivityPub server on loopback.

Runs inside the bovine virtual environment, never the project's, because
bovine-herd pins its own web framework versions. The application is a plain
Quart app wrapped by BovineHerd. It stores its data in bovine.sqlite3 in the
working directory and creates the schema on the first start.

Usage: python bovine_server.py PORT
"""

import asyncio
import sys

from bovine_herd import BovineHerd
from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart


def main() -> None:
    port = int(sys.argv[1])
    app = Quart(__name__)
    BovineHerd(app, db_url="sqlite://bovine.sqlite3")
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = "-"
    # Tests stop the server with SIGTERM and have no requests worth draining.
    config.graceful_timeout = 0.5
    asyncio.run(serve(app, config))


if __name__ == "__main__":
    main()
