"""Local lesson plan actions: create, adapt, edit and delete a plan, and store
attachment uploads. Each action that federates stores its activity and queues
its deliveries in the transaction that changes the plan."""

from __future__ import annotations

import html
import logging
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import asyncpg
from markdown_it import MarkdownIt

from actors.lesson_plan import (
    PLAN_CONTEXT,
    InvalidPlan,
    PlanFields,
    adaptation_license,
    license_of,
    render_article,
)
from actors.vocabulary import PUBLIC
from federation.sanitize import sanitize_html
from outbox.actions import Actions
from outbox.queue import enqueue_deliveries, next_activity_id, store_activity
from storage import accounts, social, statuses
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


def render_markdown(text: str) -> str:
    """Return Markdown rendered to HTML and sanitised (raw HTML is escaped)."""
    return sanitize_html(_MARKDOWN.render(text)) if text.strip() else ""


def sniff_type(data: bytes) -> str | None:
    """Return the MIME type that the content shows, or None when unknown."""
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


def plan_url(base_url: str, status_id: int) -> str:
    return f"{base_url}/lesson_plans/{status_id}"


def file_url(base_url: str, attachment: Any) -> str:
    return f"{base_url}/lesson_plans/files/{attachment['id']}"


def card_html(title: str, summary: str, url: str) -> str:
    """Return the status text of a plan: title, summary and a link, as Mastodon
    shows an Article."""
    parts = [f"<p><strong>{html.escape(title)}</strong></p>"]
    if summary:
        parts.append(f"<p>{html.escape(summary)}</p>")
    link = html.escape(url, quote=True)
    parts.append(f'<p><a href="{link}">{link}</a></p>')
    return "".join(parts)


def _column_values(fields: PlanFields) -> dict[str, Any]:
    age = fields.age_range
    return {
        "title": fields.title,
        "summary": fields.summary,
        "body_markdown": fields.body_markdown,
        "body_html": render_markdown(fields.body_markdown),
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
    ) -> asyncpg.Record:
        """Publish a plan, or an adaptation of ``original`` (a stored plan).

        Raises InvalidPlan when the licence does not allow the adaptation or an
        attachment id is not an unused upload of the teacher.
        """
        if original is not None:
            fields.license = adaptation_license(original["license"], fields.license)
        elif fields.license is None:
            fields.license = await self.default_license(account)
        values = _column_values(fields)
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

        followers = f"{account['actor_id']}/followers"
        cc = [followers]
        if original_author is not None and original_author["id"] != account["id"]:
            cc.append(original_author["actor_id"])
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
                visibility="public",
                to_uris=[PUBLIC],
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
            readers = [
                account["id"],
                *await social.local_follower_ids(connection, account["id"]),
            ]
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
        values = {**plans.values_of(plan), **_column_values(fields)}
        async with accounts.transaction(self.runtime.pool) as connection:
            await plans.add_revision(connection, plan["status_id"], snapshot_of(plan))
            await plans.update(connection, plan["status_id"], values)
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
        self, plan: Any, status: Any | None = None, actor_id: str | None = None
    ) -> dict:
        """Return the Article of a local plan, without @context."""
        pool = self.runtime.pool
        status = status or await statuses.by_id(pool, plan["status_id"])
        if actor_id is None:
            author = await accounts.by_id(pool, plan["account_id"])
            actor_id = author["actor_id"]
        files = [
            {**dict(row), "url": file_url(self.base_url, row)}
            for row in await plans.attachments_of(pool, [plan["status_id"]])
        ]
        return render_article(plan, status, actor_id=actor_id, attachments=files)

    async def _send(
        self,
        connection: asyncpg.Connection,
        account: Any,
        kind: str,
        plan: Any,
        status: Any,
        inboxes: list[str],
    ) -> dict[str, Any]:
        article = await self.article(plan, status, account["actor_id"])
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


def snapshot_of(plan: Any) -> dict[str, Any]:
    """Return a plan's fields as a revision keeps them."""
    fields = asdict(fields_of(plan))
    fields["age_range"] = list(fields["age_range"]) if fields["age_range"] else None
    fields.pop("grade_numbers", None)
    fields["body_html"] = plan["body_html"]
    fields["edited_at"] = (plan["updated_at"] or plan["created_at"]).isoformat()
    return fields
