"""Mastodon client API entities, rendered in batches with one query per table.

Field names, types and nulls follow Mastodon 4.3's entities (Account, Status,
Relationship, Notification, Instance v1 and v2): ids are strings, times are ISO
8601 in UTC with milliseconds, and fields Mastodon omits for anonymous viewers
are omitted here too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from actors.note import render_note
from federation.sanitize import plain_text
from outbox.actions import MAX_STATUS_CHARACTERS
from pedagogue import MASTODON_COMPAT_VERSION, __version__
from storage import lesson_plans, polls, statuses, status_history

if TYPE_CHECKING:
    from pedagogue.config import Settings
    from pedagogue.runtime import Runtime

# Mastodon 4.3 servers report API version 2 in api_versions. Mastodon.py 2.3
# warns when a server with a 4.3 version string leaves it out.
MASTODON_API_VERSION = 2

def web_url(url: str | None, fallback: str) -> str:
    """Return ``url`` when it is an http(s) URL, else ``fallback``.

    Remote servers choose an object's ``url``, and clients render it as a link,
    so a ``javascript:`` or ``data:`` URL would run in the reader's browser.
    """
    if url and urlsplit(url).scheme.lower() in ("http", "https"):
        return url
    return fallback


# Notification types whose entity carries the status acted on.
STATUS_NOTIFICATIONS = frozenset(
    {"mention", "status", "reblog", "favourite", "poll", "update"}
    | {"event_reminder", "event_join", "event_join_request"}
    | {"event_updated", "event_cancelled"}
    | {"adaptation"}
)


def iso_millis(moment: datetime | None) -> str | None:
    """Return Mastodon's datetime form, ``2024-05-01T09:30:00.123Z``."""
    if moment is None:
        return None
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def iso_day(moment: datetime | None) -> str | None:
    """Return the UTC date alone, as Mastodon writes ``last_status_at``."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def iso_midnight(moment: datetime) -> str:
    """Return the UTC midnight of a time, as Mastodon writes account ``created_at``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT00:00:00.000Z")


def version_string() -> str:
    """Return the instance version in the form Mastodon clients parse."""
    return f"{MASTODON_COMPAT_VERSION} (compatible; Pedagogue {__version__})"


def acct(account: Any) -> str:
    if account["domain"] is None:
        return account["username"]
    return f"{account['username']}@{account['domain']}"


# Accounts


