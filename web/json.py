"""JSON responses with the media types ActivityPub and JRD peers expect."""

import json
from typing import Any

from quart import Response

ACTIVITY_JSON = "application/activity+json; charset=utf-8"


def activity_json(document: Any, status: int = 200) -> Response:
    """Return a document as ``application/activity+json``."""
    body = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    response = Response(body, status=status, content_type=ACTIVITY_JSON)
    response.headers["Vary"] = "Accept"
    return response
