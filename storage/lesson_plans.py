"""Queries on lesson plans, their revisions, adaptations, attachments and
collections. A plan's row shares its id with its status row."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from storage.ids import new_id

Connection = asyncpg.Connection | asyncpg.Pool

# Plans whose status is deleted are deleted plans.
_LIVE = "JOIN statuses s ON s.id = p.status_id AND s.deleted_at IS NULL"

VISIBILITIES = ("public", "unlisted", "private", "direct")
# How many readers each visibility reaches, widest first; an adaptation may not
# reach more readers than the plan it is based on.
_WIDTH = {"public": 3, "unlisted": 2, "private": 1, "direct": 0}


def visible_to(viewer: str) -> str:
    """Return an SQL condition on the status ``s``: the account whose id is the
    parameter ``viewer`` (NULL for anonymous readers) may read it.

    The condition is the database function ``status_visible``, the rule that
    the status read paths share. For plans: public and unlisted ones are
    readable by anyone but accounts the author blocks. Followers-only plans are
    readable by the author, by accepted followers and by mentioned accounts,
    and direct plans by the author and mentioned accounts. It holds for remote
    viewers too, because their follows and mentions are rows of the same tables.
    """
    return f"status_visible(s, {viewer})"


def wider_than(visibility: str, limit: str) -> bool:
    """Return True when ``visibility`` reaches more readers than ``limit``."""
    return _WIDTH[visibility] > _WIDTH[limit]


_SEARCH_VECTOR = (
    "setweight(to_tsvector('english', title), 'A')"
    " || setweight(to_tsvector('english', summary), 'B')"
    " || setweight(to_tsvector('english', array_to_string(subjects, ' ')), 'B')"
    " || setweight(to_tsvector('english', array_to_string(objectives, ' ')), 'C')"
    " || setweight(to_tsvector('english',"
    " regexp_replace(body_html, '<[^>]*>', ' ', 'g')),"
    " 'D')"
)

COLUMNS = (
    "title",
    "summary",
    "body_markdown",
    "body_html",
    "subjects",
    "grade_levels",
    "grade_numbers",
    "age_min",
    "age_max",
    "duration_minutes",
    "objectives",
    "materials",
    "alignments",
    "license",
    "based_on_uri",
    "attribution",
)


def _encoded(values: dict[str, Any]) -> list[Any]:
    row = []
    for column in COLUMNS:
        value = values.get(column)
        if column in ("alignments", "attribution"):
            # The pool's jsonb codec encodes Python values (storage.pool).
            value = list(value or [])
        elif column in (
            "subjects",
            "grade_levels",
            "grade_numbers",
            "objectives",
            "materials",
        ):
            value = list(value or [])
        elif column in ("summary", "body_html", "title"):
            value = value or ""
        row.append(value)
    return row


async def insert(
    db: asyncpg.Connection, *, status: Any, local: bool, values: dict[str, Any]
) -> asyncpg.Record:
    """Insert the plan of a status just stored; ``values`` is keyed by COLUMNS."""
    placeholders = ", ".join(f"${n}" for n in range(5, 5 + len(COLUMNS)))
    await db.execute(
        "INSERT INTO lesson_plans (status_id, uri, account_id, local,"
        f" {', '.join(COLUMNS)},"
        f" created_at) VALUES ($1, $2, $3, $4, {placeholders}, ${5 + len(COLUMNS)})",
        status["id"],
        status["uri"],
        status["account_id"],
        local,
        *_encoded(values),
        status["created_at"],
    )
    await _refresh_search(db, status["id"])
    row = await by_id(db, status["id"])
    assert row is not None
    return row


async def update(
    db: asyncpg.Connection, status_id: int, values: dict[str, Any]
) -> None:
    """Replace a plan's fields (all of COLUMNS) and mark it edited."""
    assignments = ", ".join(f"{column} = ${n}" for n, column in enumerate(COLUMNS, 2))
    await db.execute(
        f"UPDATE lesson_plans SET {assignments}, updated_at = now()"
        " WHERE status_id = $1",
        status_id,
        *_encoded(values),
    )
    await _refresh_search(db, status_id)


