"""Account export and import: one ZIP archive that another instance can read.

The archive contains:

- ``actor.json``: the actor document (ActivityPub), with profile fields.
- ``outbox.json``: an ActivityPub OrderedCollection of the account's Create
  activities, posts and lesson plans, of every visibility.
- ``following_accounts.csv``: follows, in Mastodon's export format with the
  header "Account address,Show boosts,Notify on new posts,Languages".
- ``blocked_accounts.csv`` and ``muted_accounts.csv``: as Mastodon writes them
  (addresses only, and "Account address,Hide notifications").
- ``lesson_plans/ID.md``: each plan as Markdown with YAML front matter, the
  form the plan import of the client API reads.
- ``media/``: the avatar, the header and the plans' attachment files.

Mastodon imports the CSV files of such an archive. Importing the whole archive
into a Pedagogue account sets the profile, adds the posts and plans as new
local posts with their original dates (no follower is sent them), and follows,
blocks and mutes the listed accounts. Follows of remote accounts go out as
Follow activities.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg

from actors.note import parse_time
from actors.person import render_person
from actors.text import hashtag_name
from actors.vocabulary import as_list
from federation.errors import FederationError
from federation.sanitize import MAX_HTML_LENGTH, plain_text, sanitize_html
from outbox.actions import MAX_SPOILER_CHARACTERS, ActionError, Actions
from outbox.queue import next_activity_id, store_activity
from storage import accounts, statuses

if TYPE_CHECKING:
    from pedagogue.runtime import Runtime

log = logging.getLogger(__name__)

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
FOLLOWING_HEADER = [
    "Account address",
    "Show boosts",
    "Notify on new posts",
    "Languages",
]
MUTED_HEADER = ["Account address", "Hide notifications"]
# The visibility level of each exported activity, a Pedagogue extension.
VISIBILITY_KEY = "pedagogueVisibility"
# Levels an import keeps; group-only posts need their group and are skipped.
IMPORTED_LEVELS = ("public", "unlisted", "private", "local")
CSV_ENTRIES = ("following_accounts.csv", "blocked_accounts.csv", "muted_accounts.csv")
# Limits on an archive being imported, which may come from anywhere.
MAX_ENTRIES = 20_000
MAX_ENTRY_BYTES = 50_000_000
MAX_ARCHIVE_BYTES = 500_000_000
MAX_POSTS = 50_000
# Hashtags per post, the inbox's limit for a received activity.
MAX_TAGS = 200
# Archived dates before this are rejected; dates in the future are stored as now.
EARLIEST_DATE = datetime(1970, 1, 1, tzinfo=UTC)


class ArchiveError(Exception):
    """An archive that cannot be imported; the message names the entry."""


@dataclass
class ImportReport:
    """The counts of an import, and one line per skipped item."""

    posts: int = 0
    plans: int = 0
    follows: int = 0
    blocks: int = 0
    mutes: int = 0
    profile: bool = False
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"profile {'updated' if self.profile else 'unchanged'}, {self.posts} posts,"
            f" {self.plans} lesson plans, {self.follows} follows, {self.blocks} blocks,"
            f" {self.mutes} mutes, {len(self.skipped)} skipped"
        )


def address_of(account: Any, local_domain: str) -> str:
    """Return ``username@domain`` of an account row, local ones with our domain."""
    return f"{account['username']}@{account['domain'] or local_domain}"


# Export


async def export_account(runtime: Runtime, username: str) -> bytes:
    """Return the archive of the local teacher ``username`` as ZIP bytes.

    Raises ArchiveError when no such local teacher exists.
    """
    pool = runtime.pool
    account = await accounts.local_by_username(pool, username)
    if account is None or account["actor_type"] != "Person":
        raise ArchiveError(f"no local teacher named {username}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        actor, media = await _actor_entry(runtime, account)
        archive.writestr("actor.json", json.dumps(actor, indent=2))
        for name, path in media.items():
            archive.write(path, name)
        outbox = await _outbox(runtime, account)
        archive.writestr("outbox.json", json.dumps(outbox, indent=2))
        await _write_csv_entries(runtime, account, archive)
        await _write_plans(runtime, account, archive)
    log.info("exported %s: %d activities", account["actor_id"], outbox["totalItems"])
    return buffer.getvalue()


async def _actor_entry(
    runtime: Runtime, account: Any
) -> tuple[dict[str, Any], dict[str, Path]]:
    key = await accounts.local_key(runtime.pool, account["id"])
    assert key is not None, "every local account has a key"
    actor = render_person(account, key["public_key_pem"], runtime.urls)
    media: dict[str, Path] = {}
    for term, column, stem in (
        ("icon", "icon_url", "avatar"),
        ("image", "header_url", "header"),
    ):
        path = _local_media_path(runtime, account[column])
        if path is None:
            continue
        name = f"media/{stem}{path.suffix}"
        media[name] = path
        # A relative URL names the archive's own copy, as Mastodon's export does.
        actor[term]["url"] = name
    return actor, media


def _local_media_path(runtime: Runtime, url: str | None) -> Path | None:
    prefix = f"{runtime.settings.base_url}/media/"
    if not url or not url.startswith(prefix):
        return None
    name = url[len(prefix) :]
    if "/" in name or name.startswith("."):
        return None
    path = runtime.settings.data_path / "media" / name
    return path if path.is_file() else None


async def _outbox(runtime: Runtime, account: Any) -> dict[str, Any]:
    rows = await runtime.pool.fetch(
        "SELECT a.body, s.content, s.spoiler_text, s.edited_at, s.visibility"
        " FROM statuses s"
        " JOIN activities a ON a.uri = s.activity_uri"
        " WHERE s.account_id = $1 AND s.local AND s.deleted_at IS NULL"
        " AND s.reblog_of_id IS NULL AND a.type = 'Create'"
        " ORDER BY s.id",
        account["id"],
    )
    items = []
    for row in rows:
        activity = dict(row["body"])
        activity.pop("@context", None)
        obj = activity.get("object")
        if isinstance(obj, dict) and row["edited_at"] is not None:
            # The stored Create contains the first version, so edits replace it.
            obj = {
                **obj,
                "content": row["content"],
                "summary": row["spoiler_text"] or None,
            }
            obj["updated"] = row["edited_at"].isoformat()
            activity["object"] = obj
        # to and cc cannot tell local-only from public, so the level is kept.
        activity[VISIBILITY_KEY] = row["visibility"]
        items.append(activity)
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "outbox.json",
        "type": "OrderedCollection",
        "totalItems": len(items),
        "orderedItems": items,
    }


def _csv_text(rows: list[list[str]]) -> str:
    output = io.StringIO()
    writer = csv.writer(output, lineterminator="\n")
    writer.writerows(rows)
    return output.getvalue()


async def _write_csv_entries(
    runtime: Runtime, account: Any, archive: zipfile.ZipFile
) -> None:
    domain = runtime.settings.domain
    followed = await runtime.pool.fetch(
        "SELECT a.username, a.domain FROM follows f"
        " JOIN accounts a ON a.id = f.target_account_id"
        " WHERE f.account_id = $1 AND a.deleted_at IS NULL ORDER BY f.id",
        account["id"],
    )
    rows = [FOLLOWING_HEADER]
    rows += [[address_of(row, domain), "true", "false", ""] for row in followed]
    archive.writestr("following_accounts.csv", _csv_text(rows))

    blocked = await runtime.pool.fetch(
        "SELECT a.username, a.domain FROM blocks b"
        " JOIN accounts a ON a.id = b.target_account_id"
        " WHERE b.account_id = $1 ORDER BY b.id",
        account["id"],
    )
    if blocked:
        lines = [[address_of(row, domain)] for row in blocked]
        archive.writestr("blocked_accounts.csv", _csv_text(lines))

    if await runtime.pool.fetchval("SELECT to_regclass('mutes') IS NOT NULL"):
        muted = await runtime.pool.fetch(
            "SELECT a.username, a.domain, m.hide_notifications FROM mutes m"
            " JOIN accounts a ON a.id = m.target_account_id"
            " WHERE m.account_id = $1"
            " AND (m.expires_at IS NULL OR m.expires_at > now()) ORDER BY m.id",
            account["id"],
        )
        if muted:
            rows = [MUTED_HEADER]
            rows += [
                [address_of(row, domain), str(row["hide_notifications"]).lower()]
                for row in muted
            ]
            archive.writestr("muted_accounts.csv", _csv_text(rows))
    # NOTE: Pedagogue has no bookmarks yet, so no bookmarks.csv is written.


async def _write_plans(
    runtime: Runtime, account: Any, archive: zipfile.ZipFile
) -> None:
    # Imported here: the web package is only needed for plans.
    from storage import lesson_plans
    from web.api_lesson_plans import plan_json
    from web.lesson_plan_export import export_markdown

    rows = await lesson_plans.by_author(runtime.pool, account["id"], MAX_POSTS)
    for plan in rows:
        document = await plan_json(runtime, plan, account["id"])
        archive.writestr(
            f"lesson_plans/{plan['status_id']}.md", export_markdown(document)
        )
        attachments = await lesson_plans.attachments_of(
            runtime.pool, [plan["status_id"]]
        )
        for item in attachments:
            path = (
                runtime.settings.data_path / "media" / "lesson_plans" / str(item["id"])
            )
            if item["remote_url"] is None and path.is_file():
                archive.write(
                    path, f"media/lesson_plans/{item['id']}/{item['file_name']}"
                )


# Import


class _Archive:
    """A ZIP archive read with limits, entry by entry."""

    def __init__(self, data: bytes) -> None:
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile as error:
            raise ArchiveError(f"the file is not a ZIP archive: {error}") from None
        entries = self.zip.infolist()
        if len(entries) > MAX_ENTRIES:
            raise ArchiveError(f"the archive has over {MAX_ENTRIES} entries")
        total = sum(entry.file_size for entry in entries)
        if total > MAX_ARCHIVE_BYTES:
            raise ArchiveError(
                f"the archive unpacks to {total} bytes, over {MAX_ARCHIVE_BYTES}"
            )
        self.names = {entry.filename for entry in entries}
        # Entries read so far, so that checking them all before the first
        # write costs no second decompression.
        self._read: dict[str, bytes] = {}

    def read(self, name: str) -> bytes | None:
        if name not in self.names:
            return None
        if name in self._read:
            return self._read[name]
        entry = self.zip.getinfo(name)
        if entry.file_size > MAX_ENTRY_BYTES:
            raise ArchiveError(f"{name} is over {MAX_ENTRY_BYTES} bytes")
        # The size in the header is the sender's claim; the read is bounded too.
        with self.zip.open(entry) as handle:
            data = handle.read(MAX_ENTRY_BYTES + 1)
        if len(data) > MAX_ENTRY_BYTES:
            raise ArchiveError(f"{name} is over {MAX_ENTRY_BYTES} bytes")
        self._read[name] = data
        return data

    def plan_names(self) -> list[str]:
        return sorted(
            name
            for name in self.names
            if name.startswith("lesson_plans/") and name.endswith(".md")
        )

    def text(self, name: str) -> str | None:
        data = self.read(name)
        if data is None:
            return None
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ArchiveError(f"{name} is not UTF-8 text") from None

    def json(self, name: str) -> Any:
        text = self.text(name)
        if text is None:
            return None
        try:
            return json.loads(text)
        except ValueError as error:
            raise ArchiveError(f"{name} is not valid JSON: {error}") from None

    def csv_rows(self, name: str) -> list[list[str]]:
        text = self.text(name)
        if text is None:
            return []
        return [row for row in csv.reader(io.StringIO(text)) if any(row)]


async def import_account(runtime: Runtime, username: str, data: bytes) -> ImportReport:
    """Read an archive into the local teacher ``username``.

    Every entry and every value is read and checked before the first write,
    and the profile and the posts are written in one transaction, so an
    archive that fails leaves the account as it was. Raises ArchiveError when
    the teacher is unknown or the archive or one of its values is invalid.
    Items that are skipped by design (direct messages, group posts) or that
    fail one by one after the commit (an account that is not found) are
    listed in the report.
    """
    from outbox.profiles import InputError, ProfileActions

    account = await accounts.local_by_username(runtime.pool, username)
    if account is None or account["actor_type"] != "Person":
        raise ArchiveError(f"no local teacher named {username}")
    archive = _Archive(data)
    actor = archive.json("actor.json")
    if not isinstance(actor, dict):
        raise ArchiveError("actor.json is missing or not a JSON object")
    _check_entries(archive, actor)
    report = ImportReport()
    posts, plan_dates = _read_posts(archive, actor, report)
    plans = _read_plans(archive, plan_dates, report)
    profiles = ProfileActions(runtime)
    try:
        profile = await profiles.prepare_update(account, _profile_change(actor, archive))
    except (InputError, ActionError) as error:
        report.skipped.append(f"profile: {error.message}")
        profile = None
    async with accounts.transaction(runtime.pool) as connection:
        if profile:
            # The queued Update(Person) becomes visible to the delivery
            # workers only when this transaction commits.
            account = await profiles.apply_update(connection, account, profile)
            report.profile = True
        for post in posts:
            if await _store_post(runtime, connection, account, post):
                report.posts += 1
    if report.profile:
        log.info("profile of %s updated by import", account["actor_id"])
    # NOTE: plans and relations are written after the commit, because
    # PlanActions and the follow, block and mute actions run their own
    # transactions and follows resolve accounts over the network. Their
    # values were checked above, and each one that still fails is reported.
    await _import_plans(runtime, account, plans, report)
    await _import_relations(runtime, account, archive, report)
    log.info("imported into %s: %s", account["actor_id"], report.summary())
    return report


def _profile_change(actor: dict[str, Any], archive: _Archive) -> Any:
    from outbox.profiles import ProfileChange

    fields = []
    for item in actor.get("attachment") or []:
        if isinstance(item, dict) and item.get("type") == "PropertyValue":
            fields.append(
                (
                    plain_text(str(item.get("name", ""))),
                    plain_text(str(item.get("value", ""))),
                )
            )
    return ProfileChange(
        display_name=plain_text(str(actor.get("name") or ""))[:100] or None,
        note=plain_text(str(actor.get("summary") or "")),
        fields=fields,
        avatar=_archived_image(archive, actor.get("icon")),
        header=_archived_image(archive, actor.get("image")),
    )


def _check_entries(archive: _Archive, actor: dict[str, Any]) -> None:
    _outbox_items(archive)
    for name in CSV_ENTRIES:
        archive.csv_rows(name)
    for name in archive.plan_names():
        archive.text(name)
    for term in ("icon", "image"):
        _archived_image(archive, actor.get(term))


def _outbox_items(archive: _Archive) -> list[Any]:
    outbox = archive.json("outbox.json")
    if outbox is None:
        return []
    items = outbox.get("orderedItems") if isinstance(outbox, dict) else None
    if not isinstance(items, list):
        raise ArchiveError("outbox.json has no orderedItems list")
    if len(items) > MAX_POSTS:
        raise ArchiveError(f"outbox.json has over {MAX_POSTS} items")
    return items


def _archived_image(archive: _Archive, image: Any) -> bytes | None:
    if not isinstance(image, dict):
        return None
    name = image.get("url")
    if not isinstance(name, str) or not name.startswith("media/"):
        return None
    return archive.read(name)


def _visibility(obj: dict[str, Any], followers: str | None) -> str | None:
    """Return the visibility of an exported object, None for a direct one."""
    to = obj.get("to") or []
    cc = obj.get("cc") or []
    to = to if isinstance(to, list) else [to]
    cc = cc if isinstance(cc, list) else [cc]
    if PUBLIC in to:
        return "public"
    if PUBLIC in cc:
        return "unlisted"
    if followers and (followers in to or followers in cc):
        return "private"
    return None


def _archived_time(value: Any, item_id: Any) -> datetime | None:
    """Return an archived ``published`` date in UTC, a future one set to now;
    None when it is missing.

    Raises ArchiveError for a date that does not parse, that has no UTC form
    (year 1 at +14:00) or that lies before EARLIEST_DATE, because no server
    wrote such a post.
    """
    if value is None:
        return None
    moment = parse_time(value)
    if moment is None:
        raise ArchiveError(f"{item_id}: invalid published date {str(value)[:40]!r}")
    try:
        moment = moment.astimezone(UTC)
    except (OverflowError, ValueError):
        moment = None
    if moment is None or moment < EARLIEST_DATE:
        raise ArchiveError(
            f"{item_id}: published date {value[:40]!r} is out of range:"
            f" expected a date from {EARLIEST_DATE.year} on"
        )
    return min(moment, datetime.now(UTC))


def _archived_tags(obj: dict[str, Any], item_id: Any, report: ImportReport) -> list[str]:
    tags = [tag for tag in as_list(obj.get("tag")) if isinstance(tag, dict)]
    if len(tags) > MAX_TAGS:
        raise ArchiveError(f"{item_id}: {len(tags)} tags, over the limit of {MAX_TAGS}")
    names = []
    for tag in tags:
        if tag.get("type") != "Hashtag":
            continue
        name = hashtag_name(tag.get("name"))
        if name is None:
            report.skipped.append(f"{item_id}: invalid hashtag {str(tag.get('name'))[:40]!r}")
            continue
        names.append(name)
    return list(dict.fromkeys(names))


@dataclass
class _ArchivedPost:
    """One exported note, checked and ready to store."""

    content: str
    spoiler_text: str
    sensitive: bool
    visibility: str
    published: datetime | None
    tags: list[str]


def _read_posts(
    archive: _Archive, actor: dict[str, Any], report: ImportReport
) -> tuple[list[_ArchivedPost], dict[str, datetime]]:
    """Check the notes of outbox.json and return them with the dates of the
    plans in it. Raises ArchiveError naming the first invalid value."""
    posts: list[_ArchivedPost] = []
    plan_dates: dict[str, datetime] = {}
    followers = (
        actor.get("followers") if isinstance(actor.get("followers"), str) else None
    )
    for activity in _outbox_items(archive):
        obj = activity.get("object") if isinstance(activity, dict) else None
        if not isinstance(obj, dict) or activity.get("type") != "Create":
            continue
        item_id = obj.get("id") if isinstance(obj.get("id"), str) else "outbox item"
        published = _archived_time(obj.get("published"), item_id)
        if obj.get("type") == "Article":
            if isinstance(obj.get("id"), str) and published is not None:
                plan_dates[obj["id"]] = published
            continue
        if obj.get("type") != "Note":
            report.skipped.append(f"{item_id}: type {obj.get('type')} is not imported")
            continue
        visibility = _visibility(obj, followers)
        level = activity.get(VISIBILITY_KEY)
        if level is not None and not isinstance(level, str):
            raise ArchiveError(f"{item_id}: {VISIBILITY_KEY} is not a string")
        if level in IMPORTED_LEVELS:
            visibility = level
        elif level is not None:
            report.skipped.append(f"{item_id}: {level[:40]} posts are not imported")
            continue
        if visibility is None:
            # Direct messages name their readers, who did not write to this account.
            report.skipped.append(f"{item_id}: direct messages are not imported")
            continue
        content = obj.get("content") or ""
        summary = obj.get("summary") or ""
        if not isinstance(content, str) or len(content) > MAX_HTML_LENGTH:
            raise ArchiveError(
                f"{item_id}: content is not text of at most {MAX_HTML_LENGTH} characters"
            )
        if not isinstance(summary, str) or len(summary) > MAX_SPOILER_CHARACTERS:
            raise ArchiveError(
                f"{item_id}: summary is not text of at most"
                f" {MAX_SPOILER_CHARACTERS} characters"
            )
        spoiler_text = plain_text(summary)
        posts.append(
            _ArchivedPost(
                content=sanitize_html(content, object_id=item_id),
                spoiler_text=spoiler_text,
                sensitive=bool(obj.get("sensitive")) or bool(spoiler_text),
                visibility=visibility,
                published=published,
                tags=_archived_tags(obj, item_id, report),
            )
        )
    return posts, plan_dates


async def _store_post(
    runtime: Runtime, connection: asyncpg.Connection, account: Any, post: _ArchivedPost
) -> bool:
    """Store one exported note as a new local status; False when it was imported before."""
    from actors.visibility import addressing

    urls = runtime.urls
    to, cc = addressing(post.visibility, urls.followers(account["username"]), [])
    # A second import of the same archive adds nothing.
    if await connection.fetchval(
        "SELECT 1 FROM statuses WHERE account_id = $1 AND content = $2"
        " AND created_at = $3 AND deleted_at IS NULL",
        account["id"],
        post.content,
        post.published,
    ):
        return False
    status = await statuses.insert(
        connection,
        uri=None,
        uri_for_id=lambda sid: urls.status(account["username"], sid),
        account_id=account["id"],
        local=True,
        content=post.content,
        visibility=post.visibility,
        spoiler_text=post.spoiler_text,
        sensitive=post.sensitive,
        to_uris=to,
        cc_uris=cc,
        created_at=post.published,
        tag_names=post.tags,
    )
    assert status is not None
    await _record_create(runtime, connection, account, status, post.tags)
    return True


async def _record_create(
    runtime: Runtime,
    connection: asyncpg.Connection,
    account: Any,
    status: Any,
    tags: list[str],
) -> None:
    # The Create is stored so that the post dereferences and is in the outbox,
    # but it is not delivered: followers would see old posts as new.
    from outbox import activities as build

    await connection.execute(
        "UPDATE statuses SET url = $2 WHERE id = $1",
        status["id"],
        runtime.urls.status_page(account["username"], status["id"]),
    )
    status = await statuses.by_id(connection, status["id"])
    note = Actions(runtime).render(status, account, None, [], tags)
    activity_id = next_activity_id()
    uri = runtime.urls.activity(activity_id)
    body = build.build_create(uri, account["actor_id"], note)
    await store_activity(
        connection,
        activity_id=activity_id,
        uri=uri,
        account_id=account["id"],
        body=body,
    )
    await connection.execute(
        "UPDATE statuses SET activity_uri = $2 WHERE id = $1", status["id"], uri
    )


@dataclass
class _ArchivedPlan:
    """One exported lesson plan, parsed and ready to publish."""

    name: str
    fields: Any
    visibility: str | None
    published: datetime | None


def _read_plans(
    archive: _Archive, plan_dates: dict[str, datetime], report: ImportReport
) -> list[_ArchivedPlan]:
    from actors.lesson_plan import InvalidPlan, parse_fields, parse_visibility
    from web.lesson_plan_export import parse_markdown

    found = []
    for name in archive.plan_names():
        text = archive.text(name) or ""
        try:
            params, _ = parse_markdown(text)
            fields = parse_fields(params)
            visibility = parse_visibility(params.get("visibility"))
        except InvalidPlan as error:
            report.skipped.append(f"{name}: {error}")
            continue
        published = plan_dates.get(_front_matter_uri(text) or "")
        found.append(_ArchivedPlan(name, fields, visibility, published))
    return found


async def _import_plans(
    runtime: Runtime,
    account: Any,
    archived: list[_ArchivedPlan],
    report: ImportReport,
) -> None:
    from actors.lesson_plan import InvalidPlan
    from outbox.lesson_plans import PlanActions

    actions = PlanActions(runtime)
    for item in archived:
        if item.published is not None and await runtime.pool.fetchval(
            "SELECT 1 FROM lesson_plans p JOIN statuses s ON s.id = p.status_id"
            " WHERE p.account_id = $1 AND p.title = $2 AND s.created_at = $3"
            " AND s.deleted_at IS NULL",
            account["id"],
            item.fields.title,
            item.published,
        ):
            continue
        # NOTE: PlanActions.create sends the plan's Create to followers like a
        # new plan. A new account has none yet. Attachments are not re-attached.
        try:
            plan = await actions.create(
                account, item.fields, original=None, visibility=item.visibility
            )
        except InvalidPlan as error:
            report.skipped.append(f"{item.name}: {error}")
            continue
        if item.published is not None:
            await runtime.pool.execute(
                "UPDATE statuses SET created_at = least($2, now()) WHERE id = $1",
                plan["status_id"],
                item.published,
            )
        report.plans += 1


def _front_matter_uri(text: str) -> str | None:
    for line in text.splitlines()[1:60]:
        if line.startswith("uri:"):
            return line[4:].strip().strip("'\"")
        if line.strip() == "---":
            break
    return None


async def _import_relations(
    runtime: Runtime, account: Any, archive: _Archive, report: ImportReport
) -> None:
    from outbox.moderation import ModerationActions

    actions = Actions(runtime)
    moderation = ModerationActions(runtime)
    for row in archive.csv_rows("following_accounts.csv"):
        if row[0] == FOLLOWING_HEADER[0]:
            continue
        target = await _find(runtime, row[0], report)
        if target is not None and await _try(
            report, row[0], actions.follow(account, target)
        ):
            report.follows += 1
    for row in archive.csv_rows("blocked_accounts.csv"):
        target = await _find(runtime, row[0], report)
        if target is not None and await _try(
            report, row[0], moderation.block(account, target)
        ):
            report.blocks += 1
    for row in archive.csv_rows("muted_accounts.csv"):
        if row[0] == MUTED_HEADER[0]:
            continue
        hide = len(row) < 2 or row[1].strip().lower() != "false"
        target = await _find(runtime, row[0], report)
        if target is None:
            continue
        muted = moderation.mute(account, target, notifications=hide, duration_seconds=0)
        if await _try(report, row[0], muted):
            report.mutes += 1


async def _find(runtime: Runtime, address: str, report: ImportReport) -> Any:
    username, _, domain = address.strip().lstrip("@").partition("@")
    if not username or not domain:
        report.skipped.append(f"{address}: not an address like name@example.org")
        return None
    try:
        return await runtime.resolver.actor_by_handle(username, domain)
    except FederationError as error:
        log.info("import: account %s not found: %s", address, error.message)
        report.skipped.append(f"{address}: not found ({error.message})")
        return None


async def _try(report: ImportReport, address: str, action: Any) -> bool:
    try:
        await action
    except ActionError as error:
        report.skipped.append(f"{address}: {error.message}")
        return False
    return True
