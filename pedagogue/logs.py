"""Logging setup: records pass through a queue so writing never blocks the event loop."""

import logging
import logging.handlers
import queue
import sys
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_listener: logging.handlers.QueueListener | None = None


def setup_logging(level: str = "INFO", log_file: Path | None = None) -> None:
    """Send log records to standard error and, when given, to ``log_file``."""
    global _listener
    formatter = logging.Formatter(FORMAT)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(log_file, maxBytes=10_000_000, backupCount=5)
        )
    for handler in handlers:
        handler.setFormatter(formatter)
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(records)]
    root.setLevel(level.upper())
    # Hypercorn's access log would log every inbox POST at INFO.
    logging.getLogger("hypercorn.access").setLevel(logging.WARNING)
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    if _listener is not None:
        _listener.stop()
    _listener = logging.handlers.QueueListener(records, *handlers, respect_handler_level=True)
    _listener.start()


def stop_logging() -> None:
    """Flush queued records; call before the process exits."""
    global _listener
    if _listener is not None:
        _listener.stop()
        _listener = None
