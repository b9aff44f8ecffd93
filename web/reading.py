"""Read paths shared by the client API and the web interface.

Each function applies the addressing rules itself, so a page and an API
endpoint that show the same statuses cannot disagree about who may see them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from federation.errors import FederationError
from federation.webfinger import parse_acct
from storage import accounts

if TYPE_CHECKING:
    from pedagogue.runtime import Runtime

log = logging.getLogger(__name__)

# Largest id PostgreSQL's bigint holds, used as the open upper cursor.
_NO_CURSOR = 9223372036854775807


@dataclass(frozen=True)
class Page:
    """A page request of a timeline: ids below ``max_id`` and above ``after_id``.

    With ``ascending`` the page is the one right above ``after_id`` (Mastodon's
    ``min_id``), so rows are read oldest first; callers sort them back.
    """

    max_id: int | None
    after_id: int | None
    ascending: bool
    limit: int

    @property
    def order(self) -> str:
        return "ASC" if self.ascending else "DESC"


def newest_first(rows: list[Any]) -> list[Any]:
    return sorted(rows, key=lambda row: row["id"], reverse=True)


# SQL condition that leaves out statuses by suspended accounts. The query must
# name the statuses table "s".
_AUTHOR_NOT_SUSPENDED = (
    "NOT EXISTS (SELECT 1 FROM accounts author WHERE author.id = s.account_id"
    " AND author.suspended_at IS NOT NULL)"
)


async def can_see(pool: Any, row: Any, viewer: Any | None) -> bool:
    """Return True when ``viewer`` (None for a visitor) may read the status ``row``.

    ``viewer`` is a local account, or the remote account of a signed fetch. The
    rule is the database function ``status_visible`` (storage migrations
    0016_visibility_levels.sql and 0021), which list queries apply too. The
    author always may read, and neither side of a block may. Public and
    unlisted statuses are readable by all, local ones by local accounts and
    group ones by the group's members and moderators. Others are readable by
    mentioned accounts, and followers-only ones by accepted followers too.
    A boost is readable only together with the status it boosts. A status by
    a suspended account is hidden from everyone.
    """
    return bool(
        await pool.fetchval(
            f"SELECT status_visible(s, $2) AND {_AUTHOR_NOT_SUSPENDED}"
            " FROM statuses s WHERE s.id = $1",
            row["id"],
            _viewer_id(viewer),
        )
    )


async def visible_ids(pool: Any, ids: list[int], viewer: Any | None) -> set[int]:
    """Return the ids among ``ids`` of the statuses ``viewer`` may read."""
    if not ids:
        return set()
    rows = await pool.fetch(
        "SELECT id FROM statuses s WHERE s.id = ANY($1::bigint[])"
        f" AND status_visible(s, $2) AND {_AUTHOR_NOT_SUSPENDED}",
        ids,
        _viewer_id(viewer),
    )
    return {row["id"] for row in rows}


def _viewer_id(viewer: Any | None) -> int | None:
    return None if viewer is None else viewer["id"]


async def thread_context(
    pool: Any, row: Any, viewer: Any | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return the visible ancestors and descendants of a status, oldest first.

    Both walks stop 40 levels deep, and at most 200 descendants are read.
    """
    ancestors = await pool.fetch(
        "WITH RECURSIVE up AS (SELECT s.*, 0 AS depth FROM statuses s WHERE s.id = $1"
        " UNION ALL SELECT p.*, up.depth + 1 FROM statuses p"
        " JOIN up ON p.id = up.in_reply_to_id WHERE up.depth < 40)"
        " SELECT * FROM up WHERE id <> $1 AND deleted_at IS NULL ORDER BY id",
        row["id"],
    )
    descendants = await pool.fetch(
        "WITH RECURSIVE down AS (SELECT s.*, 0 AS depth FROM statuses s"
        " WHERE s.in_reply_to_id = $1"
        " UNION ALL SELECT c.*, down.depth + 1 FROM statuses c"
        " JOIN down ON c.in_reply_to_id = down.id WHERE down.depth < 40)"
        " SELECT * FROM down WHERE deleted_at IS NULL ORDER BY id LIMIT 200",
        row["id"],
    )
    visible_up = [r for r in ancestors if await can_see(pool, r, viewer)]
    visible_down = [r for r in descendants if await can_see(pool, r, viewer)]
    return _without_depth(visible_up), _without_depth(visible_down)


def _without_depth(rows: list[Any]) -> list[dict[str, Any]]:
    return [
        {key: value for key, value in dict(row).items() if key != "depth"}
        for row in rows
    ]


