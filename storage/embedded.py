"""The embedded PostgreSQL server used when no database URL is configured."""

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DATABASE_NAME = "pedagogue"


def start_embedded(data_dir: Path) -> tuple[Any, str]:
    """Start (or reuse) a pgserver cluster under ``data_dir``; return it and its DSN.

    Keep the returned server object referenced: the cluster stops when the last
    reference in this process is dropped at exit.

    pgserver runs PostgreSQL as its own system user when started by root, and
    listens on a Unix socket in the cluster directory only.
    """
    import pgserver

    cluster_dir = data_dir / "postgres"
    cluster_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(str(cluster_dir), cleanup_mode="stop")
    exists = server.psql(
        f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';"
    )
    if "1 row" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
        log.info("created embedded database in %s", cluster_dir)
    log.info("embedded PostgreSQL running in %s", cluster_dir)
    return server, server.get_uri(DATABASE_NAME)
