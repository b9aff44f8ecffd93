"""The OAuth 2 consent page and the teacher's list of authorized apps.

``GET /oauth/authorize`` checks the authorization request (RFC 6749, section
4.1.1, with PKCE from RFC 7636), sends a visitor to the sign-in page first,
and shows the app's name with the requested scopes in plain words. ``POST
/oauth/authorize`` carries the teacher's decision and the page's CSRF token.
It checks the request again, because the hidden fields come back from the
browser, then redirects to the app with a code or an error. The out-of-band
redirect URI shows the code on a page instead.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from quart import Blueprint, Response, current_app, g, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from storage import oauth
from web.app import log_text, parse_id, runtime_of
from web.oauth import OOB_REDIRECT_URI
from web.oauth_scopes import (
    DEFAULT_SCOPES,
    parent_scope,
    parse_scopes,
    unknown_scopes,
    within,
)
from web.ui import register_page_errors
from web.ui.i18n import _
from web.ui.session import (
    FormError,
    check_csrf,
    current_viewer,
    end_session,
    render,
    signed_in,
)

log = logging.getLogger(__name__)

blueprint = Blueprint("oauth_consent", __name__)
register_page_errors(blueprint)

# RFC 7636, section 4.2: an S256 challenge is 43 characters of Base64url, and
# a plain one is a verifier of 43 to 128 unreserved characters.
S256_CHALLENGE = re.compile(r"[A-Za-z0-9\-_]{43}")
PLAIN_CHALLENGE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
MAX_STATE_LENGTH = 1000
# Parameters of the authorization request that the consent form carries back.
REQUEST_FIELDS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)


@blueprint.before_request
async def _check_forms() -> None:
    if request.method == "POST":
        await check_csrf()


class AuthorizationError(Exception):
    """An authorization request error sent back to the app (RFC 6749, section 4.1.2.1)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True)
class AuthorizationRequest:
    """A checked authorization request."""

    app: Any
    redirect_uri: str
    redirect_uri_given: bool
    scopes: list[str]
    state: str | None
    code_challenge: str | None
    code_challenge_method: str | None


@blueprint.get("/oauth/authorize")
async def authorize_form() -> Any:
    params = dict(request.args)
    app, redirect_uri, redirect_uri_given = await _client(params)
    try:
        checked = _checked_request(params, app, redirect_uri, redirect_uri_given)
    except AuthorizationError as error:
        return await _send_error(redirect_uri, params.get("state"), error)

    if request.args.get("force_login", "").lower() in ("true", "1"):
        # The app requests a fresh sign-in, so that the teacher can pick
        # another account of this instance.
        kept = [(k, v) for k, v in request.args.items(multi=True) if k != "force_login"]
        target = "/oauth/authorize?" + urlencode(kept)
        response = redirect("/sign-in?" + urlencode({"next": target}), 303)
        await end_session(response)
        return response
    viewer = await current_viewer()
    if viewer is None:
        target = request.full_path.rstrip("?")
        return redirect("/sign-in?" + urlencode({"next": target}), 303)

    return await render(
        "oauth_consent.html",
        app=app,
        request_fields={name: params.get(name, "") for name in REQUEST_FIELDS},
        scopes=describe_scopes(checked.scopes),
        redirect_host=_redirect_host(checked.redirect_uri),
    )


@blueprint.post("/oauth/authorize")
@signed_in
async def authorize() -> Any:
    form = await request.form
    params = {name: form.get(name, "") for name in REQUEST_FIELDS}
    _check_text(params)
    app, redirect_uri, redirect_uri_given = await _client(params)
    try:
        checked = _checked_request(params, app, redirect_uri, redirect_uri_given)
    except AuthorizationError as error:
        return await _send_error(redirect_uri, params.get("state"), error)
    if form.get("decision") != "authorize":
        log.info("account %s denied app %s", g.viewer["id"], app["id"])
        denied = AuthorizationError("access_denied", "The teacher denied the request.")
        return await _send_error(redirect_uri, checked.state, denied)

    pool = runtime_of(current_app).pool
    # Authorizations are rare enough to carry the clean-up of old codes.
    await oauth.delete_expired_codes(pool)
    code = await oauth.create_code(
        pool,
        oauth.NewCode(
            app_id=app["id"],
            account_id=g.viewer["id"],
            redirect_uri=checked.redirect_uri,
            redirect_uri_given=checked.redirect_uri_given,
            scopes=checked.scopes,
            code_challenge=checked.code_challenge,
            code_challenge_method=checked.code_challenge_method,
        ),
    )
    log.info(
        "account %s authorized app %s for %s",
        g.viewer["id"],
        app["id"],
        " ".join(checked.scopes),
    )
    if checked.redirect_uri == OOB_REDIRECT_URI:
        return await render("oauth_code.html", app=app, code=code)
    return _redirect_to_app(
        checked.redirect_uri, {"code": code, "state": checked.state}
    )


