"""Queries on mentor profiles and mentorships."""

from typing import Any

import asyncpg

from storage.ids import new_id

Connection = asyncpg.Connection | asyncpg.Pool

LIVE_STATES = ("pending", "accepted")


async def save_mentor_profile(
    db: Connection,
    account_id: int,
    *,
    open: bool,
    subjects: list[str],
    grade_levels: list[str],
    capacity: int,
    note: str,
) -> asyncpg.Record:
    """Insert or replace a teacher's mentoring offer and return it."""
    return await db.fetchrow(
        "INSERT INTO mentor_profiles (account_id, open, subjects, grade_levels,"
        " capacity, note) VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (account_id) DO UPDATE SET open = EXCLUDED.open,"
        " subjects = EXCLUDED.subjects, grade_levels = EXCLUDED.grade_levels,"
        " capacity = EXCLUDED.capacity, note = EXCLUDED.note, updated_at = now()"
        " RETURNING *",
        account_id,
        open,
        subjects,
        grade_levels,
        capacity,
        note,
    )


async def mentor_profile(
    db: Connection, account_id: int, *, lock: bool = False
) -> asyncpg.Record | None:
    """Return a teacher's mentoring offer; ``lock`` locks the row until commit,
    which serialises the capacity check of concurrent acceptances."""
    suffix = " FOR UPDATE" if lock else ""
    return await db.fetchrow(
        "SELECT * FROM mentor_profiles WHERE account_id = $1" + suffix, account_id
    )


async def accepted_count(db: Connection, mentor_id: int) -> int:
    return await db.fetchval(
        "SELECT count(*) FROM mentorships WHERE mentor_id = $1 AND state = 'accepted'",
        mentor_id,
    )


async def directory(
    db: Connection,
    *,
    subject: str | None,
    grade_level: str | None,
    limit: int,
    offset: int,
) -> list[asyncpg.Record]:
    """Return local teachers open to mentoring, filtered by subject and grade level
    (case-insensitive exact matches), with their free places.

    NOTE: remote mentors are not listed, because actor documents do not
    publish a teacher's mentoring offer yet.
    """
    return await db.fetch(
        "SELECT a.*, p.subjects AS mentor_subjects,"
        " p.grade_levels AS mentor_grade_levels, p.capacity, p.note AS mentor_note,"
        " p.capacity - (SELECT count(*) FROM mentorships m WHERE m.mentor_id = a.id"
        "  AND m.state = 'accepted') AS free_places"
        " FROM mentor_profiles p JOIN accounts a ON a.id = p.account_id"
        " WHERE p.open AND a.domain IS NULL AND a.deleted_at IS NULL"
        " AND ($1::text IS NULL OR EXISTS (SELECT 1 FROM unnest(p.subjects) s"
        "  WHERE lower(s) = lower($1)))"
        " AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM unnest(p.grade_levels) g"
        "  WHERE lower(g) = lower($2)))"
        " ORDER BY p.updated_at DESC, a.id LIMIT $3 OFFSET $4",
        subject,
        grade_level,
        limit,
        offset,
    )


async def insert(
    db: Connection,
    *,
    uri: str | None,
    offer_uri: str | None,
    mentor_id: int,
    mentee_id: int,
    message: str,
    subjects: list[str],
    uris_for_id: Any = None,
) -> asyncpg.Record | None:
    """Insert a pending mentorship; return None when the pair already has a live
    one or the uri is already stored. ``uris_for_id`` builds (uri, offer uri)
    from the new id for local offers."""
    mentorship_id = new_id()
    if uris_for_id is not None:
        uri, offer_uri = uris_for_id(mentorship_id)
    return await db.fetchrow(
        "INSERT INTO mentorships (id, uri, offer_uri, mentor_id, mentee_id, message,"
        " subjects) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT DO NOTHING RETURNING *",
        mentorship_id,
        uri,
        offer_uri,
        mentor_id,
        mentee_id,
        message,
        subjects,
    )


async def live_between(
    db: Connection, mentor_id: int, mentee_id: int
) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT * FROM mentorships WHERE mentor_id = $1 AND mentee_id = $2"
        " AND state IN ('pending', 'accepted')",
        mentor_id,
        mentee_id,
    )


async def by_id(db: Connection, mentorship_id: int) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM mentorships WHERE id = $1", mentorship_id)


async def by_uri(db: Connection, uri: str) -> asyncpg.Record | None:
    """Find a mentorship by its object uri or by its Offer's uri."""
    return await db.fetchrow(
        "SELECT * FROM mentorships WHERE uri = $1 OR offer_uri = $1", uri
    )


async def set_state(db: Connection, mentorship_id: int, state: str) -> asyncpg.Record:
    return await db.fetchrow(
        "UPDATE mentorships SET state = $2, answered_at = now() WHERE id = $1"
        " RETURNING *",
        mentorship_id,
        state,
    )


async def list_for(
    db: Connection, account_id: int, state: str | None
) -> list[asyncpg.Record]:
    """Return the mentorships a teacher is mentor or mentee of, newest first."""
    return await db.fetch(
        "SELECT * FROM mentorships WHERE (mentor_id = $1 OR mentee_id = $1)"
        " AND ($2::text IS NULL OR state = $2) ORDER BY id DESC LIMIT 200",
        account_id,
        state,
    )


async def thread(db: Connection, mentorship: Any, limit: int) -> list[asyncpg.Record]:
    """Return the direct statuses between mentor and mentee since the offer,
    oldest first: each written by one of the pair and mentioning the other.

    Received statuses carry their published time, often in whole seconds and
    from another clock, so "since" allows one minute before the offer.
    """
    return await db.fetch(
        "SELECT s.* FROM statuses s WHERE s.visibility = 'direct'"
        " AND s.deleted_at IS NULL"
        " AND s.created_at >= $3::timestamptz - interval '1 minute'"
        " AND ((s.account_id = $1 AND EXISTS (SELECT 1 FROM mentions m"
        "   WHERE m.status_id = s.id AND m.account_id = $2))"
        "  OR (s.account_id = $2 AND EXISTS (SELECT 1 FROM mentions m"
        "   WHERE m.status_id = s.id AND m.account_id = $1)))"
        " ORDER BY s.id LIMIT $4",
        mentorship["mentor_id"],
        mentorship["mentee_id"],
        mentorship["created_at"],
        limit,
    )
