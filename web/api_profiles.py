"""Teacher profiles, followed hashtags and standard codes, and teacher
search: Mastodon's endpoints where they exist, Pedagogue's own namespace for
the rest. The hashtag page is in ``web.ui.tags``."""

from __future__ import annotations

import logging
import re
from typing import Any

from quart import Blueprint, Response, current_app, g, jsonify, request, send_file

from actors.lesson_plan import canonical_code
from federation.errors import FederationError
from outbox.actions import ActionError
from outbox.profiles import (
    MEDIA_TYPES,
    InputError,
    ProfileActions,
    ProfileChange,
    media_directory,
)
from storage import mentorship, tags
from web import reading
from web.api import (
    _account_by_handle,
    _page,
    _params,
    _rejected,
    _status_page,
    _token_account,
    authenticated,
)
from web.api_mentorship import input_error_response, list_param, text_param
from web.app import parse_id, runtime_of
from web.presenters import (
    accounts_json,
    credential_account_json,
    full_account_json,
)

log = logging.getLogger(__name__)

blueprint = Blueprint("api_profiles", __name__)

PREFIX = "/api/pedagogue/v1"
HASHTAG_NAME = re.compile(r"^\w{1,100}$", re.UNICODE)
# Standard codes as frameworks write them: CCSS.MATH.CONTENT.6.RP.A.1, HS-LS1-1.
STANDARD_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-_:/]{0,99}$")
MEDIA_NAME = re.compile(r"^[0-9a-f]{32}\.(png|jpg|gif|webp)$")
SEARCH_LIMIT = 40


async def _action_error(error: ActionError) -> Response:
    return input_error_response(error)


async def _federation_error(error: FederationError) -> Response:
    return _rejected(error.status, error.message)


blueprint.register_error_handler(ActionError, _action_error)
blueprint.register_error_handler(FederationError, _federation_error)


def _json(document: Any, status: int = 200) -> Response:
    response = jsonify(document)
    response.status_code = status
    return response


# Profiles


def _field_pairs(params: dict[str, Any]) -> list[tuple[str, str]] | None:
    """Read ``fields_attributes`` as a JSON list or object, or as the form keys
    ``fields_attributes[N][name]`` and ``fields_attributes[N][value]``."""
    value = params.get("fields_attributes")
    if isinstance(value, dict):
        value = [
            value[key] for key in sorted(value, key=lambda k: parse_id(str(k)) or 0)
        ]
    if isinstance(value, list):
        pairs = []
        for position, item in enumerate(value):
            if not isinstance(item, dict):
                raise InputError(
                    422,
                    "fields_attributes",
                    f"fields_attributes[{position}] must be an object",
                )
            pairs.append((item.get("name", ""), item.get("value", "")))
        return pairs
    if value is not None:
        raise InputError(
            422,
            "fields_attributes",
            "fields_attributes must be a list of name and value",
        )
    form_keys = re.compile(r"^fields_attributes\[([0-9]+)\]\[(name|value)\]$")
    found: dict[int, dict[str, Any]] = {}
    for key, item in params.items():
        match = form_keys.match(key)
        if match:
            found.setdefault(int(match.group(1)), {})[match.group(2)] = item
    if not found:
        return None
    return [
        (found[i].get("name", ""), found[i].get("value", "")) for i in sorted(found)
    ]


async def _uploaded(name: str) -> bytes | None:
    if request.mimetype != "multipart/form-data":
        return None
    files = await request.files
    upload = files.get(name)
    if upload is None:
        return None
    return upload.read()


@blueprint.patch("/api/v1/accounts/update_credentials")
@authenticated(scope="write:accounts")
async def update_credentials() -> Response:
    runtime = runtime_of(current_app)
    params = await _params()
    from web.api_accounts import optional_flag, update_posting_defaults

    change = ProfileChange(
        display_name=params.get("display_name"),
        note=params.get("note"),
        fields=_field_pairs(params),
        avatar=await _uploaded("avatar"),
        header=await _uploaded("header"),
        locked=optional_flag(params, "locked"),
        bot=optional_flag(params, "bot"),
        discoverable=optional_flag(params, "discoverable"),
    )
    # The posting defaults are checked and stored first: they are not part
    # of the actor document, and a bad one leaves the profile unchanged.
    account = await update_posting_defaults(runtime, g.account, params)
    row = await ProfileActions(runtime).update(account, change)
    return _json(await credential_account_json(runtime, row))