async def _refresh_search(db: asyncpg.Connection, status_id: int) -> None:
    await db.execute(
        f"UPDATE lesson_plans SET search = {_SEARCH_VECTOR} WHERE status_id = $1",
        status_id,
    )


async def by_id(db: Connection, status_id: int) -> asyncpg.Record | None:
    """Return a plan that is not deleted, with its author's actor id and its
    status's visibility and addressing, or None. Checks no reader."""
    return await db.fetchrow(
        f"SELECT p.*, a.actor_id AS author_uri, s.visibility, s.to_uris, s.cc_uris"
        f" FROM lesson_plans p {_LIVE}"
        " JOIN accounts a ON a.id = p.account_id WHERE p.status_id = $1",
        status_id,
    )


async def visible_by_id(
    db: Connection, status_id: int, viewer_id: int | None
) -> asyncpg.Record | None:
    """Return a live plan that ``viewer_id`` may read (None: anonymous), or None."""
    return await db.fetchrow(
        f"SELECT p.*, a.actor_id AS author_uri, s.visibility, s.to_uris, s.cc_uris"
        f" FROM lesson_plans p {_LIVE}"
        " JOIN accounts a ON a.id = p.account_id"
        f" WHERE p.status_id = $1 AND {visible_to('$2::bigint')}",
        status_id,
        viewer_id,
    )


async def can_read(db: Connection, status_id: int, viewer_id: int | None) -> bool:
    """Return True when ``viewer_id`` may read the live plan ``status_id``."""
    return await visible_by_id(db, status_id, viewer_id) is not None


async def by_uri(db: Connection, uri: str) -> asyncpg.Record | None:
    """Return the live plan with this uri, or None. Checks no reader."""
    row = await db.fetchval("SELECT status_id FROM lesson_plans WHERE uri = $1", uri)
    return await by_id(db, row) if row is not None else None


async def visible_by_uri(
    db: Connection, uri: str, viewer_id: int | None
) -> asyncpg.Record | None:
    """Return the live plan with this uri that ``viewer_id`` may read, or None."""
    row = await db.fetchval("SELECT status_id FROM lesson_plans WHERE uri = $1", uri)
    return await visible_by_id(db, row, viewer_id) if row is not None else None


def values_of(plan: Any) -> dict[str, Any]:
    """Return a stored plan's COLUMNS as plain values."""
    values = {column: plan[column] for column in COLUMNS}
    for column in ("alignments", "attribution"):
        if isinstance(values[column], str):
            values[column] = json.loads(values[column])
    return values


# Revisions


async def add_revision(db: asyncpg.Connection, status_id: int, snapshot: dict) -> None:
    await db.execute(
        "INSERT INTO lesson_plan_revisions (id, status_id, snapshot)"
        " VALUES ($1, $2, $3)",
        new_id(),
        status_id,
        snapshot,
    )


async def revisions(db: Connection, status_id: int) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM lesson_plan_revisions WHERE status_id = $1 ORDER BY id DESC",
        status_id,
    )


# Adaptations


async def add_adaptation(
    db: asyncpg.Connection, original_uri: str, adaptation_uri: str, account_id: int
) -> bool:
    """Record an adaptation; return False when it was already recorded."""
    result = await db.execute(
        "INSERT INTO lesson_plan_adaptations (original_uri, adaptation_uri, account_id)"
        " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        original_uri,
        adaptation_uri,
        account_id,
    )
    return result.endswith(" 1")


async def adaptations_of(
    db: Connection, original_uri: str, viewer_id: int | None = None
) -> list[asyncpg.Record]:
    """Return the live adaptations of a plan that ``viewer_id`` may read, newest
    first, with their authors.

    An adaptation whose status is not stored (a remote one known only by its
    uri) is listed without a title, because nothing of it can leak.
    """
    return await db.fetch(
        # Named apart from the author's columns, which include a created_at.
        "SELECT a.*, d.adaptation_uri, d.created_at AS adapted_at,"
        " s.id AS status_id, p.title"
        " FROM lesson_plan_adaptations d JOIN accounts a ON a.id = d.account_id"
        " LEFT JOIN statuses s ON s.uri = d.adaptation_uri"
        " LEFT JOIN lesson_plans p ON p.status_id = s.id"
        " WHERE d.original_uri = $1 AND (s.id IS NULL OR"
        f" (s.deleted_at IS NULL AND {visible_to('$2::bigint')}))"
        " ORDER BY d.created_at DESC LIMIT 200",
        original_uri,
        viewer_id,
    )