def _check_text(params: dict[str, str]) -> None:
    """Reject form fields that contain NUL, which no valid request contains."""
    for name, value in params.items():
        if "\x00" in value:
            raise FormError(400, _("The field %(name)s is invalid.", name=name))


async def _client(params: dict[str, Any]) -> tuple[Any, str, bool]:
    """Return the app, the redirect URI and whether the request named it.

    An unknown client or an unregistered redirect URI gets an error page and
    no redirect (RFC 6749, section 4.1.2.1), because the redirect could lead
    anywhere.
    """
    client_id = params.get("client_id") or ""
    app = None
    if client_id and len(client_id) <= 200:
        app = await oauth.app_by_client_id(runtime_of(current_app).pool, client_id)
    if app is None:
        log.info(
            "rejected authorization request: unknown client_id %s",
            log_text(client_id, 80),
        )
        raise FormError(
            400, _("The app that sent you here is not registered on this server.")
        )
    redirect_uri = params.get("redirect_uri") or ""
    registered = list(app["redirect_uris"])
    if not redirect_uri:
        # RFC 6749, section 3.1.2.3: the URI may be left out when the app
        # registered exactly one.
        if len(registered) != 1:
            raise FormError(400, _("The app did not say where to return to."))
        return app, registered[0], False
    if redirect_uri not in registered:
        log.info(
            "rejected authorization request of app %s: unregistered redirect URI %s",
            app["id"],
            log_text(redirect_uri, 200),
        )
        raise FormError(
            400, _("The app asked to return to an address it did not register.")
        )
    return app, redirect_uri, True


def _checked_request(
    params: dict[str, Any], app: Any, redirect_uri: str, redirect_uri_given: bool
) -> AuthorizationRequest:
    """Check the rest of the request; raise AuthorizationError for the app."""
    if params.get("response_type") != "code":
        raise AuthorizationError(
            "unsupported_response_type", "response_type must be code"
        )
    state = params.get("state") or None
    if state is not None and len(state) > MAX_STATE_LENGTH:
        raise AuthorizationError(
            "invalid_request", f"state is over {MAX_STATE_LENGTH} characters"
        )
    scopes = parse_scopes(params.get("scope") or DEFAULT_SCOPES)
    unknown = unknown_scopes(scopes)
    if unknown:
        raise AuthorizationError(
            "invalid_scope", f"unknown scopes: {' '.join(unknown)[:200]}"
        )
    if not within(scopes, app["scopes"].split()):
        raise AuthorizationError(
            "invalid_scope", f"the app may request only the scopes {app['scopes']}"
        )
    challenge, method = _code_challenge(params)
    return AuthorizationRequest(
        app=app,
        redirect_uri=redirect_uri,
        redirect_uri_given=redirect_uri_given,
        scopes=scopes,
        state=state,
        code_challenge=challenge,
        code_challenge_method=method,
    )


def _code_challenge(params: dict[str, Any]) -> tuple[str | None, str | None]:
    """Return the PKCE challenge and method (RFC 7636, section 4.3).

    The method defaults to plain when a challenge comes without one.
    """
    challenge = params.get("code_challenge") or None
    method = params.get("code_challenge_method") or None
    if challenge is None:
        if method is not None:
            raise AuthorizationError(
                "invalid_request", "code_challenge_method sent without code_challenge"
            )
        return None, None
    method = method or "plain"
    if method == "S256":
        pattern = S256_CHALLENGE
    elif method == "plain":
        pattern = PLAIN_CHALLENGE
    else:
        raise AuthorizationError(
            "invalid_request", "code_challenge_method must be S256 or plain"
        )
    if not pattern.fullmatch(challenge):
        raise AuthorizationError(
            "invalid_request", f"code_challenge is not a valid {method} challenge"
        )
    return challenge, method