# Cursors are compared through coalesce() rather than "$n IS NULL OR ...": with
# the OR form, PostgreSQL's generic plan for the prepared statement cannot use
# the index range and reads the whole feed.


async def home_rows(pool: Any, account_id: int, page: Page) -> list[Any]:
    """Return a page of an account's home feed, without what it may not read.

    The feed is written at delivery time; the read applies ``status_visible``
    again, so a block or a left group takes effect on statuses already there.
    """
    rows = await pool.fetch(
        "SELECT s.* FROM home_feed h JOIN statuses s ON s.id = h.status_id"
        " WHERE h.account_id = $1 AND s.deleted_at IS NULL"
        f" AND h.status_id < coalesce($2::bigint, {_NO_CURSOR})"
        " AND h.status_id > coalesce($3::bigint, 0)"
        # The same bounds on s.id: without them a custom plan may merge-join
        # by walking statuses from the newest id down to the cursor.
        f" AND s.id < coalesce($2::bigint, {_NO_CURSOR})"
        " AND s.id > coalesce($3::bigint, 0)"
        " AND status_visible(s, $1)"
        # Blocks either way and live mutes (storage migration 0013), of the
        # author and of a boosted status's author (migration 0021).
        " AND NOT account_hidden_from(s.account_id, $1)"
        " AND NOT boost_hidden_from(s, $1)"
        # Members of the account's exclusive lists show in those lists only.
        " AND NOT EXISTS (SELECT 1 FROM list_accounts la"
        " JOIN lists l ON l.id = la.list_id WHERE l.account_id = $1"
        " AND l.exclusive AND la.account_id = s.account_id)"
        f" ORDER BY h.status_id {page.order} LIMIT $4",
        account_id,
        page.max_id,
        page.after_id,
        page.limit,
    )
    return newest_first(list(rows))


# The public and local-only statuses of the public timelines, each level read
# through its own partial index and filtered by the viewer's rights.
_PUBLIC_BRANCH = (
    "(SELECT * FROM statuses s WHERE visibility = '{level}' AND deleted_at IS NULL"
    " AND reblog_of_id IS NULL"
    f" AND id < coalesce($1::bigint, {_NO_CURSOR})"
    " AND id > coalesce($2::bigint, 0)"
    " AND (NOT $3 OR local) AND (NOT $4 OR NOT local)"
    " AND status_visible(s, $6)"
    # Silenced accounts and domains, and the viewer's blocks and mutes.
    " AND NOT account_kept_off_public(s.account_id)"
    " AND NOT account_hidden_from(s.account_id, $6)"
    " ORDER BY id {order} LIMIT $5)"
)


async def public_rows(
    pool: Any,
    page: Page,
    *,
    local: bool,
    remote: bool,
    viewer: Any | None = None,
) -> list[Any]:
    """Return public statuses that are not boosts, only local or remote ones if asked.

    Local-only statuses are included for a local ``viewer``. Without a viewer
    the page contains public statuses only.
    """
    branches = [_PUBLIC_BRANCH.format(level="public", order=page.order)]
    if viewer is not None and viewer["domain"] is None and not remote:
        branches.append(_PUBLIC_BRANCH.format(level="local", order=page.order))
    rows = await pool.fetch(
        f"SELECT * FROM ({' UNION ALL '.join(branches)}) AS page"
        f" ORDER BY id {page.order} LIMIT $5",
        page.max_id,
        page.after_id,
        local,
        remote,
        page.limit,
        _viewer_id(viewer),
    )
    return newest_first(list(rows))


async def tag_rows(
    pool: Any,
    tag: str,
    page: Page,
    *,
    local: bool = False,
    remote: bool = False,
    viewer: Any | None = None,
) -> list[Any]:
    """Return the public statuses with hashtag ``tag``, and local-only ones for
    a local ``viewer``, that ``viewer`` may read."""
    levels = ["public"]
    if viewer is not None and viewer["domain"] is None and not remote:
        levels.append("local")
    rows = await pool.fetch(
        "SELECT s.* FROM status_tags t JOIN statuses s ON s.id = t.status_id"
        " WHERE t.name = $1 AND s.visibility = ANY($7::text[])"
        " AND s.deleted_at IS NULL"
        f" AND t.status_id < coalesce($2::bigint, {_NO_CURSOR})"
        " AND t.status_id > coalesce($3::bigint, 0)"
        " AND (NOT $4 OR s.local) AND (NOT $5 OR NOT s.local)"
        " AND status_visible(s, $8)"
        # As on the public timelines: silenced accounts and domains, and the
        # viewer's blocks and mutes, stay off.
        " AND NOT account_kept_off_public(s.account_id)"
        " AND NOT account_hidden_from(s.account_id, $8)"
        f" ORDER BY t.status_id {page.order} LIMIT $6",
        tag,
        page.max_id,
        page.after_id,
        local,
        remote,
        page.limit,
        levels,
        _viewer_id(viewer),
    )
    return newest_first(list(rows))


