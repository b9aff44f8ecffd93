"""Lesson plans: the client API under /api/pedagogue/v1, the plans' ActivityPub
objects and HTML pages, their attachment files and the teachers' collections.

Validation errors are 422 ``{"error": ..., "field": ...}`` naming the field.
The entity shapes are documented in web/openapi/lesson_plans.yaml.
"""

from __future__ import annotations

import logging
from typing import Any

from quart import Blueprint, Response, current_app, g, jsonify, request, send_file

from actors.lesson_plan import (
    LICENSES,
    PLAN_CONTEXT,
    InvalidPlan,
    license_of,
    parse_fields,
    parse_grade_level,
)
from federation.errors import FederationError
from outbox.lesson_plans import PlanActions, fields_of, file_url
from storage import accounts
from storage import lesson_plans as plans
from web.api import _params, authenticated
from web.app import error_response, runtime_of
from web.json import activity_json
from web.lesson_plan_export import export_html, export_markdown, parse_markdown
from web.presenters import acct, iso_millis

log = logging.getLogger(__name__)

blueprint = Blueprint("api_lesson_plans", __name__)

API = "/api/pedagogue/v1"
DEFAULT_LIMIT = 20
MAX_LIMIT = 40


async def _invalid_plan(error: InvalidPlan) -> Response:
    account = g.get("account")
    log.info(
        "rejected %s %s from account %s: field %s: %s",
        request.method,
        request.path,
        account["id"] if account is not None else None,
        error.field,
        error.message,
    )
    response = jsonify(
        {
            "error": f"Validation failed: {error.field} {error.message}",
            "field": error.field,
        }
    )
    response.status_code = 422
    return response


async def _federation_error(error: FederationError) -> Response:
    log.info(
        "rejected %s %s: %s %s",
        request.method,
        request.path,
        error.status,
        error.message,
    )
    return error_response(error.status, error.message)


blueprint.register_error_handler(InvalidPlan, _invalid_plan)
blueprint.register_error_handler(FederationError, _federation_error)


# Entities


def _license_json(key: str | None) -> dict[str, Any] | None:
    if key not in LICENSES:
        return None
    item = LICENSES[key]
    return {"key": item.key, "name": item.name, "url": item.url}


async def plan_json(runtime: Any, plan: Any) -> dict[str, Any]:
    """Return the API entity of a stored plan."""
    return (await plans_json(runtime, [plan]))[0]


async def plans_json(runtime: Any, rows: list[Any]) -> list[dict[str, Any]]:
    pool = runtime.pool
    ids = [row["status_id"] for row in rows]
    authors = {
        row["id"]: row
        for row in await pool.fetch(
            "SELECT * FROM accounts WHERE id = ANY($1::bigint[])",
            list({row["account_id"] for row in rows}),
        )
    }
    files: dict[int, list[Any]] = {}
    for item in await plans.attachments_of(pool, ids):
        files.setdefault(item["status_id"], []).append(item)
    counts = await plans.count_adaptations(pool, [row["uri"] for row in rows])
    return [
        _entity(runtime, row, authors[row["account_id"]], files, counts) for row in rows
    ]


def _entity(
    runtime: Any, row: Any, author: Any, files: dict, counts: dict
) -> dict[str, Any]:
    values = plans.values_of(row)
    base = runtime.settings.base_url
    attribution = values["attribution"]
    return {
        "id": str(row["status_id"]),
        "uri": row["uri"],
        "url": row["uri"],
        "local": row["local"],
        "account": {
            "id": str(author["id"]),
            "acct": acct(author),
            "display_name": author["display_name"],
            "url": author["url"] or author["actor_id"],
            "actor_id": author["actor_id"],
        },
        "title": row["title"],
        "summary": row["summary"],
        "body_markdown": row["body_markdown"],
        "body_html": row["body_html"],
        "subjects": list(row["subjects"]),
        "grade_levels": list(row["grade_levels"]),
        "age_range": (
            f"{row['age_min']}-{row['age_max']}" if row["age_min"] is not None else None
        ),
        "duration_minutes": row["duration_minutes"],
        "objectives": list(row["objectives"]),
        "materials": list(row["materials"]),
        "alignments": values["alignments"],
        "license": _license_json(row["license"]),
        "attachments": [
            {
                "id": str(item["id"]),
                "url": item["remote_url"] or file_url(base, item),
                "file_name": item["file_name"],
                "mime_type": item["mime_type"],
                "size": item["size"],
            }
            for item in files.get(row["status_id"], [])
        ],
        "adapted_from": attribution[0] if attribution else None,
        "attribution": attribution,
        "adaptations_count": counts.get(row["uri"], 0),
        "created_at": iso_millis(row["created_at"]),
        "edited_at": iso_millis(row["updated_at"]),
    }