async def _profile_json(runtime: Any, row: Any) -> dict[str, Any]:
    return {
        "account": await full_account_json(runtime, row),
        "subjects": list(row["subjects"]),
        "grade_levels": list(row["grade_levels"]),
        "school": row["school"],
        "role": row["teacher_role"],
        "pronouns": row["pronouns"],
        "mentoring": await mentorship.offer_json(runtime.pool, row),
    }


@blueprint.get(f"{PREFIX}/profile")
@authenticated(scope="read:accounts")
async def get_profile() -> Response:
    return _json(await _profile_json(runtime_of(current_app), g.account))


@blueprint.patch(f"{PREFIX}/profile")
@authenticated(scope="write:accounts")
async def patch_profile() -> Response:
    runtime = runtime_of(current_app)
    params = await _params()

    def optional_list(name: str) -> list[str] | None:
        if name not in params and f"{name}[]" not in params:
            return None
        return list_param(params, name)

    def optional_text(name: str) -> str | None:
        return text_param(params, name, 200) if name in params else None

    change = ProfileChange(
        display_name=params.get("display_name"),
        note=params.get("note"),
        fields=_field_pairs(params),
        subjects=optional_list("subjects"),
        grade_levels=optional_list("grade_levels"),
        school=optional_text("school"),
        teacher_role=optional_text("role"),
        pronouns=optional_text("pronouns"),
    )
    row = await ProfileActions(runtime).update(g.account, change)
    return _json(await _profile_json(runtime, row))


@blueprint.get(f"{PREFIX}/profiles/<account_id>")
async def get_account_profile(account_id: str) -> Response:
    runtime = runtime_of(current_app)
    row = None
    row_id = parse_id(account_id)
    if row_id is not None:
        row = await runtime.pool.fetchrow(
            "SELECT * FROM accounts WHERE id = $1 AND deleted_at IS NULL"
            " AND actor_type <> 'Application'",
            row_id,
        )
    if row is None:
        raise FederationError(404, "account not found")
    return _json(await _profile_json(runtime, row))


@blueprint.get("/media/<name>")
async def media(name: str) -> Response:
    match = MEDIA_NAME.match(name)
    if match is None:
        raise FederationError(404, "media not found")
    path = media_directory(runtime_of(current_app)) / name
    if not path.is_file():
        raise FederationError(404, "media not found")
    response = await send_file(path, mimetype=MEDIA_TYPES[match.group(1)])
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# Teacher search


@blueprint.get(f"{PREFIX}/teachers")
@authenticated(scope="read:accounts", optional=True)
async def search_teachers() -> Response:
    """Find teachers by display name, username or full handle."""
    runtime = runtime_of(current_app)
    query = (request.args.get("q") or "").strip()
    if not query:
        raise InputError(422, "q", "q is missing")
    if len(query) > 200:
        raise InputError(422, "q", "q must be at most 200 characters")
    handle = query.lstrip("@")
    if "@" in handle:
        viewer = await _token_account()
        resolve = viewer is not None and request.args.get("resolve") in ("true", "1")
        row = await _account_by_handle(runtime, handle, resolve)
        rows = [row] if row is not None and row["actor_type"] == "Person" else []
    else:
        pattern = (
            "%" + query.replace("\\", "").replace("%", "").replace("_", "\\_") + "%"
        )
        rows = await runtime.pool.fetch(
            "SELECT * FROM accounts WHERE deleted_at IS NULL AND actor_type = 'Person'"
            " AND (username ILIKE $1 OR display_name ILIKE $1)"
            " ORDER BY (lower(username) = lower($2)) DESC, domain NULLS FIRST, id"
            " LIMIT $3",
            pattern,
            query,
            SEARCH_LIMIT,
        )
    return _json(
        await accounts_json(runtime, [r for r in rows if r["deleted_at"] is None])
    )


