"""Serve bovine-herd on loopback for the side-by-side rows; runs in bovine's venv.

The plain Quart application wrapped by BovineHerd, on Hypercorn in this process
(as Pedagogue serves), storing in bovine.sqlite3 in the working directory, with
no access log (Pedagogue writes none either).

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
    config.accesslog = None
    config.keep_alive_timeout = 30
    asyncio.run(serve(app, config))


if __name__ == "__main__":
    main()
