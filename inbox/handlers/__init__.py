"""Handlers for received activities, one module per activity type.

``dispatch`` looks the type up in ``HANDLERS``. A type with no handler is
recorded as ignored; the sender already has its 202.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import asyncpg

from actors.vocabulary import first_id, id_of, types_of
from federation.hosts import same_host

if TYPE_CHECKING:
    from pedagogue.runtime import Runtime


class Ignored(Exception):
    """The activity is valid but has nothing for this instance to do."""


class UnhandledType(Ignored):
    """The activity's type has no handler; it is recorded as ignored."""


@dataclass
class Context:
    """One activity being processed, inside its transaction."""

    runtime: Runtime
    connection: asyncpg.Connection
    activity: dict[str, Any]
    row: Any

    @property
    def actor_id(self) -> str:
        return self.row["actor_id"]

    @property
    def activity_id(self) -> str:
        return self.row["activity_id"]

    @property
    def object(self) -> Any:
        return self.activity.get("object")

    @property
    def object_id(self) -> str | None:
        return first_id(self.object)

    async def actor(self) -> asyncpg.Record:
        """Return the sender's account, fetched when it is not stored yet."""
        return await self.runtime.resolver.actor(self.actor_id)

    def forwarded(self, activity: dict[str, Any], actor_id: str) -> Context:
        """Return the context of an activity that the sender forwarded, as its
        own actor's, in the same transaction."""
        row = {
            "activity_id": id_of(activity),
            "actor_id": actor_id,
            "activity_type": next(iter(types_of(activity)), ""),
        }
        return Context(self.runtime, self.connection, activity, row)

    def same_host(self, url: str | None) -> bool:
        """Return True when ``url`` is on the sender's host."""
        return same_host(url, self.actor_id)


async def dispatch(context: Context) -> None:
    """Run the handler of the activity's type; raise UnhandledType if it has none."""
    from inbox.handlers import (
        announce,
        block,
        create,
        delete,
        event,
        flag,
        follow,
        lesson_plan,
        like,
        mentorship,
        move,
        response,
        undo,
    )

    handlers = {
        "Follow": follow.handle_follow,
        "Accept": response.handle_accept,
        "Reject": response.handle_reject,
        "Undo": undo.handle_undo,
        "Create": create.handle_create,
        "Update": create.handle_update,
        "Delete": delete.handle_delete,
        "Like": like.handle_like,
        "Announce": announce.handle_announce,
        "Block": block.handle_block,
        "Flag": flag.handle_flag,
        "Join": event.handle_join,
        "Leave": event.handle_leave,
        "Offer": mentorship.handle_offer,
        "Move": move.handle_move,
    }
    mentorship_answers = {
        "Accept": mentorship.handle_accept,
        "Reject": mentorship.handle_reject,
        "Undo": mentorship.handle_undo,
    }
    if await context.connection.fetchval(
        "SELECT 1 FROM accounts WHERE actor_id = $1 AND suspended_at IS NOT NULL",
        context.actor_id,
    ):
        raise Ignored(f"{context.actor_id} is suspended on this instance")
    handler = handlers.get(context.row["activity_type"])
    if context.row["activity_type"] in mentorship_answers:
        if await mentorship.concerns_mentorship(context):
            handler = mentorship_answers[context.row["activity_type"]]
    collection_changes = {
        "Add": lesson_plan.handle_add,
        "Remove": lesson_plan.handle_remove,
    }
    if context.row[
        "activity_type"
    ] in collection_changes and await lesson_plan.targets_plan_collection(context):
        handler = collection_changes[context.row["activity_type"]]
    if handler is None:
        raise UnhandledType(f"type {context.row['activity_type']} is not handled")
    await handler(context)
