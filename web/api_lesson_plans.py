"""Lesson plans: the client API under /api/pedagogue/v1, the plans' ActivityPub
objects and HTML pages, their attachment files and the teachers' collections.

Validation errors are 422 ``{"error": ..., "field": ...}`` naming the field.
The entity shapes are documented in web/openapi/lesson_plans.yaml.
"""

from __future__ import annotations

import hmac
import json
import logging
import unicodedata
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from quart import Blueprint, Response, current_app, g, jsonify, request, send_file

from actors.lesson_plan import (
    LICENSES,
    PLAN_CONTEXT,
    InvalidPlan,
    canonical_code,
    form_alignments,
    license_of,
    parse_fields,
    parse_grade_level,
    parse_visibility,
)
from actors.note import render_tombstone
from federation import httpsig
from federation.errors import FederationError
from outbox.lesson_plans import PlanActions, fields_of, file_key, file_url
from storage import lesson_plans as plans
from storage import statuses
from web.activitypub import wants_activity_json
from web.api import _params, _token_account, authenticated
from web.app import error_response, log_text, parse_id, runtime_of
from web.json import activity_json
from web.lesson_plan_export import export_html, export_markdown, parse_markdown
from web.presenters import acct, iso_millis, web_url
from web.reading import can_see

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


async def plan_json(
    runtime: Any, plan: Any, viewer_id: int | None = None
) -> dict[str, Any]:
    """Return the API entity of a stored plan as ``viewer_id`` sees it."""
    return (await plans_json(runtime, [plan], viewer_id))[0]


async def plans_json(
    runtime: Any, rows: list[Any], viewer_id: int | None = None
) -> list[dict[str, Any]]:
    """Return the API entities of plans that the caller checked ``viewer_id``
    may read; adaptation counts include only adaptations it may read too."""
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
    counts = await plans.count_adaptations(
        pool, [row["uri"] for row in rows], viewer_id
    )
    return [
        _entity(runtime, row, authors[row["account_id"]], files, counts) for row in rows
    ]


