"""Mastodon's media uploads: ``POST /api/v2/media`` (and v1), and reading and
describing an upload before a status uses it.

Images are recognised by their content, not by the name or type the client
sends, and re-encoded without metadata (EXIF with its location, XMP, ICC
profiles, comments) by the same code as profile images. Uploads are processed
before the response, so the v2 endpoint returns 200 with the URL set.
"""

from __future__ import annotations

import io
import logging
import math
import secrets
from typing import Any

from quart import Blueprint, Response, current_app, g, request

from federation.errors import FederationError
from outbox.actions import ActionError
from outbox.profiles import InputError, media_directory, sniff_image, strip_metadata
from storage import media as media_store
from web.api import _federation_error, _json, _params, authenticated, row_id
from web.api_mentorship import input_error_response
from web.app import MAX_ROW_ID, parse_id, runtime_of
from web.presenters import media_json

log = logging.getLogger(__name__)

blueprint = Blueprint("api_media", __name__)


async def _action_error(error: ActionError) -> Response:
    return input_error_response(error)


blueprint.register_error_handler(ActionError, _action_error)
blueprint.register_error_handler(FederationError, _federation_error)

# Maximum alt text length, in characters.
MAX_DESCRIPTION_CHARACTERS = 1500
SUPPORTED_MIME_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


def max_media_bytes(settings: Any) -> int:
    """Return the largest upload accepted: the request body limit of the server."""
    return int(settings.server.max_body_bytes)


def media_ids_param(params: dict[str, Any]) -> list[int]:
    """Return ``media_ids[]`` of a new status; raise ActionError(422) for a bad id."""
    value = params.get("media_ids[]", params.get("media_ids"))
    if value in (None, "", []):
        return []
    values = value if isinstance(value, list) else [value]
    ids = []
    for item in values:
        number = row_id(item)
        if number is None:
            raise ActionError(
                422,
                f"Validation failed: media_ids must be upload ids, not {str(item)[:40]!r}",
            )
        ids.append(number)
    return ids


def _description(params: dict[str, Any]) -> str | None:
    value = params.get("description")
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise InputError(422, "description", "description must be a string")
    if len(value) > MAX_DESCRIPTION_CHARACTERS:
        raise InputError(
            422,
            "description",
            f"description must be at most {MAX_DESCRIPTION_CHARACTERS} characters",
        )
    return value


def parse_focus(value: Any) -> tuple[float, float] | None:
    """Return the focal point of ``"x,y"``, each from -1 to 1; raise InputError(422)."""
    if value in (None, ""):
        return None
    parts = str(value).split(",")
    try:
        x, y = (float(part) for part in parts)
    except ValueError:
        raise InputError(
            422, "focus", f"focus must be two numbers as x,y, not {str(value)[:40]!r}"
        ) from None
    if not all(math.isfinite(n) and -1 <= n <= 1 for n in (x, y)):
        raise InputError(422, "focus", "focus x and y must each be between -1 and 1")
    return x, y


async def _upload() -> Response:
    runtime = runtime_of(current_app)
    params = await _params()
    files = await request.files
    upload = files.get("file")
    if upload is None:
        raise InputError(422, "file", "file is missing")
    data = upload.read()
    limit = max_media_bytes(runtime.settings)
    if len(data) > limit:
        raise InputError(422, "file", f"file is over the limit of {limit} bytes")
    sniffed = sniff_image(data)
    if sniffed is None:
        raise InputError(
            422,
            "file",
            "file must be a PNG, JPEG, GIF or WebP image; other types are not supported",
        )
    media_type, extension = sniffed
    data = strip_metadata(data, media_type, "file")
    width, height = _image_size(data)
    description = _description(params)
    focus = parse_focus(params.get("focus"))

    directory = media_directory(runtime)
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}.{extension}"
    (directory / name).write_bytes(data)
    row = await media_store.insert_upload(
        runtime.pool,
        account_id=g.account["id"],
        url=f"{runtime.urls.base}/media/{name}",
        file_name=name,
        mime_type=media_type,
        description=description,
        focus=focus,
        width=width,
        height=height,
        file_size=len(data),
    )
    log.info(
        "media %s uploaded by account %s: %s, %d bytes",
        row["id"],
        g.account["id"],
        media_type,
        len(data),
    )
    return _json(media_json(row))


def _image_size(data: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return image.size


@blueprint.post("/api/v2/media")
@authenticated(scope="write:media")
async def upload_v2() -> Response:
    return await _upload()


@blueprint.post("/api/v1/media")
@authenticated(scope="write:media")
async def upload_v1() -> Response:
    return await _upload()


async def _unattached(media_id: str) -> Any:
    """Return the caller's upload that no status uses yet.

    Raises FederationError(404) otherwise, attached uploads included, because
    Mastodon does not find attached media on this endpoint either.
    """
    number = parse_id(media_id)
    row = None
    if number is not None and number <= MAX_ROW_ID:
        row = await media_store.own(
            runtime_of(current_app).pool, g.account["id"], number
        )
    if row is None or row["status_id"] is not None:
        raise FederationError(404, "Record not found")
    return row


@blueprint.route("/api/v1/media/<media_id>", methods=["GET", "PUT"])
# Mastodon requires write:media to read an upload too.
@authenticated(scope="write:media")
async def media_item(media_id: str) -> Response:
    row = await _unattached(media_id)
    if request.method == "GET":
        return _json(media_json(row))
    params = await _params()
    description = (
        _description(params) if "description" in params else row["description"]
    )
    focus = (
        parse_focus(params.get("focus"))
        if "focus" in params
        else (None if row["focus_x"] is None else (row["focus_x"], row["focus_y"]))
    )
    changed = await media_store.describe(
        runtime_of(current_app).pool, row["id"], description, focus
    )
    if changed is None:
        raise FederationError(404, "Record not found")
    return _json(media_json(changed))
