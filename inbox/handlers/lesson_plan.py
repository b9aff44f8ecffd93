"""Received lesson plans: Articles that carry schema.org learning-resource terms.

The Create and Update handlers store the Article as a status first and then call
in here. The LRMI terms are read from the JSON-LD expanded form (bundled
contexts only), so any prefix a peer binds them to is understood. A term with
the wrong type is left out and logged; the rest of the plan is stored.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg

from actors.lesson_plan import MAX_SUMMARY, MAX_TITLE, RemotePlan, read_lrmi
from actors.vocabulary import as_list, first_id, id_of, text_value
from federation import jsonld
from federation.sanitize import plain_text, sanitize_html
from inbox.handlers import Context
from outbox.lesson_plans import ADAPTATION_NOTIFICATION, card_html, snapshot_of
from storage import accounts, social
from storage import lesson_plans as plans

log = logging.getLogger(__name__)


def _expanded_node(context: Context, obj: dict[str, Any]) -> dict[str, Any] | None:
    # An embedded object takes its terms from the activity's @context.
    document = (
        obj
        if "@context" in obj
        else {"@context": context.activity.get("@context"), **obj}
    )
    try:
        nodes = jsonld.expand(document)
    except (jsonld.ContextNotBundled, jsonld.InvalidJsonLd) as error:
        log.info(
            "Article %s from %s not read as a lesson plan: %s (%s)",
            id_of(obj),
            context.actor_id,
            error,
            context.activity_id,
        )
        return None
    uri = id_of(obj)
    return next((node for node in nodes if node.get("@id") == uri), None)


def _read(context: Context, obj: dict[str, Any]) -> RemotePlan | None:
    node = _expanded_node(context, obj)
    if node is None:
        return None
    plan = read_lrmi(node)
    if not plan.is_plan:
        return None
    if plan.rejected:
        log.info(
            "lesson plan %s from %s stored without fields of the wrong type"
            " or value: %s (%s)",
            id_of(obj),
            context.actor_id,
            ", ".join(plan.rejected),
            context.activity_id,
        )
    return plan


def _values(obj: dict[str, Any], plan: RemotePlan) -> dict[str, Any]:
    title = text_value(obj, "name")
    summary = text_value(obj, "summary")
    content = text_value(obj, "content")
    age = plan.age_range
    return {
        "title": plain_text(title)[:MAX_TITLE] or "Untitled lesson plan",
        "summary": plain_text(summary)[:MAX_SUMMARY],
        "body_markdown": None,
        "body_html": sanitize_html(content),
        "subjects": plan.subjects,
        "grade_levels": plan.grade_levels,
        "grade_numbers": plan.grade_numbers,
        "age_min": age[0] if age else None,
        "age_max": age[1] if age else None,
        "duration_minutes": plan.duration_minutes,
        "objectives": plan.objectives,
        "materials": plan.materials,
        "alignments": plan.alignments,
        "license": plan.license,
        "based_on_uri": plan.attribution[0]["uri"] if plan.attribution else None,
        "attribution": plan.attribution,
    }


async def _show_as_card(
    connection: asyncpg.Connection, status: Any, values: dict[str, Any]
) -> None:
    # The Create handler stored the Article's summary as a content warning, as
    # for any object; a plan's status shows title, summary and link instead.
    await connection.execute(
        "UPDATE statuses SET content = $2, spoiler_text = '', sensitive = false,"
        " name = $3 WHERE id = $1",
        status["id"],
        card_html(values["title"], values["summary"], status["url"] or status["uri"]),
        values["title"],
    )


async def store_remote_plan(context: Context, obj: dict[str, Any], status: Any) -> None:
    """Store the plan of a received Article just stored as ``status``, record an
    adaptation of a local plan and notify its author. Does nothing for an
    Article without LRMI terms."""
    plan = _read(context, obj)
    if plan is None:
        return
    connection = context.connection
    values = _values(obj, plan)
    await plans.insert(connection, status=status, local=False, values=values)
    await _show_as_card(connection, status, values)
    await _store_attachments(connection, status, obj)
    if values["based_on_uri"]:
        await _record_adaptation(context, values["based_on_uri"], status)
    log.info(
        "stored lesson plan %s by %s (%s)",
        status["uri"],
        context.actor_id,
        context.activity_id,
    )


async def _store_attachments(
    connection: asyncpg.Connection, status: Any, obj: dict
) -> None:
    for position, item in enumerate(as_list(obj.get("attachment"))[:16]):
        if not isinstance(item, dict):
            continue
        url = first_id(item.get("url"))
        if not url or not url.startswith(("https://", "http://")):
            continue
        mime_type = text_value(item, "mediaType")
        name = text_value(item, "name")
        await plans.add_attachment(
            connection,
            account_id=status["account_id"],
            status_id=status["id"],
            file_name=plain_text(name)[:200] or "attachment",
            mime_type=mime_type[:100] or "application/octet-stream",
            size=0,
            remote_url=url,
            position=position,
        )


async def _record_adaptation(context: Context, original_uri: str, status: Any) -> None:
    connection = context.connection
    added = await plans.add_adaptation(
        connection, original_uri, status["uri"], status["account_id"]
    )
    original = await plans.by_uri(connection, original_uri)
    if not added or original is None or not original["local"]:
        return
    await social.notify(
        connection,
        original["account_id"],
        ADAPTATION_NOTIFICATION,
        status["account_id"],
        status["id"],
    )
    await social.add_to_home_feeds(connection, status["id"], [original["account_id"]])
    author = await accounts.by_id(connection, original["account_id"])
    log.info(
        "lesson plan %s by %s adapts %s of %s (%s)",
        status["uri"],
        context.actor_id,
        original_uri,
        author["actor_id"] if author else None,
        context.activity_id,
    )


async def update_remote_plan(
    context: Context, obj: dict[str, Any], status: Any
) -> None:
    """Apply a received Update to a stored plan, keeping the old version as a
    revision; an Article that becomes a plan by the edit is stored as one."""
    existing = await plans.by_id(context.connection, status["id"])
    if existing is None:
        await store_remote_plan(context, obj, status)
        return
    plan = _read(context, obj)
    if plan is None:
        return
    values = _values(obj, plan)
    await plans.add_revision(context.connection, status["id"], snapshot_of(existing))
    await plans.update(context.connection, status["id"], values)
    await _show_as_card(context.connection, status, values)
    log.info(
        "updated lesson plan %s by %s (%s)",
        status["uri"],
        context.actor_id,
        context.activity_id,
    )
