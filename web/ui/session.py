"""Browser sessions, CSRF tokens and page rendering for the web interface.

A session cookie carries a random token; the database stores its SHA-256 with
the account and a per-session CSRF token that every form posts back. Visitors
who are not signed in get a CSRF cookie instead, which the sign-in and sign-up
forms must echo (the double-submit pattern), so another site cannot sign a
browser in to an account of its choosing.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from quart import Response, current_app, g, redirect, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from storage import sessions
from web import forwarded
from web.app import log_text, runtime_of
from web.ui import i18n
from web.ui.i18n import _

log = logging.getLogger(__name__)

CSRF_FIELD = "csrf_token"


class FormError(Exception):
    """A form that cannot be accepted, with the status and message the page shows."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def session_ended_message() -> str:
    return _(
        "Your session has ended, for example because you signed out elsewhere."
        " Sign in and try again."
    )


def _secure() -> bool:
    return runtime_of(current_app).settings.base_url.startswith("https://")


def session_cookie_name() -> str:
    # The __Host- prefix makes browsers refuse the cookie unless it is Secure,
    # host-only and for path /, so a sibling subdomain cannot plant one.
    return "__Host-pedagogue_session" if _secure() else "pedagogue_session"


def csrf_cookie_name() -> str:
    return "__Host-pedagogue_csrf" if _secure() else "pedagogue_csrf"


def client_address() -> str:
    """Return the client's address, from X-Forwarded-For behind a trusted proxy.

    Without ``server.trusted_proxies`` this is the connection's peer, which
    behind a reverse proxy is the proxy for every client.
    """
    if "ui_client_address" not in g:
        settings = runtime_of(current_app).settings
        g.ui_client_address = forwarded.client_address(
            request.remote_addr,
            request.headers.getlist("X-Forwarded-For"),
            settings.server.trusted_proxies,
        )
    return g.ui_client_address


async def current_session() -> Any:
    """Return the session row joined with its account, or None; cached per request."""
    if "ui_session" in g:
        return g.ui_session
    g.ui_session = None
    token = request.cookies.get(session_cookie_name(), "")
    # A cookie whose session has ended (signed out elsewhere, suspended,
    # expired) is removed from the browser by apply_cookies.
    g.ui_stale_session = bool(token)
    if token and len(token) <= 100 and token.isascii():
        runtime = runtime_of(current_app)
        row = await sessions.session_by_token(runtime.pool, token)
        if row is not None:
            g.ui_session = row
            g.ui_stale_session = False
            # Writing last_seen_at once a minute is enough to show activity.
            if (datetime.now(UTC) - row["session_last_seen_at"]).total_seconds() > 60:
                await sessions.touch_session(runtime.pool, row["session_id"])
    return g.ui_session


async def current_viewer() -> Any:
    """Return the signed-in account, or None for a visitor."""
    return await current_session()


def viewer_zone(viewer: Any) -> Any:
    settings = runtime_of(current_app).settings
    chosen = viewer["time_zone"] if viewer is not None else None
    return i18n.zone_named(chosen, settings.instance.time_zone)


async def csrf_token() -> str:
    """Return the token forms must post: the session's, or the visitor cookie's."""
    session = await current_session()
    if session is not None:
        return session["session_csrf_token"]
    if "ui_csrf" not in g:
        existing = request.cookies.get(csrf_cookie_name(), "")
        if 20 <= len(existing) <= 100 and existing.isascii():
            g.ui_csrf = existing
        else:
            g.ui_csrf = secrets.token_urlsafe(32)
            g.ui_set_csrf = True
    return g.ui_csrf


async def check_csrf() -> None:
    """Raise FormError(403) unless the posted CSRF token matches this browser's."""
    form = await request.form
    posted = form.get(CSRF_FIELD, "")
    session = await current_session()
    if session is not None:
        expected = session["session_csrf_token"]
    else:
        expected = request.cookies.get(csrf_cookie_name(), "")
    if not posted or not expected or not hmac.compare_digest(
        posted.encode(), expected.encode()
    ):
        log.warning(
            "rejected %s %s from %s (account %s): CSRF token %s",
            request.method,
            log_text(request.path),
            client_address(),
            session["id"] if session is not None else None,
            "missing" if not posted else "does not match",
        )
        if g.get("ui_stale_session"):
            # The form came from a page of a session that has since ended,
            # so its token is the old session's.
            raise FormError(401, session_ended_message())
        raise FormError(
            403,
            _(
                "The form's security token is missing or out of date."
                " Reload the page and submit the form again."
            ),
        )


