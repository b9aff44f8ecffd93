"""Received lesson plans: Articles that carry schema.org learning-resource terms.

The Create and Update handlers store the Article as a status first and then call
in here. The LRMI terms are read from the JSON-LD expanded form (bundled
contexts only), so any prefix a peer binds them to is understood. A term with
the wrong type is left out and logged; the rest of the plan is stored.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import asyncpg

from actors.lesson_plan import (
    LICENSES,
    LINKED_TYPES,
    MAX_LINKED_BYTES,
    MAX_SUMMARY,
    MAX_TITLE,
    InvalidCollection,
    InvalidPlan,
    RemotePlan,
    adaptation_license,
    is_plan_collection,
    parse_collection,
    read_attachments,
    read_lrmi,
)
from actors.visibility import visibility_of
from actors.vocabulary import first_id, id_of, text_value
from federation import jsonld
from federation.sanitize import plain_text, sanitize_display_name, sanitize_html
from inbox.handlers import Context, Ignored
from outbox.lesson_plans import ADAPTATION_NOTIFICATION, card_html, snapshot_of
from storage import accounts, social
from storage import lesson_plans as plans

if TYPE_CHECKING:
    from pedagogue.runtime import Runtime

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
    own = [item for item in plan.attribution if item["uri"] == id_of(obj)]
    if own:
        # A plan cannot be its own source; the rest of the chain is kept.
        plan.attribution = [item for item in plan.attribution if item not in own]
        plan.rejected.append("isBasedOn (names the plan itself)")
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
        # AS2 name is plain text, so the title is kept as sent.
        "title": sanitize_display_name(title, MAX_TITLE) or "Untitled lesson plan",
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


async def _check_adaptation(
    context: Context, values: dict[str, Any], status: Any
) -> None:
    """Apply the licence rules of local adaptations to a received one.

    When the original is stored here and its licence forbids adaptations, or
    the adaptation's licence breaks the original's ShareAlike, NonCommercial or
    attribution condition, the plan is stored without ``based_on_uri``: it is
    neither recorded nor listed as an adaptation, and nobody is notified. The
    attribution chain stays, so the original's author is still credited.
    Known titles and authors fill the gaps of the first link of the chain.
    """
    original_uri = values["based_on_uri"]
    if not original_uri:
        return
    original = await plans.by_uri(context.connection, original_uri)
    if original is None:
        return
    first = values["attribution"][0]
    if not first.get("title"):
        first["title"] = original["title"]
    if not first.get("author_uri"):
        author = await accounts.by_id(context.connection, original["account_id"])
        first["author_uri"] = author["actor_id"] if author else None
    if original["license"] not in LICENSES:
        return
    try:
        adaptation_license(original["license"], values["license"])
    except InvalidPlan as error:
        values["based_on_uri"] = None
        log.info(
            "lesson plan %s by %s not recorded as an adaptation of %s: %s (%s)",
            status["uri"],
            context.actor_id,
            original_uri,
            error.message,
            context.activity_id,
        )


async def store_remote_plan(context: Context, obj: dict[str, Any], status: Any) -> None:
    """Store the plan of a received Article just stored as ``status``, record an
    adaptation of a known plan when its licence allows it and notify its local
    author. Does nothing for an Article without LRMI terms."""
    plan = _read(context, obj)
    if plan is None:
        return
    connection = context.connection
    values = _values(obj, plan)
    await _check_adaptation(context, values, status)
    await plans.insert(connection, status=status, local=False, values=values)
    await _show_as_card(connection, status, values)
    await _store_attachments(context, status, obj)
    if values["based_on_uri"]:
        await _record_adaptation(context, values["based_on_uri"], status)
    log.info(
        "stored lesson plan %s by %s (%s)",
        status["uri"],
        context.actor_id,
        context.activity_id,
    )


async def _store_attachments(context: Context, status: Any, obj: dict) -> None:
    # Remote files stay links to their origin (see read_attachments); nothing
    # is fetched while the activity is processed.
    settings = context.runtime.settings
    allowed = LINKED_TYPES | {
        item.strip()
        for item in settings.lesson_plans.attachment_types.split(",")
        if item.strip()
    }
    kept, dropped = read_attachments(
        obj,
        allowed_types=allowed,
        max_bytes=MAX_LINKED_BYTES,
        allow_http=settings.allow_http,
    )
    if dropped:
        log.info(
            "lesson plan %s from %s: dropped %s (%s)",
            status["uri"],
            context.actor_id,
            "; ".join(dropped),
            context.activity_id,
        )
    for item in kept:
        await plans.add_attachment(
            context.connection,
            account_id=status["account_id"],
            status_id=status["id"],
            file_name=plain_text(item.file_name)[:200] or "attachment",
            mime_type=item.mime_type,
            size=item.size,
            remote_url=item.url,
            position=item.position,
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
    await _check_adaptation(context, values, status)
    if values["based_on_uri"] != existing["based_on_uri"]:
        # An edit cannot move a plan under another original, nor keep it
        # listed under one whose licence it now breaks.
        await context.connection.execute(
            "DELETE FROM lesson_plan_adaptations WHERE adaptation_uri = $1",
            status["uri"],
        )
        if values["based_on_uri"]:
            await _record_adaptation(context, values["based_on_uri"], status)
    await plans.add_revision(context.connection, status["id"], snapshot_of(existing))
    await plans.update(context.connection, status["id"], values)
    await _show_as_card(context.connection, status, values)
    log.info(
        "updated lesson plan %s by %s (%s)",
        status["uri"],
        context.actor_id,
        context.activity_id,
    )


# Collections of plans


async def store_remote_collection(context: Context, obj: dict[str, Any]) -> None:
    """Store or rename a remote teacher's collection from a Create or Update and
    set its items to the plans it lists that are stored here.

    Raises Ignored unless the collection and its owner are the sender's.
    """
    try:
        collection = parse_collection(obj)
    except InvalidCollection as error:
        raise Ignored(str(error))
    if collection.owner_id != context.actor_id or not context.same_host(collection.uri):
        raise Ignored(f"collection {collection.uri} is not {context.actor_id}'s")
    owner = await context.actor()
    row = await plans.upsert_remote_collection(
        context.connection,
        uri=collection.uri,
        account_id=owner["id"],
        name=plain_text(collection.name)[:100] or "Lesson plans",
        visibility=visibility_of(collection.to, collection.cc, owner["followers_url"]),
    )
    if row is None:
        raise Ignored(f"collection {collection.uri} belongs to another account")
    known = await context.connection.fetch(
        "SELECT status_id FROM lesson_plans WHERE uri = ANY($1::text[])",
        collection.items,
    )
    await context.connection.execute(
        "DELETE FROM lesson_plan_collection_items WHERE collection_id = $1"
        " AND NOT (status_id = ANY($2::bigint[]))",
        row["id"],
        [item["status_id"] for item in known],
    )
    for item in known:
        await plans.add_to_collection(context.connection, row["id"], item["status_id"])
    log.info(
        "stored collection %s of %s with %d of %d plans known (%s)",
        collection.uri,
        context.actor_id,
        len(known),
        len(collection.items),
        context.activity_id,
    )


async def _sender_collection(context: Context) -> Any:
    target = first_id(context.activity.get("target"))
    if not target:
        raise Ignored("Add or Remove without a target")
    row = await plans.collection_by_uri(context.connection, target)
    if row is None or row["local"]:
        raise Ignored(f"target {target} is not a known remote plan collection")
    if row["owner_uri"] != context.actor_id:
        raise Ignored(f"{context.actor_id} does not own collection {target}")
    return row


async def _target_plan(context: Context) -> Any:
    plan_uri = context.object_id
    plan = await plans.by_uri(context.connection, plan_uri) if plan_uri else None
    if plan is None:
        # NOTE: a plan this instance has not seen is not fetched here; the
        # collection's next Update lists it again once the plan is known.
        raise Ignored(f"Add or Remove of unknown lesson plan {plan_uri}")
    return plan


async def handle_add(context: Context) -> None:
    """Add a plan to a remote teacher's collection (Add with target)."""
    collection = await _sender_collection(context)
    plan = await _target_plan(context)
    await plans.add_to_collection(
        context.connection, collection["id"], plan["status_id"]
    )
    log.info(
        "added %s to collection %s of %s (%s)",
        plan["uri"],
        collection["uri"],
        context.actor_id,
        context.activity_id,
    )


