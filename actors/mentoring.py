"""A teacher's mentoring offer as published in their actor document.

A local teacher's Person carries a ``mentoring`` object in Pedagogue's
namespace, so that other instances can list the teacher in their mentor
directory::

    "mentoring": {"type": "MentoringOffer", "openToMentoring": true,
                  "teachingSubjects": ["Maths"], "gradeLevels": ["6"],
                  "mentoringCapacity": 2, "freePlaces": 1,
                  "summary": "Happy to help with ratios."}

``openToMentoring`` is false when the teacher closed the offer or has no free
place left. A Person without ``mentoring`` offers no mentoring.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from actors.pedagogue import clean_list
from actors.vocabulary import has_type
from federation.sanitize import plain_text

log = logging.getLogger(__name__)

MAX_CAPACITY = 100
MAX_NOTE = 1000


@dataclass
class MentoringTerms:
    """A mentoring offer read from a remote actor document."""

    open: bool
    subjects: list[str] = field(default_factory=list)
    grade_levels: list[str] = field(default_factory=list)
    capacity: int = 0
    free_places: int = 0
    note: str = ""


def render_mentoring(
    *,
    open: bool,
    subjects: list[str],
    grade_levels: list[str],
    capacity: int,
    free_places: int,
    note: str,
) -> dict[str, Any]:
    """Return the ``mentoring`` object of a local teacher's actor document."""
    free_places = max(0, min(free_places, capacity))
    return {
        "type": "MentoringOffer",
        "openToMentoring": open and free_places > 0,
        "teachingSubjects": list(subjects),
        "gradeLevels": list(grade_levels),
        "mentoringCapacity": capacity,
        "freePlaces": free_places,
        "summary": note,
    }


def _count(offer: dict[str, Any], key: str, upper: int, actor_id: Any) -> int:
    value = offer.get(key)
    # JSON booleans are ints in Python, and a count is never one.
    if isinstance(value, bool) or not isinstance(value, int):
        log.info(
            "mentoring offer of %s: %s is %s, not an integer; read as 0",
            actor_id,
            key,
            type(value).__name__,
        )
        return 0
    return max(0, min(value, upper))


def parse_mentoring(document: dict[str, Any]) -> MentoringTerms | None:
    """Read the ``mentoring`` object of a remote actor document.

    Returns None when the actor publishes no offer or the object is unusable.
    A count of the wrong type is read as 0 and a capacity over 100 as 100, so
    a malformed offer is listed as closed rather than dropped. Without
    ``freePlaces`` every place counts as free.
    """
    offer = document.get("mentoring")
    if not isinstance(offer, dict) or not has_type(offer, "MentoringOffer"):
        return None
    actor_id = document.get("id")
    capacity = _count(offer, "mentoringCapacity", MAX_CAPACITY, actor_id)
    if "freePlaces" in offer:
        free_places = _count(offer, "freePlaces", capacity, actor_id)
    else:
        free_places = capacity
    summary = offer.get("summary")
    return MentoringTerms(
        open=offer.get("openToMentoring") is True and free_places > 0,
        subjects=clean_list(offer.get("teachingSubjects", [])),
        grade_levels=clean_list(offer.get("gradeLevels", [])),
        capacity=capacity,
        free_places=free_places,
        note=plain_text(summary)[:MAX_NOTE] if isinstance(summary, str) else "",
    )
