"""Local lesson plan actions: create, adapt, edit and delete a plan, and store
attachment uploads. Each action that federates stores its activity and queues
its deliveries in the transaction that changes the plan."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import html
import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import asyncpg
from markdown_it import MarkdownIt
from markdown_it.token import Token

from actors.lesson_plan import (
    PLAN_CONTEXT,
    InvalidPlan,
    PlanFields,
    adaptation_license,
    license_of,
    render_article,
    render_collection,
)
from actors.text import HASHTAG, URL
from actors.visibility import addressing
from federation.sanitize import sanitize_html
from outbox.actions import Actions
from outbox.profiles import InputError, sniff_image, strip_metadata
from outbox.queue import enqueue_deliveries, next_activity_id, store_activity
from storage import accounts, social, statuses, tags
from storage import lesson_plans as plans
from storage.ids import new_id

if TYPE_CHECKING:
    from pedagogue.runtime import Runtime

log = logging.getLogger(__name__)

ADAPTATION_NOTIFICATION = "adaptation"
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")

# Magic numbers of the types Pedagogue recognises, checked in order.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"%PDF-", "application/pdf"),
)


# Rendering runs in a worker thread. A body that takes longer than this many
# seconds is rejected, so that no request occupies a thread for long.
RENDER_BUDGET = 10.0
_LINKABLE = re.compile(f"{URL.pattern}|{HASHTAG.pattern}", re.UNICODE)


@dataclass(frozen=True)
class RenderedBody:
    """A plan body as sanitised HTML and the hashtags it links, lower case."""

    html: str
    hashtags: list[str]


def render_markdown(text: str, tag_url: Callable[[str], str] | None = None) -> str:
    """Return Markdown rendered to HTML and sanitised (raw HTML is escaped)."""
    return render_body(text, tag_url).html


def render_body(text: str, tag_url: Callable[[str], str] | None = None) -> RenderedBody:
    """Render a plan body: Markdown to sanitised HTML, with bare URLs linked and,
    given ``tag_url``, hashtags linked to their tag pages as notes link them.
    Text inside links and code is left alone."""
    if not text.strip():
        return RenderedBody("", [])
    env: dict[str, Any] = {}
    tokens = _MARKDOWN.parse(text, env)
    found: dict[str, None] = {}
    for token in tokens:
        if token.type == "inline" and token.children:
            token.children = _link_text(token.children, tag_url, found)
    rendered = _MARKDOWN.renderer.render(tokens, _MARKDOWN.options, env)
    return RenderedBody(sanitize_html(rendered), list(found))


def _link_text(
    children: list[Token],
    tag_url: Callable[[str], str] | None,
    found: dict[str, None],
) -> list[Token]:
    result: list[Token] = []
    inside_link = 0
    for token in children:
        if token.type == "link_open":
            inside_link += 1
        elif token.type == "link_close":
            inside_link -= 1
        if token.type != "text" or inside_link or not _LINKABLE.search(token.content):
            result.append(token)
            continue
        position = 0
        for match in _LINKABLE.finditer(token.content):
            piece = match.group(0)
            if piece.startswith("#") and tag_url is None:
                continue
            result.append(_text_token(token.content[position : match.start()]))
            result.append(_html_token(_link_html(piece, tag_url, found)))
            position = match.end()
        result.append(_text_token(token.content[position:]))
    return result


def _text_token(content: str) -> Token:
    token = Token("text", "", 0)
    token.content = content
    return token


def _html_token(content: str) -> Token:
    # Rendered as given; the pieces are escaped here and the whole body is
    # sanitised after rendering.
    token = Token("html_inline", "", 0)
    token.content = content
    return token


def _link_html(
    piece: str, tag_url: Callable[[str], str] | None, found: dict[str, None]
) -> str:
    if not piece.startswith("#"):
        escaped = html.escape(piece)
        return (
            f'<a href="{escaped}" rel="nofollow noopener noreferrer"'
            f' target="_blank">{escaped}</a>'
        )
    assert tag_url is not None
    name = piece[1:]
    found[name.lower()] = None
    return (
        f'<a href="{html.escape(tag_url(name.lower()))}" class="mention hashtag"'
        f' rel="tag">#<span>{html.escape(name)}</span></a>'
    )


async def render_within_budget(
    text: str, tag_url: Callable[[str], str] | None = None
) -> RenderedBody:
    """Render a body in a worker thread, so the event loop keeps serving.

    Raises InvalidPlan("body") when rendering takes longer than RENDER_BUDGET
    seconds. The thread cannot be stopped and finishes its work, but the
    request ends and nothing is stored.
    """
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(render_body, text, tag_url), RENDER_BUDGET
        )
    except TimeoutError:
        log.warning(
            "rendering a plan body of %d characters timed out after %.0f s",
            len(text),
            RENDER_BUDGET,
        )
        raise InvalidPlan(
            "body",
            "takes too long to render; use less nested or repeated formatting",
        ) from None


def sniff_type(data: bytes) -> str | None:
    """Return the MIME type that the content shows, or None when unknown."""
    image = sniff_image(data)
    if image is not None:
        return image[0]
    for signature, mime_type in _SIGNATURES:
        if data.startswith(signature):
            return mime_type
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any(ord(ch) < 32 and ch not in "\t\n\r\f" for ch in text):
        return None
    return "text/plain"


def _without_metadata(data: bytes, mime_type: str) -> bytes:
    # A classroom photo's EXIF GPS position would tell where the school is.
    try:
        return strip_metadata(data, mime_type, "file")
    except InputError as error:
        raise InvalidPlan("file", error.message.removeprefix("file ")) from None


def plan_url(base_url: str, status_id: int) -> str:
    return f"{base_url}/lesson_plans/{status_id}"


def file_key(runtime: Runtime, attachment_id: int) -> str:
    """Return the capability key in an attachment file's URL.

    Attachment ids are predictable, so the file of a plan that is not public
    is served only with this key (or to a reader who may read the plan). The
    key is an HMAC of the id under a secret derived from the instance actor's
    private key. Only those the plan is addressed to receive the URL, which is
    how Mastodon's unguessable media URLs work too.
    """
    pem = runtime.instance_account["private_key_pem"].encode()
    secret = hashlib.sha256(b"lesson plan attachment files\0" + pem).digest()
    mac = hmac.new(secret, str(attachment_id).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:18]).decode()


def file_url(runtime: Runtime, attachment: Any) -> str:
    base = runtime.settings.base_url
    key = file_key(runtime, attachment["id"])
    return f"{base}/lesson_plans/files/{attachment['id']}?key={key}"


def card_html(title: str, summary: str, url: str) -> str:
    """Return the status text of a plan: title, summary and a link, as Mastodon
    shows an Article."""
    parts = [f"<p><strong>{html.escape(title)}</strong></p>"]
    if summary:
        parts.append(f"<p>{html.escape(summary)}</p>")
    link = html.escape(url, quote=True)
    parts.append(f'<p><a href="{link}">{link}</a></p>')
    return "".join(parts)


def _column_values(fields: PlanFields, body_html: str) -> dict[str, Any]:
    age = fields.age_range
    return {
        "title": fields.title,
        "summary": fields.summary,
        "body_markdown": fields.body_markdown,
        "body_html": body_html,
        "subjects": fields.subjects,
        "grade_levels": fields.grade_levels,
        "grade_numbers": fields.grade_numbers,
        "age_min": age[0] if age else None,
        "age_max": age[1] if age else None,
        "duration_minutes": fields.duration_minutes,
        "objectives": fields.objectives,
        "materials": fields.materials,
        "alignments": fields.alignments,
        "license": fields.license,
    }


def fields_of(plan: Any) -> PlanFields:
    """Return the editable fields of a stored plan."""
    values = plans.values_of(plan)
    age = (plan["age_min"], plan["age_max"]) if plan["age_min"] is not None else None
    return PlanFields(
        title=values["title"],
        summary=values["summary"],
        body_markdown=values["body_markdown"] or "",
        subjects=list(values["subjects"]),
        grade_levels=list(values["grade_levels"]),
        grade_numbers=list(values["grade_numbers"]),
        age_range=age,
        duration_minutes=values["duration_minutes"],
        objectives=list(values["objectives"]),
        materials=list(values["materials"]),
        alignments=list(values["alignments"]),
        license=values["license"],
    )


class PlanActions:
    """The local lesson plan actions of the client API."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.base_url = runtime.settings.base_url

    @property
    def deadline(self) -> float:
        return self.runtime.settings.federation.delivery_deadline

    async def default_license(self, account: Any) -> str:
        """Return the teacher's chosen licence, else the instance's."""
        chosen = await plans.preferred_license(self.runtime.pool, account["id"])
        if chosen is not None:
            return chosen
        return license_of(self.runtime.settings.lesson_plans.default_license)

    # Attachments

    async def store_upload(
        self, account: Any, file_name: str, data: bytes
    ) -> asyncpg.Record:
        """Store an uploaded attachment file; raise InvalidPlan("file") when it is
        over the size limit or of a type that is not allowed."""
        settings = self.runtime.settings.lesson_plans
        if not data:
            raise InvalidPlan("file", "is empty")
        if len(data) > settings.max_attachment_bytes:
            raise InvalidPlan(
                "file",
                f"is {len(data)} bytes, over the limit of"
                f" {settings.max_attachment_bytes}",
            )
        allowed = {
            item.strip()
            for item in settings.attachment_types.split(",")
            if item.strip()
        }
        mime_type = sniff_type(data)
        if mime_type is None or mime_type not in allowed:
            raise InvalidPlan(
                "file",
                f"type {mime_type or 'unknown'} is not allowed; allowed types are "
                + ", ".join(sorted(allowed)),
            )
        if mime_type.startswith("image/"):
            data = _without_metadata(data, mime_type)
        attachment_id = new_id()
        directory = self.runtime.settings.data_path / "media" / "lesson_plans"
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / str(attachment_id)
        # Written before the row, so a stored row always has its file; a file
        # left by a failed insert is never served.
        path.write_bytes(data)
        safe_name = "".join(
            ch for ch in file_name if ch.isprintable() and ch not in "/\\"
        )
        row = await plans.add_attachment(
            self.runtime.pool,
            attachment_id=attachment_id,
            account_id=account["id"],
            file_name=(safe_name or "attachment")[:200],
            mime_type=mime_type,
            size=len(data),
        )
        log.info(
            "stored attachment %s (%s, %d bytes) for %s",
            attachment_id,
            mime_type,
            len(data),
            account["actor_id"],
        )
        return row

    # Create and adapt

    async def create(
        self,
        account: Any,
        fields: PlanFields,
        *,
        attachment_ids: list[int] | None = None,
        original: Any = None,
        visibility: str | None = None,
    ) -> asyncpg.Record:
        """Publish a plan, or an adaptation of ``original`` (a stored plan that
        the teacher may read).

        ``visibility`` is public, unlisted or private (followers only); the
        default is public, or the original's when that is narrower. Raises
        InvalidPlan when the licence does not allow the adaptation, when the
        adaptation would reach more readers than the original, or when an
        attachment id is not an unused upload of the teacher.
        """
        if original is not None:
            fields.license = adaptation_license(original["license"], fields.license)
            visibility = _adaptation_visibility(original, visibility)
        elif fields.license is None:
            fields.license = await self.default_license(account)
        visibility = visibility or "public"
        rendered = await render_within_budget(
            fields.body_markdown, self.runtime.urls.tag
        )
        values = _column_values(fields, rendered.html)
        original_author = None
        if original is not None:
            original_author = await accounts.by_id(
                self.runtime.pool, original["account_id"]
            )
            chain = [
                {
                    "uri": original["uri"],
                    "title": original["title"],
                    "author_uri": original_author["actor_id"],
                }
            ]
            values["attribution"] = chain + plans.values_of(original)["attribution"]
            values["based_on_uri"] = original["uri"]

        mentioned = []
        if original_author is not None and original_author["id"] != account["id"]:
            mentioned.append(original_author["actor_id"])
        to, cc = addressing(visibility, _followers(account), mentioned)
        async with accounts.transaction(self.runtime.pool) as connection:
            status = await statuses.insert(
                connection,
                uri=None,
                uri_for_id=lambda status_id: plan_url(self.base_url, status_id),
                account_id=account["id"],
                local=True,
                object_type="Article",
                name=fields.title,
                content="",
                visibility=visibility,
                to_uris=to,
                cc_uris=cc,
            )
            assert status is not None
            await connection.execute(
                "UPDATE statuses SET url = uri, content = $2 WHERE id = $1",
                status["id"],
                card_html(fields.title, fields.summary, status["uri"]),
            )
            status = await statuses.by_id(connection, status["id"])
            plan = await plans.insert(
                connection, status=status, local=True, values=values
            )
            await self._claim(connection, account, status["id"], attachment_ids or [])
            await statuses.add_tags(connection, status["id"], rendered.hashtags)
            readers = [
                account["id"],
                *await social.local_follower_ids(connection, account["id"]),
            ]
            if visibility == "public":
                readers += await tags.hashtag_follower_ids(connection, status["id"])
            inboxes = await social.follower_inboxes(connection, account["id"])
            if original_author is not None and original_author["id"] != account["id"]:
                await self._record_adaptation(
                    connection, account, original, original_author, status
                )
                await statuses.add_mentions(
                    connection, status["id"], [original_author["id"]]
                )
                if original_author["domain"] is None:
                    readers.append(original_author["id"])
                else:
                    inboxes.append(original_author["inbox_url"])
            await social.add_to_home_feeds(connection, status["id"], readers)
            body = await self._send(
                connection, account, "Create", plan, status, inboxes
            )
            await connection.execute(
                "UPDATE statuses SET activity_uri = $2 WHERE id = $1",
                status["id"],
                body["id"],
            )
        return plan

    async def _claim(
        self,
        connection: asyncpg.Connection,
        account: Any,
        status_id: int,
        ids: list[int],
    ) -> None:
        claimed = await plans.claim_attachments(
            connection, account["id"], status_id, ids
        )
        if claimed != len(set(ids)):
            # The transaction rolls back, so no plan is stored half-attached.
            raise InvalidPlan(
                "attachment_ids", "an id is not an upload of yours or is in use"
            )

    async def _record_adaptation(
        self,
        connection: asyncpg.Connection,
        account: Any,
        original: Any,
        original_author: Any,
        status: Any,
    ) -> None:
        await plans.add_adaptation(
            connection, original["uri"], status["uri"], account["id"]
        )
        if original_author["domain"] is None:
            await social.notify(
                connection,
                original_author["id"],
                ADAPTATION_NOTIFICATION,
                account["id"],
                status["id"],
            )

    # Edit and delete

    async def update(
        self,
        account: Any,
        plan: Any,
        fields: PlanFields,
        attachment_ids: list[int] | None = None,
    ) -> asyncpg.Record:
        """Edit an own plan: keep the old version as a revision and send Update."""
        if plan["account_id"] != account["id"]:
            raise InvalidPlan("id", "only the author can edit a plan")
        if plan["based_on_uri"] and fields.license != plan["license"]:
            original = await plans.by_uri(self.runtime.pool, plan["based_on_uri"])
            if original is not None:
                adaptation_license(original["license"], fields.license)
        rendered = await render_within_budget(
            fields.body_markdown, self.runtime.urls.tag
        )
        values = {**plans.values_of(plan), **_column_values(fields, rendered.html)}
        async with accounts.transaction(self.runtime.pool) as connection:
            await plans.add_revision(connection, plan["status_id"], snapshot_of(plan))
            await plans.update(connection, plan["status_id"], values)
            await tags.replace_status_tags(
                connection, plan["status_id"], rendered.hashtags
            )
            if attachment_ids is not None:
                await connection.execute(
                    "UPDATE lesson_plan_attachments SET status_id = NULL"
                    " WHERE status_id = $1",
                    plan["status_id"],
                )
                await self._claim(
                    connection, account, plan["status_id"], attachment_ids
                )
            await statuses.update_content(
                connection,
                plan["status_id"],
                content=card_html(fields.title, fields.summary, plan["uri"]),
                spoiler_text="",
                sensitive=False,
                name=fields.title,
                edited_at=None,
            )
            updated = await plans.by_id(connection, plan["status_id"])
            status = await statuses.by_id(connection, plan["status_id"])
            inboxes = await social.follower_inboxes(connection, account["id"])
            inboxes += await self._mentioned_inboxes(connection, plan["status_id"])
            await self._send(connection, account, "Update", updated, status, inboxes)
        assert updated is not None
        return updated

    async def delete(self, account: Any, plan: Any) -> None:
        """Delete an own plan; its status becomes a tombstone and Delete is sent."""
        status = await statuses.by_id(self.runtime.pool, plan["status_id"])
        await Actions(self.runtime).delete_status(account, status)

    async def _mentioned_inboxes(
        self, connection: asyncpg.Connection, status_id: int
    ) -> list[str]:
        rows = await connection.fetch(
            "SELECT a.inbox_url FROM mentions m JOIN accounts a ON a.id = m.account_id"
            " WHERE m.status_id = $1 AND a.domain IS NOT NULL"
            " AND a.inbox_url IS NOT NULL",
            status_id,
        )
        return [row["inbox_url"] for row in rows]

    async def article(
        self,
        plan: Any,
        status: Any | None = None,
        actor_id: str | None = None,
        db: asyncpg.Connection | None = None,
    ) -> dict:
        """Return the Article of a local plan, without @context. ``db`` is the
        transaction that just wrote the plan, so its attachments are seen."""
        pool = db or self.runtime.pool
        status = status or await statuses.by_id(pool, plan["status_id"])
        if actor_id is None:
            author = await accounts.by_id(pool, plan["account_id"])
            actor_id = author["actor_id"]
        files = [
            {**dict(row), "url": row["remote_url"] or file_url(self.runtime, row)}
            for row in await plans.attachments_of(pool, [plan["status_id"]])
        ]
        names = await tags.status_tag_names(pool, plan["status_id"])
        return render_article(
            plan,
            status,
            actor_id=actor_id,
            attachments=files,
            tags=[(name, self.runtime.urls.tag(name)) for name in names],
        )

    # Plans fetched from their origin

    async def fetch_remote(self, account: Any, uri: str) -> asyncpg.Record:
        """Fetch a remote plan this instance has not stored, store it as the
        inbox would, and return it.

        The GET is signed with the teacher's key, so an origin that serves
        followers-only plans to their addressees can serve it. Raises
        InvalidPlan("adapted_from") when the URI is not https (or http on a
        development instance), its domain is suspended or off the allowlist,
        or it cannot be fetched or is not a lesson plan.
        """
        from federation.errors import FederationError
        from inbox.handlers import Ignored
        from inbox.handlers.lesson_plan import store_fetched_plan

        runtime = self.runtime
        schemes = (
            ("https://", "http://") if runtime.settings.allow_http else ("https://",)
        )
        if not uri.startswith(schemes) or runtime.urls.is_local(uri):
            raise InvalidPlan(
                "adapted_from",
                f"{uri[:80]!r} is not a known plan or a remote https URI",
            )
        refused = await runtime.domain_policy.rejection(uri)
        if refused is not None:
            log.info(
                "fetch of lesson plan %s for %s rejected: %s",
                uri[:300],
                account["actor_id"],
                refused,
            )
            raise InvalidPlan("adapted_from", refused)
        key_id, private_key = runtime.sign_as(account)
        try:
            document = await runtime.signed.get_json(
                uri, key_id=key_id, private_key=private_key
            )
        except FederationError as error:
            log.info(
                "fetching lesson plan %s for %s failed: %s %s",
                uri,
                account["actor_id"],
                error.status,
                error.message,
            )
            raise InvalidPlan(
                "adapted_from", f"could not fetch {uri[:80]}: {error.message}"
            ) from None
        if not isinstance(document, dict) or document.get("id") != uri:
            # A plan is stored only under the id its origin serves it at, so no
            # host can plant a plan under another URI. An alias is rejected.
            raise InvalidPlan(
                "adapted_from", f"{uri[:80]} returned a document with another id"
            )
        try:
            await store_fetched_plan(runtime, document, account)
        except Ignored as error:
            log.info(
                "fetched %s for %s not stored: %s", uri, account["actor_id"], error
            )
            raise InvalidPlan(
                "adapted_from", f"{uri[:80]} is not a lesson plan"
            ) from None
        plan = await plans.visible_by_uri(runtime.pool, uri, account["id"])
        if plan is None:
            raise InvalidPlan("adapted_from", f"{uri[:80]} is not a lesson plan")
        return plan

    # Collections

    def collection_uri(self, collection: Any) -> str:
        if collection["uri"]:
            return collection["uri"]
        return (
            f"{self.base_url}/users/{collection['username']}"
            f"/lesson_plan_collections/{collection['id']}"
        )

    async def collection_document(
        self, collection: Any, viewer_id: int | None
    ) -> dict[str, Any]:
        """Return a local collection as an OrderedCollection (without
        @context), listing only the plans ``viewer_id`` may read."""
        owner = await accounts.by_id(self.runtime.pool, collection["account_id"])
        items = await plans.collection_items(
            self.runtime.pool, collection["id"], viewer_id
        )
        to, cc = _collection_addressing(owner, collection["visibility"])
        return render_collection(
            collection,
            uri=self.collection_uri(collection),
            owner_id=owner["actor_id"],
            to=to,
            cc=cc,
            items=[item["uri"] for item in items],
        )

    async def create_collection(
        self, account: Any, name: str, visibility: str
    ) -> asyncpg.Record | None:
        """Create a collection and send Create unless it is personal (direct);
        return None when the teacher has a collection of that name."""
        async with accounts.transaction(self.runtime.pool) as connection:
            row = await plans.create_collection(
                connection,
                account["id"],
                name,
                visibility=visibility,
                uri_for_id=lambda collection_id: (
                    f"{self.base_url}/users/{account['username']}"
                    f"/lesson_plan_collections/{collection_id}"
                ),
            )
            if row is None:
                return None
            row = await plans.collection(connection, row["id"])
            await self._send_collection(connection, account, "Create", row)
        return row

    async def rename_collection(
        self, account: Any, collection: Any, name: str
    ) -> asyncpg.Record | None:
        """Rename a collection and send Update; None when the name is taken."""
        async with accounts.transaction(self.runtime.pool) as connection:
            renamed = await plans.rename_collection(connection, collection["id"], name)
            if renamed is None:
                return None
            row = await plans.collection(connection, collection["id"])
            await self._send_collection(connection, account, "Update", row)
        return row

    async def add_to_collection(self, account: Any, collection: Any, plan: Any) -> None:
        """Add a plan the teacher may read and send Add.

        Raises InvalidPlan("lesson_plan_id") as ``check_collection_fits`` does.
        """
        check_collection_fits(account, collection["visibility"], plan)
        async with accounts.transaction(self.runtime.pool) as connection:
            if await plans.add_to_collection(
                connection, collection["id"], plan["status_id"]
            ):
                await self._send_collection(
                    connection, account, "Add", collection, plan["uri"]
                )

    async def remove_from_collection(
        self, account: Any, collection: Any, status_id: int
    ) -> None:
        """Remove a plan and send Remove; nothing is sent when it was not there."""
        async with accounts.transaction(self.runtime.pool) as connection:
            plan_uri = await connection.fetchval(
                "SELECT uri FROM lesson_plans WHERE status_id = $1", status_id
            )
            if plan_uri and await plans.remove_from_collection(
                connection, collection["id"], status_id
            ):
                await self._send_collection(
                    connection, account, "Remove", collection, plan_uri
                )

    async def delete_collection(self, account: Any, collection: Any) -> None:
        """Delete a collection and send Delete with a Tombstone."""
        async with accounts.transaction(self.runtime.pool) as connection:
            await self._send_collection(connection, account, "Delete", collection)
            await plans.delete_collection(connection, collection["id"])

    async def _send_collection(
        self,
        connection: asyncpg.Connection,
        account: Any,
        kind: str,
        collection: Any,
        plan_uri: str | None = None,
    ) -> None:
        # Personal collections are addressed to nobody, so nothing is sent.
        if collection["visibility"] == "direct":
            return
        uri = self.collection_uri(collection)
        to, cc = _collection_addressing(account, collection["visibility"])
        obj: Any
        if kind in ("Create", "Update"):
            # Listed as anonymous readers see it, except that a followers-only
            # collection lists as its owner sees it: add_to_collection lets in
            # only plans that every follower may read.
            reader = None if collection["visibility"] != "private" else account["id"]
            obj = await self.collection_document(collection, reader)
        elif kind == "Delete":
            obj = {"id": uri, "type": "Tombstone", "formerType": "OrderedCollection"}
        else:
            obj = plan_uri
        activity_id = next_activity_id()
        body: dict[str, Any] = {
            "@context": PLAN_CONTEXT,
            "id": f"{self.base_url}/activities/{activity_id}",
            "type": kind,
            "actor": account["actor_id"],
            "object": obj,
            "to": to,
            "cc": cc,
        }
        if kind in ("Add", "Remove"):
            body["target"] = {
                "id": uri,
                "type": "OrderedCollection",
                "attributedTo": account["actor_id"],
            }
        await store_activity(
            connection,
            activity_id=activity_id,
            uri=body["id"],
            account_id=account["id"],
            body=body,
        )
        inboxes = list(
            dict.fromkeys(await social.follower_inboxes(connection, account["id"]))
        )
        await enqueue_deliveries(connection, activity_id, inboxes, self.deadline)
        self.runtime.delivery_wakeup.set()
        log.info(
            "%s of collection %s by %s queued to %d inboxes",
            kind,
            uri,
            account["actor_id"],
            len(inboxes),
        )

    async def _send(
        self,
        connection: asyncpg.Connection,
        account: Any,
        kind: str,
        plan: Any,
        status: Any,
        inboxes: list[str],
    ) -> dict[str, Any]:
        article = await self.article(plan, status, account["actor_id"], connection)
        activity_id = next_activity_id()
        uri = f"{self.base_url}/activities/{activity_id}"
        body: dict[str, Any] = {
            "@context": PLAN_CONTEXT,
            "id": uri,
            "type": kind,
            "actor": account["actor_id"],
            "object": article,
            "to": article["to"],
            "cc": article["cc"],
        }
        if kind == "Create":
            body["published"] = article["published"]
        await store_activity(
            connection,
            activity_id=activity_id,
            uri=uri,
            account_id=account["id"],
            body=body,
        )
        unique = list(dict.fromkeys(inboxes))
        await enqueue_deliveries(connection, activity_id, unique, self.deadline)
        self.runtime.delivery_wakeup.set()
        log.info(
            "%s of lesson plan %s by %s queued to %d inboxes",
            kind,
            plan["uri"],
            account["actor_id"],
            len(unique),
        )
        return body


