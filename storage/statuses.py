"""Queries on statuses, their mentions, tags and attachments."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from storage.ids import new_id

Connection = asyncpg.Connection | asyncpg.Pool


async def insert(
    db: asyncpg.Connection,
    *,
    uri: str | None,
    account_id: int,
    local: bool,
    content: str,
    visibility: str,
    to_uris: list[str],
    cc_uris: list[str],
    url: str | None = None,
    object_type: str = "Note",
    name: str = "",
    source_text: str | None = None,
    spoiler_text: str = "",
    sensitive: bool = False,
    language: str | None = None,
    in_reply_to: asyncpg.Record | None = None,
    in_reply_to_uri: str | None = None,
    reblog_of_id: int | None = None,
    activity_uri: str | None = None,
    created_at: datetime | None = None,
    status_id: int | None = None,
    uri_for_id: Any = None,
    mention_ids: Sequence[int] = (),
    tag_names: Sequence[str] = (),
    attachments: Sequence[Any] = (),
    adopt_replies: bool = False,
) -> asyncpg.Record | None:
    """Insert a status; return None when its uri is already stored.

    ``uri_for_id``, when given, builds the uri from the new id (local statuses).
    The status's mentions (account ids), hashtags and attachments (objects with
    the fields that ``add_attachment`` reads), and with ``adopt_replies`` the
    link of stored replies that arrived before it, go in the same statement, so
    one round trip stores it all. None of them is stored for a uri already stored.
    """
    if created_at is not None:
        # A peer's clock, or a forged date, must not put a status above every
        # new one: ids order timelines, and clients poll with since_id.
        created_at = min(created_at, datetime.now(UTC))
    status_id = status_id or new_id(created_at.timestamp() if created_at else None)
    if uri_for_id is not None:
        uri = uri_for_id(status_id)
    extras = _InsertExtras(mention_ids, tag_names, attachments, adopt_replies)
    return await db.fetchrow(
        extras.statement(),
        status_id,
        uri,
        url,
        account_id,
        local,
        object_type,
        name,
        content,
        source_text,
        spoiler_text,
        visibility,
        sensitive,
        language,
        in_reply_to["id"] if in_reply_to else None,
        in_reply_to["uri"] if in_reply_to else in_reply_to_uri,
        in_reply_to["account_id"] if in_reply_to else None,
        reblog_of_id,
        activity_uri,
        to_uris,
        cc_uris,
        created_at,
        *extras.arguments(),
    )


_INSERT = (
    "INSERT INTO statuses (id, uri, url, account_id, local, object_type, name,"
    " content, source_text, spoiler_text, visibility, sensitive, language,"
    " in_reply_to_id, in_reply_to_uri, in_reply_to_account_id, reblog_of_id,"
    " activity_uri, to_uris, cc_uris, created_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,"
    " $16, $17, $18, $19, $20, coalesce($21, now()))"
    " ON CONFLICT (uri) DO NOTHING RETURNING *"
)
# Each part below becomes a data-modifying CTE of ``WITH inserted AS (_INSERT)``.
# Selecting from ``inserted`` makes a part a no-op when the uri was stored
# already. Foreign keys are checked at the end of the statement, so the new
# rows may point at the status inserted beside them.
_ADOPT_REPLIES = (
    "UPDATE statuses SET in_reply_to_id = i.id, in_reply_to_account_id = i.account_id"
    " FROM inserted i"
    " WHERE statuses.in_reply_to_uri = i.uri AND statuses.in_reply_to_id IS NULL"
)
_ADD_MENTIONS = (
    "INSERT INTO mentions (status_id, account_id)"
    " SELECT i.id, m.account_id"
    " FROM inserted i, unnest(${0}::bigint[]) AS m(account_id)"
    " ON CONFLICT DO NOTHING"
)
_ADD_TAGS = (
    "INSERT INTO status_tags (status_id, name)"
    " SELECT i.id, t.name FROM inserted i, unnest(${0}::text[]) AS t(name)"
    " ON CONFLICT DO NOTHING"
)
_ADD_ATTACHMENTS = (
    "INSERT INTO media_attachments (id, status_id, remote_url, media_type,"
    " mime_type, description, blurhash, position, focus_x, focus_y, width, height)"
    " SELECT a.id, i.id, a.url, a.media_type, a.mime_type, a.description,"
    " a.blurhash, a.position, a.focus_x, a.focus_y, a.width, a.height"
    " FROM inserted i, unnest(${0}::bigint[], ${1}::text[],"
    " ${2}::text[], ${3}::text[], ${4}::text[], ${5}::text[], ${6}::int[],"
    " ${7}::real[], ${8}::real[], ${9}::int[], ${10}::int[])"
    " AS a(id, url, media_type, mime_type, description, blurhash, position,"
    " focus_x, focus_y, width, height)"
)


class _InsertExtras:
    """The optional parts of ``insert``: their SQL and their arguments."""

    def __init__(
        self,
        mention_ids: Sequence[int],
        tag_names: Sequence[str],
        attachments: Sequence[Any],
        adopt_replies: bool,
    ) -> None:
        self.mention_ids = list(dict.fromkeys(mention_ids))
        self.tag_names = list(dict.fromkeys(tag_names))
        self.attachments = list(attachments)
        self.adopt_replies = adopt_replies

    def statement(self) -> str:
        if not (
            self.mention_ids or self.tag_names or self.attachments or self.adopt_replies
        ):
            return _INSERT
        parts = []
        # Parameters $1 to $21 are the status's columns.
        number = 22
        if self.adopt_replies:
            parts.append(_ADOPT_REPLIES)
        if self.mention_ids:
            parts.append(_ADD_MENTIONS.format(number))
            number += 1
        if self.tag_names:
            parts.append(_ADD_TAGS.format(number))
            number += 1
        if self.attachments:
            parts.append(_ADD_ATTACHMENTS.format(*range(number, number + 11)))
        ctes = "".join(f", part{n} AS ({sql})" for n, sql in enumerate(parts))
        return f"WITH inserted AS ({_INSERT}){ctes} SELECT * FROM inserted"

    def arguments(self) -> list[Any]:
        arguments: list[Any] = []
        if self.mention_ids:
            arguments.append(self.mention_ids)
        if self.tag_names:
            arguments.append(self.tag_names)
        if self.attachments:
            items = self.attachments
            arguments += [
                [new_id() for _ in items],
                [item.url for item in items],
                [item.media_type for item in items],
                [item.mime_type for item in items],
                [item.description for item in items],
                [item.blurhash for item in items],
                list(range(len(items))),
                *_focus_and_size(items),
            ]
        return arguments


async def by_id(db: Connection, status_id: int) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM statuses WHERE id = $1", status_id)


async def by_uri(db: Connection, uri: str) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM statuses WHERE uri = $1", uri)


async def add_mentions(db: asyncpg.Connection, status_id: int, account_ids: list[int]) -> None:
    if not account_ids:
        return
    await db.executemany(
        "INSERT INTO mentions (status_id, account_id) VALUES ($1, $2)"
        " ON CONFLICT DO NOTHING",
        [(status_id, account_id) for account_id in account_ids],
    )


async def add_tags(db: asyncpg.Connection, status_id: int, names: list[str]) -> None:
    if not names:
        return
    await db.executemany(
        "INSERT INTO status_tags (status_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        [(status_id, name) for name in dict.fromkeys(names)],
    )


def _focus_and_size(items: Sequence[Any]) -> list[list[Any]]:
    """Return the focus x, focus y, width and height columns of attachments;
    an item without them (not an actors.note.Attachment) gives NULLs."""
    focus = [getattr(item, "focus", None) for item in items]
    return [
        [point[0] if point else None for point in focus],
        [point[1] if point else None for point in focus],
        [getattr(item, "width", None) for item in items],
        [getattr(item, "height", None) for item in items],
    ]


async def add_attachment(db: asyncpg.Connection, status_id: int, position: int, item: Any) -> None:
    focus_x, focus_y, width, height = (column[0] for column in _focus_and_size([item]))
    await db.execute(
        "INSERT INTO media_attachments (id, status_id, remote_url, media_type,"
        " mime_type, description, blurhash, position, focus_x, focus_y, width, height)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        new_id(),
        status_id,
        item.url,
        item.media_type,
        item.mime_type,
        item.description,
        item.blurhash,
        position,
        focus_x,
        focus_y,
        width,
        height,
    )


async def adopt_orphan_replies(db: asyncpg.Connection, parent: asyncpg.Record) -> None:
    """Link replies that arrived before their parent to it."""
    await db.execute(
        "UPDATE statuses SET in_reply_to_id = $1, in_reply_to_account_id = $2"
        " WHERE in_reply_to_uri = $3 AND in_reply_to_id IS NULL",
        parent["id"],
        parent["account_id"],
        parent["uri"],
    )


# Replies counted in their parent's replies_count. The count is shown to every
# reader of the parent, so, as in Mastodon, followers-only, direct, local and
# group replies are left out: counting them would reveal hidden replies.
COUNTED_REPLY_VISIBILITIES = ("public", "unlisted")


async def count_reply(
    db: asyncpg.Connection, parent_id: int | None, visibility: str, delta: int
) -> None:
    """Add ``delta`` to the parent's replies_count when a reply of
    ``visibility`` is counted (see COUNTED_REPLY_VISIBILITIES)."""
    if parent_id is not None and visibility in COUNTED_REPLY_VISIBILITIES:
        await bump_counter(db, parent_id, "replies_count", delta)


async def bump_counter(db: asyncpg.Connection, status_id: int, column: str, delta: int) -> None:
    assert column in ("replies_count", "reblogs_count", "favourites_count")
    await db.execute(
        f"UPDATE statuses SET {column} = greatest({column} + $2, 0) WHERE id = $1",
        status_id,
        delta,
    )


async def mark_deleted(db: asyncpg.Connection, status: asyncpg.Record) -> None:
    """Turn a status into a tombstone: content cleared, row kept for its uri."""
    await db.execute(
        "UPDATE statuses SET deleted_at = now(), content = '', spoiler_text = '',"
        " source_text = NULL WHERE id = $1",
        status["id"],
    )
    await db.execute("DELETE FROM home_feed WHERE status_id = $1", status["id"])
    await db.execute("DELETE FROM notifications WHERE status_id = $1", status["id"])
    await db.execute("DELETE FROM media_attachments WHERE status_id = $1", status["id"])
    # Boosts of a deleted status go with it.
    await db.execute(
        "UPDATE statuses SET deleted_at = now() WHERE reblog_of_id = $1", status["id"]
    )
    await count_reply(db, status["in_reply_to_id"], status["visibility"], -1)
    if status["reblog_of_id"]:
        await bump_counter(db, status["reblog_of_id"], "reblogs_count", -1)


async def update_content(
    db: asyncpg.Connection,
    status_id: int,
    *,
    content: str,
    spoiler_text: str,
    sensitive: bool,
    name: str,
    edited_at: datetime | None,
) -> None:
    await db.execute(
        "UPDATE statuses SET content = $2, spoiler_text = $3, sensitive = $4,"
        " name = $5, edited_at = coalesce($6, now()) WHERE id = $1",
        status_id,
        content,
        spoiler_text,
        sensitive,
        name,
        edited_at,
    )


async def mentions_of(db: Connection, status_ids: list[int]) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT m.status_id, a.* FROM mentions m JOIN accounts a ON a.id = m.account_id"
        " WHERE m.status_id = ANY($1::bigint[])",
        status_ids,
    )


async def tags_of(db: Connection, status_ids: list[int]) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT status_id, name FROM status_tags WHERE status_id = ANY($1::bigint[])",
        status_ids,
    )


async def attachments_of(db: Connection, status_ids: list[int]) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM media_attachments WHERE status_id = ANY($1::bigint[])"
        " ORDER BY position",
        status_ids,
    )


async def count_local(db: Connection) -> int:
    return await db.fetchval(
        "SELECT count(*) FROM statuses WHERE local AND deleted_at IS NULL"
        " AND reblog_of_id IS NULL"
    )
