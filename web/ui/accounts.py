"""Signing in and out, sign-up by invite or by request, password changes and resets."""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import available_timezones

import asyncpg
from quart import current_app, g, redirect, request

from outbox.profiles import is_plain_line
from pedagogue.accounts import create_teacher, is_reserved_username
from pedagogue.cli import MAX_DISPLAY_NAME_LENGTH, MIN_PASSWORD_LENGTH, USERNAME
from pedagogue.passwords import check_password, hash_password
from storage import accounts, invites, sessions
from storage.accounts import transaction
from web.app import log_text, runtime_of
from web.forwarded import limit_key
from web.ui import blueprint, i18n
from web.ui.devices import device_nonce, set_device_cookie
from web.ui.i18n import _, ngettext
from web.ui.session import (
    FormError,
    client_address,
    end_session,
    render,
    safe_next,
    signed_in,
    start_session,
)

log = logging.getLogger(__name__)

# argon2 cost grows with the input, so very long passwords are rejected early.
MAX_PASSWORD_LENGTH = 1000
MAX_REASON_LENGTH = 1000
# Compared against when the username is unknown, so a failed sign-in takes as
# long whether or not the account exists.
_DUMMY_HASH = hash_password("pedagogue-dummy-password")


async def server_rules() -> list[str]:
    """Return the texts of the server rules, which sign-up requires accepting."""
    from web.ui.moderation import server_rules as rule_rows

    return [rule["text"] for rule in await rule_rows()]


def time_zones() -> list[str]:
    return sorted(available_timezones())


# Sign in and out


@blueprint.get("/sign-in")
async def sign_in_form() -> Any:
    next_path = safe_next(request.args.get("next"), "/")
    notice = None
    if request.args.get("reset") == "1":
        notice = _("Your password has been changed. Sign in with the new password.")
    return await render("sign_in.html", next=next_path, notice=notice, username="")


@blueprint.post("/sign-in")
async def sign_in() -> Any:
    runtime = runtime_of(current_app)
    form = await request.form
    username = form.get("username", "").strip().lstrip("@")
    password = form.get("password", "")
    next_path = safe_next(form.get("next"), "/")
    suffix = "@" + runtime.settings.domain
    if username.lower().endswith(suffix):
        username = username[: -len(suffix)]
    address = client_address()
    limit_address = limit_key(address)

    # The limits are checked before the password, so that a guesser learns
    # nothing from attempts over the limit. A known device of the account
    # has its own limit in place of the others.
    device = await _known_device(runtime, username, address)
    if device is None:
        limited = await _rate_limited(runtime, username, address, limit_address)
        if limited is not None:
            return limited
    counted_as = limit_address if device is None else sessions.device_key(device)

    account = None
    if USERNAME.fullmatch(username) and len(password) <= MAX_PASSWORD_LENGTH:
        account = await accounts.local_by_username(runtime.pool, username)
    stored = account["password_hash"] if account is not None else None
    valid = await asyncio.to_thread(check_password, stored or _DUMMY_HASH, password)
    if not (valid and stored is not None and account["actor_type"] == "Person"):
        await sessions.record_failure(runtime.pool, username, counted_as)
        log.info(
            "sign-in failed for %s from %s%s",
            log_text(username, 100),
            address,
            "" if device is None else " on a known device",
        )
        return await render(
            "sign_in.html",
            status=401,
            next=next_path,
            error=_("The username or password is wrong."),
            username=username,
        )
    if account["suspended_at"] is not None:
        # Only someone with the right password learns of the suspension.
        log.info("sign-in of suspended account %s from %s", account["id"], address)
        return await render(
            "sign_in.html",
            status=403,
            next=next_path,
            error=_("This account is suspended. Contact the instance's admins."),
            username=username,
        )

    await sessions.clear_failures(runtime.pool, username, counted_as)
    # Sign-ins are rare enough to carry the clean-up of stale rows.
    web = runtime.settings.web
    longest = max(web.sign_in_window, web.sign_in_account_window)
    await sessions.prune_failures(runtime.pool, timedelta(seconds=longest))
    await sessions.delete_expired(runtime.pool)
    response = redirect(next_path, 303)
    await start_session(response, account)
    set_device_cookie(response, account)
    return response


