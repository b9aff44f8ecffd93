"""Polls: their ActivityStreams Question form, and votes on local and remote polls.

A vote travels as Mastodon sends it: a Create of a Note whose ``name`` is the
chosen option's title and whose ``inReplyTo`` is the Question, one Note per
chosen option, addressed to the poll's author only. The author's server
counts the votes and sends an Update of the Question with the new totals.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import asyncpg

from actors.note import iso
from outbox import activities as build
from outbox.actions import ActionError
from outbox.queue import enqueue_deliveries, next_activity_id, store_activity
from storage import accounts, polls, social
from storage.ids import new_id

if TYPE_CHECKING:
    from pedagogue.runtime import Runtime

log = logging.getLogger(__name__)

# Limits of a poll, as Mastodon 4.3 configures them by default.
MAX_OPTIONS = 4
MAX_OPTION_CHARACTERS = 50
MIN_EXPIRATION_SECONDS = 300
MAX_EXPIRATION_SECONDS = 2_629_746


class PollError(ActionError):
    """A poll or a vote that cannot be stored, with the HTTP status to return."""


@dataclass
class NewPoll:
    options: list[str]
    expires_in: int
    multiple: bool = False
    hide_totals: bool = False

    def check(self) -> None:
        """Raise PollError(422) unless the poll fits Mastodon's limits."""
        if not 2 <= len(self.options) <= MAX_OPTIONS:
            raise PollError(
                422, f"Validation failed: a poll has 2 to {MAX_OPTIONS} options"
            )
        for option in self.options:
            if not option.strip():
                raise PollError(422, "Validation failed: a poll option is blank")
            if len(option) > MAX_OPTION_CHARACTERS:
                raise PollError(
                    422,
                    "Validation failed: a poll option is over"
                    f" {MAX_OPTION_CHARACTERS} characters",
                )
        if len({option.strip() for option in self.options}) != len(self.options):
            raise PollError(422, "Validation failed: poll options must differ")
        if not MIN_EXPIRATION_SECONDS <= self.expires_in <= MAX_EXPIRATION_SECONDS:
            raise PollError(
                422,
                f"Validation failed: expires_in must be {MIN_EXPIRATION_SECONDS}"
                f" to {MAX_EXPIRATION_SECONDS} seconds",
            )

    def expires_at(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.expires_in)


def is_expired(poll: Any) -> bool:
    expires_at = poll["expires_at"]
    return expires_at is not None and expires_at <= datetime.now(UTC)


def question_fields(poll: Any) -> dict[str, Any]:
    """Return the fields that turn a Note into a Question for ``poll``."""
    options = [
        {
            "type": "Note",
            "name": option["title"],
            "replies": {"type": "Collection", "totalItems": option["votes_count"]},
        }
        for option in polls.options_of(poll)
    ]
    fields: dict[str, Any] = {
        "type": "Question",
        "anyOf" if poll["multiple"] else "oneOf": options,
        "votersCount": poll["voters_count"] or 0,
    }
    if poll["expires_at"] is not None:
        fields["endTime"] = iso(poll["expires_at"])
        if is_expired(poll):
            fields["closed"] = iso(poll["expires_at"])
    return fields


def parse_question(document: dict[str, Any]) -> dict[str, Any] | None:
    """Read the poll of a received Question: titles, counts, multiple, end time
    and voters. Returns None when it has no usable option."""
    from actors.note import parse_time
    from actors.vocabulary import as_list

    multiple = "anyOf" in document
    titles: list[str] = []
    counts: list[int] = []
    for item in as_list(document.get("anyOf" if multiple else "oneOf"))[:MAX_OPTIONS * 4]:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        replies = item.get("replies")
        total = replies.get("totalItems") if isinstance(replies, dict) else 0
        titles.append(item["name"][:200])
        counts.append(total if isinstance(total, int) and total >= 0 else 0)
    if not titles:
        return None
    voters = document.get("votersCount")
    return {
        "titles": titles,
        "counts": counts,
        "multiple": multiple,
        "expires_at": parse_time(document.get("endTime"))
        or parse_time(document.get("closed")),
        "voters_count": voters if isinstance(voters, int) and voters >= 0 else None,
    }