async def count_adaptations(
    db: Connection, uris: list[str], viewer_id: int | None = None
) -> dict[str, int]:
    """Count the adaptations of each plan that ``viewer_id`` may read."""
    rows = await db.fetch(
        "SELECT d.original_uri, count(*) AS n FROM lesson_plan_adaptations d"
        " LEFT JOIN statuses s ON s.uri = d.adaptation_uri"
        " WHERE d.original_uri = ANY($1::text[])"
        " AND (s.id IS NULL OR"
        f" (s.deleted_at IS NULL AND {visible_to('$2::bigint')}))"
        " GROUP BY d.original_uri",
        uris,
        viewer_id,
    )
    return {row["original_uri"]: row["n"] for row in rows}


# Attachments


async def add_attachment(
    db: Connection,
    *,
    account_id: int,
    file_name: str,
    mime_type: str,
    size: int,
    status_id: int | None = None,
    remote_url: str | None = None,
    position: int = 0,
    attachment_id: int | None = None,
) -> asyncpg.Record:
    return await db.fetchrow(
        "INSERT INTO lesson_plan_attachments (id, account_id, status_id, file_name,"
        " mime_type, size, remote_url, position)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " RETURNING *",
        attachment_id or new_id(),
        account_id,
        status_id,
        file_name,
        mime_type,
        size,
        remote_url,
        position,
    )


async def claim_attachments(
    db: asyncpg.Connection, account_id: int, status_id: int, ids: list[int]
) -> int:
    """Attach uploads of ``account_id`` that no plan uses yet, in the given order;
    return how many were claimed."""
    claimed = 0
    for position, attachment_id in enumerate(ids):
        result = await db.execute(
            "UPDATE lesson_plan_attachments SET status_id = $3, position = $4"
            " WHERE id = $1 AND account_id = $2"
            " AND (status_id IS NULL OR status_id = $3)",
            attachment_id,
            account_id,
            status_id,
            position,
        )
        claimed += result.endswith(" 1")
    return claimed


async def attachments_of(db: Connection, status_ids: list[int]) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM lesson_plan_attachments WHERE status_id = ANY($1::bigint[])"
        " ORDER BY position, id",
        status_ids,
    )


async def attachment(db: Connection, attachment_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT * FROM lesson_plan_attachments WHERE id = $1", attachment_id
    )


# Collections


async def create_collection(
    db: Connection,
    account_id: int,
    name: str,
    *,
    visibility: str = "public",
    uri_for_id: Any = None,
) -> asyncpg.Record | None:
    """Create a local named collection; return None when the teacher already
    has one of that name (names compare without case). ``uri_for_id`` maps the
    new row id to the collection's ActivityPub id."""
    collection_id = new_id()
    return await db.fetchrow(
        "INSERT INTO lesson_plan_collections (id, account_id, name, visibility, uri)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING *",
        collection_id,
        account_id,
        name,
        visibility,
        uri_for_id(collection_id) if uri_for_id else None,
    )


async def upsert_remote_collection(
    db: Connection, *, uri: str, account_id: int, name: str, visibility: str
) -> asyncpg.Record:
    """Store or rename a remote teacher's collection, keyed by its id."""
    return await db.fetchrow(
        "INSERT INTO lesson_plan_collections"
        " (id, account_id, name, visibility, uri, local)"
        " VALUES ($1, $2, $3, $4, $5, false) ON CONFLICT (uri) WHERE uri IS NOT NULL"
        " DO UPDATE SET name = excluded.name, visibility = excluded.visibility,"
        " updated_at = now()"
        " WHERE lesson_plan_collections.account_id = excluded.account_id"
        " RETURNING *",
        new_id(),
        account_id,
        name,
        visibility,
        uri,
    )


