"""Which items of a remote outbox page are stored for a profile."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from inbox.remote_outbox import _rejection

ACTOR = "https://district.example/users/erin"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
FOLLOWERS = f"{ACTOR}/followers"


def _create(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": f"{ACTOR}/statuses/1/activity",
        "type": "Create",
        "actor": ACTOR,
        "object": {
            "id": f"{ACTOR}/statuses/1",
            "type": "Note",
            "attributedTo": ACTOR,
            "content": "<p>Fractions wall</p>",
            "to": [PUBLIC],
            "cc": [FOLLOWERS],
        },
    }
    for path, value in changes.items():
        target = item
        keys = path.split("__")
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return copy.deepcopy(item)


def test_public_note_accepted() -> None:
    assert _rejection(ACTOR, _create()) is None


def test_unlisted_note_accepted() -> None:
    assert (
        _rejection(ACTOR, _create(object__to=[FOLLOWERS], object__cc=[PUBLIC])) is None
    )


@pytest.mark.parametrize("kind", ["Article", "Event"])
def test_plan_and_event_accepted(kind: str) -> None:
    assert _rejection(ACTOR, _create(object__type=kind)) is None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"object__to": [FOLLOWERS], "object__cc": []}, "is not public"),
        ({"type": "Announce"}, "is not a Create"),
        ({"actor": "https://district.example/users/other"}, "created by another actor"),
        ({"object__type": "Question"}, "creates no embedded post"),
        ({"object__id": "https://elsewhere.example/notes/1"}, "on another host"),
        ({"id": "https://elsewhere.example/activities/1"}, "on another host"),
    ],
)
def test_unusable_item_rejected(changes: dict[str, Any], reason: str) -> None:
    rejection = _rejection(ACTOR, _create(**changes))
    assert rejection is not None
    assert reason in rejection


def test_item_given_by_id_rejected() -> None:
    assert (
        _rejection(ACTOR, f"{ACTOR}/statuses/1/activity")
        == "item is not an embedded activity"
    )


def test_object_given_by_id_rejected() -> None:
    rejection = _rejection(ACTOR, _create(object=f"{ACTOR}/statuses/1"))
    assert rejection is not None
    assert "creates no embedded post" in rejection