def _entity(
    runtime: Any, row: Any, author: Any, files: dict, counts: dict
) -> dict[str, Any]:
    values = plans.values_of(row)
    attribution = values["attribution"]
    return {
        "id": str(row["status_id"]),
        "uri": row["uri"],
        "url": row["uri"],
        "local": row["local"],
        "visibility": row["visibility"],
        "account": {
            "id": str(author["id"]),
            "acct": acct(author),
            "display_name": author["display_name"],
            "url": web_url(author["url"], author["actor_id"]),
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
                "url": item["remote_url"] or file_url(runtime, item),
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


async def _viewer() -> Any:
    """Return the account of the bearer token, or None for anonymous requests.

    Raises FederationError(401) for a token that is sent but not valid, so a
    client with an expired token learns it instead of seeing less.
    """
    if not request.headers.get("Authorization"):
        return None
    account = await _token_account()
    if account is None:
        raise FederationError(401, "The access token is invalid")
    g.account = account
    return account


def _viewer_id(viewer: Any) -> int | None:
    return viewer["id"] if viewer is not None else None


async def _plan_param(plan_id: str, viewer: Any = None) -> Any:
    """Return the plan ``plan_id`` that ``viewer`` may read; 404 otherwise,
    so a reader cannot tell a hidden plan from a missing one."""
    number = parse_id(plan_id)
    if number is None:
        raise FederationError(404, "Record not found")
    plan = await plans.visible_by_id(
        runtime_of(current_app).pool, number, _viewer_id(viewer)
    )
    if plan is None:
        raise FederationError(404, "Record not found")
    return plan


async def _own_plan(plan_id: str) -> Any:
    plan = await _plan_param(plan_id, g.account)
    if plan["account_id"] != g.account["id"]:
        raise FederationError(403, "This action is not allowed: the plan is not yours")
    return plan


def _attachment_ids(params: dict[str, Any]) -> list[int] | None:
    raw = params.get("attachment_ids", params.get("attachment_ids[]"))
    if raw is None:
        return None
    items = raw if isinstance(raw, list) else [raw]
    numbers = [parse_id(str(item)) for item in items]
    if None in numbers or len(items) > 16:
        raise InvalidPlan("attachment_ids", "must be a list of at most 16 upload ids")
    repeated = next((n for n in numbers if numbers.count(n) > 1), None)
    if repeated is not None:
        raise InvalidPlan("attachment_ids", f"{repeated} is listed twice")
    return [number for number in numbers if number is not None]


async def _original(value: Any, account: Any) -> Any:
    """Find the plan an adaptation is based on, by id or uri, local or remote.

    A remote https URI this instance has not stored is fetched from its origin
    (signed as ``account``) and stored first. The plan must be one the teacher
    may read.
    """
    runtime = runtime_of(current_app)
    text = str(value).strip()
    plan = None
    number = parse_id(text)
    if number is not None:
        plan = await plans.visible_by_id(runtime.pool, number, account["id"])
    elif text.startswith(("https://", "http://")):
        plan = await plans.visible_by_uri(runtime.pool, text, account["id"])
        known = plan is not None or await plans.by_uri(runtime.pool, text) is not None
        if not known:
            plan = await PlanActions(runtime).fetch_remote(account, text)
    if plan is None:
        raise InvalidPlan("adapted_from", f"no lesson plan {text[:80]!r} is known here")
    return plan


async def _plan_params() -> dict[str, Any]:
    """Return the request's parameters, with the alignments of a form body
    gathered from their nested keys into ``alignments``."""
    params = await _params()
    pairs: list[tuple[str, str]] = []
    if request.mimetype == "application/x-www-form-urlencoded":
        # _params has checked that the body decodes.
        pairs = parse_qsl(await request.get_data(as_text=True), keep_blank_values=True)
    elif request.mimetype == "multipart/form-data":
        pairs = list((await request.form).items(multi=True))
    pairs += list(request.args.items(multi=True))
    alignments = form_alignments(pairs)
    if alignments is not None:
        for key in [key for key in params if key.startswith("alignments[")]:
            del params[key]
        params["alignments"] = alignments
    return params


# Plans


@blueprint.post(f"{API}/lesson_plans")
@authenticated(scope="write:statuses")
async def create_plan() -> Response:
    runtime = runtime_of(current_app)
    params = await _plan_params()
    fields = parse_fields(params)
    visibility = parse_visibility(params.get("visibility"))
    original = None
    if params.get("adapted_from") not in (None, ""):
        original = await _original(params["adapted_from"], g.account)
    plan = await PlanActions(runtime).create(
        g.account,
        fields,
        attachment_ids=_attachment_ids(params),
        original=original,
        visibility=visibility,
    )
    return _json(await plan_json(runtime, plan, g.account["id"]))


@blueprint.get(f"{API}/lesson_plans/<plan_id>")
async def get_plan(plan_id: str) -> Response:
    viewer = await _viewer()
    plan = await _plan_param(plan_id, viewer)
    return _json(await plan_json(runtime_of(current_app), plan, _viewer_id(viewer)))


@blueprint.put(f"{API}/lesson_plans/<plan_id>")
@authenticated(scope="write:statuses")
async def update_plan(plan_id: str) -> Response:
    runtime = runtime_of(current_app)
    plan = await _own_plan(plan_id)
    params = await _plan_params()
    fields = parse_fields(params, partial_of=fields_of(plan))
    requested = parse_visibility(params.get("visibility"))
    if requested is not None and requested != plan["visibility"]:
        raise InvalidPlan("visibility", "cannot change after the plan is published")
    updated = await PlanActions(runtime).update(
        g.account, plan, fields, _attachment_ids(params)
    )
    return _json(await plan_json(runtime, updated, g.account["id"]))


@blueprint.delete(f"{API}/lesson_plans/<plan_id>")
@authenticated(scope="write:statuses")
async def delete_plan(plan_id: str) -> Response:
    runtime = runtime_of(current_app)
    plan = await _own_plan(plan_id)
    document = await plan_json(runtime, plan, g.account["id"])
    await PlanActions(runtime).delete(g.account, plan)
    return _json(document)


@blueprint.get(f"{API}/lesson_plans/<plan_id>/revisions")
@authenticated(scope="read:statuses")
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
    """Return a stored revision in the shapes of the plan entity: the age range
    as ``"8-10"`` and ``edited_at`` as a millisecond UTC time."""
    snapshot = json.loads(value) if isinstance(value, str) else dict(value)
    age = snapshot.get("age_range")
    if isinstance(age, list) and len(age) == 2:
        snapshot["age_range"] = f"{age[0]}-{age[1]}"
    if isinstance(snapshot.get("edited_at"), str):
        try:
            moment = datetime.fromisoformat(snapshot["edited_at"])
        except ValueError:
            pass
        else:
            snapshot["edited_at"] = iso_millis(moment)
    return snapshot


@blueprint.get(f"{API}/lesson_plans/<plan_id>/adaptations")
async def plan_adaptations(plan_id: str) -> Response:
    viewer = await _viewer()
    plan = await _plan_param(plan_id, viewer)
    rows = await plans.adaptations_of(
        runtime_of(current_app).pool, plan["uri"], _viewer_id(viewer)
    )
    return _json(
        [
            {
                "uri": row["adaptation_uri"],
                "id": str(row["status_id"]) if row["status_id"] else None,
                "title": row["title"],
                "created_at": iso_millis(row["adapted_at"]),
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
    """Find a plan by its uri. With ``resolve=true`` and a token, a remote plan
    not stored here is fetched from its origin first."""
    runtime = runtime_of(current_app)
    viewer = await _viewer()
    uri = request.args.get("uri", "").strip()
    if not uri:
        raise FederationError(400, "uri parameter is missing")
    plan = await plans.visible_by_uri(runtime.pool, uri, _viewer_id(viewer))
    resolve = request.args.get("resolve", "").lower() in ("true", "1")
    stored = plan is not None or await plans.by_uri(runtime.pool, uri) is not None
    if not stored and resolve and viewer is not None:
        try:
            plan = await PlanActions(runtime).fetch_remote(viewer, uri)
        except InvalidPlan as error:
            raise FederationError(404, error.message) from None
    if plan is None:
        raise FederationError(404, "Record not found")
    return _json(await plan_json(runtime, plan, _viewer_id(viewer)))


def _int_arg(name: str, default: int) -> int:
    value = request.args.get(name)
    if value in (None, ""):
        return default
    number = parse_id(value)
    if number is None:
        raise FederationError(400, f"{name} must be a number, not {value[:40]!r}")
    return number


@blueprint.get(f"{API}/lesson_plans/search")
async def search_plans() -> Response:
    """Search local and received plans by text, subject, grade level, standard
    and licence; best matches first, paged with limit and offset."""
    runtime = runtime_of(current_app)
    viewer = await _viewer()
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
        standard=canonical_code(args.get("standard", "")) or None,
        license_key=license_key,
        limit=limit,
        offset=offset,
        viewer_id=_viewer_id(viewer),
    )
    response = _json(await plans_json(runtime, list(rows), _viewer_id(viewer)))
    if len(rows) == limit:
        query = [(k, v) for k, v in args.items(multi=True) if k != "offset"]
        next_url = f"{runtime.settings.base_url}{request.path}?" + urlencode(
            [*query, ("offset", offset + limit)]
        )
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    return response


# Export and import


@blueprint.get(f"{API}/lesson_plans/<plan_id>/export.html")
async def export_plan_html(plan_id: str) -> Response:
    viewer = await _viewer()
    plan = await _plan_param(plan_id, viewer)
    page = export_html(
        await plan_json(runtime_of(current_app), plan, _viewer_id(viewer))
    )
    return Response(page, content_type="text/html; charset=utf-8")


@blueprint.get(f"{API}/lesson_plans/<plan_id>/export.md")
async def export_plan_markdown(plan_id: str) -> Response:
    viewer = await _viewer()
    plan = await _plan_param(plan_id, viewer)
    text = export_markdown(
        await plan_json(runtime_of(current_app), plan, _viewer_id(viewer))
    )
    response = Response(text, content_type="text/markdown; charset=utf-8")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="plan-{plan_id}.md"'
    )
    return response


@blueprint.post(f"{API}/lesson_plans/import")
@authenticated(scope="write:statuses")
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
    visibility = parse_visibility(params.get("visibility"))
    original = await _original(adapted_from, g.account) if adapted_from else None
    plan = await PlanActions(runtime).create(
        g.account, fields, original=original, visibility=visibility
    )
    return _json(await plan_json(runtime, plan, g.account["id"]))


# Attachments


@blueprint.post(f"{API}/lesson_plans/attachments")
@authenticated(scope="write:media")
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
            "url": file_url(runtime, row),
            "file_name": row["file_name"],
            "mime_type": row["mime_type"],
            "size": row["size"],
        }
    )


@blueprint.get("/lesson_plans/files/<attachment_id>")
async def attachment_file(attachment_id: str) -> Response:
    """Serve a local attachment file.

    A file of a public or unlisted plan is served to anyone. Any other file
    (of a followers-only plan, or an upload no plan uses yet) is served with
    the capability key of its URL. It is also served to a token holder or a
    signed GET of an account that may read the plan.
    """
    runtime = runtime_of(current_app)
    number = parse_id(attachment_id)
    row = await plans.attachment(runtime.pool, number) if number is not None else None
    if row is None or row["remote_url"] is not None:
        raise FederationError(404, "file not found")
    if not await _may_open_file(runtime, row):
        log.info(
            "rejected GET of file %s of plan %s from %s: no key or reader",
            row["id"],
            row["status_id"],
            log_text(request.remote_addr),
        )
        raise FederationError(404, "file not found")
    path = runtime.settings.data_path / "media" / "lesson_plans" / str(row["id"])
    response = await send_file(path, mimetype=row["mime_type"])
    # Served as downloads with their sniffed type, so no upload renders as a page.
    response.headers["Content-Disposition"] = "attachment"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if row["status_id"] is None:
        response.headers["Cache-Control"] = "private, no-store"
    return response


async def _may_open_file(runtime: Any, row: Any) -> bool:
    key = request.args.get("key", "")
    if hmac.compare_digest(key.encode(), file_key(runtime, row["id"]).encode()):
        return True
    if row["status_id"] is None:
        return False
    if await plans.can_read(runtime.pool, row["status_id"], None):
        return True
    reader = await _viewer() or await _signed_reader()
    return reader is not None and await plans.can_read(
        runtime.pool, row["status_id"], reader["id"]
    )


async def _signed_reader() -> Any:
    """Return the account that signed this GET, or None when it is unsigned.

    The signature is checked as the inbox checks one (key fetched on a miss,
    Date window, RFC 9421 or draft-cavage). Raises FederationError(401) when a
    signature is present but does not verify.
    """
    headers = request.headers
    if "Signature" not in headers and "Signature-Input" not in headers:
        return None
    runtime = runtime_of(current_app)
    target = _raw_target()
    info = httpsig.parse_signature("GET", target, headers)
    settings = runtime.settings.federation
    scheme = runtime.settings.base_url.split(":", 1)[0]
    signer = await runtime.resolver.public_key(info.key_id)
    try:
        httpsig.verify_request(
            "GET",
            target,
            headers,
            None,
            signer.key,
            max_age=settings.signature_max_age,
            max_future=settings.signature_max_future,
            scheme=scheme,
        )
    except FederationError as error:
        log.info(
            "rejected signed GET %s by key %s: %s",
            log_text(target),
            log_text(info.key_id),
            error.message,
        )
        raise
    return await runtime.resolver.actor(signer.owner)


def _raw_target() -> str:
    raw_path = request.scope.get("raw_path") or request.path.encode()
    query = request.scope.get("query_string") or b""
    target = raw_path.decode("latin-1")
    return f"{target}?{query.decode('latin-1')}" if query else target


# Preferences


@blueprint.get(f"{API}/lesson_plans/preferences")
@authenticated(scope="read:accounts")
async def get_preferences() -> Response:
    runtime = runtime_of(current_app)
    key = await PlanActions(runtime).default_license(g.account)
    return _json({"default_license": _license_json(key)})


@blueprint.put(f"{API}/lesson_plans/preferences")
@authenticated(scope="write:accounts")
async def set_preferences() -> Response:
    params = await _params()
    if params.get("default_license") in (None, ""):
        raise InvalidPlan("default_license", "is missing")
    key = license_of(params.get("default_license"), "default_license")
    await plans.set_preferred_license(
        runtime_of(current_app).pool, g.account["id"], key
    )
    return _json({"default_license": _license_json(key)})


# Collections

COLLECTION_VISIBILITIES = ("public", "unlisted", "private", "direct")


async def _collection_json(
    runtime: Any, row: Any, viewer_id: int | None
) -> dict[str, Any]:
    items = await plans.collection_items(runtime.pool, row["id"], viewer_id)
    return {
        "id": str(row["id"]),
        "uri": PlanActions(runtime).collection_uri(row),
        "name": row["name"],
        "visibility": row["visibility"],
        "created_at": iso_millis(row["created_at"]),
        "lesson_plans": await plans_json(runtime, list(items), viewer_id),
    }


async def _own_collection(collection_id: str) -> Any:
    runtime = runtime_of(current_app)
    number = parse_id(collection_id)
    row = await plans.collection(runtime.pool, number) if number is not None else None
    if row is None or row["account_id"] != g.account["id"] or not row["local"]:
        raise FederationError(404, "Record not found")
    return row


def _collection_name(params: dict[str, Any]) -> str:
    name = params.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise InvalidPlan("name", "is missing or over 100 characters")
    if any(unicodedata.category(ch) == "Cc" for ch in name.strip()):
        raise InvalidPlan("name", "must not contain line breaks or control characters")
    return name.strip()


@blueprint.get(f"{API}/lesson_plan_collections")
@authenticated(scope="read:bookmarks")
async def list_collections() -> Response:
    runtime = runtime_of(current_app)
    rows = await plans.collections_of(runtime.pool, g.account["id"])
    viewer_id = g.account["id"]
    return _json([await _collection_json(runtime, row, viewer_id) for row in rows])


@blueprint.post(f"{API}/lesson_plan_collections")
@authenticated(scope="write:bookmarks")
async def create_collection() -> Response:
    """Create a collection; ``visibility`` public (default), unlisted, private
    (followers only) or direct (personal: not federated)."""
    runtime = runtime_of(current_app)
    params = await _params()
    name = _collection_name(params)
    visibility = params.get("visibility") or "public"
    if visibility not in COLLECTION_VISIBILITIES:
        raise InvalidPlan(
            "visibility", "must be one of " + ", ".join(COLLECTION_VISIBILITIES)
        )
    row = await PlanActions(runtime).create_collection(g.account, name, visibility)
    if row is None:
        raise InvalidPlan("name", f"you already have a collection named {name!r}")
    return _json(await _collection_json(runtime, row, g.account["id"]))


@blueprint.get(f"{API}/lesson_plan_collections/<collection_id>")
async def get_collection(collection_id: str) -> Response:
    """Return a collection to a reader its ActivityPub form is served to:
    anyone for public and unlisted ones, accepted followers of the owner for
    followers-only ones, and the owner alone for personal ones. The plans
    listed are those the reader may read."""
    runtime = runtime_of(current_app)
    viewer = await _viewer()
    number = parse_id(collection_id)
    row = await plans.collection(runtime.pool, number) if number is not None else None
    if row is None:
        raise FederationError(404, "Record not found")
    readable = (
        row["visibility"] in ("public", "unlisted")
        or (viewer is not None and viewer["id"] == row["account_id"])
        or await _may_read_collection(runtime, row, viewer)
    )
    if not readable:
        raise FederationError(404, "Record not found")
    return _json(await _collection_json(runtime, row, _viewer_id(viewer)))


@blueprint.put(f"{API}/lesson_plan_collections/<collection_id>")
@authenticated(scope="write:bookmarks")
async def rename_collection(collection_id: str) -> Response:
    """Rename a collection and send Update to followers."""
    runtime = runtime_of(current_app)
    row = await _own_collection(collection_id)
    params = await _params()
    if "visibility" in params and params["visibility"] != row["visibility"]:
        raise InvalidPlan("visibility", "cannot change after the collection is made")
    name = _collection_name(params)
    renamed = await PlanActions(runtime).rename_collection(g.account, row, name)
    if renamed is None:
        raise InvalidPlan("name", f"you already have a collection named {name!r}")
    return _json(await _collection_json(runtime, renamed, g.account["id"]))


@blueprint.delete(f"{API}/lesson_plan_collections/<collection_id>")
@authenticated(scope="write:bookmarks")
async def delete_collection(collection_id: str) -> Response:
    """Delete a collection (not its plans) and send Delete to followers."""
    runtime = runtime_of(current_app)
    row = await _own_collection(collection_id)
    document = await _collection_json(runtime, row, g.account["id"])
    await PlanActions(runtime).delete_collection(g.account, row)
    return _json(document)


@blueprint.post(f"{API}/lesson_plan_collections/<collection_id>/items")
@authenticated(scope="write:bookmarks")
async def add_collection_item(collection_id: str) -> Response:
    runtime = runtime_of(current_app)
    row = await _own_collection(collection_id)
    plan_id = (await _params()).get("lesson_plan_id")
    plan = await _plan_param(str(plan_id or ""), g.account)
    await PlanActions(runtime).add_to_collection(g.account, row, plan)
    return _json(await _collection_json(runtime, row, g.account["id"]))


@blueprint.delete(f"{API}/lesson_plan_collections/<collection_id>/items/<plan_id>")
@authenticated(scope="write:bookmarks")
async def remove_collection_item(collection_id: str, plan_id: str) -> Response:
    runtime = runtime_of(current_app)
    row = await _own_collection(collection_id)
    number = parse_id(plan_id)
    if number is not None:
        await PlanActions(runtime).remove_from_collection(g.account, row, number)
    return _json(await _collection_json(runtime, row, g.account["id"]))


@blueprint.get("/users/<username>/lesson_plan_collections/<collection_id>")
async def collection_object(username: str, collection_id: str) -> Response:
    """Serve a teacher's collection as an OrderedCollection of plan ids.

    Public and unlisted collections are served to anyone, followers-only ones
    to signed GETs from accepted followers, personal ones to nobody. Each
    reader sees only the plans in it that they may read.
    """
    runtime = runtime_of(current_app)
    number = parse_id(collection_id)
    row = await plans.collection(runtime.pool, number) if number is not None else None
    if row is None or not row["local"] or row["username"].lower() != username.lower():
        raise FederationError(404, "collection not found")
    reader = None
    if row["visibility"] not in ("public", "unlisted"):
        reader = await _signed_reader()
        if not await _may_read_collection(runtime, row, reader):
            raise FederationError(404, "collection not found")
    document = await PlanActions(runtime).collection_document(row, _viewer_id(reader))
    return activity_json({"@context": PLAN_CONTEXT, **document})


async def _may_read_collection(runtime: Any, row: Any, reader: Any) -> bool:
    if reader is None or row["visibility"] == "direct":
        return False
    if reader["id"] == row["account_id"]:
        return True
    return bool(
        await runtime.pool.fetchval(
            "SELECT 1 FROM follows WHERE account_id = $1 AND target_account_id = $2"
            " AND accepted",
            reader["id"],
            row["account_id"],
        )
    )


# The plan's ActivityPub object and page


@blueprint.get("/lesson_plans/<plan_id>")
async def plan_object(plan_id: str) -> Response:
    """Serve a local plan as an Article, or as its HTML page to browsers.

    Public and unlisted plans are served to anyone. A followers-only plan is
    served to a signed GET (or a bearer token) of an account that may read it
    (an accepted follower of the author or a mentioned account), and is 404
    to everyone else, as a missing plan is. A deleted plan returns 410 with a
    Tombstone to those who could read it.
    """
    runtime = runtime_of(current_app)
    number = parse_id(plan_id)
    status = await statuses.by_id(runtime.pool, number) if number is not None else None
    if status is None or not status["local"] or status["object_type"] != "Article":
        raise FederationError(404, "lesson plan not found")
    reader = None
    if status["visibility"] not in ("public", "unlisted"):
        reader = await _viewer() or await _signed_reader()
        if not await _may_read_status(runtime, status, reader):
            raise FederationError(404, "lesson plan not found")
    plan = await plans.by_id(runtime.pool, status["id"])
    if status["deleted_at"] is not None or plan is None:
        response = activity_json(render_tombstone(status["uri"], status["deleted_at"]))
        response.status_code = 410
        return response
    if not wants_activity_json():
        page = export_html(await plan_json(runtime, plan, _viewer_id(reader)))
        return Response(page, content_type="text/html; charset=utf-8")
    article = await PlanActions(runtime).article(plan, status)
    response = activity_json({"@context": PLAN_CONTEXT, **article})
    if reader is not None:
        response.headers["Cache-Control"] = "private, no-store"
        response.headers["Vary"] = "Signature, Signature-Input, Authorization"
    return response


async def _may_read_status(runtime: Any, status: Any, reader: Any) -> bool:
    # The rule of plans.visible_to, for a status that may be deleted.
    return reader is not None and await can_see(runtime.pool, status, reader)