class PollActions:
    """Votes of local accounts, and the Update that sends voters the totals."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.urls = runtime.urls

    async def vote(self, account: Any, status: Any, poll: Any, choices: list[int]) -> Any:
        """Vote on a poll; return the poll row after the vote.

        Raises PollError(422) for an expired poll, a repeated vote, an own
        poll, several choices on a single-choice poll or an unknown option.
        """
        options = polls.options_of(poll)
        if is_expired(poll):
            raise PollError(422, "Validation failed: the poll has already ended")
        if status["account_id"] == account["id"]:
            raise PollError(422, "Validation failed: you cannot vote on your own poll")
        if not choices:
            raise PollError(422, "Validation failed: choices is missing")
        if len(set(choices)) != len(choices):
            raise PollError(422, "Validation failed: choices contains an option twice")
        if len(choices) > 1 and not poll["multiple"]:
            raise PollError(422, "Validation failed: the poll allows one choice")
        if any(not 0 <= choice < len(options) for choice in choices):
            raise PollError(422, "Validation failed: choices names an unknown option")
        author = await accounts.by_id(self.runtime.pool, status["account_id"])
        async with accounts.transaction(self.runtime.pool) as connection:
            uris = [
                None if author["domain"] is None else self.urls.activity(next_activity_id())
                for _ in choices
            ]
            if not await polls.add_votes(connection, poll, account["id"], choices, uris):
                raise PollError(422, "Validation failed: you have already voted on this poll")
            if author["domain"] is None:
                await self.send_totals(connection, status, author)
            else:
                for choice, uri in zip(choices, uris):
                    await self._send_vote(
                        connection, account, author, status, options[choice]["title"], uri
                    )
        log.info(
            "account %s voted %s on poll %s of status %s",
            account["id"],
            choices,
            poll["id"],
            status["id"],
        )
        return await polls.by_id(self.runtime.pool, poll["id"])

    async def _send_vote(
        self,
        connection: asyncpg.Connection,
        account: Any,
        author: Any,
        status: Any,
        title: str,
        note_uri: str | None,
    ) -> None:
        activity_id = next_activity_id()
        uri = self.urls.activity(activity_id)
        note = {
            "id": note_uri,
            "type": "Note",
            "name": title,
            "attributedTo": account["actor_id"],
            "inReplyTo": status["uri"],
            "to": [author["actor_id"]],
            "cc": [],
            "published": iso(datetime.now(UTC)),
        }
        body = build.build_create(uri, account["actor_id"], note)
        # A vote is private to the poll's author, so it is not served to others.
        await store_activity(
            connection,
            activity_id=activity_id,
            uri=uri,
            account_id=account["id"],
            body=body,
            public=False,
        )
        await enqueue_deliveries(
            connection,
            activity_id,
            [author["inbox_url"]],
            self.runtime.settings.federation.delivery_deadline,
        )
        self.runtime.delivery_wakeup.set()

    async def send_totals(
        self, connection: asyncpg.Connection, status: Any, author: Any
    ) -> None:
        """Send an Update of a local Question with its current totals to the
        author's remote followers and to remote voters."""
        from web.presenters import note_of

        if status["visibility"] in ("local", "direct"):
            return
        note = await note_of(self.runtime, status, author, connection)
        inboxes = await social.follower_inboxes(connection, author["id"])
        voters = await connection.fetch(
            "SELECT DISTINCT coalesce(a.shared_inbox_url, a.inbox_url) AS inbox"
            " FROM poll_votes v JOIN polls p ON p.id = v.poll_id"
            " JOIN accounts a ON a.id = v.account_id"
            " WHERE p.status_id = $1 AND a.domain IS NOT NULL",
            status["id"],
        )
        inboxes += [row["inbox"] for row in voters if row["inbox"]]
        if not inboxes:
            return
        activity_id = next_activity_id()
        uri = self.urls.activity(activity_id)
        body = build.build_update(uri, author["actor_id"], note)
        await store_activity(
            connection, activity_id=activity_id, uri=uri, account_id=author["id"], body=body
        )
        await enqueue_deliveries(
            connection,
            activity_id,
            sorted(set(inboxes)),
            self.runtime.settings.federation.delivery_deadline,
        )
        self.runtime.delivery_wakeup.set()


class PollClosings:
    """Notifies local voters, and the author of a local poll, when a poll ends.

    The author's server also sends a last Update of the Question, which
    carries ``closed``, to remote followers and voters.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def run_once(self, limit: int = 50) -> int:
        """Close the polls that have ended; return how many were closed."""
        from storage import statuses

        async with accounts.transaction(self.runtime.pool) as connection:
            ended = await polls.claim_ended(connection, limit)
            for poll in ended:
                status = await statuses.by_id(connection, poll["status_id"])
                if status is None or status["deleted_at"] is not None:
                    continue
                author = await accounts.by_id(connection, status["account_id"])
                readers = await polls.local_voter_ids(connection, poll["id"])
                if author["domain"] is None:
                    readers.append(author["id"])
                for account_id in readers:
                    # Mastodon names the poll's author as the notification's
                    # account, for the author too.
                    await connection.execute(
                        "INSERT INTO notifications (id, account_id, type,"
                        " from_account_id, status_id) VALUES ($1, $2, 'poll', $3, $4)"
                        " ON CONFLICT DO NOTHING",
                        new_id(),
                        account_id,
                        author["id"],
                        status["id"],
                    )
                if author["domain"] is None:
                    await PollActions(self.runtime).send_totals(connection, status, author)
                log.info(
                    "poll %s of status %s ended; %d accounts notified",
                    poll["id"],
                    status["id"],
                    len(readers),
                )
        return len(ended)