async def _known_device(runtime: Any, username: str, address: str) -> str | None:
    """Return the nonce of the request's known-device cookie for ``username``
    while that device is under its failure limit, else None.

    A device over its limit is treated as any other browser, so the
    per-address and per-account limits apply to it again (as OWASP's device
    cookie scheme does with a locked-out device).
    """
    nonce = device_nonce(username)
    if nonce is None:
        return None
    web = runtime.settings.web
    counts = await sessions.recent_failures(
        runtime.pool,
        username,
        sessions.device_key(nonce),
        timedelta(seconds=web.sign_in_window),
        timedelta(seconds=web.sign_in_account_window),
    )
    if counts.pair >= web.sign_in_failures_per_device:
        log.warning(
            "sign-in for %s from %s: known device over its limit (%d failures),"
            " the address and account limits apply",
            log_text(username, 100),
            address,
            counts.pair,
        )
        return None
    log.info(
        "sign-in for %s from %s on a known device (%d failures):"
        " address and account limits skipped",
        log_text(username, 100),
        address,
        counts.pair,
    )
    return nonce


async def _rate_limited(
    runtime: Any, username: str, address: str, limit_address: str
) -> Any:
    """Return the 429 page when a sign-in limit is reached, else None.

    Failures count per username from one address, per address for any
    username and, at a higher bar, per username from all addresses. One
    guessing address thus reaches its own limits long before the account's,
    and the owner can still sign in from elsewhere.
    """
    web = runtime.settings.web
    counts = await sessions.recent_failures(
        runtime.pool,
        username,
        limit_address,
        timedelta(seconds=web.sign_in_window),
        timedelta(seconds=web.sign_in_account_window),
    )
    reached = _reached_limits(web, counts)
    if not reached:
        return None
    # The sign-in is allowed again once every reached limit has lifted.
    waits = {}
    for name, window, count_limit in reached:
        waits[name] = await sessions.seconds_until_allowed(
            runtime.pool,
            username=username if name != "address" else None,
            address=limit_address if name != "account" else None,
            window=timedelta(seconds=window),
            limit=count_limit,
        )
    name = max(waits, key=waits.__getitem__)
    wait = waits[name]
    log.warning(
        "sign-in for %s from %s rate limited by the %s limit for %.0f s: %d failures"
        " for the name from the address, %d from the address, %d for the name",
        log_text(username, 100),
        address,
        name,
        wait,
        counts.pair,
        counts.address,
        counts.account,
    )
    # The visitor's time zone is unknown, so the time is in the instance's.
    settings = runtime.settings
    until = i18n.format_moment(
        datetime.now(UTC) + timedelta(seconds=math.ceil(wait)),
        i18n.zone_named(None, settings.instance.time_zone),
        settings.instance.language,
    )
    messages = {
        "pair": _(
            "Too many failed sign-ins for this account from your network."
            " Try again after %(time)s, or ask an admin for a password reset link.",
            time=until,
        ),
        "address": _(
            "Too many failed sign-ins from your network. Try again after %(time)s.",
            time=until,
        ),
        "account": _(
            "Too many failed sign-ins for this account."
            " Try again after %(time)s, or ask an admin for a password reset link.",
            time=until,
        ),
    }
    return await render(
        "error.html",
        status=429,
        headers={"Retry-After": str(max(1, math.ceil(wait)))},
        title=_("Too many attempts"),
        message=messages[name],
    )


def _reached_limits(
    web: Any, counts: sessions.FailureCounts
) -> list[tuple[str, float, int]]:
    """Return the name, window and count of each sign-in limit reached."""
    limits = (
        ("pair", counts.pair, web.sign_in_window, web.sign_in_failures_per_pair),
        ("address", counts.address, web.sign_in_window, web.sign_in_failures_per_address),
        (
            "account",
            counts.account,
            web.sign_in_account_window,
            web.sign_in_failures_per_account,
        ),
    )
    return [
        (name, window, count_limit)
        for name, count, window, count_limit in limits
        if count >= count_limit
    ]


@blueprint.post("/sign-out")
async def sign_out() -> Any:
    response = redirect("/", 303)
    await end_session(response)
    return response


# Sign-up


async def _sign_up_context(**values: Any) -> dict[str, Any]:
    from storage.moderation import instance_text

    code = await instance_text(runtime_of(current_app).pool, "code_of_conduct")
    return {"rules": await server_rules(), "code_of_conduct": code, "values": values.pop("values", {}), **values}