def _json(document: Any, status: int = 200) -> Response:
    response = jsonify(document)
    response.status_code = status
    return response


async def _plan_param(plan_id: str) -> Any:
    if not plan_id.isdigit():
        raise FederationError(404, "Record not found")
    plan = await plans.by_id(runtime_of(current_app).pool, int(plan_id))
    if plan is None:
        raise FederationError(404, "Record not found")
    return plan


async def _own_plan(plan_id: str) -> Any:
    plan = await _plan_param(plan_id)
    if plan["account_id"] != g.account["id"]:
        raise FederationError(403, "This action is not allowed: the plan is not yours")
    return plan


def _attachment_ids(params: dict[str, Any]) -> list[int] | None:
    raw = params.get("attachment_ids", params.get("attachment_ids[]"))
    if raw is None:
        return None
    items = raw if isinstance(raw, list) else [raw]
    if not all(str(item).isdigit() for item in items) or len(items) > 16:
        raise InvalidPlan("attachment_ids", "must be a list of at most 16 upload ids")
    return [int(item) for item in items]


async def _original(value: Any) -> Any:
    """Find the plan an adaptation is based on, by id or uri, local or remote."""
    pool = runtime_of(current_app).pool
    text = str(value).strip()
    plan = None
    if text.isdigit():
        plan = await plans.by_id(pool, int(text))
    elif text.startswith(("https://", "http://")):
        plan = await plans.by_uri(pool, text)
    if plan is None:
        raise InvalidPlan("adapted_from", f"no lesson plan {text[:80]!r} is known here")
    return plan


# Plans


@blueprint.post(f"{API}/lesson_plans")
@authenticated
async def create_plan() -> Response:
    runtime = runtime_of(current_app)
    params = await _params()
    fields = parse_fields(params)
    original = None
    if params.get("adapted_from") not in (None, ""):
        original = await _original(params["adapted_from"])
    plan = await PlanActions(runtime).create(
        g.account, fields, attachment_ids=_attachment_ids(params), original=original
    )
    return _json(await plan_json(runtime, plan))


@blueprint.get(f"{API}/lesson_plans/<plan_id>")
async def get_plan(plan_id: str) -> Response:
    plan = await _plan_param(plan_id)
    return _json(await plan_json(runtime_of(current_app), plan))


@blueprint.put(f"{API}/lesson_plans/<plan_id>")
@authenticated
async def update_plan(plan_id: str) -> Response:
    runtime = runtime_of(current_app)
    plan = await _own_plan(plan_id)
    params = await _params()
    fields = parse_fields(params, partial_of=fields_of(plan))
    updated = await PlanActions(runtime).update(
        g.account, plan, fields, _attachment_ids(params)
    )
    return _json(await plan_json(runtime, updated))


@blueprint.delete(f"{API}/lesson_plans/<plan_id>")
@authenticated
async def delete_plan(plan_id: str) -> Response:
    runtime = runtime_of(current_app)
    plan = await _own_plan(plan_id)
    document = await plan_json(runtime, plan)
    await PlanActions(runtime).delete(g.account, plan)
    return _json(document)


@blueprint.get(f"{API}/lesson_plans/<plan_id>/revisions")
@authenticated
async def plan_revisions(plan_id: str) -> Response:
    plan = await _own_plan(plan_id)
    rows = await plans.revisions(runtime_of(current_app).pool, plan["status_id"])
    return _json(
        [
            {
                "id": str(row["id"]),
                "created_at": iso_millis(row["created_at"]),
                **_snapshot(row["snapshot"]),
            }
            for row in rows
        ]
    )


def _snapshot(value: Any) -> dict[str, Any]:
    import json

    return json.loads(value) if isinstance(value, str) else dict(value)


@blueprint.get(f"{API}/lesson_plans/<plan_id>/adaptations")
async def plan_adaptations(plan_id: str) -> Response:
    plan = await _plan_param(plan_id)
    rows = await plans.adaptations_of(runtime_of(current_app).pool, plan["uri"])
    return _json(
        [
            {
                "uri": row["adaptation_uri"],
                "id": str(row["status_id"]) if row["status_id"] else None,
                "title": row["title"],
                "created_at": iso_millis(row["created_at"]),
                "account": {
                    "id": str(row["id"]),
                    "acct": acct(row),
                    "display_name": row["display_name"],
                    "actor_id": row["actor_id"],
                },
            }
            for row in rows
        ]
    )


@blueprint.get(f"{API}/lesson_plans/lookup")
async def lookup_plan() -> Response:
    uri = request.args.get("uri", "").strip()
    if not uri:
        raise FederationError(400, "uri parameter is missing")
    plan = await plans.by_uri(runtime_of(current_app).pool, uri)
    if plan is None:
        raise FederationError(404, "Record not found")
    return _json(await plan_json(runtime_of(current_app), plan))


