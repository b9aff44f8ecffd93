"""Plain HTML pages for people: the front page and public profiles and posts."""

import html
from typing import Any

from quart import Blueprint, Response, current_app

from federation.errors import FederationError
from storage import accounts, statuses
from web.app import parse_id, runtime_of
from web.presenters import web_url

blueprint = Blueprint("html", __name__)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>{head}
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;
color:#1a1a1a;line-height:1.5}}article{{border-top:1px solid #ccc;padding:.75rem 0}}
a{{color:#0b57d0}}</style></head>
<body><main>{body}</main></body></html>"""


def page(title: str, body: str, head: str = "", status: int = 200) -> Response:
    """Return a whole HTML page; ``title`` is escaped here, ``body`` must be safe."""
    text = _PAGE.format(title=html.escape(title), head=head, body=body)
    return Response(text, status=status, content_type="text/html; charset=utf-8")


def _alternate(url: str) -> str:
    return f'<link rel="alternate" type="application/activity+json" href="{html.escape(url)}">'


@blueprint.get("/")
async def index() -> Response:
    runtime = runtime_of(current_app)
    settings = runtime.settings
    body = (
        f"<h1>{html.escape(settings.instance.name)}</h1>"
        f"<p>{html.escape(settings.instance.description)}</p>"
        f"<p>This Pedagogue instance is <code>{html.escape(settings.domain)}</code>.</p>"
    )
    return page(settings.instance.name, body)


@blueprint.get("/about")
async def about() -> Response:
    return await index()


async def _profile_account(username: str) -> Any:
    # PostgreSQL text cannot hold NUL, and no username contains one.
    if "\x00" in username:
        raise FederationError(404, "no such account on this instance")
    account = await accounts.local_by_username(runtime_of(current_app).pool, username)
    if account is None or account["actor_type"] == "Application":
        raise FederationError(404, f"no account {username[:100]} on this instance")
    return account


def _status_html(status: Any, link: str) -> str:
    # Local content is rendered by us from escaped text; remote content was
    # sanitised before it was stored.
    warning = ""
    if status["spoiler_text"]:
        warning = f"<p><strong>{html.escape(status['spoiler_text'])}</strong></p>"
    when = status["created_at"].strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"<article>{warning}<div>{status['content']}</div>"
        f'<p><a href="{html.escape(link)}"><time>{when}</time></a></p></article>'
    )


def _fields_html(account: Any) -> str:
    # Field values are HTML rendered by us from escaped text; link values carry
    # rel="me", which other sites read to verify a link back to this profile.
    rows = "".join(
        f"<dt>{html.escape(item['name'])}</dt><dd>{item['value']}</dd>"
        for item in account["fields"] or []
    )
    return f"<dl>{rows}</dl>" if rows else ""


@blueprint.get("/@<username>")
async def profile(username: str) -> Response:
    from web.activitypub import actor, wants_activity_json

    if wants_activity_json():
        return await actor(username)
    runtime = runtime_of(current_app)
    account = await _profile_account(username)
    rows = await runtime.pool.fetch(
        "SELECT * FROM statuses WHERE account_id = $1 AND visibility = 'public'"
        " AND deleted_at IS NULL AND reblog_of_id IS NULL ORDER BY id DESC LIMIT 20",
        account["id"],
    )
    name = account["display_name"] or account["username"]
    handle = f"@{account['username']}@{runtime.settings.domain}"
    posts = "".join(
        _status_html(row, web_url(row["url"], row["uri"])) for row in rows
    )
    body = (
        f"<h1>{html.escape(name)}</h1><p>{html.escape(handle)}</p>"
        f"<div>{account['summary'] if account['summary'] else ''}</div>"
        f"{_fields_html(account)}"
        f"<h2>Posts</h2>{posts or '<p>No public posts yet.</p>'}"
    )
    head = _alternate(account["actor_id"])
    return page(f"{name} ({handle})", body, head)


@blueprint.get("/@<username>/<status_id>")
async def status_page(username: str, status_id: str) -> Response:
    runtime = runtime_of(current_app)
    account = await _profile_account(username)
    number = parse_id(status_id)
    status = None if number is None else await statuses.by_id(runtime.pool, number)
    visible = status is not None and status["visibility"] in ("public", "unlisted")
    if not visible or status["account_id"] != account["id"] or status["deleted_at"]:
        raise FederationError(404, "status not found")
    from web.activitypub import status_object, wants_activity_json

    if wants_activity_json():
        return await status_object(account["username"], status_id)
    name = account["display_name"] or account["username"]
    link = web_url(status["url"], status["uri"])
    body = f"<h1>{html.escape(name)}</h1>" + _status_html(status, link)
    return page(f"Post by {name}", body, _alternate(status["uri"]))
