"""The Quart application: routes for discovery, ActivityPub, the client API and HTML."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from quart import Quart, Response, jsonify, request
from quart.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from federation import strict_json
from federation.errors import FederationError
from web.headers import SecurityHeaders

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
    # NOTE: request headers over Hypercorn's h11_max_incomplete_size or
    # h2_max_header_list_size (both 64 KiB, set in pedagogue.server) are
    # rejected by Hypercorn before the app runs: HTTP/1.1 gets an empty-bodied
    # 431 and HTTP/2 a reset stream, not the error shape of this app.
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
    from web import api_migration
    app.register_blueprint(api_migration.blueprint)
    from web import api_filters, api_lists, api_media, api_misc
    app.register_blueprint(api_filters.blueprint)
    app.register_blueprint(api_lists.blueprint)
    app.register_blueprint(api_media.blueprint)
    app.register_blueprint(api_misc.blueprint)
    from web import api_accounts, api_statuses
    app.register_blueprint(api_statuses.blueprint)
    app.register_blueprint(api_accounts.blueprint)
    from web import oauth
    from web.ui import oauth_consent
    app.register_blueprint(oauth.blueprint)
    app.register_blueprint(oauth_consent.blueprint)
    from web import streaming
    app.register_blueprint(streaming.blueprint)
    from web import openapi
    app.register_blueprint(openapi.blueprint)

    app.before_request(_reject_long_target)
    app.before_request(_reject_unstorable_parameters)
    app.register_error_handler(FederationError, federation_error)
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_error_handler(HTTPException, _http_error)

    from web.asgi import InboxEndpoint

    # Inbox POSTs are handled below Quart's request machinery. Wrapping
    # asgi_app, Quart's documented middleware hook, leaves every other request
    # on its usual path.
    app.asgi_app = InboxEndpoint(app.asgi_app, runtime)  # type: ignore[method-assign]
    app.asgi_app = SecurityHeaders(  # type: ignore[method-assign]
        app.asgi_app, runtime.settings.allow_http
    )
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


# Maximum length of a request target (path and query), in bytes. RFC 9110,
# section 4.1, recommends supporting at least 8000 octets.
MAX_TARGET_BYTES = 8192


async def _reject_long_target() -> Any:
    """Reject a request whose path and query exceed MAX_TARGET_BYTES with 414."""
    length = len(request.scope.get("raw_path") or b"") + len(
        request.scope.get("query_string") or b""
    )
    if length <= MAX_TARGET_BYTES:
        return None
    log.info(
        "rejected %s %s...: request target of %d bytes",
        request.method,
        log_text(request.path, 100),
        length,
    )
    message = f"The URL is over the limit of {MAX_TARGET_BYTES} bytes."
    if _wants_page():
        from web.ui.session import error_page

        return await error_page(414, message)
    return error_response(414, message)


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


async def federation_error(error: FederationError) -> Response:
    """Return the error as an HTML page to a browser asking for a page, else JSON."""
    if _wants_page():
        from web.ui.session import error_page

        return await error_page(error.status, error.message)
    return error_response(error.status, error.message)


async def _too_large(error: RequestEntityTooLarge) -> Response:
    limit = request.max_content_length
    log.warning(
        "rejected %s %s: body over %s bytes",
        request.method,
        log_text(request.path),
        limit,
    )
    message = f"request body is over the limit of {limit} bytes"
    if _wants_page():
        from web.ui.session import error_page

        return await error_page(413, message)
    return error_response(413, message)


async def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    if _wants_page():
        from web.ui.session import error_page

        return await error_page(status, error.description or error.name)
    return error_response(status, error.description or error.name)


# Paths of the client API, discovery and ActivityPub. Their errors stay JSON
# whatever the request accepts, because their clients parse the body.
MACHINE_PATH_PREFIXES = (
    "/api/",
    "/oauth/",
    "/.well-known/",
    "/nodeinfo/",
    "/users/",
    "/actor/",
    "/activities/",
    "/lesson_plans/",
    "/media/",
    "/ical/",
    "/ns/",
)
MACHINE_PATHS = ("/inbox", "/actor")


def is_machine_path(path: str) -> bool:
    """Return whether ``path`` belongs to the client API, discovery or ActivityPub."""
    return path in MACHINE_PATHS or path.startswith(MACHINE_PATH_PREFIXES)


def _wants_page() -> bool:
    """Return True for a browser asking for a page, which gets an HTML error.

    The Accept header decides (RFC 9110, section 12.5.1): text/html must have
    a higher quality than JSON. ``*/*`` alone, as curl and most clients send
    it, prefers JSON because JSON is listed first.
    """
    if is_machine_path(request.path):
        return False
    preferred = request.accept_mimetypes.best_match(
        ["application/json", "text/html"], default="application/json"
    )
    return preferred == "text/html"
