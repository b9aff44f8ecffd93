"""The teacher-facing web interface: server-rendered pages over the same
actions and read paths as the client API.

Every action is a plain form POST that redirects (303) back to a page, so the
interface works without JavaScript; ``static/ui.js`` only adds conveniences.
"""

from __future__ import annotations

import logging
from typing import Any

from markupsafe import Markup
from quart import Blueprint, Quart, Response, current_app, g, request

from federation.errors import FederationError
from outbox.actions import ActionError
from web.app import log_text, runtime_of
from web.ui import i18n
from web.ui.session import FormError, check_csrf, error_page, viewer_zone

log = logging.getLogger(__name__)

blueprint = Blueprint("ui", __name__)


@blueprint.before_request
async def _check_forms() -> None:
    """Check the CSRF token of every POST before its handler runs."""
    if request.method == "POST":
        await check_csrf()
        form = await request.form
        g.ui_next = form.get("next")


async def _form_error(error: FormError) -> Response:
    return await error_page(error.status, error.message)


async def _action_error(error: ActionError) -> Response:
    log.info(
        "rejected %s %s: %s %s", request.method, log_text(request.path), error.status, log_text(error.message)
    )
    return await error_page(error.status, error.message)


async def _federation_error(error: FederationError) -> Response:
    log.info(
        "rejected %s %s: %s %s", request.method, log_text(request.path), error.status, log_text(error.message)
    )
    return await error_page(error.status, error.message)


def register_page_errors(target: Blueprint) -> None:
    """Render errors raised by ``target``'s routes as HTML pages, not JSON."""
    target.register_error_handler(FormError, _form_error)
    target.register_error_handler(ActionError, _action_error)
    target.register_error_handler(FederationError, _federation_error)


register_page_errors(blueprint)

# Seconds browsers may keep the site icon before asking again.
ICON_MAX_AGE = 86400


@blueprint.get("/favicon.ico")
async def favicon() -> Response:
    """Serve the site icon at the path browsers request when a page links none."""
    response = await current_app.send_static_file("favicon.ico")
    response.cache_control.max_age = ICON_MAX_AGE
    response.cache_control.public = True
    return response


def init_app(app: Quart) -> None:
    """Register the interface and set up templates: gettext, filters and globals."""
    from web.ui import (  # noqa: F401  (routes)
        accounts,
        admin,
        events,
        groups,
        lesson_plans,
        migration,
        moderation,
        muted_words,
        people,
        search,
        settings,
        tags,
        timelines,
    )

    language = runtime_of(app).settings.instance.language
    environment = app.jinja_env
    environment.add_extension("jinja2.ext.i18n")
    environment.install_gettext_translations(  # type: ignore[attr-defined]
        i18n.translations(language), newstyle=True
    )
    environment.globals["language"] = language
    environment.filters["localtime"] = _localtime
    environment.filters["handle"] = _handle
    environment.autoescape = True
    app.register_blueprint(blueprint)


def _localtime(moment: Any) -> Markup:
    """Render a ``<time>`` element in the viewer's zone (jinja filter)."""
    if moment is None:
        return Markup("")
    from datetime import datetime

    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    viewer = g.get("ui_session")
    zone = viewer_zone(viewer)
    language = runtime_of_current().settings.instance.language
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        i18n.iso_utc(moment), str(zone), i18n.format_moment(moment, zone, language)
    )


def _handle(account: dict[str, Any]) -> str:
    """Return ``@user@domain`` of an Account entity (jinja filter)."""
    acct = account["acct"]
    if "@" not in acct:
        acct = f"{acct}@{runtime_of_current().settings.domain}"
    return f"@{acct}"


def runtime_of_current() -> Any:
    from quart import current_app

    return runtime_of(current_app)