async def account_rows(
    pool: Any,
    account_id: int,
    page: Page,
    *,
    exclude_replies: bool = False,
    exclude_reblogs: bool = False,
    viewer: Any | None = None,
) -> list[Any]:
    """Return the statuses of an account that ``viewer`` (None: a visitor) may read.

    Direct statuses are left out even for their author and addressees, as
    Mastodon leaves them out of profiles.
    """
    rows = await pool.fetch(
        "SELECT * FROM statuses s WHERE account_id = $1 AND deleted_at IS NULL"
        " AND visibility <> 'direct'"
        f" AND id < coalesce($2::bigint, {_NO_CURSOR})"
        " AND id > coalesce($3::bigint, 0)"
        " AND (NOT $4 OR in_reply_to_id IS NULL AND in_reply_to_uri IS NULL)"
        " AND (NOT $5 OR reblog_of_id IS NULL)"
        " AND status_visible(s, $7)"
        f" AND {_AUTHOR_NOT_SUSPENDED}"
        f" ORDER BY id {page.order} LIMIT $6",
        account_id,
        page.max_id,
        page.after_id,
        exclude_replies,
        exclude_reblogs,
        page.limit,
        _viewer_id(viewer),
    )
    return newest_first(list(rows))


async def notification_rows(
    pool: Any,
    account_id: int,
    page: Page,
    types: list[str] | None = None,
    excluded: list[str] | None = None,
    from_account_id: int | None = None,
) -> list[Any]:
    """Return a page of an account's notifications, leaving out those about a
    status the account may no longer read (a block, a group it left).

    ``from_account_id`` keeps only the notifications that account caused.
    """
    rows = await pool.fetch(
        "SELECT * FROM notifications n WHERE account_id = $1"
        f" AND id < coalesce($2::bigint, {_NO_CURSOR})"
        " AND id > coalesce($3::bigint, 0)"
        " AND ($4::text[] IS NULL OR type = ANY($4)) AND NOT type = ANY($5::text[])"
        " AND (n.status_id IS NULL OR EXISTS (SELECT 1 FROM statuses s"
        " WHERE s.id = n.status_id AND status_visible(s, $1)))"
        # Blocks either way, and mutes that hide notifications.
        " AND NOT notification_hidden($1, n.from_account_id)"
        " AND n.from_account_id = coalesce($7::bigint, n.from_account_id)"
        f" ORDER BY id {page.order} LIMIT $6",
        account_id,
        page.max_id,
        page.after_id,
        types,
        excluded or [],
        page.limit,
        from_account_id,
    )
    return newest_first(list(rows))


async def replies_rows(
    pool: Any,
    status_id: int,
    viewer: Any | None,
    limit: int,
    after_id: int | None = None,
) -> list[Any]:
    """Return the direct replies to a status that ``viewer`` may read, oldest
    first, with ids above ``after_id``."""
    rows = await pool.fetch(
        "SELECT * FROM statuses s WHERE in_reply_to_id = $1 AND deleted_at IS NULL"
        " AND id > coalesce($4::bigint, 0)"
        " AND status_visible(s, $2) ORDER BY id LIMIT $3",
        status_id,
        _viewer_id(viewer),
        limit,
        after_id,
    )
    return list(rows)


async def account_by_handle(runtime: Runtime, handle: str, resolve: bool) -> Any:
    """Find the account of ``user@domain``; with ``resolve``, fetch an unknown remote one.

    Returns None for a malformed handle, an unknown local name, or a remote
    account that cannot be resolved (the reason is logged).
    """
    try:
        username, domain = parse_acct(handle)
    except FederationError:
        return None
    local = domain == runtime.settings.domain
    row = await accounts.by_handle(runtime.pool, username, None if local else domain)
    if row is not None or not resolve or local:
        return row
    try:
        return await runtime.resolver.actor_by_handle(username, domain)
    except FederationError as error:
        log.info(
            "could not resolve @%s: %s (%s)",
            handle[:200].encode("unicode_escape").decode(),
            error.message,
            error.cause,
        )
        return None