async def rename_collection(
    db: asyncpg.Connection, collection_id: int, name: str
) -> asyncpg.Record | None:
    """Rename a local collection; return None when the teacher already has
    another collection of that name."""
    try:
        # A savepoint, so a taken name leaves the caller's transaction usable.
        async with db.transaction():
            return await db.fetchrow(
                "UPDATE lesson_plan_collections SET name = $2, updated_at = now()"
                " WHERE id = $1 RETURNING *",
                collection_id,
                name,
            )
    except asyncpg.UniqueViolationError:
        return None


async def delete_collection(db: Connection, collection_id: int) -> None:
    await db.execute("DELETE FROM lesson_plan_collections WHERE id = $1", collection_id)


async def collection(db: Connection, collection_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT c.*, a.username, a.actor_id AS owner_uri"
        " FROM lesson_plan_collections c"
        " JOIN accounts a ON a.id = c.account_id WHERE c.id = $1",
        collection_id,
    )


async def collection_by_uri(db: Connection, uri: str) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT c.*, a.username, a.actor_id AS owner_uri"
        " FROM lesson_plan_collections c"
        " JOIN accounts a ON a.id = c.account_id WHERE c.uri = $1",
        uri,
    )


async def collections_of(db: Connection, account_id: int) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT c.*, a.username, a.actor_id AS owner_uri"
        " FROM lesson_plan_collections c"
        " JOIN accounts a ON a.id = c.account_id WHERE c.account_id = $1"
        " ORDER BY lower(c.name), c.id",
        account_id,
    )


async def collection_items(
    db: Connection, collection_id: int, viewer_id: int | None = None
) -> list[asyncpg.Record]:
    """Return the live plans of a collection that ``viewer_id`` may read,
    newest addition first."""
    return await db.fetch(
        "SELECT p.*, i.added_at, s.visibility, s.to_uris, s.cc_uris"
        " FROM lesson_plan_collection_items i"
        f" JOIN lesson_plans p ON p.status_id = i.status_id {_LIVE}"
        f" WHERE i.collection_id = $1 AND {visible_to('$2::bigint')}"
        " ORDER BY i.added_at DESC, i.status_id DESC LIMIT 500",
        collection_id,
        viewer_id,
    )


async def add_to_collection(db: Connection, collection_id: int, status_id: int) -> bool:
    """Add a plan; return False when the collection already contains it."""
    result = await db.execute(
        "INSERT INTO lesson_plan_collection_items (collection_id, status_id)"
        " VALUES ($1, $2) ON CONFLICT DO NOTHING",
        collection_id,
        status_id,
    )
    return result.endswith(" 1")


async def remove_from_collection(
    db: Connection, collection_id: int, status_id: int
) -> bool:
    """Remove a plan; return False when the collection did not contain it."""
    result = await db.execute(
        "DELETE FROM lesson_plan_collection_items"
        " WHERE collection_id = $1 AND status_id = $2",
        collection_id,
        status_id,
    )
    return result.endswith(" 1")


# Preferences


async def preferred_license(db: Connection, account_id: int) -> str | None:
    return await db.fetchval(
        "SELECT default_license FROM lesson_plan_preferences WHERE account_id = $1",
        account_id,
    )


async def set_preferred_license(
    db: Connection, account_id: int, license_key: str
) -> None:
    await db.execute(
        "INSERT INTO lesson_plan_preferences (account_id, default_license)"
        " VALUES ($1, $2) ON CONFLICT (account_id)"
        " DO UPDATE SET default_license = excluded.default_license",
        account_id,
        license_key,
    )


# Search


