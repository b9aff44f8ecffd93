"""JSON parsing that accepts only numbers that JSON and PostgreSQL can hold.

Python's json module reads ``NaN``, ``Infinity`` and ``-Infinity``, which RFC
8259 does not allow, and turns a number such as ``1e400`` into an infinite
float. Such values break later: ``int()`` raises OverflowError, PostgreSQL's
json type rejects them, and a browser cannot parse a response that repeats
them. ``loads`` rejects all of them while parsing.
"""

from __future__ import annotations

import json
import math
from typing import Any


class NonFiniteNumber(ValueError):
    """A JSON document contains NaN, an infinity or a number out of float range."""

    def __init__(self, token: str) -> None:
        self.token = token[:40]
        super().__init__(f"{self.token} is not a finite number")


def _reject_constant(token: str) -> Any:
    raise NonFiniteNumber(token)


def _finite_float(token: str) -> float:
    value = float(token)
    if not math.isfinite(value):
        raise NonFiniteNumber(token)
    return value


def loads(text: str | bytes) -> Any:
    """Parse JSON like ``json.loads``; raise NonFiniteNumber for non-finite numbers.

    Raises ValueError (json.JSONDecodeError) for invalid JSON, and RecursionError
    for nesting deeper than the interpreter's recursion limit.
    """
    return json.loads(
        text, parse_constant=_reject_constant, parse_float=_finite_float
    )
