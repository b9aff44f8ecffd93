"""Time-ordered 64-bit ids, shaped like Mastodon's so clients can page by id."""

import os
import time
from collections import OrderedDict

_SEQUENCE_BITS = 16
# Last sequence handed out per millisecond, for the most recent milliseconds.
# Remote statuses take their id from a published time that many share (Mastodon
# gives whole seconds), so a sequence is kept per millisecond value, not only
# for the last one, or a burst of them collides on the primary key.
_RECENT_MILLIS = 4096
_recent: "OrderedDict[int, int]" = OrderedDict()


def new_id(at: float | None = None) -> int:
    """Return an id whose high bits are the time in milliseconds.

    Ids made in one process for the same millisecond differ (up to 65,536 per
    millisecond among the 4,096 milliseconds used last), and those made for the
    current time strictly increase; ids from several processes in the same
    millisecond differ by a random low part.
    """
    millis = int((time.time() if at is None else at) * 1000)
    sequence = _recent.get(millis)
    if sequence is None:
        sequence = int.from_bytes(os.urandom(2), "big") & 0x0FFF
    else:
        sequence = (sequence + 1) & ((1 << _SEQUENCE_BITS) - 1)
        _recent.move_to_end(millis)
    _recent[millis] = sequence
    if len(_recent) > _RECENT_MILLIS:
        _recent.popitem(last=False)
    return (millis << _SEQUENCE_BITS) | sequence


def id_floor(at: float) -> int:
    """Return the smallest id that could have been made at the time ``at``."""
    return int(at * 1000) << _SEQUENCE_BITS
