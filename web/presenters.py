"""Mastodon client API shapes of accounts and statuses, loaded in batches."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from actors.note import render_note
from storage import accounts, statuses

if TYPE_CHECKING:
    from pedagogue.runtime import Runtime


def iso_millis(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def acct(account: Any) -> str:
    return account["username"] if account["domain"] is None else f"{account['username']}@{account['domain']}"


def account_json(runtime: Runtime, account: Any, counts: dict[str, int] | None = None) -> dict[str, Any]:
    """Return the Mastodon Account entity of an account row."""
    urls = runtime.urls
    local = account["domain"] is None
    url = urls.profile(account["username"]) if local else (account["url"] or account["actor_id"])
    avatar = account["icon_url"] or f"{urls.base}/static/avatar.png"
    counts = counts or {}
    return {
        "id": str(account["id"]),
        "username": account["username"],
        "acct": acct(account),
        "display_name": account["display_name"],
        "locked": account["manually_approves_followers"],
        "bot": account["actor_type"] in ("Service", "Application"),
        "discoverable": True,
        "group": account["actor_type"] == "Group",
        "created_at": iso_millis(account["created_at"]),
        "note": account["summary"],
        "url": url,
        "uri": account["actor_id"],
        "avatar": avatar,
        "avatar_static": avatar,
        "header": f"{urls.base}/static/header.png",
        "header_static": f"{urls.base}/static/header.png",
        "followers_count": counts.get("followers", 0),
        "following_count": counts.get("following", 0),
        "statuses_count": counts.get("statuses", 0),
        "last_status_at": None,
        "emojis": [],
        "fields": [],
    }


async def account_counts(runtime: Runtime, account_id: int) -> dict[str, int]:
    row = await runtime.pool.fetchrow(
        "SELECT (SELECT count(*) FROM follows WHERE target_account_id = $1 AND accepted) AS followers,"
        " (SELECT count(*) FROM follows WHERE account_id = $1 AND accepted) AS following,"
        " (SELECT count(*) FROM statuses WHERE account_id = $1 AND deleted_at IS NULL) AS statuses",
        account_id,
    )
    return dict(row)


async def full_account_json(runtime: Runtime, account: Any) -> dict[str, Any]:
    return account_json(runtime, account, await account_counts(runtime, account["id"]))


class StatusPresenter:
    """Render many statuses with one query per related table."""

    def __init__(self, runtime: Runtime, viewer: Any | None) -> None:
        self.runtime = runtime
        self.viewer = viewer

    async def render(self, rows: list[Any]) -> list[dict[str, Any]]:
        """Return Mastodon Status entities for ``rows``, reblogs with their originals."""
        pool = self.runtime.pool
        reblog_ids = [row["reblog_of_id"] for row in rows if row["reblog_of_id"]]
        originals = {}
        if reblog_ids:
            fetched = await pool.fetch("SELECT * FROM statuses WHERE id = ANY($1::bigint[])", reblog_ids)
            originals = {row["id"]: row for row in fetched}
        every = list(rows) + list(originals.values())
        ids = [row["id"] for row in every]
        account_rows = await pool.fetch(
            "SELECT * FROM accounts WHERE id = ANY($1::bigint[])", list({row["account_id"] for row in every})
        )
        self.accounts = {row["id"]: row for row in account_rows}
        self.mentions: dict[int, list[Any]] = {}
        for row in await statuses.mentions_of(pool, ids):
            self.mentions.setdefault(row["status_id"], []).append(row)
        self.tags: dict[int, list[str]] = {}
        for row in await statuses.tags_of(pool, ids):
            self.tags.setdefault(row["status_id"], []).append(row["name"])
        self.media: dict[int, list[Any]] = {}
        for row in await statuses.attachments_of(pool, ids):
            self.media.setdefault(row["status_id"], []).append(row)
        self.favourited: set[int] = set()
        self.reblogged: set[int] = set()
        if self.viewer is not None:
            favs = await pool.fetch(
                "SELECT status_id FROM favourites WHERE account_id = $1 AND status_id = ANY($2::bigint[])",
                self.viewer["id"], ids,
            )
            self.favourited = {row["status_id"] for row in favs}
            boosts = await pool.fetch(
                "SELECT reblog_of_id FROM statuses WHERE account_id = $1 AND deleted_at IS NULL"
                " AND reblog_of_id = ANY($2::bigint[])",
                self.viewer["id"], ids,
            )
            self.reblogged = {row["reblog_of_id"] for row in boosts}
        result = []
        for row in rows:
            original = originals.get(row["reblog_of_id"]) if row["reblog_of_id"] else None
            entity = self._status(row)
            if original is not None:
                entity["reblog"] = self._status(original)
            result.append(entity)
        return result

    def _status(self, row: Any) -> dict[str, Any]:
        author = self.accounts[row["account_id"]]
        runtime = self.runtime
        return {
            "id": str(row["id"]),
            "uri": row["uri"],
            "url": row["url"] or row["uri"],
            "created_at": iso_millis(row["created_at"]),
            "edited_at": iso_millis(row["edited_at"]),
            "account": account_json(runtime, author),
            "content": row["content"],
            "text": row["source_text"] if self.viewer and self.viewer["id"] == author["id"] else None,
            "visibility": row["visibility"],
            "sensitive": row["sensitive"],
            "spoiler_text": row["spoiler_text"],
            "language": row["language"],
            "in_reply_to_id": str(row["in_reply_to_id"]) if row["in_reply_to_id"] else None,
            "in_reply_to_account_id": (
                str(row["in_reply_to_account_id"]) if row["in_reply_to_account_id"] else None
            ),
            "reblog": None,
            "replies_count": row["replies_count"],
            "reblogs_count": row["reblogs_count"],
            "favourites_count": row["favourites_count"],
            "favourited": row["id"] in self.favourited,
            "reblogged": row["id"] in self.reblogged,
            "muted": False,
            "bookmarked": False,
            "pinned": False,
            "media_attachments": [self._media(item) for item in self.media.get(row["id"], [])],
            "mentions": [
                {"id": str(m["id"]), "username": m["username"], "acct": acct(m), "url": m["url"] or m["actor_id"]}
                for m in self.mentions.get(row["id"], [])
            ],
            "tags": [
                {"name": name, "url": runtime.urls.tag(name)} for name in self.tags.get(row["id"], [])
            ],
            "emojis": [],
            "card": None,
            "poll": None,
            "application": None,
            "filtered": [],
        }

    @staticmethod
    def _media(item: Any) -> dict[str, Any]:
        return {
            "id": str(item["id"]),
            "type": item["media_type"],
            "url": item["remote_url"],
            "preview_url": item["remote_url"],
            "remote_url": item["remote_url"],
            "description": item["description"],
            "blurhash": item["blurhash"],
            "meta": {},
        }


async def status_json(runtime: Runtime, row: Any, viewer: Any | None) -> dict[str, Any]:
    return (await StatusPresenter(runtime, viewer).render([row]))[0]


async def note_of(runtime: Runtime, status: Any, account: Any) -> dict[str, Any]:
    """Return the ActivityStreams Note of a local status."""
    mentions = await statuses.mentions_of(runtime.pool, [status["id"]])
    tags = [row["name"] for row in await statuses.tags_of(runtime.pool, [status["id"]])]
    domain = runtime.settings.domain
    return render_note(
        status,
        actor_id=account["actor_id"],
        url=status["url"] or runtime.urls.status_page(account["username"], status["id"]),
        in_reply_to_uri=status["in_reply_to_uri"],
        mentions=[(m["actor_id"], f"@{m['username']}@{m['domain'] or domain}") for m in mentions],
        tags=[(name, runtime.urls.tag(name)) for name in tags],
    )


async def load_account(runtime: Runtime, account_id: int) -> Any:
    return await accounts.by_id(runtime.pool, account_id)