def account_json(
    runtime: Runtime, account: Any, stats: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Return the Mastodon Account entity of an account row.

    ``stats`` comes from :func:`account_stats`. Without it the counts are 0.
    """
    urls = runtime.urls
    local = account["domain"] is None
    url = (
        urls.profile(account["username"])
        if local
        else web_url(account["url"], account["actor_id"])
    )
    # Accounts without images of their own get the instance's plain defaults,
    # and so do accounts of a domain whose media this instance rejects.
    avatar = web_url(account["icon_url"], f"{urls.base}/static/avatar.png")
    header = web_url(account.get("header_url"), f"{urls.base}/static/header.png")
    if runtime.domain_policy.cached_rejects_media(account["domain"]):
        avatar = f"{urls.base}/static/avatar.png"
        header = f"{urls.base}/static/header.png"
    stats = stats or {}
    return {
        "id": str(account["id"]),
        "username": account["username"],
        "acct": acct(account),
        "display_name": account["display_name"],
        "locked": account["manually_approves_followers"],
        # NOTE: a local bot keeps the actor type Person in its actor document,
        # so remote servers do not see it as a bot.
        "bot": account["actor_type"] in ("Service", "Application")
        or bool(account.get("bot", False)),
        "discoverable": account.get("discoverable", True),
        "indexable": False,
        "group": account["actor_type"] == "Group",
        # Mastodon 3.4 and later publish the day of sign-up, not the moment.
        "created_at": iso_midnight(account["created_at"]),
        "note": account["summary"],
        "url": url,
        "uri": account["actor_id"],
        "avatar": avatar,
        "avatar_static": avatar,
        "header": header,
        "header_static": header,
        "followers_count": stats.get("followers", 0),
        "following_count": stats.get("following", 0),
        "statuses_count": stats.get("statuses", 0),
        "last_status_at": iso_day(stats.get("last_status_at")),
        "hide_collections": None,
        "noindex": False,
        "emojis": [],
        "roles": [],
        "fields": [
            {
                "name": item["name"],
                "value": item["value"],
                "verified_at": item.get("verified_at"),
            }
            for item in account.get("fields") or []
        ],
    }


# The statistics of an account, as columns of a query that names the account
# ``a``: follower, following and status counts and the last status time.
_ACCOUNT_STATS_COLUMNS = (
    " (SELECT count(*) FROM follows f WHERE f.target_account_id = a.id"
    "  AND f.accepted)"
    "  AS followers,"
    " (SELECT count(*) FROM follows f WHERE f.account_id = a.id AND f.accepted)"
    "  AS following,"
    " (SELECT count(*) FROM statuses s WHERE s.account_id = a.id"
    "  AND s.deleted_at IS NULL) AS statuses,"
    " (SELECT s.created_at FROM statuses s WHERE s.account_id = a.id"
    "  AND s.deleted_at IS NULL ORDER BY s.id DESC LIMIT 1) AS last_status_at"
)
_ACCOUNT_STATS_KEYS = ("followers", "following", "statuses", "last_status_at")


async def account_stats(
    runtime: Runtime, account_ids: list[int], db: Any | None = None
) -> dict[int, dict[str, Any]]:
    """Return follower, following and status counts and the last status time.

    ``db`` is a connection to run the query on; without it the pool lends one.

    NOTE: the counts are computed on each request from follows and statuses. An
    account with many thousands of statuses makes this slower, and a counter
    table kept up to date on write would then be needed.
    """
    if not account_ids:
        return {}
    rows = await (db or runtime.pool).fetch(
        "SELECT a.id," + _ACCOUNT_STATS_COLUMNS + " FROM unnest($1::bigint[]) AS a(id)",
        list(set(account_ids)),
    )
    return {row["id"]: dict(row) for row in rows}


async def accounts_json(runtime: Runtime, rows: list[Any]) -> list[dict[str, Any]]:
    """Return Account entities for many rows with one statistics query."""
    await runtime.domain_policy.load()
    stats = await account_stats(runtime, [row["id"] for row in rows])
    return [account_json(runtime, row, stats.get(row["id"])) for row in rows]


async def full_account_json(runtime: Runtime, account: Any) -> dict[str, Any]:
    return (await accounts_json(runtime, [account]))[0]


async def credential_account_json(runtime: Runtime, account: Any) -> dict[str, Any]:
    """Return the CredentialAccount entity: the account with its editable source."""
    document = await full_account_json(runtime, account)
    pending = await runtime.pool.fetchval(
        "SELECT count(*) FROM follows WHERE target_account_id = $1 AND NOT accepted",
        account["id"],
    )
    document["source"] = {
        "note": plain_text(account["summary"] or ""),
        "fields": [
            {
                "name": item["name"],
                "value": item.get("source") or plain_text(item["value"]),
                "verified_at": item.get("verified_at"),
            }
            for item in account.get("fields") or []
        ],
        "privacy": account.get("default_visibility") or "public",
        "sensitive": bool(account.get("default_sensitive", False)),
        "language": account.get("default_language") or "",
        "follow_requests_count": pending,
    }
    # Mastodon sends this placeholder role to accounts without a staff role.
    document["role"] = {
        "id": "-99",
        "name": "",
        "permissions": "0",
        "color": "",
        "highlighted": False,
    }
    return document


async def relationships_json(
    runtime: Runtime, viewer: Any, target_ids: list[int]
) -> list[dict[str, Any]]:
    """Return Relationship entities, in request order, for the targets that exist."""
    rows = await runtime.pool.fetch(
        "SELECT t.id, mine.accepted AS mine, theirs.accepted AS theirs,"
        " mine.show_reblogs, mine.notify,"
        " EXISTS (SELECT 1 FROM blocks b WHERE b.account_id = $1"
        "  AND b.target_account_id = t.id) AS blocking,"
        " EXISTS (SELECT 1 FROM blocks b WHERE b.account_id = t.id"
        "  AND b.target_account_id = $1) AS blocked_by,"
        " m.hide_notifications AS muting_notifications,"
        " (SELECT n.comment FROM account_notes n WHERE n.account_id = $1"
        "  AND n.target_account_id = t.id) AS note"
        " FROM unnest($2::bigint[]) WITH ORDINALITY AS t(id, position)"
        " JOIN accounts a ON a.id = t.id AND a.deleted_at IS NULL"
        " LEFT JOIN follows mine ON mine.account_id = $1"
        "  AND mine.target_account_id = t.id"
        " LEFT JOIN follows theirs ON theirs.account_id = t.id"
        "  AND theirs.target_account_id = $1"
        " LEFT JOIN mutes m ON m.account_id = $1 AND m.target_account_id = t.id"
        "  AND (m.expires_at IS NULL OR m.expires_at > now())"
        " ORDER BY t.position",
        viewer["id"],
        target_ids,
    )
    return [_relationship(row) for row in rows]


def _relationship(row: Any) -> dict[str, Any]:
    # A follows row with accepted = false is a pending request.
    following = row["mine"] is True
    requested = row["mine"] is False
    return {
        "id": str(row["id"]),
        "following": following,
        "showing_reblogs": (following or requested) and row["show_reblogs"] is not False,
        "notifying": (following or requested) and row["notify"] is True,
        "languages": None,
        "followed_by": row["theirs"] is True,
        "blocking": row["blocking"],
        "blocked_by": row["blocked_by"],
        "muting": row["muting_notifications"] is not None,
        "muting_notifications": row["muting_notifications"] is True,
        "requested": requested,
        "requested_by": row["theirs"] is False,
        "domain_blocking": False,
        "endorsed": False,
        "note": row["note"] or "",
    }


# Statuses


class StatusPresenter:
    """Render many statuses with a few set-based queries on one connection.

    The queries are keyed by the ids of the statuses on the page and of the
    originals of its boosts. So a page of 20 statuses costs as many round
    trips as a single status: the originals, the authors with their
    statistics, mentions, tags, attachments, and the viewer's favourites and
    boosts in one query. Lesson-plan cards and events add one query each
    when the page contains such statuses. ``db`` is a connection the caller
    already holds, such as the one that read the page; without it one is
    borrowed from the pool for the whole rendering.
    """

    def __init__(
        self,
        runtime: Runtime,
        viewer: Any | None,
        db: Any | None = None,
        filter_context: str | None = None,
    ) -> None:
        self.runtime = runtime
        self.viewer = viewer
        self.db = db
        # The filter context (home, notifications, public, thread, account)
        # whose filters fill ``filtered``; a ``hide`` match drops the status.
        self.filter_context = filter_context
        self.accounts: dict[int, Any] = {}
        self.account_stats: dict[int, dict[str, Any]] = {}
        self.mentions: dict[int, list[Any]] = {}
        self.tags: dict[int, list[str]] = {}
        self.media: dict[int, list[Any]] = {}
        self.events: dict[int, Any] = {}
        self.favourited: set[int] = set()
        self.reblogged: set[int] = set()
        self.bookmarked: set[int] = set()
        self.cards: dict[int, Any] = {}
        self.card_images: dict[int, str] = {}
        self.polls: dict[int, Any] = {}
        self.own_votes: dict[int, list[int]] = {}
        self.pinned: set[int] = set()

    async def render(self, rows: list[Any]) -> list[dict[str, Any]]:
        """Return Status entities for ``rows``, reblogs with their originals."""
        if not rows:
            return []
        if self.db is not None:
            return await self._render(self.db, rows)
        async with self.runtime.pool.acquire() as db:
            return await self._render(db, rows)

    async def _render(self, db: Any, rows: list[Any]) -> list[dict[str, Any]]:
        # Media rejection is read from the cached domain policy while rendering.
        await self.runtime.domain_policy.load()
        originals = await self._originals(db, rows)
        every = list(rows) + list(originals.values())
        await self._load(db, every)
        result = []
        for row in rows:
            entity = self._status(row)
            original = (
                originals.get(row["reblog_of_id"]) if row["reblog_of_id"] else None
            )
            if original is not None:
                entity["reblog"] = self._status(original)
            result.append(entity)
        if self.filter_context is not None and self.viewer is not None:
            from web.api_filters import apply_filters

            result = await apply_filters(db, self.viewer, result, self.filter_context)
        return result

    async def _originals(self, db: Any, rows: list[Any]) -> dict[int, Any]:
        reblog_ids = [row["reblog_of_id"] for row in rows if row["reblog_of_id"]]
        if not reblog_ids:
            return {}
        fetched = await db.fetch(
            "SELECT * FROM statuses WHERE id = ANY($1::bigint[])", reblog_ids
        )
        return {row["id"]: row for row in fetched}

    async def _load(self, db: Any, rows: list[Any]) -> None:
        ids = [row["id"] for row in rows]
        account_ids = list({row["account_id"] for row in rows})
        # The authors and their statistics in one query; the statistics are
        # split off so the account rows keep exactly the table's columns.
        account_rows = await db.fetch(
            "SELECT a.*," + _ACCOUNT_STATS_COLUMNS.replace(" AS ", " AS stats_")
            + " FROM accounts a WHERE a.id = ANY($1::bigint[])",
            account_ids,
        )
        for row in account_rows:
            values = dict(row)
            stats = {"id": row["id"]}
            for key in _ACCOUNT_STATS_KEYS:
                stats[key] = values.pop("stats_" + key)
            self.accounts[row["id"]] = values
            self.account_stats[row["id"]] = stats
        for row in await statuses.mentions_of(db, ids):
            self.mentions.setdefault(row["status_id"], []).append(row)
        for row in await statuses.tags_of(db, ids):
            self.tags.setdefault(row["status_id"], []).append(row["name"])
        for row in await statuses.attachments_of(db, ids):
            self.media.setdefault(row["status_id"], []).append(row)
        articles = [row["id"] for row in rows if row["object_type"] == "Article"]
        if articles:
            self.cards = await lesson_plans.cards_of(db, articles)
            self.card_images = await _plan_card_images(self.runtime, db, articles)
        event_ids = [row["id"] for row in rows if row["object_type"] == "Event"]
        if event_ids:
            self.events = {
                row["status_id"]: row
                for row in await db.fetch(
                    "SELECT * FROM events WHERE status_id = ANY($1::bigint[])", event_ids
                )
            }
        self.polls = await polls.of_statuses(db, ids)
        if self.viewer is not None:
            await self._load_viewer_state(db, self.viewer, ids)

    async def _load_viewer_state(self, db: Any, viewer: Any, ids: list[int]) -> None:
        marks = await db.fetch(
            "SELECT true AS favourite, status_id FROM favourites"
            " WHERE account_id = $1 AND status_id = ANY($2::bigint[])"
            " UNION ALL"
            " SELECT false, reblog_of_id FROM statuses WHERE account_id = $1"
            " AND deleted_at IS NULL"
            " AND reblog_of_id = ANY($2::bigint[])"
            " UNION ALL"
            " SELECT NULL, status_id FROM bookmarks"
            " WHERE account_id = $1 AND status_id = ANY($2::bigint[])",
            viewer["id"],
            ids,
        )
        self.favourited = {row["status_id"] for row in marks if row["favourite"]}
        self.reblogged = {row["status_id"] for row in marks if row["favourite"] is False}
        self.bookmarked = {row["status_id"] for row in marks if row["favourite"] is None}
        self.pinned = await status_history.pinned_ids(db, viewer["id"], ids)
        if self.polls:
            self.own_votes = await polls.choices_of(
                db, viewer["id"], [poll["id"] for poll in self.polls.values()]
            )

    def _status(self, row: Any) -> dict[str, Any]:
        author = self.accounts[row["account_id"]]
        urls = self.runtime.urls
        entity: dict[str, Any] = {
            "id": str(row["id"]),
            "uri": row["uri"],
            "url": web_url(row["url"], row["uri"]),
            "created_at": iso_millis(row["created_at"]),
            "edited_at": iso_millis(row["edited_at"]),
            "account": account_json(
                self.runtime, author, self.account_stats.get(author["id"])
            ),
            "content": row["content"],
            "visibility": _mastodon_visibility(row["visibility"]),
            # Pedagogue's own levels, which Mastodon apps do not know: a
            # local-only status shows as public with this marker, as
            # glitch-soc marks it, and a group-only one as private with the
            # group's account id.
            "local_only": row["visibility"] == "local",
            "group_id": _string_id(row["audience_id"])
            if row["visibility"] == "group"
            else None,
            "sensitive": row["sensitive"],
            "spoiler_text": row["spoiler_text"],
            "language": row["language"],
            "in_reply_to_id": _string_id(row["in_reply_to_id"]),
            "in_reply_to_account_id": _string_id(row["in_reply_to_account_id"]),
            "reblog": None,
            "replies_count": row["replies_count"],
            "reblogs_count": row["reblogs_count"],
            "favourites_count": row["favourites_count"],
            "media_attachments": [
                media_json(item) for item in self._shown_media(row, author)
            ],
            "mentions": [_mention(m) for m in self.mentions.get(row["id"], [])],
            "tags": [
                {"name": name, "url": urls.tag(name)}
                for name in self.tags.get(row["id"], [])
            ],
            "emojis": [],
            "card": _plan_card(
                self.cards.get(row["id"]),
                row,
                author,
                self.card_images.get(row["id"]),
                self.runtime,
            ),
            "poll": None,
        }
        poll = self.polls.get(row["id"])
        if poll is not None:
            entity["poll"] = poll_json(poll, row, self.viewer, self.own_votes)
        event = self.events.get(row["id"])
        if event is not None:
            # Mastodon apps know no events: a card carries the title and time.
            card = _event_card(event, row, author, self.runtime)
            entity["card"] = card
            if row["local"]:
                entity["content"] = _event_content(event, row["content"], card["url"])
        if row["local"]:
            # Statuses posted with `pedagogue token create` tokens have no
            # registered application; Mastodon omits the key for remote ones.
            entity["application"] = None
        if self.viewer is not None:
            self._add_viewer_state(entity, row, author, self.viewer)
        return entity

    def _add_viewer_state(
        self, entity: dict[str, Any], row: Any, author: Any, viewer: Any
    ) -> None:
        entity["favourited"] = row["id"] in self.favourited
        entity["reblogged"] = row["id"] in self.reblogged
        entity["muted"] = False
        entity["bookmarked"] = row["id"] in self.bookmarked
        entity["filtered"] = []
        # Mastodon sends "pinned" only on statuses the viewer could pin.
        own = author["id"] == viewer["id"]
        if own and row["reblog_of_id"] is None and row["visibility"] != "direct":
            entity["pinned"] = row["id"] in self.pinned

    def _shown_media(self, row: Any, author: Any) -> list[Any]:
        # Media stored before a reject_media domain block are hidden too.
        if self.runtime.domain_policy.cached_rejects_media(author["domain"]):
            return []
        return self.media.get(row["id"], [])


def poll_json(
    poll: Any, status: Any, viewer: Any | None, own_votes: dict[int, list[int]]
) -> dict[str, Any]:
    """Return the Poll entity. With ``hide_totals``, the counts per option are
    null for everyone but the author until the poll ends, as in Mastodon."""
    expires_at = poll["expires_at"]
    expired = expires_at is not None and expires_at <= datetime.now(UTC)
    hidden = (
        poll["hide_totals"]
        and not expired
        and (viewer is None or viewer["id"] != status["account_id"])
    )
    document: dict[str, Any] = {
        "id": str(poll["id"]),
        "expires_at": iso_millis(expires_at),
        "expired": expired,
        "multiple": poll["multiple"],
        "votes_count": poll["votes_count"],
        "voters_count": poll["voters_count"],
        "options": [
            {
                "title": option["title"],
                "votes_count": None if hidden else option["votes_count"],
            }
            for option in polls.options_of(poll)
        ],
        "emojis": [],
    }
    if viewer is not None:
        choices = own_votes.get(poll["id"], [])
        document["voted"] = bool(choices) or viewer["id"] == status["account_id"]
        document["own_votes"] = choices
    return document


def _mastodon_visibility(visibility: str) -> str:
    """Return the Mastodon visibility a client shows for a Pedagogue level."""
    return {"local": "public", "group": "private"}.get(visibility, visibility)


def _event_when(event: Any) -> str:
    from actors.event import zone_of

    zone = zone_of(event["timezone"]) or UTC
    starts = event["starts_at"].astimezone(zone)
    ends = event["ends_at"].astimezone(zone)
    return f"{starts:%Y-%m-%d %H:%M} to {ends:%Y-%m-%d %H:%M} ({zone})"


def _event_content(event: Any, description: str, url: str) -> str:
    """Return the text of a local event's status: the name and time, the
    description and a link to the event's page, where readers can join."""
    from html import escape

    heading = f"<p><strong>{escape(event['name'])}</strong><br>{_event_when(event)}</p>"
    link = escape(url, quote=True)
    return f'{heading}{description}<p><a href="{link}">{link}</a></p>'


def _event_card(
    event: Any, status: Any, author: Any, runtime: Runtime
) -> dict[str, Any]:
    """Return the preview card of an event's status: the title, the time and
    whether it meets online, linked to the event's page."""
    where = "online" if event["online_url"] else "in person"
    # A local event links to its page here, where readers can join it; a
    # received one links to the page its own server published.
    if status["local"]:
        url = f"{runtime.settings.base_url}/events/{status['id']}"
    else:
        url = web_url(status["url"], status["uri"])
    return _card(
        url=url,
        title=event["name"],
        description=f"Event, {where}: {_event_when(event)}",
        author=author,
        image=None,
        runtime=runtime,
    )


def _plan_card(
    plan: Any, status: Any, author: Any, image: str | None, runtime: Runtime
) -> dict[str, Any] | None:
    """Return the preview card of a lesson plan's status, so Mastodon apps show
    the plan's title, summary and first image with a link to its page."""
    if plan is None:
        return None
    return _card(
        url=web_url(status["url"], plan["uri"]),
        title=plan["title"],
        description=plan["summary"],
        author=author,
        image=image,
        runtime=runtime,
    )


def _card(
    *,
    url: str,
    title: str,
    description: str,
    author: Any,
    image: str | None,
    runtime: Runtime,
) -> dict[str, Any]:
    """Return Mastodon's PreviewCard entity of type ``link``.

    The provider is this instance for local objects and the author's server
    for received ones, as a Mastodon server names the site a link leads to.
    """
    if author["domain"] is None:
        provider_name = runtime.settings.instance.name
        provider_url = runtime.settings.base_url
        author_url = runtime.urls.profile(author["username"])
    else:
        provider_name = author["domain"]
        provider_url = f"https://{author['domain']}"
        author_url = web_url(author["url"], author["actor_id"])
    author_name = author["display_name"] or author["username"]
    return {
        "url": url,
        "title": title,
        "description": description,
        "language": None,
        "type": "link",
        "author_name": author_name,
        "author_url": author_url,
        "provider_name": provider_name,
        "provider_url": provider_url,
        "html": "",
        # The image is not measured, and Mastodon sends 0 for an unknown size.
        "width": 0,
        "height": 0,
        "image": image,
        "image_description": "",
        "embed_url": "",
        "blurhash": None,
        "published_at": None,
        "authors": [{"name": author_name, "url": author_url, "account": None}],
    }


async def _plan_card_images(
    runtime: Runtime, db: Any, status_ids: list[int]
) -> dict[int, str]:
    """Return the URL of the first image attached to each plan, by status id.

    A local file's URL carries its capability key, as the plan's Article
    does, because only readers who may read the status see its card.
    """
    from outbox.lesson_plans import file_url

    rows = await db.fetch(
        "SELECT DISTINCT ON (status_id) id, status_id, remote_url"
        " FROM lesson_plan_attachments"
        " WHERE status_id = ANY($1::bigint[]) AND mime_type LIKE 'image/%'"
        " ORDER BY status_id, position, id",
        status_ids,
    )
    images = {}
    for row in rows:
        if row["remote_url"] is None:
            images[row["status_id"]] = file_url(runtime, row)
        elif urlsplit(row["remote_url"]).scheme.lower() in ("http", "https"):
            images[row["status_id"]] = row["remote_url"]
    return images


def _string_id(value: int | None) -> str | None:
    return str(value) if value is not None else None


def _mention(account: Any) -> dict[str, Any]:
    return {
        "id": str(account["id"]),
        "username": account["username"],
        "acct": acct(account),
        "url": web_url(account["url"], account["actor_id"]),
    }


def media_json(item: Any) -> dict[str, Any]:
    """Return the MediaAttachment entity of an upload or a received attachment.

    A local upload (one with ``file_name``) is served by this instance, so its
    ``remote_url`` is null; a received one is shown from the remote URL.
    """
    local = item.get("file_name") is not None
    meta: dict[str, Any] = {}
    if item.get("width"):
        size = {
            "width": item["width"],
            "height": item["height"],
            "size": f"{item['width']}x{item['height']}",
            "aspect": item["width"] / item["height"],
        }
        meta = {"original": size, "small": dict(size)}
    if item.get("focus_x") is not None:
        meta["focus"] = {"x": item["focus_x"], "y": item["focus_y"]}
    return {
        "id": str(item["id"]),
        "type": item["media_type"],
        "url": item["remote_url"],
        "preview_url": item["remote_url"],
        "remote_url": None if local else item["remote_url"],
        "preview_remote_url": None,
        "text_url": None,
        "meta": meta,
        "description": item["description"],
        "blurhash": item["blurhash"],
    }


async def status_json(runtime: Runtime, row: Any, viewer: Any | None) -> dict[str, Any]:
    return (await StatusPresenter(runtime, viewer).render([row]))[0]


# Notifications


async def notifications_json(
    runtime: Runtime, viewer: Any, rows: list[Any]
) -> list[dict[str, Any]]:
    """Return Notification entities; one whose status is gone is left out."""
    status_ids = [row["status_id"] for row in rows if row["status_id"]]
    status_rows = await runtime.pool.fetch(
        "SELECT * FROM statuses WHERE id = ANY($1::bigint[]) AND deleted_at IS NULL",
        status_ids,
    )
    rendered = await StatusPresenter(runtime, viewer, None, "notifications").render(
        list(status_rows)
    )
    by_status_id = {int(item["id"]): item for item in rendered}
    sender_rows = await runtime.pool.fetch(
        "SELECT * FROM accounts WHERE id = ANY($1::bigint[])",
        list({row["from_account_id"] for row in rows}),
    )
    senders = dict(
        zip(
            [r["id"] for r in sender_rows],
            await accounts_json(runtime, list(sender_rows)),
        )
    )
    # A deleted event has no status to show, so its notification names the
    # event from the events row, which outlives the status's content.
    deleted_ids = [row["status_id"] for row in rows if row["type"] == "event_deleted"]
    deleted_events: dict[int, dict[str, str]] = {}
    if deleted_ids:
        for event in await runtime.pool.fetch(
            "SELECT status_id, uri, name FROM events WHERE status_id = ANY($1::bigint[])",
            deleted_ids,
        ):
            deleted_events[event["status_id"]] = {
                "uri": event["uri"],
                "name": event["name"],
            }
    result = []
    for row in rows:
        entity = {
            "id": str(row["id"]),
            "type": row["type"],
            "group_key": f"ungrouped-{row['id']}",
            "created_at": iso_millis(row["created_at"]),
            "account": senders[row["from_account_id"]],
        }
        if row["type"] == "event_deleted":
            entity["event"] = deleted_events.get(row["status_id"])
        if row.get("group_id") is not None:
            # Pedagogue's addition: the group a join request or a rejection
            # concerns, by its account id.
            entity["group_id"] = str(row["group_id"])
        if row["type"] in STATUS_NOTIFICATIONS:
            status = by_status_id.get(row["status_id"])
            if status is None:
                continue
            entity["status"] = status
        if row.get("mentorship_id") is not None:
            # Pedagogue's mentorship_* types; the id is the one of
            # /api/pedagogue/v1/mentorships/{id}.
            entity["mentorship_id"] = str(row["mentorship_id"])
        result.append(entity)
    return result


# Instance


def _configuration(settings: Settings) -> dict[str, Any]:
    """Return the limits clients check before they send a request, each read
    from the constant or setting the server enforces."""
    # Imported here because web.api_media imports this module.
    from outbox.polls import (
        MAX_EXPIRATION_SECONDS,
        MAX_OPTION_CHARACTERS,
        MAX_OPTIONS,
        MIN_EXPIRATION_SECONDS,
    )
    from outbox.profiles import MAX_IMAGE_PIXELS
    from storage.media import MAX_ATTACHMENTS_PER_STATUS
    from storage.status_history import MAX_PINS
    from web.api_media import SUPPORTED_MIME_TYPES, max_media_bytes

    return {
        # Featured hashtags are not supported, so an account may feature none.
        "accounts": {"max_featured_tags": 0, "max_pinned_statuses": MAX_PINS},
        "statuses": {
            "max_characters": MAX_STATUS_CHARACTERS,
            "max_media_attachments": MAX_ATTACHMENTS_PER_STATUS,
            # NOTE: Mastodon counts every URL as 23 characters, but the text
            # length check counts a URL's real length. A client that trusts
            # this value lets a text with long URLs through its counter that
            # the server then rejects with 422.
            "characters_reserved_per_url": 23,
        },
        "media_attachments": {
            "supported_mime_types": list(SUPPORTED_MIME_TYPES),
            # NOTE: the request body limit also covers the multipart framing
            # and the other form fields, so a file within a few hundred bytes
            # of this size is rejected with 413.
            "image_size_limit": max_media_bytes(settings),
            "image_matrix_limit": MAX_IMAGE_PIXELS,
            # Video uploads are not supported.
            "video_size_limit": 0,
            "video_frame_rate_limit": 0,
            "video_matrix_limit": 0,
        },
        "polls": {
            "max_options": MAX_OPTIONS,
            "max_characters_per_option": MAX_OPTION_CHARACTERS,
            "min_expiration": MIN_EXPIRATION_SECONDS,
            "max_expiration": MAX_EXPIRATION_SECONDS,
        },
    }


def streaming_url(settings: Settings) -> str:
    """Return the WebSocket URL of the streaming API's host, as Mastodon names it."""
    scheme, _, rest = settings.base_url.partition("://")
    return ("wss" if scheme == "https" else "ws") + "://" + rest


def _thumbnail_url(settings: Settings) -> str:
    return f"{settings.base_url}/static/header.png"


def instance_v1_json(
    settings: Settings,
    stats: dict[str, int],
    contact_account: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return Mastodon's V1::Instance entity; ``stats`` has the three counts and
    ``contact_account`` is the Account entity of the instance's contact."""
    instance = settings.instance
    return {
        "uri": settings.domain,
        "title": instance.name,
        "short_description": instance.description,
        "description": instance.description,
        "email": instance.contact_email,
        "version": version_string(),
        "urls": {"streaming_api": streaming_url(settings)},
        "stats": stats,
        "thumbnail": _thumbnail_url(settings),
        "languages": [instance.language],
        "registrations": instance.open_registrations,
        # Open sign-ups are requests that an admin approves.
        "approval_required": instance.open_registrations,
        # Only admins create invites, which Mastodon reports as false.
        "invites_enabled": False,
        "configuration": _configuration(settings),
        "contact_account": contact_account,
        "rules": [],
    }


def instance_v2_json(
    settings: Settings,
    active_users: int,
    contact_account: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return Mastodon's Instance entity (``/api/v2/instance``).

    ``active_users`` is the count of local teachers active in the last 30
    days and ``contact_account`` the Account entity of the contact.
    """
    instance = settings.instance
    configuration = _configuration(settings)
    configuration["urls"] = {"streaming": streaming_url(settings)}
    configuration["translation"] = {"enabled": False}
    return {
        "domain": settings.domain,
        "title": instance.name,
        "version": version_string(),
        # NOTE: the AGPL requires a link to the running source, but no setting
        # holds one yet, so the value is empty.
        "source_url": "",
        "description": instance.description,
        "usage": {"users": {"active_month": active_users}},
        "thumbnail": {"url": _thumbnail_url(settings)},
        "icon": [],
        "languages": [instance.language],
        "configuration": configuration,
        "registrations": {
            "enabled": instance.open_registrations,
            "approval_required": instance.open_registrations,
            "message": None,
            "url": None,
        },
        "api_versions": {"mastodon": MASTODON_API_VERSION},
        "contact": {"email": instance.contact_email, "account": contact_account},
        "rules": [],
    }


# ActivityStreams


async def note_of(
    runtime: Runtime, status: Any, account: Any, db: Any = None
) -> dict[str, Any]:
    """Return the ActivityStreams Note (or Question, with a poll) of a local
    status, read through ``db`` when given, else the pool."""
    db = db or runtime.pool
    mentions = await statuses.mentions_of(db, [status["id"]])
    tags = [row["name"] for row in await statuses.tags_of(db, [status["id"]])]
    domain = runtime.settings.domain
    note = render_note(
        status,
        actor_id=account["actor_id"],
        url=status["url"]
        or runtime.urls.status_page(account["username"], status["id"]),
        in_reply_to_uri=status["in_reply_to_uri"],
        mentions=[
            (m["actor_id"], f"@{m['username']}@{m['domain'] or domain}")
            for m in mentions
        ],
        tags=[(name, runtime.urls.tag(name)) for name in tags],
    )
    # Served at this URL by web.activitypub.replies_collection, filtered for
    # the fetching actor.
    note["replies"] = f"{status['uri']}/replies"
    media = await statuses.attachments_of(db, [status["id"]])
    if media:
        from outbox.actions import document_of

        note["attachment"] = [document_of(item) for item in media]
    poll = await polls.by_status(db, status["id"])
    if poll is not None:
        from outbox.polls import question_fields

        note.update(question_fields(poll))
    if status["visibility"] == "group" and status["audience_id"] is not None:
        note["audience"] = await db.fetchval(
            "SELECT actor_id FROM accounts WHERE id = $1", status["audience_id"]
        )
    return note
