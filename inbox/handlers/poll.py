"""Polls in received activities: the poll of a Question, its totals in an
Update, and votes on local polls, which arrive as a Create of a Note whose
``name`` is the chosen option and whose ``inReplyTo`` is the Question."""

from __future__ import annotations

import logging
from typing import Any

from actors.vocabulary import first_id, has_type
from inbox.handlers import Context, Ignored
from outbox.polls import PollActions, is_expired, parse_question
from storage import accounts, polls, statuses

log = logging.getLogger(__name__)


def looks_like_vote(obj: Any) -> bool:
    """True for a Note with a ``name``, an ``inReplyTo`` and no content, the
    shape of a poll vote."""
    return (
        isinstance(obj, dict)
        and has_type(obj, "Note")
        and isinstance(obj.get("name"), str)
        and bool(first_id(obj.get("inReplyTo")))
        and not obj.get("content")
    )


async def receive_vote(context: Context, obj: dict[str, Any]) -> bool:
    """Record a remote vote on a local poll; return False when ``obj`` replies
    to no local poll, so it is stored as an ordinary note.

    Raises Ignored for a vote on an ended poll, an unknown option, a second
    vote, or one from another host than the sender's.
    """
    question_uri = first_id(obj.get("inReplyTo"))
    status = await statuses.by_uri(context.connection, question_uri)
    if status is None or not status["local"] or status["deleted_at"] is not None:
        return False
    poll = await polls.by_status(context.connection, status["id"])
    if poll is None:
        return False
    voter_id = first_id(obj.get("attributedTo")) or context.actor_id
    if voter_id != context.actor_id:
        raise Ignored(f"vote {obj.get('id')} is attributed to {voter_id}, not the sender")
    if is_expired(poll):
        raise Ignored(f"vote {obj.get('id')} arrived after poll {poll['id']} ended")
    titles = [option["title"] for option in polls.options_of(poll)]
    if obj["name"] not in titles:
        raise Ignored(f"vote {obj.get('id')} names no option of poll {poll['id']}")
    choice = titles.index(obj["name"])
    voter = await context.actor()
    known = await context.connection.fetch(
        "SELECT choice FROM poll_votes WHERE poll_id = $1 AND account_id = $2",
        poll["id"],
        voter["id"],
    )
    if known and not poll["multiple"]:
        raise Ignored(f"{context.actor_id} has already voted on poll {poll['id']}")
    if any(row["choice"] == choice for row in known):
        raise Ignored(f"{context.actor_id} has already chosen that option of poll {poll['id']}")
    # A multiple-choice vote comes as one Note per option, so each is added.
    await context.connection.execute("SELECT 1 FROM polls WHERE id = $1 FOR UPDATE", poll["id"])
    await context.connection.execute(
        "INSERT INTO poll_votes (id, poll_id, account_id, choice, uri)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        _new_id(),
        poll["id"],
        voter["id"],
        choice,
        first_id(obj.get("id")),
    )
    await polls.recount(context.connection, poll["id"])
    author = await accounts.by_id(context.connection, status["account_id"])
    await PollActions(context.runtime).send_totals(context.connection, status, author)
    log.info(
        "vote of %s on poll %s of status %s recorded (%s)",
        context.actor_id,
        poll["id"],
        status["id"],
        context.activity_id,
    )
    return True


async def store_remote_poll(context: Context, obj: dict[str, Any], status: Any) -> None:
    """Store the poll of a received Question."""
    if not has_type(obj, "Question"):
        return
    question = parse_question(obj)
    if question is None:
        return
    await polls.insert(
        context.connection,
        status["id"],
        question["titles"],
        multiple=question["multiple"],
        hide_totals=False,
        expires_at=question["expires_at"],
        counts=question["counts"],
        voters_count=question["voters_count"],
    )


async def update_remote_poll(context: Context, obj: dict[str, Any], status: Any) -> bool:
    """Store the totals of an Update of a Question; return True when the
    status has a poll that the Update changed."""
    if not has_type(obj, "Question"):
        return False
    question = parse_question(obj)
    poll = await polls.by_status(context.connection, status["id"])
    if question is None:
        return False
    if poll is None:
        await store_remote_poll(context, obj, status)
        return True
    titles = [option["title"] for option in polls.options_of(poll)]
    if titles != question["titles"]:
        await polls.replace_options(
            context.connection,
            poll["id"],
            question["titles"],
            multiple=question["multiple"],
            hide_totals=False,
            expires_at=question["expires_at"],
        )
    await polls.set_remote_counts(
        context.connection,
        poll["id"],
        question["counts"],
        question["voters_count"],
        question["expires_at"],
    )
    return True


def _new_id() -> int:
    from storage.ids import new_id

    return new_id()