def apply_cookies(response: Response) -> Response:
    """Set the visitor CSRF cookie when this request created one, and delete
    the cookie of an ended session."""
    if g.get("ui_stale_session"):
        _delete_session_cookie(response)
    if g.get("ui_set_csrf"):
        response.set_cookie(
            csrf_cookie_name(),
            g.ui_csrf,
            path="/",
            secure=_secure(),
            httponly=True,
            samesite="Lax",
        )
    return response


async def start_session(response: BaseResponse, account: Any) -> None:
    """Create a session for ``account`` and set its cookie on ``response``."""
    runtime = runtime_of(current_app)
    days = runtime.settings.web.session_days
    token, row = await sessions.create_session(
        runtime.pool,
        account["id"],
        lifetime=timedelta(days=days),
        user_agent=request.headers.get("User-Agent", ""),
        address=client_address(),
    )
    response.set_cookie(
        session_cookie_name(),
        token,
        max_age=int(days * 86400),
        path="/",
        secure=_secure(),
        httponly=True,
        samesite="Lax",
    )
    log.info("session %s started for account %s from %s", row["id"], account["id"], client_address())


async def end_session(response: BaseResponse) -> None:
    session = await current_session()
    if session is not None:
        await sessions.delete_session(runtime_of(current_app).pool, session["session_id"])
        log.info("session %s of account %s ended", session["session_id"], session["id"])
    _delete_session_cookie(response)


def _delete_session_cookie(response: BaseResponse) -> None:
    response.delete_cookie(
        session_cookie_name(), path="/", secure=_secure(), httponly=True, samesite="Lax"
    )


def safe_next(value: str | None, default: str = "/") -> str:
    """Return ``value`` when it is a path on this site, else ``default``.

    An absolute or scheme-relative URL (``//evil.example``) or a backslash,
    which some browsers read as a slash, would make an open redirect.
    """
    if (
        not value
        or not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or not value.isprintable()
        or len(value) > 1000
    ):
        return default
    return value


def back_to(default: str = "/") -> BaseResponse:
    """Redirect (303) to the form's ``next`` path after a POST."""
    next_path = g.get("ui_next") or default
    return redirect(safe_next(next_path, default), 303)


def signed_in(handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Require a session; a visitor is sent to the sign-in page and back."""

    @wraps(handler)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        viewer = await current_viewer()
        if viewer is None:
            if request.method != "GET":
                raise FormError(401, session_ended_message())
            target = request.full_path.rstrip("?")
            return redirect("/sign-in?" + urlencode({"next": target}), 303)
        g.viewer = viewer
        return await handler(*args, **kwargs)

    return wrapper


def admin_only(handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Require a signed-in admin; others get 403."""

    @wraps(handler)
    @signed_in
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not g.viewer["is_admin"]:
            raise FormError(403, _("This page is for the instance's admins."))
        return await handler(*args, **kwargs)

    return wrapper


async def render(
    template: str, status: int = 200, headers: dict[str, str] | None = None, **context: Any
) -> Response:
    """Render a page template with the viewer, CSRF token and instance settings."""
    runtime = runtime_of(current_app)
    viewer = await current_viewer()
    pending = 0
    if viewer is not None and viewer["manually_approves_followers"]:
        pending = await runtime.pool.fetchval(
            "SELECT count(*) FROM follows WHERE target_account_id = $1 AND NOT accepted",
            viewer["id"],
        )
    text = await render_template(
        template,
        viewer=viewer,
        csrf_token=await csrf_token(),
        settings=runtime.settings,
        instance=runtime.settings.instance,
        domain=runtime.settings.domain,
        pending_requests=pending,
        current_path=request.full_path.rstrip("?"),
        **context,
    )
    response = Response(text, status=status, content_type="text/html; charset=utf-8")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return apply_cookies(response)


async def error_page(status: int, message: str, title: str | None = None) -> Response:
    """Render the HTML error page; the message is plain text and is escaped."""
    return await render(
        "error.html",
        status=status,
        message=message,
        title=title or _error_title(status),
        error_status=status,
    )


def _error_title(status: int) -> str:
    titles = {
        400: _("Invalid request"),
        401: _("Sign-in required"),
        403: _("Not allowed"),
        404: _("Not found"),
        405: _("Method not allowed"),
        408: _("Request timed out"),
        409: _("Conflict"),
        410: _("No longer available"),
        413: _("Too large"),
        414: _("Address too long"),
        422: _("Not accepted"),
        429: _("Too many attempts"),
    }
    return titles.get(status, _("Something went wrong"))