def check_collection_fits(account: Any, visibility: str, plan: Any) -> None:
    """Raise InvalidPlan("lesson_plan_id") when someone a collection of
    ``visibility`` is addressed to could not read ``plan``.

    A public or unlisted collection contains public and unlisted plans, a
    followers-only one also the owner's own followers-only plans, and a
    personal (direct) one any plan.
    """
    allowed = visibility == "direct" or plan["visibility"] in ("public", "unlisted")
    if (
        visibility == "private"
        and plan["visibility"] == "private"
        and plan["account_id"] == account["id"]
    ):
        allowed = True
    if not allowed:
        raise InvalidPlan(
            "lesson_plan_id",
            f"a {plan['visibility']} plan cannot go into a {visibility} collection,"
            " because its readers could not open it",
        )


def _collection_addressing(owner: Any, visibility: str) -> tuple[list[str], list[str]]:
    if visibility == "direct":
        return [], []
    return addressing(visibility, _followers(owner), [])


def _followers(account: Any) -> str:
    return account["followers_url"] or f"{account['actor_id']}/followers"


def _adaptation_visibility(original: Any, requested: str | None) -> str:
    """Return the adaptation's visibility: at most as wide as the original's,
    because the adaptation repeats its content. A direct plan cannot be
    adapted, because plans are not published as direct messages."""
    limit = original["visibility"]
    if limit == "direct":
        raise InvalidPlan(
            "adapted_from", "a plan addressed to chosen people cannot be adapted"
        )
    if requested is None:
        return limit
    if plans.wider_than(requested, limit):
        raise InvalidPlan(
            "visibility",
            f"an adaptation of a {limit} plan cannot be {requested}",
        )
    return requested


def snapshot_of(plan: Any) -> dict[str, Any]:
    """Return a plan's fields as a revision keeps them."""
    fields = asdict(fields_of(plan))
    fields["age_range"] = list(fields["age_range"]) if fields["age_range"] else None
    fields.pop("grade_numbers", None)
    fields["body_html"] = plan["body_html"]
    fields["edited_at"] = (plan["updated_at"] or plan["created_at"]).isoformat()
    return fields
