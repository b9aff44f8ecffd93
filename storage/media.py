"""Queries on media attachments uploaded through the client API."""

from __future__ import annotations

import asyncpg

from storage.ids import new_id

Connection = asyncpg.Connection | asyncpg.Pool

# Maximum attachments of one status, as in Mastodon.
MAX_ATTACHMENTS_PER_STATUS = 4


class MediaError(Exception):
    """Media ids that cannot be attached, with the HTTP status to return."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def insert_upload(
    db: Connection,
    *,
    account_id: int,
    url: str,
    file_name: str,
    mime_type: str,
    description: str | None,
    focus: tuple[float, float] | None,
    width: int,
    height: int,
    file_size: int,
) -> asyncpg.Record:
    """Store an upload that no status uses yet and return its row.

    NOTE: files of uploads never attached, and of statuses deleted later, stay
    in the media directory, because no cleanup job removes them yet.
    """
    row = await db.fetchrow(
        "INSERT INTO media_attachments (id, status_id, remote_url, media_type,"
        " mime_type, description, account_id, file_name, focus_x, focus_y,"
        " width, height, file_size)"
        " VALUES ($1, NULL, $2, 'image', $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        " RETURNING *",
        new_id(),
        url,
        mime_type,
        description,
        account_id,
        file_name,
        focus[0] if focus else None,
        focus[1] if focus else None,
        width,
        height,
        file_size,
    )
    assert row is not None
    return row


async def own(db: Connection, account_id: int, media_id: int) -> asyncpg.Record | None:
    """Return an upload of ``account_id``, attached or not, else None."""
    return await db.fetchrow(
        "SELECT * FROM media_attachments WHERE id = $1 AND account_id = $2",
        media_id,
        account_id,
    )


async def describe(
    db: Connection,
    media_id: int,
    description: str | None,
    focus: tuple[float, float] | None,
) -> asyncpg.Record | None:
    """Change the description and focal point of an upload no status uses.

    Returns None once a status uses it.
    """
    return await db.fetchrow(
        "UPDATE media_attachments SET description = $2, focus_x = $3, focus_y = $4"
        " WHERE id = $1 AND status_id IS NULL RETURNING *",
        media_id,
        description,
        focus[0] if focus else None,
        focus[1] if focus else None,
    )


async def attach(
    connection: asyncpg.Connection,
    account_id: int,
    status_id: int,
    media_ids: list[int],
) -> list[asyncpg.Record]:
    """Attach uploads to a new status, in the order of ``media_ids``.

    Run inside the transaction that stores the status. Raises MediaError with
    422 for more than MAX_ATTACHMENTS_PER_STATUS ids, a repeated id, an id of
    another account's upload or an upload a status already uses, as Mastodon
    rejects them.
    """
    if len(media_ids) > MAX_ATTACHMENTS_PER_STATUS:
        raise MediaError(
            422,
            f"Validation failed: a status has at most {MAX_ATTACHMENTS_PER_STATUS}"
            " media attachments",
        )
    if len(set(media_ids)) != len(media_ids):
        raise MediaError(422, "Validation failed: media_ids contains an id twice")
    rows = await connection.fetch(
        "UPDATE media_attachments m SET status_id = $2, position = p.position"
        " FROM unnest($3::bigint[]) WITH ORDINALITY AS p(id, position)"
        " WHERE m.id = p.id AND m.account_id = $1 AND m.status_id IS NULL"
        " RETURNING m.*",
        account_id,
        status_id,
        media_ids,
    )
    if len(rows) != len(media_ids):
        attached = {row["id"] for row in rows}
        missing = next(media_id for media_id in media_ids if media_id not in attached)
        raise MediaError(
            422,
            f"Validation failed: media {missing} is not an unattached upload of yours",
        )
    return sorted(rows, key=lambda row: row["position"])