def _int_arg(name: str, default: int) -> int:
    value = request.args.get(name)
    if value in (None, ""):
        return default
    if not value.isdigit():
        raise FederationError(400, f"{name} must be a number, not {value[:40]!r}")
    return int(value)


@blueprint.get(f"{API}/lesson_plans/search")
async def search_plans() -> Response:
    """Search local and received plans by text, subject, grade level, standard
    and licence; best matches first, paged with limit and offset."""
    runtime = runtime_of(current_app)
    args = request.args
    grade = None
    if args.get("grade_level"):
        _, numbers = parse_grade_level(args["grade_level"])
        grade = numbers[0]
    license_key = license_of(args["license"]) if args.get("license") else None
    limit = max(1, min(_int_arg("limit", DEFAULT_LIMIT), MAX_LIMIT))
    offset = _int_arg("offset", 0)
    rows = await plans.search(
        runtime.pool,
        text=args.get("q", "").strip() or None,
        subject=args.get("subject", "").strip() or None,
        grade=grade,
        standard=args.get("standard", "").strip() or None,
        license_key=license_key,
        limit=limit,
        offset=offset,
    )
    response = _json(await plans_json(runtime, list(rows)))
    if len(rows) == limit:
        query = [(k, v) for k, v in args.items(multi=True) if k != "offset"]
        from urllib.parse import urlencode

        next_url = f"{runtime.settings.base_url}{request.path}?" + urlencode(
            [*query, ("offset", offset + limit)]
        )
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    return response


# Export and import


@blueprint.get(f"{API}/lesson_plans/<plan_id>/export.html")
async def export_plan_html(plan_id: str) -> Response:
    plan = await _plan_param(plan_id)
    page = export_html(await plan_json(runtime_of(current_app), plan))
    return Response(page, content_type="text/html; charset=utf-8")


@blueprint.get(f"{API}/lesson_plans/<plan_id>/export.md")
async def export_plan_markdown(plan_id: str) -> Response:
    plan = await _plan_param(plan_id)
    text = export_markdown(await plan_json(runtime_of(current_app), plan))
    response = Response(text, content_type="text/markdown; charset=utf-8")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="plan-{plan_id}.md"'
    )
    return response


@blueprint.post(f"{API}/lesson_plans/import")
@authenticated
async def import_plan() -> Response:
    runtime = runtime_of(current_app)
    files = await request.files
    upload = files.get("file")
    data = upload.read() if upload is not None else await request.get_data()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidPlan("file", "is not UTF-8 text") from None
    params, adapted_from = parse_markdown(text)
    fields = parse_fields(params)
    original = await _original(adapted_from) if adapted_from else None
    plan = await PlanActions(runtime).create(g.account, fields, original=original)
    return _json(await plan_json(runtime, plan))


# Attachments


@blueprint.post(f"{API}/lesson_plans/attachments")
@authenticated
async def upload_attachment() -> Response:
    files = await request.files
    upload = files.get("file")
    if upload is None:
        raise InvalidPlan("file", "is missing; send it as multipart form field 'file'")
    runtime = runtime_of(current_app)
    row = await PlanActions(runtime).store_upload(
        g.account, upload.filename or "attachment", upload.read()
    )
    return _json(
        {
            "id": str(row["id"]),
            "url": file_url(runtime.settings.base_url, row),
            "file_name": row["file_name"],
            "mime_type": row["mime_type"],
            "size": row["size"],
        }
    )


@blueprint.get("/lesson_plans/files/<int:attachment_id>")
async def attachment_file(attachment_id: int) -> Response:
    runtime = runtime_of(current_app)
    row = await plans.attachment(runtime.pool, attachment_id)
    if row is None or row["remote_url"] is not None:
        raise FederationError(404, "file not found")
    path = runtime.settings.data_path / "media" / "lesson_plans" / str(row["id"])
    response = await send_file(path, mimetype=row["mime_type"])
    # Served as downloads with their sniffed type, so no upload renders as a page.
    response.headers["Content-Disposition"] = "attachment"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# Preferences


@blueprint.get(f"{API}/lesson_plans/preferences")
@authenticated
async def get_preferences() -> Response:
    runtime = runtime_of(current_app)
    key = await PlanActions(runtime).default_license(g.account)
    return _json({"default_license": _license_json(key)})


@blueprint.put(f"{API}/lesson_plans/preferences")
@authenticated
async def set_preferences() -> Response:
    params = await _params()
    key = license_of(params.get("default_license"), "default_license")
    await plans.set_preferred_license(
        runtime_of(current_app).pool, g.account["id"], key
    )
    return _json({"default_license": _license_json(key)})


# Collections


