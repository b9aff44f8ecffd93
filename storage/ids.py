"""Time-ordered 64-bit ids, shaped like Mastodon's so clients can page by id."""

import os
import time

_SEQUENCE_BITS = 16
_last_millis = 0
_sequence = 0


def new_id(at: float | None = None) -> int:
    """Return an id whose high bits are the time in milliseconds.

    Ids made in one process strictly increase; ids from several processes in the
    same millisecond differ by a random low part.
    """
    global _last_millis, _sequence
    millis = int((time.time() if at is None else at) * 1000)
    if millis == _last_millis:
        _sequence = (_sequence + 1) & ((1 << _SEQUENCE_BITS) - 1)
    else:
        _last_millis = millis
        _sequence = int.from_bytes(os.urandom(2), "big") & 0x0FFF
    return (millis << _SEQUENCE_BITS) | _sequence


def id_floor(at: float) -> int:
    """Return the smallest id that could have been made at the time ``at``."""
    return int(at * 1000) << _SEQUENCE_BITS
