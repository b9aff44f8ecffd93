"""Serving an instance: Hypercorn in this process, plus the background workers."""

import asyncio
import logging
import signal
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config as HypercornConfig

from inbox.worker import InboxWorker, listen_for_wakeups
from outbox.deliver import DeliveryWorker
from outbox.events import EventReminders
from outbox.scheduled import ScheduledPublisher
from outbox.mentorship import PeerSoftwareChecks
from pedagogue.config import Settings, parse_listen
from pedagogue.runtime import Runtime
from storage.migrate import migrate
from storage.pool import create_pool
from web.app import create_app

log = logging.getLogger(__name__)


async def apply_migrations(dsn: str) -> list[str]:
    """Apply pending migrations on the database at ``dsn``."""
    # The migration takes an advisory lock, so this pool keeps the full reset.
    pool = await create_pool(dsn, min_size=1, max_size=1, reset_session=True)
    try:
        async with pool.acquire() as connection:
            return await migrate(connection)
    finally:
        await pool.close()


# Maximum size of the request line and headers, in bytes, on HTTP/1.1 and HTTP/2.
MAX_HEADER_BYTES = 65_536


def hypercorn_config(settings: Settings) -> HypercornConfig:
    config = HypercornConfig()
    host, port = parse_listen(settings.server.listen)
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    if settings.server.tls_cert:
        config.certfile = settings.server.tls_cert
        config.keyfile = settings.server.tls_key
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.graceful_timeout = 3
    config.keep_alive_timeout = 5
    # h11 rejects a request line and headers over its buffer with an empty
    # 431, unless they happen to arrive in one read. The HTTP/1.1
    # buffer matches HTTP/2's header list limit instead of its 16 KiB default,
    # so that a URL over web.app.MAX_TARGET_BYTES reaches the app and gets 414
    # with a message on either protocol.
    config.h11_max_incomplete_size = MAX_HEADER_BYTES
    config.h2_max_header_list_size = MAX_HEADER_BYTES
    # Pings keep idle streaming WebSockets open through proxies.
    config.websocket_ping_interval = settings.streaming.heartbeat_seconds
    return config


ROLES = ("all", "web", "worker")
# Seconds to wait for open connections after a stop signal. A TLS client that
# keeps an idle connection and never answers close_notify would otherwise hold
# the process for asyncio's 30-second TLS shutdown timeout.
SHUTDOWN_GRACE = 1.0


async def _serve_until_stopped(
    app: Any, config: HypercornConfig, stopping: asyncio.Event
) -> None:
    server = asyncio.ensure_future(serve(app, config, shutdown_trigger=stopping.wait))
    stop = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({server, stop}, return_when=asyncio.FIRST_COMPLETED)
        # Streams of the streaming API never end by themselves, so they are
        # closed now rather than cancelled after the graceful timeout.
        streams = app.extensions.get("pedagogue_streams")
        if streams is not None:
            await streams.stop()
        if not server.done():
            await asyncio.wait(
                {server}, timeout=config.graceful_timeout + SHUTDOWN_GRACE
            )
        if not server.done():
            log.warning(
                "closing connections still open %.0f s after the stop signal",
                config.graceful_timeout + SHUTDOWN_GRACE,
            )
            server.cancel()
        await asyncio.gather(server, return_exceptions=True)
    finally:
        stop.cancel()


async def run_instance(settings: Settings, dsn: str, *, role: str = "all") -> None:
    """Serve until SIGINT or SIGTERM, then stop workers and return in-flight rows.

    ``role`` "web" serves HTTP only, "worker" runs only the inbox and delivery
    workers, and "all" does both in this one process. Processes of any role can
    share one database, on one machine or several.
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    await apply_migrations(dsn)
    runtime = Runtime(settings, dsn)
    await runtime.start()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)

    tasks: list[asyncio.Task[Any]] = []
    if role in ("all", "worker"):
        tasks.append(asyncio.create_task(listen_for_wakeups(runtime, stopping)))
        for _ in range(max(1, settings.federation.inbox_workers)):
            tasks.append(asyncio.create_task(InboxWorker(runtime).run(stopping)))
        tasks.append(asyncio.create_task(DeliveryWorker(runtime).run(stopping)))
        tasks.append(asyncio.create_task(EventReminders(runtime).run(stopping)))
        tasks.append(asyncio.create_task(ScheduledPublisher(runtime).run(stopping)))
        tasks.append(asyncio.create_task(PeerSoftwareChecks(runtime).run(stopping)))
        log.info("workers started for %s", settings.base_url)

    try:
        if role == "worker":
            await stopping.wait()
        else:
            app = create_app(runtime)
            log.info("serving %s on %s", settings.base_url, settings.server.listen)
            config = hypercorn_config(settings)
            await _serve_until_stopped(app, config, stopping)
    finally:
        stopping.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                log.error("worker ended with %r", result)
        await runtime.stop()
        log.info("stopped %s (%s)", settings.base_url, role)