def _collection_id(runtime: Any, row: Any) -> str:
    return (
        f"{runtime.settings.base_url}/users/{row['username']}"
        f"/lesson_plan_collections/{row['id']}"
    )


async def _collection_json(runtime: Any, row: Any) -> dict[str, Any]:
    items = await plans.collection_items(runtime.pool, row["id"])
    return {
        "id": str(row["id"]),
        "uri": _collection_id(runtime, row),
        "name": row["name"],
        "created_at": iso_millis(row["created_at"]),
        "lesson_plans": await plans_json(runtime, list(items)),
    }


async def _own_collection(collection_id: str) -> Any:
    runtime = runtime_of(current_app)
    row = (
        await plans.collection(runtime.pool, int(collection_id))
        if collection_id.isdigit()
        else None
    )
    if row is None or row["account_id"] != g.account["id"]:
        raise FederationError(404, "Record not found")
    return row


@blueprint.get(f"{API}/lesson_plan_collections")
@authenticated
async def list_collections() -> Response:
    runtime = runtime_of(current_app)
    rows = await plans.collections_of(runtime.pool, g.account["id"])
    return _json([await _collection_json(runtime, row) for row in rows])


@blueprint.post(f"{API}/lesson_plan_collections")
@authenticated
async def create_collection() -> Response:
    runtime = runtime_of(current_app)
    name = (await _params()).get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise InvalidPlan("name", "is missing or over 100 characters")
    row = await plans.create_collection(runtime.pool, g.account["id"], name.strip())
    if row is None:
        raise InvalidPlan(
            "name", f"you already have a collection named {name.strip()!r}"
        )
    row = await plans.collection(runtime.pool, row["id"])
    return _json(await _collection_json(runtime, row))


@blueprint.get(f"{API}/lesson_plan_collections/<collection_id>")
@authenticated
async def get_collection(collection_id: str) -> Response:
    row = await _own_collection(collection_id)
    return _json(await _collection_json(runtime_of(current_app), row))


@blueprint.post(f"{API}/lesson_plan_collections/<collection_id>/items")
@authenticated
async def add_collection_item(collection_id: str) -> Response:
    runtime = runtime_of(current_app)
    row = await _own_collection(collection_id)
    plan_id = (await _params()).get("lesson_plan_id")
    plan = await _plan_param(str(plan_id or ""))
    await plans.add_to_collection(runtime.pool, row["id"], plan["status_id"])
    return _json(await _collection_json(runtime, row))


@blueprint.delete(f"{API}/lesson_plan_collections/<collection_id>/items/<plan_id>")
@authenticated
async def remove_collection_item(collection_id: str, plan_id: str) -> Response:
    runtime = runtime_of(current_app)
    row = await _own_collection(collection_id)
    if plan_id.isdigit():
        await plans.remove_from_collection(runtime.pool, row["id"], int(plan_id))
    return _json(await _collection_json(runtime, row))


@blueprint.get("/users/<username>/lesson_plan_collections/<int:collection_id>")
async def collection_object(username: str, collection_id: int) -> Response:
    """Serve a teacher's collection as an ActivityStreams Collection of plan ids."""
    runtime = runtime_of(current_app)
    row = await plans.collection(runtime.pool, collection_id)
    if row is None or row["username"].lower() != username.lower():
        raise FederationError(404, "collection not found")
    items = await plans.collection_items(runtime.pool, row["id"])
    owner = await accounts.by_id(runtime.pool, row["account_id"])
    return activity_json(
        {
            "@context": PLAN_CONTEXT,
            "id": _collection_id(runtime, row),
            "type": "Collection",
            "name": row["name"],
            "attributedTo": owner["actor_id"],
            "totalItems": len(items),
            "items": [item["uri"] for item in items],
        }
    )


# The plan's ActivityPub object and page


@blueprint.get("/lesson_plans/<int:plan_id>")
async def plan_object(plan_id: str | int) -> Response:
    """Serve a local plan as an Article, or as its HTML page to browsers.

    A deleted plan returns 410 with a Tombstone.
    """
    runtime = runtime_of(current_app)
    from actors.note import render_tombstone
    from storage import statuses
    from web.activitypub import wants_activity_json

    status = await statuses.by_id(runtime.pool, int(plan_id))
    plan = await plans.by_id(runtime.pool, int(plan_id)) if status else None
    if status is None or not status["local"] or status["object_type"] != "Article":
        raise FederationError(404, "lesson plan not found")
    if status["deleted_at"] is not None or plan is None:
        response = activity_json(render_tombstone(status["uri"], status["deleted_at"]))
        response.status_code = 410
        return response
    if not wants_activity_json():
        page = export_html(await plan_json(runtime, plan))
        return Response(page, content_type="text/html; charset=utf-8")
    article = await PlanActions(runtime).article(plan, status)
    return activity_json({"@context": PLAN_CONTEXT, **article})
