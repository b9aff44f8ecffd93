"""The Quart application: routes for discovery, ActivityPub, the client API and HTML."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from quart import Quart, Response, jsonify, request
from quart.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from federation import strict_json
from federation.errors import FederationError

if TYPE_CHECKING:
    from pedagogue.runtime import Runtime

log = logging.getLogger(__name__)


class StrictJSONProvider(DefaultJSONProvider):
    """Quart's JSON provider, parsing with federation.strict_json.

    ``request.get_json`` then rejects NaN, infinities and numbers out of float
    range as invalid JSON (400).
    """

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return strict_json.loads(s)


def create_app(runtime: Runtime) -> Quart:
    """Build the application around a started or starting runtime."""
    from web import activitypub, api, html, wellknown

    app = Quart(__name__)
    app.json = StrictJSONProvider(app)
    # NOTE: request headers over Hypercorn's h11_max_incomplete_size (16 KiB)
    # are rejected by Hypercorn before the app runs, with an empty-bodied 431
    # rather than the JSON error shape of this app.
    app.config["MAX_CONTENT_LENGTH"] = runtime.settings.server.max_body_bytes
    app.config["BODY_TIMEOUT"] = runtime.settings.server.request_timeout
    app.config["JSON_SORT_KEYS"] = False
    app.extensions["pedagogue"] = runtime
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.url_map.strict_slashes = False

    app.register_blueprint(wellknown.blueprint)
    app.register_blueprint(activitypub.blueprint)
    app.register_blueprint(api.blueprint)
    app.register_blueprint(html.blueprint)
    from web import ui
    ui.init_app(app)
    from web import api_lesson_plans
    app.register_blueprint(api_lesson_plans.blueprint)
    from web import api_events
    app.register_blueprint(api_events.blueprint)
    from web import api_groups
    app.register_blueprint(api_groups.blueprint)
    from web import api_mentorship, api_profiles
    app.register_blueprint(api_mentorship.blueprint)
    app.register_blueprint(api_profiles.blueprint)
    from web import api_moderation
    app.register_blueprint(api_moderation.blueprint)

    app.before_request(_reject_unstorable_parameters)
    app.register_error_handler(FederationError, _federation_error)
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_error_handler(HTTPException, _http_error)

    from web.asgi import InboxEndpoint

    # Inbox POSTs are handled below Quart's request machinery. Wrapping
    # asgi_app, Quart's documented middleware hook, leaves every other request
    # on its usual path.
    app.asgi_app = InboxEndpoint(app.asgi_app, runtime)  # type: ignore[method-assign]
    return app


def runtime_of(app: Any) -> Runtime:
    return app.extensions["pedagogue"]


# Row ids are PostgreSQL bigint.
MAX_ROW_ID = 2**63 - 1


def parse_id(value: Any) -> int | None:
    """Return ``value`` as a row id, or None unless it is ASCII digits within bigint.

    ``str.isdigit`` alone accepts digits such as U+00B2 that ``int`` rejects.
    """
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        return None
    number = int(value)
    return number if number <= MAX_ROW_ID else None


def log_text(value: Any, limit: int = 300) -> str:
    """Return request-supplied text for a log line: control characters escaped, capped.

    A raw CR or LF would let a client forge log lines of its own.
    """
    text = str(value)
    if len(text) > limit:
        text = text[:limit] + "..."
    if text.isprintable():
        return text
    return "".join(
        char if char.isprintable() else repr(char)[1:-1] for char in text
    )


def error_response(status: int, message: str) -> Response:
    """Return ``{"error": message}`` with the status, as Mastodon shapes errors."""
    response = jsonify({"error": message})
    response.status_code = status
    return response


def unstorable_problem(text: str) -> str | None:
    """Return why PostgreSQL text cannot hold ``text``, or None when it can."""
    if "\x00" in text:
        return "must not contain NUL characters"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "must not contain unpaired surrogates"
    return None


async def _reject_unstorable_parameters() -> Any:
    """Reject a parameter or page form field that PostgreSQL text cannot hold.

    Returns a 400 response naming the parameter, as a JSON error or, for a
    browser, an HTML error page, so views never pass such a value to a query.
    """
    parameters = [("query parameter", request.args.items(multi=True))]
    if request.view_args:
        parameters.append(("path parameter", request.view_args.items()))
    if _is_page_form():
        # The web interface's forms reach the same storage as the client API,
        # whose endpoints check each field themselves, so only page forms are
        # checked here.
        form = await request.form
        parameters.append(("form field", form.items(multi=True)))
    for kind, items in parameters:
        for name, value in items:
            problem = unstorable_problem(name)
            if problem is not None:
                message = f"a {kind} name {problem}"
                return await _bad_parameter(message, kind, name)
            if isinstance(value, str):
                problem = unstorable_problem(value)
                if problem is not None:
                    return await _bad_parameter(f"{name} {problem}", kind, name)
    return None


def _is_page_form() -> bool:
    """Return whether the request posts a form to a web interface page."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return False
    if request.path.startswith(("/api/", "/oauth/")):
        return False
    return request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data")


async def _bad_parameter(message: str, kind: str, name: str) -> Response:
    log.info(
        "rejected %s %s: %s %s: %s",
        request.method,
        log_text(request.path),
        kind,
        log_text(name),
        log_text(message),
    )
    if _wants_page():
        from web.ui.session import error_page

        return await error_page(400, message)
    return error_response(400, message)


async def _federation_error(error: FederationError) -> Response:
    return error_response(error.status, error.message)


async def _too_large(error: RequestEntityTooLarge) -> Response:
    limit = request.max_content_length
    log.warning(
        "rejected %s %s: body over %s bytes",
        request.method,
        log_text(request.path),
        limit,
    )
    return error_response(413, f"request body is over the limit of {limit} bytes")


async def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    if _wants_page():
        from web.ui.session import error_page

        return await error_page(status, error.description or error.name)
    return error_response(status, error.description or error.name)


def _wants_page() -> bool:
    """Return True for a browser asking for a page, which gets an HTML error."""
    if request.path.startswith("/api/"):
        return False
    return "text/html" in request.headers.get("Accept", "")