@blueprint.get("/invite/<code>")
async def invite_form(code: str) -> Any:
    runtime = runtime_of(current_app)
    if len(code) > 100 or await invites.live_invite(runtime.pool, code) is None:
        raise FormError(
            404, _("This invite link has expired, was revoked or has been used up.")
        )
    return await render("sign_up.html", **await _sign_up_context(invite=code, mode="invite"))


@blueprint.get("/sign-up")
async def sign_up_form() -> Any:
    if not runtime_of(current_app).settings.instance.open_registrations:
        raise FormError(
            403,
            _(
                "This instance signs up new teachers by invite only."
                " Ask an admin for an invite link."
            ),
        )
    return await render("sign_up.html", **await _sign_up_context(mode="request"))


@blueprint.post("/sign-up")
async def sign_up() -> Any:
    runtime = runtime_of(current_app)
    form = await request.form
    code = form.get("invite", "")
    mode = "invite" if code else "request"
    if mode == "request" and not runtime.settings.instance.open_registrations:
        raise FormError(403, _("This instance signs up new teachers by invite only."))
    values = {
        "username": form.get("username", "").strip(),
        "display_name": form.get("display_name", "").strip(),
        "reason": form.get("reason", "").strip(),
        "time_zone": form.get("time_zone", "").strip(),
    }
    errors = _sign_up_errors(values, form, bool(await server_rules()))
    if not errors and await invites.username_taken(runtime.pool, values["username"]):
        errors.append(_("The username %(name)s is taken.", name=values["username"]))
    if errors:
        log.info("sign-up for %s rejected: %s", log_text(values["username"], 100), "; ".join(errors))
        return await render(
            "sign_up.html",
            status=422,
            **await _sign_up_context(invite=code, mode=mode, errors=errors, values=values),
        )
    zone = values["time_zone"] if values["time_zone"] in available_timezones() else None
    if mode == "request":
        return await _request_account(values, form["password"], zone)
    try:
        async with transaction(runtime.pool) as connection:
            invite = await invites.use_invite(connection, code)
            if invite is None:
                raise FormError(
                    410, _("This invite link has expired, was revoked or has been used up.")
                )
            account = await create_teacher(
                connection,
                runtime.settings,
                username=values["username"],
                password=form["password"],
                display_name=values["display_name"],
            )
            await connection.execute(
                "UPDATE accounts SET time_zone = $2 WHERE id = $1", account["id"], zone
            )
    except asyncpg.UniqueViolationError:
        raise FormError(
            409, _("The username %(name)s is taken.", name=values["username"])
        ) from None
    log.info("account %s (%s) signed up with invite %s", account["id"], account["username"], invite["id"])
    response = redirect("/", 303)
    await start_session(response, account)
    return response


def _sign_up_errors(values: dict[str, str], form: Any, has_rules: bool) -> list[str]:
    errors = []
    settings = runtime_of(current_app).settings
    if not USERNAME.fullmatch(values["username"]):
        errors.append(_("A username has 1 to 30 letters, digits or underscores."))
    elif is_reserved_username(values["username"], settings):
        errors.append(
            _(
                "The username %(name)s is reserved for the instance. Choose another.",
                name=values["username"],
            )
        )
    if len(values["display_name"]) > MAX_DISPLAY_NAME_LENGTH:
        errors.append(
            ngettext(
                "A display name has at most %(num)s character.",
                "A display name has at most %(num)s characters.",
                MAX_DISPLAY_NAME_LENGTH,
            )
        )
    elif not is_plain_line(values["display_name"]):
        errors.append(_("A display name cannot contain control characters."))
    if len(values["reason"]) > MAX_REASON_LENGTH:
        errors.append(
            ngettext(
                "The reason has at most %(num)s character.",
                "The reason has at most %(num)s characters.",
                MAX_REASON_LENGTH,
            )
        )
    errors += password_errors(form.get("password", ""), form.get("password_confirm", ""))
    if has_rules and form.get("accept_rules") != "yes":
        errors.append(_("Accept the server rules to sign up."))
    return errors


