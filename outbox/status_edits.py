"""Editing a local status: the earlier version is kept for its history, the
new one replaces the text, content warning, media and poll, and everyone who
received the status gets an Update of it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import asyncpg

from actors import text as text_format
from outbox import activities as build
from outbox.actions import (
    MAX_SPOILER_CHARACTERS,
    MAX_STATUS_CHARACTERS,
    ActionError,
    Actions,
    _profile_url,
)
from storage import accounts, polls, social, status_history, statuses

if TYPE_CHECKING:
    from outbox.polls import NewPoll
    from pedagogue.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass
class StatusEdit:
    """The new version of a status. As in Mastodon 4.3, media and a poll that
    the edit leaves out are removed."""

    text: str
    spoiler_text: str = ""
    sensitive: bool = False
    language: str | None = None
    media_ids: list[int] = field(default_factory=list)
    poll: NewPoll | None = None


class EditActions(Actions):
    """Edits of local statuses."""

    async def edit_status(self, account: Any, status: Any, edit: StatusEdit) -> asyncpg.Record:
        """Store a new version of an own status and send Update to its recipients.

        Raises ActionError(403) for another account's status, and 422 for a
        boost, an event or lesson plan, or a version that breaks a limit.
        """
        if status["account_id"] != account["id"]:
            raise ActionError(403, "This action is not allowed")
        if status["reblog_of_id"] is not None or status["object_type"] != "Note":
            raise ActionError(422, "Validation failed: only posts can be edited here")
        text = edit.text.strip()
        if not text and not edit.media_ids:
            raise ActionError(422, "Validation failed: Text can't be blank")
        if len(text) > MAX_STATUS_CHARACTERS:
            raise ActionError(422, f"Validation failed: Text is over {MAX_STATUS_CHARACTERS} characters")
        if len(edit.spoiler_text.strip()) > MAX_SPOILER_CHARACTERS:
            raise ActionError(
                422, f"Validation failed: Content warning is over {MAX_SPOILER_CHARACTERS} characters"
            )
        if edit.poll is not None and edit.media_ids:
            raise ActionError(422, "Validation failed: a status cannot have both media and a poll")
        mentioned = await self._resolve_mentions(text)
        tag_names = text_format.find_hashtags(text)
        content = text_format.render_text(
            text,
            mention_url=lambda user, host: _profile_url(mentioned.get((user, host.lower() if host else None))),
            tag_url=self.urls.tag,
        )

        async with accounts.transaction(self.runtime.pool) as connection:
            current = await connection.fetchrow(
                "SELECT * FROM statuses WHERE id = $1 AND deleted_at IS NULL FOR UPDATE", status["id"]
            )
            if current is None:
                raise ActionError(404, "Record not found")
            poll = await polls.by_status(connection, current["id"])
            media = await statuses.attachments_of(connection, [current["id"]])
            await status_history.save_version(
                connection,
                current,
                poll_options=[o["title"] for o in polls.options_of(poll)] if poll else None,
                media_ids=[item["id"] for item in media],
            )
            await connection.execute(
                "UPDATE statuses SET content = $2, source_text = $3, spoiler_text = $4,"
                " sensitive = $5, language = coalesce($6, language), edited_at = now()"
                " WHERE id = $1",
                current["id"],
                content,
                text,
                edit.spoiler_text.strip(),
                edit.sensitive or bool(edit.spoiler_text.strip()),
                edit.language,
            )
            await statuses.add_mentions(connection, current["id"], [m["id"] for m in mentioned.values()])
            await connection.execute("DELETE FROM status_tags WHERE status_id = $1", current["id"])
            await statuses.add_tags(connection, current["id"], tag_names)
            await _replace_media(connection, account, current["id"], [m["id"] for m in media], edit.media_ids)
            await _replace_poll(connection, current["id"], poll, edit.poll)
            updated = await statuses.by_id(connection, current["id"])
            await self._notify_boosters(connection, account, updated)
            await self._send_update(connection, account, updated)
        log.info("status %s of %s edited", status["id"], account["actor_id"])
        return updated

    async def _notify_boosters(self, connection: asyncpg.Connection, account: Any, status: Any) -> None:
        # Mastodon notifies local accounts that boosted a status when it changes.
        rows = await connection.fetch(
            "SELECT DISTINCT s.account_id FROM statuses s JOIN accounts a ON a.id = s.account_id"
            " WHERE s.reblog_of_id = $1 AND s.deleted_at IS NULL AND a.domain IS NULL",
            status["id"],
        )
        for row in rows:
            await connection.execute(
                "DELETE FROM notifications WHERE account_id = $1 AND type = 'update'"
                " AND status_id = $2",
                row["account_id"],
                status["id"],
            )
            await social.notify(connection, row["account_id"], "update", account["id"], status["id"])

    async def _send_update(self, connection: asyncpg.Connection, account: Any, status: Any) -> None:
        from web.presenters import note_of

        if status["visibility"] == "local":
            return
        mentioned = await connection.fetch(
            "SELECT a.* FROM mentions m JOIN accounts a ON a.id = m.account_id WHERE m.status_id = $1",
            status["id"],
        )
        inboxes = await self._inboxes_for(
            connection, account, status["visibility"], list(mentioned), status["audience_id"]
        )
        inboxes += await self._interacting_inboxes(connection, status["id"])
        note = await note_of(self.runtime, status, account, connection)
        await self._send(
            connection,
            account,
            lambda uri: build.build_update(uri, account["actor_id"], note),
            sorted(set(inboxes)),
        )


async def _replace_media(
    connection: asyncpg.Connection,
    account: Any,
    status_id: int,
    current_ids: list[int],
    wanted_ids: list[int],
) -> None:
    """Detach media the edit leaves out, attach new uploads, and order them."""
    from storage.media import MAX_ATTACHMENTS_PER_STATUS, MediaError, attach

    if len(wanted_ids) > MAX_ATTACHMENTS_PER_STATUS:
        raise ActionError(
            422, f"Validation failed: a status has at most {MAX_ATTACHMENTS_PER_STATUS} media attachments"
        )
    if len(set(wanted_ids)) != len(wanted_ids):
        raise ActionError(422, "Validation failed: media_ids contains an id twice")
    await connection.execute(
        "UPDATE media_attachments SET status_id = NULL"
        " WHERE status_id = $1 AND NOT (id = ANY($2::bigint[]))",
        status_id,
        wanted_ids,
    )
    added = [media_id for media_id in wanted_ids if media_id not in current_ids]
    try:
        await attach(connection, account["id"], status_id, added)
    except MediaError as error:
        raise ActionError(error.status, error.message) from None
    await connection.execute(
        "UPDATE media_attachments m SET position = p.position"
        " FROM unnest($2::bigint[]) WITH ORDINALITY AS p(id, position)"
        " WHERE m.id = p.id AND m.status_id = $1",
        status_id,
        wanted_ids,
    )


async def _replace_poll(
    connection: asyncpg.Connection, status_id: int, poll: Any, wanted: NewPoll | None
) -> None:
    """Remove, create or change a status's poll. Votes are kept unless the
    options change, as in Mastodon."""
    if wanted is None:
        if poll is not None:
            await connection.execute("DELETE FROM polls WHERE id = $1", poll["id"])
        return
    if poll is None:
        await polls.insert(
            connection,
            status_id,
            wanted.options,
            multiple=wanted.multiple,
            hide_totals=wanted.hide_totals,
            expires_at=wanted.expires_at(),
        )
        return
    titles = [option["title"] for option in polls.options_of(poll)]
    if titles != wanted.options or poll["multiple"] != wanted.multiple:
        await polls.replace_options(
            connection,
            poll["id"],
            wanted.options,
            multiple=wanted.multiple,
            hide_totals=wanted.hide_totals,
            expires_at=wanted.expires_at(),
        )
    else:
        await connection.execute(
            "UPDATE polls SET hide_totals = $2 WHERE id = $1", poll["id"], wanted.hide_totals
        )
