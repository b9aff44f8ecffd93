"""Builders for the activities local actions send, named after their wire type."""

from typing import Any

from actors.vocabulary import CONTEXT, PUBLIC


def _activity(kind: str, activity_id: str, actor_id: str, obj: Any, **extra: Any) -> dict:
    return {"@context": CONTEXT, "id": activity_id, "type": kind, "actor": actor_id,
            "object": obj, **extra}


def build_follow(activity_id: str, actor_id: str, target_id: str) -> dict[str, Any]:
    return _activity("Follow", activity_id, actor_id, target_id, to=[target_id])


def build_accept(activity_id: str, actor_id: str, follow: dict[str, Any]) -> dict[str, Any]:
    """Accept a Follow, embedding it so the receiver need not fetch it."""
    return _activity("Accept", activity_id, actor_id, follow, to=[follow["actor"]])


def build_reject(activity_id: str, actor_id: str, follow: dict[str, Any]) -> dict[str, Any]:
    return _activity("Reject", activity_id, actor_id, follow, to=[follow["actor"]])


def build_undo(activity_id: str, actor_id: str, undone: dict[str, Any]) -> dict[str, Any]:
    undone = {key: value for key, value in undone.items() if key != "@context"}
    extra = {key: undone[key] for key in ("to", "cc") if key in undone}
    return _activity("Undo", activity_id, actor_id, undone, **extra)


def build_create(activity_id: str, actor_id: str, note: dict[str, Any]) -> dict[str, Any]:
    return _activity("Create", activity_id, actor_id, note, to=note["to"], cc=note["cc"],
                     published=note["published"])


def build_update(activity_id: str, actor_id: str, obj: dict[str, Any]) -> dict[str, Any]:
    to = obj.get("to", [PUBLIC])
    return _activity("Update", activity_id, actor_id, obj, to=to, cc=obj.get("cc", []))


def build_delete(
    activity_id: str, actor_id: str, object_id: str, to: list[str], cc: list[str]
) -> dict[str, Any]:
    tombstone = {"id": object_id, "type": "Tombstone"}
    return _activity("Delete", activity_id, actor_id, tombstone, to=to, cc=cc)


def build_like(activity_id: str, actor_id: str, object_id: str, author_id: str) -> dict:
    return _activity("Like", activity_id, actor_id, object_id, to=[author_id])


def build_announce(
    activity_id: str, actor_id: str, object_id: str, author_id: str, followers: str,
    published: str, public: bool = True,
) -> dict[str, Any]:
    to = [PUBLIC] if public else [followers]
    return _activity("Announce", activity_id, actor_id, object_id, to=to,
                     cc=[author_id, followers], published=published)


def build_block(activity_id: str, actor_id: str, target_id: str) -> dict[str, Any]:
    return _activity("Block", activity_id, actor_id, target_id, to=[target_id])