async def _send_error(
    redirect_uri: str, state: str | None, error: AuthorizationError
) -> Any:
    log.info(
        "authorization request ended with %s: %s",
        error.error,
        log_text(error.description),
    )
    if redirect_uri == OOB_REDIRECT_URI:
        return await render(
            "error.html",
            status=400,
            title=_("Invalid request"),
            message=_(
                "The app sent an invalid request: %(reason)s", reason=error.description
            ),
            error_status=400,
        )
    fields = {
        "error": error.error,
        "error_description": error.description,
        "state": state,
    }
    return _redirect_to_app(redirect_uri, fields)


def _redirect_to_app(redirect_uri: str, fields: dict[str, str | None]) -> BaseResponse:
    """Redirect to ``redirect_uri`` with ``fields`` added to its query.

    RFC 6749, section 3.1.2, keeps the registered URI's own query.
    """
    parts = urlsplit(redirect_uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(name, value) for name, value in fields.items() if value is not None]
    location = urlunsplit(parts._replace(query=urlencode(query)))
    response = redirect(location, 302)
    response.headers["Cache-Control"] = "no-store"
    return response


def _redirect_host(redirect_uri: str) -> str | None:
    if redirect_uri == OOB_REDIRECT_URI:
        return None
    parts = urlsplit(redirect_uri)
    return parts.hostname or parts.scheme


def describe_scopes(scopes: list[str]) -> list[str]:
    """Return plain-language lines for the consent page, one per granted area.

    A granular scope whose top-level scope is also requested adds no line.
    """
    requested = set(scopes)
    lines = []
    for scope in scopes:
        parent = parent_scope(scope)
        if parent is not None and parent in requested:
            continue
        lines.append(scope_description(scope))
    return lines


def scope_description(scope: str) -> str:
    """Return what a scope lets the app do, in the interface's language."""
    top_level = {
        "read": _(
            "Read your posts, timelines, notifications, follows, lists and settings"
        ),
        "write": _(
            "Post, edit and delete for you, follow, block and mute, and change your profile"
        ),
        "follow": _("See and change whom you follow, block and mute"),
        "push": _("Receive push notifications for your account"),
        "profile": _("See your profile's name, handle and picture"),
        "admin:read": _("Read moderation data of this server"),
        "admin:write": _("Take moderation actions on this server"),
    }
    if scope in top_level:
        return top_level[scope]
    parent = parent_scope(scope) or ""
    subject = scope.rsplit(":", 1)[-1].replace("_", " ")
    if parent == "read":
        return _("Read your %(subject)s", subject=subject)
    if parent == "write":
        return _("Change your %(subject)s", subject=subject)
    if parent == "admin:read":
        return _("Read this server's %(subject)s", subject=subject)
    return _("Change this server's %(subject)s", subject=subject)


# Authorized apps


@blueprint.get("/settings/apps")
@signed_in
async def authorized_apps() -> Any:
    rows = await oauth.authorized_apps(runtime_of(current_app).pool, g.viewer["id"])
    apps = [
        {**dict(row), "scope_lines": describe_scopes(row["scopes"].split())}
        for row in rows
    ]
    return await render(
        "authorized_apps.html", apps=apps, notice=request.args.get("done")
    )


@blueprint.post("/settings/apps/<token_id>/revoke")
@signed_in
async def revoke_app(token_id: str) -> Response | BaseResponse:
    number = parse_id(token_id)
    runtime = runtime_of(current_app)
    if number is None or not await oauth.revoke_account_token(
        runtime.pool, g.viewer["id"], number
    ):
        raise FormError(404, _("This app has no access to revoke."))
    log.info("account %s revoked token %s on the apps page", g.viewer["id"], number)
    return redirect("/settings/apps?done=revoked", 303)