async def search(
    db: Connection,
    *,
    text: str | None,
    subject: str | None,
    grade: int | None,
    standard: str | None,
    license_key: str | None,
    limit: int,
    offset: int,
    viewer_id: int | None = None,
) -> list[asyncpg.Record]:
    """Return plans, local and remote, that match every filter given, best
    match first when ``text`` is given, else newest first.

    Anonymous searches (``viewer_id`` None) find public plans only. A signed-in
    teacher also finds the unlisted, followers-only and direct plans they may
    read (see ``visible_to``).
    """
    # Only the filters given become conditions, so each combination is its own
    # prepared statement. With "$n IS NULL OR ..." branches, PostgreSQL's
    # generic plan for the statement cannot use the indexes and reads every plan.
    args: list[Any] = []

    def param(value: Any, cast: str) -> str:
        args.append(value)
        return f"${len(args)}::{cast}"

    if viewer_id is None:
        visible = "s.visibility = 'public'"
    else:
        visible = visible_to(param(viewer_id, "bigint"))
    filters = []
    if subject is not None:
        filters.append(
            "EXISTS (SELECT 1 FROM unnest(p.subjects) subject"
            f" WHERE lower(subject) = lower({param(subject, 'text')}))"
        )
    if grade is not None:
        filters.append(f"p.grade_numbers @> ARRAY[{param(grade, 'integer')}]")
    if standard:
        filters.append(f"p.alignments @> {param([{'code': standard}], 'jsonb')}")
    if license_key is not None:
        filters.append(f"p.license = {param(license_key, 'text')}")
    # Literals, so that the generic plan is costed for this page size: with a
    # LIMIT parameter PostgreSQL assumes a tenth of the rows and may JIT.
    page = f"LIMIT {int(limit)} OFFSET {int(offset)}"
    columns = "p.*, a.actor_id AS author_uri, s.visibility, s.to_uris, s.cc_uris"
    joins = f"{_LIVE} JOIN accounts a ON a.id = p.account_id"
    if text is None:
        where = " AND ".join([visible, *filters])
        return await db.fetch(
            f"SELECT {columns}, 0 AS rank FROM lesson_plans p {joins}"
            f" WHERE {where} ORDER BY p.status_id DESC {page}",
            *args,
        )
    # The matches are ranked and sorted on their own, then joined in that
    # order until the page is full. Joined first, the planner would check the
    # visibility of every match, or scan every plan to sort before joining.
    query = f"websearch_to_tsquery('english', {param(text, 'text')})"
    matching = " AND ".join([f"p.search @@ {query}", *filters])
    return await db.fetch(
        f"SELECT {columns}, m.rank FROM"
        f" (SELECT p.status_id, ts_rank_cd(p.search, {query}) AS rank"
        f" FROM lesson_plans p WHERE {matching}"
        " ORDER BY rank DESC, p.status_id DESC OFFSET 0) m"
        f" JOIN lesson_plans p ON p.status_id = m.status_id {joins}"
        f" WHERE {visible} ORDER BY m.rank DESC, m.status_id DESC {page}",
        *args,
    )


async def by_author(
    db: Connection, account_id: int, limit: int, viewer_id: int | None = None
) -> list[asyncpg.Record]:
    """Return a teacher's live plans that ``viewer_id`` may read, newest first.

    Without ``viewer_id`` every plan is returned, for callers that check no
    reader themselves.
    """
    condition = visible_to("$3::bigint") if viewer_id is not None else "true"
    return await db.fetch(
        f"SELECT p.*, a.actor_id AS author_uri, s.visibility, s.to_uris, s.cc_uris"
        f" FROM lesson_plans p {_LIVE}"
        " JOIN accounts a ON a.id = p.account_id"
        f" WHERE p.account_id = $1 AND {condition}"
        " ORDER BY p.status_id DESC LIMIT $2",
        account_id,
        limit,
        *([viewer_id] if viewer_id is not None else []),
    )


async def cards_of(db: Connection, status_ids: list[int]) -> dict[int, asyncpg.Record]:
    """Return the title and summary of the plans among ``status_ids``, by id."""
    rows = await db.fetch(
        "SELECT status_id, uri, title, summary FROM lesson_plans"
        " WHERE status_id = ANY($1::bigint[])",
        status_ids,
    )
    return {row["status_id"]: row for row in rows}
