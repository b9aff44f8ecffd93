"""Admin pages: teachers (suspension and password reset links), invites,
sign-up approval and the instance's configuration."""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta
from typing import Any

import asyncpg
from quart import current_app, g, redirect, request

from pedagogue.accounts import create_teacher
from storage import accounts, invites, sessions
from storage.accounts import transaction
from web.app import parse_id, runtime_of
from web.ui import blueprint
from web.ui.i18n import _
from web.ui.session import FormError, admin_only, render

log = logging.getLogger(__name__)

MAX_INVITE_USES = 1000


async def _invites_page(status: int = 200, **context: Any) -> Any:
    pool = runtime_of(current_app).pool
    return await render(
        "admin_invites.html",
        status=status,
        invites=await invites.list_invites(pool),
        requests=await invites.pending_requests(pool),
        **context,
    )


# The new invite link travels from the POST to the page it redirects to in a
# short-lived cookie for that page only, because the link is shown once and
# only its hash is stored. Reloading the page then neither shows the link
# again nor creates another invite.
INVITE_LINK_COOKIE = "pedagogue_new_invite"
INVITE_LINK_SECONDS = 60


@blueprint.get("/admin/invites")
@admin_only
async def invites_page() -> Any:
    link = request.cookies.get(INVITE_LINK_COOKIE, "")
    invite_prefix = f"{runtime_of(current_app).settings.base_url}/invite/"
    if not link.startswith(invite_prefix):
        return await _invites_page()
    response = await _invites_page(new_link=link)
    response.delete_cookie(INVITE_LINK_COOKIE, path="/admin/invites")
    return response


@blueprint.post("/admin/invites")
@admin_only
async def create_invite() -> Any:
    runtime = runtime_of(current_app)
    form = await request.form
    uses_text = form.get("max_uses", "1").strip()
    uses = parse_id(uses_text)
    if uses is None or not 1 <= uses <= MAX_INVITE_USES:
        raise FormError(
            422,
            _(
                "Uses must be a whole number from 1 to %(max)s, not %(value)s.",
                max=MAX_INVITE_USES,
                value=repr(uses_text[:20]),
            ),
        )
    note = form.get("note", "").strip()[:200]
    code, row = await invites.create_invite(
        runtime.pool,
        g.viewer["id"],
        max_uses=uses,
        lifetime=timedelta(days=runtime.settings.web.invite_days),
        note=note,
    )
    log.info("invite %s created by account %s for %d uses", row["id"], g.viewer["id"], uses)
    response = redirect("/admin/invites", 303)
    response.set_cookie(
        INVITE_LINK_COOKIE,
        f"{runtime.settings.base_url}/invite/{code}",
        max_age=INVITE_LINK_SECONDS,
        path="/admin/invites",
        secure=runtime.settings.base_url.startswith("https://"),
        httponly=True,
        samesite="Strict",
    )
    return response


@blueprint.post("/admin/invites/<invite_id>/revoke")
@admin_only
async def revoke_invite(invite_id: str) -> Any:
    number = parse_id(invite_id)
    if number is None or not await invites.revoke_invite(runtime_of(current_app).pool, number):
        raise FormError(404, _("No live invite has that id."))
    log.info("invite %s revoked by account %s", number, g.viewer["id"])
    return redirect("/admin/invites", 303)


@blueprint.post("/admin/sign-ups/<request_id>/<decision>")
@admin_only
async def decide_sign_up(request_id: str, decision: str) -> Any:
    runtime = runtime_of(current_app)
    number = parse_id(request_id)
    if decision not in ("approve", "reject") or number is None:
        raise FormError(404, _("No such sign-up request."))
    pending = None
    try:
        async with transaction(runtime.pool) as connection:
            pending = await invites.take_request(connection, number)
            if pending is None:
                raise FormError(404, _("That sign-up request was already handled."))
            if decision == "approve":
                account = await create_teacher(
                    connection,
                    runtime.settings,
                    username=pending["username"],
                    password=None,
                    display_name=pending["display_name"],
                )
                await connection.execute(
                    "UPDATE accounts SET password_hash = $2, time_zone = $3 WHERE id = $1",
                    account["id"],
                    pending["password_hash"],
                    pending["time_zone"],
                )
    except asyncpg.UniqueViolationError:
        name = pending["username"] if pending is not None else ""
        raise FormError(409, _("The username %(name)s is taken.", name=name)) from None
    log.info("sign-up request %s (%s) %sd by account %s", number, pending["username"], decision, g.viewer["id"])
    return redirect("/admin/invites", 303)


