"""Public HTML pages: the front page, profiles and posts.

Visitors who are not signed in see local profiles and public or unlisted posts;
signed-in teachers get the same pages with their actions, and ``/`` becomes
their home timeline. ActivityPub clients asking for JSON at the same URLs are
answered by ``web.activitypub``.
"""

from __future__ import annotations

import html
from typing import Any

from quart import Blueprint, Response, current_app

from federation.errors import FederationError
from storage import accounts, statuses
from web.app import federation_error, parse_id, runtime_of
from web.ui import register_page_errors
from web.ui.session import current_viewer, render

blueprint = Blueprint("html", __name__)
register_page_errors(blueprint)
# These URLs also serve ActivityPub documents, so a missing post or account is
# a JSON error unless the request prefers HTML.
blueprint.register_error_handler(FederationError, federation_error)


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>{head}
<link rel="stylesheet" href="/static/ui.css"></head>
<body><main id="main" class="page">{body}</main></body></html>"""


def page(title: str, body: str, head: str = "", status: int = 200) -> Response:
    """Return a whole page around ``body``; ``title`` is escaped, ``body`` must be safe.

    For pages whose markup is built in Python, outside a request's template
    context; pages of the web interface use the templates instead.
    """
    text = _PAGE.format(title=html.escape(title), head=head, body=body)
    return Response(text, status=status, content_type="text/html; charset=utf-8")


@blueprint.get("/")
async def index() -> Any:
    if await current_viewer() is not None:
        from web.ui.timelines import home_page

        return await home_page()
    return await about()


@blueprint.get("/about")
async def about() -> Any:
    runtime = runtime_of(current_app)
    users = await accounts.count_local_users(runtime.pool)
    posts = await statuses.count_local(runtime.pool)
    from storage import moderation
    from web.api_moderation import obfuscated

    rules = await moderation.server_rules(runtime.pool, runtime.settings.instance.rules)
    blocked = [
        {
            "domain": obfuscated(row["domain"]) if row["obfuscate"] else row["domain"],
            "severity": row["severity"],
            "comment": row["public_comment"],
        }
        for row in await moderation.domain_blocks(runtime.pool)
    ]
    return await render(
        "about.html",
        users=users,
        posts=posts,
        rules=[rule["text"] for rule in rules],
        code_of_conduct=await moderation.instance_text(runtime.pool, "code_of_conduct"),
        blocked_domains=blocked,
    )


@blueprint.get("/@<username>")
async def profile(username: str) -> Any:
    from web.activitypub import actor, wants_activity_json
    from web.ui.people import account_for_path, profile_page

    if wants_activity_json() and "@" not in username:
        return await actor(username)
    viewer = await current_viewer()
    row = await account_for_path(username, viewer)
    return await profile_page(row, viewer)


@blueprint.get("/@<username>/<status_id>")
async def status_page(username: str, status_id: str) -> Any:
    from web.activitypub import status_object, wants_activity_json
    from web.reading import can_see
    from web.ui.timelines import thread_page

    runtime = runtime_of(current_app)
    if "\x00" in username:
        raise FederationError(404, "No such account on this instance.")
    account = await accounts.local_by_username(runtime.pool, username)
    number = parse_id(status_id)
    status = None if number is None else await statuses.by_id(runtime.pool, number)
    if (
        account is None
        or status is None
        or status["account_id"] != account["id"]
        or status["deleted_at"] is not None
        or status["reblog_of_id"] is not None
    ):
        raise FederationError(404, "This post does not exist or was deleted.")
    if wants_activity_json():
        # The ActivityPub document is served without regard to browser cookies.
        return await status_object(account["username"], status_id)
    viewer = await current_viewer()
    if not await can_see(runtime.pool, status, viewer):
        raise FederationError(404, "This post does not exist or was deleted.")
    return await thread_page(status, viewer)