def password_errors(password: str, confirmation: str) -> list[str]:
    if len(password) < MIN_PASSWORD_LENGTH:
        return [
            ngettext(
                "A password has at least %(num)s character.",
                "A password has at least %(num)s characters.",
                MIN_PASSWORD_LENGTH,
            )
        ]
    if len(password) > MAX_PASSWORD_LENGTH:
        return [
            ngettext(
                "A password has at most %(num)s character.",
                "A password has at most %(num)s characters.",
                MAX_PASSWORD_LENGTH,
            )
        ]
    if password != confirmation:
        return [_("The two passwords differ.")]
    return []


async def _request_account(values: dict[str, str], password: str, zone: str | None) -> Any:
    runtime = runtime_of(current_app)
    try:
        row = await invites.create_request(
            runtime.pool,
            username=values["username"],
            display_name=values["display_name"],
            password_hash=await asyncio.to_thread(hash_password, password),
            reason=values["reason"],
            time_zone=zone,
        )
    except asyncpg.UniqueViolationError:
        raise FormError(
            409, _("The username %(name)s is taken.", name=values["username"])
        ) from None
    log.info("sign-up request %s for %s awaits approval", row["id"], row["username"])
    return await render("sign_up_requested.html", status=202, username=row["username"])


# Password reset links


@blueprint.get("/reset-password/<token>")
async def reset_form(token: str) -> Any:
    account = await _reset_account(token)
    return await render("reset_password.html", token=token, username=account["username"])


@blueprint.post("/reset-password/<token>")
async def reset_password(token: str) -> Any:
    runtime = runtime_of(current_app)
    account = await _reset_account(token)
    form = await request.form
    errors = password_errors(form.get("password", ""), form.get("password_confirm", ""))
    if errors:
        return await render(
            "reset_password.html", status=422, token=token, username=account["username"], errors=errors
        )
    password_hash = await asyncio.to_thread(hash_password, form["password"])
    async with transaction(runtime.pool) as connection:
        account_id = await sessions.use_reset(connection, token)
        if account_id is None:
            raise FormError(410, _("This reset link has expired or was already used."))
        await sessions.set_password(connection, account_id, password_hash)
        await sessions.delete_other_sessions(connection, account_id, None)
    await sessions.clear_failures(runtime.pool, account["username"])
    log.info("password of account %s reset with a link", account["id"])
    response = redirect("/sign-in?reset=1", 303)
    await end_session(response)
    return response


async def _reset_account(token: str) -> Any:
    account = None
    if len(token) <= 100:
        account = await sessions.reset_account(runtime_of(current_app).pool, token)
    if account is None:
        raise FormError(404, _("This reset link has expired or was already used."))
    return account


# Account settings


@blueprint.get("/settings/account")
@signed_in
async def account_settings() -> Any:
    return await render("account_settings.html", zones=time_zones(), notice=request.args.get("done"))


@blueprint.post("/settings/password")
@signed_in
async def change_password() -> Any:
    runtime = runtime_of(current_app)
    form = await request.form
    current = form.get("current_password", "")
    errors = password_errors(form.get("password", ""), form.get("password_confirm", ""))
    stored = g.viewer["password_hash"]
    valid = len(current) <= MAX_PASSWORD_LENGTH and await asyncio.to_thread(
        check_password, stored or _DUMMY_HASH, current
    )
    if not valid:
        errors.insert(0, "The current password is wrong.")
    if errors:
        return await render("account_settings.html", status=422, zones=time_zones(), errors=errors)
    password_hash = await asyncio.to_thread(hash_password, form["password"])
    async with transaction(runtime.pool) as connection:
        await sessions.set_password(connection, g.viewer["id"], password_hash)
        # Other browsers signed in with the old password are signed out.
        ended = await sessions.delete_other_sessions(
            connection, g.viewer["id"], g.viewer["session_id"]
        )
    log.info("account %s changed its password; %d other sessions ended", g.viewer["id"], ended)
    return redirect("/settings/account?done=password", 303)


@blueprint.post("/settings/time-zone")
@signed_in
async def change_time_zone() -> Any:
    form = await request.form
    zone = form.get("time_zone", "").strip()
    if zone and zone not in available_timezones():
        raise FormError(
            422, _("Unknown time zone %(zone)s. Choose one from the list.", zone=repr(zone[:60]))
        )
    await runtime_of(current_app).pool.execute(
        "UPDATE accounts SET time_zone = $2 WHERE id = $1", g.viewer["id"], zone or None
    )
    return redirect("/settings/account?done=time-zone", 303)