@blueprint.post("/admin/reset-link")
@admin_only
async def issue_reset_link() -> Any:
    runtime = runtime_of(current_app)
    form = await request.form
    username = form.get("username", "").strip().lstrip("@")
    account = await accounts.local_by_username(runtime.pool, username) if username else None
    if account is None or account["actor_type"] != "Person":
        raise FormError(
            404, _("No local teacher is named %(name)s.", name=repr(username[:60]))
        )
    link = await reset_link(runtime.pool, runtime.settings, account)
    log.info("reset link for account %s issued by account %s", account["id"], g.viewer["id"])
    return await _invites_page(status=201, reset_link=link, reset_username=account["username"])


async def reset_link(db: Any, settings: Any, account: Any) -> str:
    """Create a password reset link for ``account``; the CLI uses this too."""
    token = await sessions.create_reset(
        db, account["id"], timedelta(hours=settings.web.reset_link_hours)
    )
    return f"{settings.base_url}/reset-password/{token}"


# Users

USER_PAGE_SIZE = 100
USER_ACTIONS = ("suspend", "unsuspend")


@blueprint.get("/admin/users")
@admin_only
async def users_page() -> Any:
    pool = runtime_of(current_app).pool
    query = request.args.get("q", "").strip().lstrip("@")[:60]
    rows = await pool.fetch(
        "SELECT * FROM accounts WHERE domain IS NULL AND actor_type = 'Person'"
        " AND deleted_at IS NULL AND ($1 = '' OR username ILIKE '%' || $1 || '%'"
        " OR display_name ILIKE '%' || $1 || '%')"
        " ORDER BY lower(username) LIMIT $2",
        query.replace("%", "").replace("_", r"\_"),
        USER_PAGE_SIZE,
    )
    return await render("admin_users.html", users=rows, query=query)


@blueprint.post("/admin/users/<account_id>/<action>")
@admin_only
async def user_action(account_id: str, action: str) -> Any:
    """Suspend an account (sign it out everywhere and revoke its API tokens)
    or lift a suspension."""
    if action not in USER_ACTIONS:
        raise FormError(404, _("Unknown action."))
    runtime = runtime_of(current_app)
    number = parse_id(account_id)
    account = await accounts.by_id(runtime.pool, number) if number is not None else None
    if account is None or account["domain"] is not None or account["actor_type"] != "Person":
        raise FormError(404, _("No local teacher has that id."))
    if account["id"] == g.viewer["id"]:
        raise FormError(422, _("Admins cannot suspend their own account."))
    async with transaction(runtime.pool) as connection:
        if action == "suspend":
            await connection.execute(
                "UPDATE accounts SET suspended_at = coalesce(suspended_at, now()) WHERE id = $1",
                account["id"],
            )
            signed_out = await sessions.delete_other_sessions(connection, account["id"], None)
            # The client API checks tokens, not suspensions, so they are revoked.
            revoked = await connection.execute(
                "UPDATE tokens SET revoked_at = now() WHERE account_id = $1 AND revoked_at IS NULL",
                account["id"],
            )
            log.info(
                "account %s suspended by account %s: %d sessions ended, tokens %s",
                account["id"], g.viewer["id"], signed_out, revoked,
            )
        else:
            await connection.execute(
                "UPDATE accounts SET suspended_at = NULL WHERE id = $1", account["id"]
            )
            log.info("suspension of account %s lifted by account %s", account["id"], g.viewer["id"])
        from storage.moderation import record_action

        await record_action(connection, g.viewer, action, "account", f"@{account['username']}")
    return redirect("/admin/users", 303)


# Instance settings

# Sections of the configuration shown to admins. The database and server
# sections are left out because they name credentials and key files.
SHOWN_SECTIONS = ("instance", "web", "federation", "lesson_plans", "events")


@blueprint.get("/admin/instance")
@admin_only
async def instance_page() -> Any:
    settings = runtime_of(current_app).settings
    sections = [
        (name, [(item.name, getattr(getattr(settings, name), item.name))
                for item in dataclasses.fields(getattr(settings, name))])
        for name in SHOWN_SECTIONS
    ]
    from storage import moderation

    runtime = runtime_of(current_app)
    rules = await moderation.server_rules(runtime.pool, settings.instance.rules)
    return await render(
        "admin_instance.html",
        sections=sections,
        rules_text="\n".join(rule["text"] for rule in rules),
        code_of_conduct=await moderation.instance_text(runtime.pool, "code_of_conduct"),
        saved=request.args.get("saved") == "1",
    )