async def handle_remove(context: Context) -> None:
    """Remove a plan from a remote teacher's collection (Remove with target)."""
    collection = await _sender_collection(context)
    plan = await _target_plan(context)
    await plans.remove_from_collection(
        context.connection, collection["id"], plan["status_id"]
    )
    log.info(
        "removed %s from collection %s of %s (%s)",
        plan["uri"],
        collection["uri"],
        context.actor_id,
        context.activity_id,
    )


async def delete_remote_collection(context: Context, uri: str) -> bool:
    """Delete the sender's collection ``uri``; return False when none is stored."""
    row = await plans.collection_by_uri(context.connection, uri)
    if row is None or row["local"]:
        return False
    if row["owner_uri"] != context.actor_id:
        raise Ignored(f"{context.actor_id} does not own collection {uri}")
    await plans.delete_collection(context.connection, row["id"])
    log.info(
        "deleted collection %s of %s (%s)", uri, context.actor_id, context.activity_id
    )
    return True


def concerns_collection(context: Context) -> bool:
    """Return True for a Create or Update whose object is a plan collection."""
    return is_plan_collection(context.object)


async def targets_plan_collection(context: Context) -> bool:
    """Return True for an Add or Remove whose target is a stored collection of
    plans, so that other Add and Remove handlers keep the rest."""
    target = first_id(context.activity.get("target"))
    if not target:
        return False
    return await plans.collection_by_uri(context.connection, target) is not None


# Plans fetched on demand


async def store_fetched_plan(
    runtime: Runtime, document: dict[str, Any], reader: Any
) -> None:
    """Store a plan fetched from its origin as if its Create had arrived.

    The object goes through the inbox's Create path (host checks, sanitising,
    LRMI terms by JSON-LD expansion), except that it is not put into home
    feeds, because nobody was sent it. ``reader`` is the local account that
    asked for it, for the log. Raises Ignored when the document is not a plan
    of its own host's actor.
    """
    from inbox.handlers import create

    uri = id_of(document)
    author = first_id(document.get("attributedTo"))
    if not uri or not author:
        raise Ignored(f"fetched object {uri} has no id or attributedTo")
    activity = {
        "@context": document.get("@context"),
        "id": uri,
        "type": "Create",
        "actor": author,
        "object": document,
    }
    row = {"activity_id": uri, "actor_id": author, "activity_type": "Create"}
    async with accounts.transaction(runtime.pool) as connection:
        context = Context(runtime, connection, activity, row)
        await create.handle_create(context, distribute=False)
    log.info("stored fetched lesson plan %s for %s", uri, reader["actor_id"])