# Hashtags


def _hashtag(name: str) -> str:
    name = name.lstrip("#")
    if not HASHTAG_NAME.match(name):
        raise ActionError(
            422, f"invalid hashtag {name[:40]!r}: use letters, digits and _"
        )
    return name.lower()


def _tag_json(runtime: Any, name: str, following: bool | None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "name": name,
        "url": runtime.urls.tag(name),
        "history": [],
    }
    if following is not None:
        document["following"] = following
    return document


@blueprint.get("/api/v1/tags/<name>")
@authenticated(scope="read:follows", optional=True)
async def get_tag(name: str) -> Response:
    runtime = runtime_of(current_app)
    tag = _hashtag(name)
    viewer = await _token_account()
    following = None
    if viewer is not None:
        following = await tags.is_following(runtime.pool, viewer["id"], "hashtag", tag)
    return _json(_tag_json(runtime, tag, following))


@blueprint.post("/api/v1/tags/<name>/<action>")
@authenticated(scope="write:follows")
async def follow_tag(name: str, action: str) -> Response:
    if action not in ("follow", "unfollow"):
        raise FederationError(404, "Record not found")
    runtime = runtime_of(current_app)
    tag = _hashtag(name)
    if action == "follow":
        await tags.follow(runtime.pool, g.account["id"], "hashtag", tag)
    else:
        await tags.unfollow(runtime.pool, g.account["id"], "hashtag", tag)
    log.info("%s: %s hashtag %s", g.account["actor_id"], action, tag)
    return _json(_tag_json(runtime, tag, action == "follow"))


@blueprint.get("/api/v1/followed_tags")
@authenticated(scope="read:follows")
async def followed_tags() -> Response:
    runtime = runtime_of(current_app)
    rows = await tags.followed(runtime.pool, g.account["id"], "hashtag")
    return _json([_tag_json(runtime, row["name"], True) for row in rows])


async def _tag_rows(
    runtime: Any, tag: str, params: dict[str, Any], limit_page: Any, viewer: Any
) -> list:
    return await reading.tag_rows(
        runtime.pool,
        tag,
        limit_page,
        local=params.get("local") in ("true", "1"),
        remote=params.get("remote") in ("true", "1"),
        viewer=viewer,
    )


@blueprint.get("/api/v1/timelines/tag/<name>")
@authenticated(scope="read:statuses", optional=True)
async def tag_timeline(name: str) -> Response:
    runtime = runtime_of(current_app)
    tag = _hashtag(name)
    params = dict(request.args)
    current = _page(params)
    viewer = await _token_account()
    rows = await _tag_rows(runtime, tag, params, current, viewer)
    return await _status_page(runtime, viewer, rows, current)


# Standard codes


def _standard(code: str) -> str:
    code = code.strip()
    if not STANDARD_CODE.match(code):
        raise ActionError(422, f"invalid standard code {code[:40]!r}")
    # Plans store Common Core and NGSS codes in one form; follow that form.
    return canonical_code(code, keep_framework=True)


@blueprint.post(f"{PREFIX}/standards/<path:code>/<action>")
@authenticated(scope="write:follows")
async def follow_standard(code: str, action: str) -> Response:
    if action not in ("follow", "unfollow"):
        raise FederationError(404, "unknown action")
    runtime = runtime_of(current_app)
    standard = _standard(code)
    if action == "follow":
        await tags.follow(runtime.pool, g.account["id"], "standard", standard)
    else:
        await tags.unfollow(runtime.pool, g.account["id"], "standard", standard)
    log.info("%s: %s standard %s", g.account["actor_id"], action, standard)
    return _json({"code": standard, "following": action == "follow"})


@blueprint.get(f"{PREFIX}/followed_standards")
@authenticated(scope="read:follows")
async def followed_standards() -> Response:
    runtime = runtime_of(current_app)
    rows = await tags.followed(runtime.pool, g.account["id"], "standard")
    return _json([{"code": row["name"], "following": True} for row in rows])
