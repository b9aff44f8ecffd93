"""Search (teachers, lesson plans with filters, groups, events and hashtags),
the mentor directory with its request button, and the mentorships page.

Each part calls the client API's own query or action, so results match what
a client app receives.
"""

from __future__ import annotations

import logging
from typing import Any

from quart import current_app, g, redirect, request

from actors.lesson_plan import (
    LICENSES,
    InvalidPlan,
    canonical_code,
    license_of,
    parse_grade_level,
)
from federation.errors import FederationError
from outbox.actions import ActionError
from outbox.mentorship import MentorOffer, MentorshipActions
from outbox.profiles import InputError, parse_grade_levels
from storage import accounts, groups, mentorship, tags
from storage import lesson_plans as plans
from web.api import _search_accounts
from web.api_events import search_json as search_events
from web.api_groups import groups_json
from web.api_lesson_plans import plans_json
from web.api_mentorship import _mentorships_json
from web.api_profiles import _hashtag
from web.app import log_text, parse_id, runtime_of
from web.presenters import accounts_json
from web.ui import blueprint
from web.ui.i18n import _
from web.ui.session import FormError, back_to, current_viewer, render, signed_in

log = logging.getLogger(__name__)

RESULT_LIMIT = 20
MAX_QUERY = 200
MENTORSHIP_ACTIONS = ("accept", "reject", "withdraw")


def _arg(name: str, limit: int = 100) -> str:
    return request.args.get(name, "").strip()[:limit]


async def _plan_results(runtime: Any, viewer: Any, query: str, filters: dict[str, str]) -> list[Any]:
    grade = None
    if filters["grade_level"]:
        _, numbers = parse_grade_level(filters["grade_level"])
        grade = numbers[0] if numbers else None
    license_key = license_of(filters["license"]) if filters["license"] else None
    viewer_id = viewer["id"] if viewer else None
    rows = await plans.search(
        runtime.pool,
        text=query or None,
        subject=filters["subject"] or None,
        grade=grade,
        standard=canonical_code(filters["standard"]) or None,
        license_key=license_key,
        limit=RESULT_LIMIT,
        offset=0,
        viewer_id=viewer_id,
    )
    return await plans_json(runtime, list(rows), viewer_id)


@blueprint.get("/search")
@signed_in
async def search_page() -> Any:
    """Search everything at once; remote handles and URLs are looked up."""
    runtime = runtime_of(current_app)
    query = _arg("q", MAX_QUERY)
    filters = {name: _arg(name) for name in ("subject", "grade_level", "standard", "license")}
    results: dict[str, Any] = {"accounts": [], "plans": [], "groups": [], "events": [], "tag": None}
    error = None
    if query or any(filters.values()):
        try:
            results["plans"] = await _plan_results(runtime, g.viewer, query, filters)
        except InvalidPlan as problem:
            error = _("%(field)s: %(problem)s", field=problem.field, problem=problem.message)
    if query:
        rows = await _search_accounts(runtime, query, True, limit=10, offset=0)
        people = [row for row in rows if row["actor_type"] != "Group"]
        results["accounts"] = await accounts_json(runtime, people)
        found_groups = [row for row in rows if row["actor_type"] == "Group"]
        found_groups += [
            row for row in await groups.search(runtime.pool, query, RESULT_LIMIT)
            if row["id"] not in {item["id"] for item in found_groups}
        ]
        results["groups"] = await groups_json(runtime, found_groups)
        if not query.startswith(("https://", "http://")):
            results["events"] = await search_events(runtime, query, g.viewer, limit=RESULT_LIMIT, offset=0)
        elif not results["accounts"] and not results["groups"]:
            results["events"] = await _event_at(runtime, query)
        try:
            tag = _hashtag(query)
        except ActionError:
            tag = None
        if tag is not None:
            following = await tags.is_following(runtime.pool, g.viewer["id"], "hashtag", tag)
            results["tag"] = {"name": tag, "following": following}
    followed = await tags.followed(runtime.pool, g.viewer["id"], "hashtag")
    return await render(
        "search.html",
        query=query,
        filters=filters,
        licenses=list(LICENSES.values()),
        results=results,
        followed_tags=[row["name"] for row in followed],
        error=error,
    )


async def _event_at(runtime: Any, url: str) -> list[Any]:
    """Return the event whose ActivityPub id is ``url``, fetching a remote one
    that is not stored yet, when the viewer may see it."""
    from storage import events as event_store
    from storage import statuses
    from web.api_events import events_json
    from web.reading import can_see

    row = await statuses.by_uri(runtime.pool, url)
    if row is None and not runtime.urls.is_local(url):
        try:
            row = await runtime.resolver.fetch_object(url, g.viewer)
        except FederationError as error:
            log.info(
                "search by account %s could not resolve event %s: %s (%s)",
                g.viewer["id"], log_text(url), log_text(error.message), log_text(str(error.cause)),
            )
            return []
    if row is None or row["deleted_at"] is not None or row["object_type"] != "Event":
        return []
    event = await event_store.by_status_id(runtime.pool, row["id"])
    if event is None or not await can_see(runtime.pool, row, g.viewer):
        return []
    return await events_json(runtime, [event], g.viewer)


@blueprint.post("/tags/<name>/<action>")
@signed_in
async def tag_action(name: str, action: str) -> Any:
    if action not in ("follow", "unfollow"):
        raise FormError(404, _("Unknown action."))
    runtime = runtime_of(current_app)
    tag = _hashtag(name)
    if action == "follow":
        await tags.follow(runtime.pool, g.viewer["id"], "hashtag", tag)
    else:
        await tags.unfollow(runtime.pool, g.viewer["id"], "hashtag", tag)
    log.info("account %s: %s hashtag %s", g.viewer["id"], action, tag)
    return back_to(f"/search?q={tag}")


# Mentoring


@blueprint.get("/mentors")
async def mentors_page() -> Any:
    runtime = runtime_of(current_app)
    viewer = await current_viewer()
    subject = _arg("subject")
    grade = _arg("grade_level")
    rows = await mentorship.directory(
        runtime.pool,
        subject=subject or None,
        grade_level=grade or None,
        local=None,
        viewer_id=viewer["id"] if viewer else None,
        limit=40,
        offset=0,
    )
    rendered = await accounts_json(runtime, list(rows))
    offer = await mentorship.mentor_profile(runtime.pool, viewer["id"]) if viewer else None
    return await render(
        "mentors.html",
        mentors=[{"row": row, "account": account} for row, account in zip(rows, rendered)],
        subject=subject,
        grade_level=grade,
        offer=offer,
    )


@blueprint.post("/mentors/offer")
@signed_in
async def save_offer() -> Any:
    form = await request.form
    capacity = parse_id(form.get("capacity", "").strip() or "0")
    if capacity is None:
        raise FormError(422, _("Places must be a whole number."))
    try:
        offer = MentorOffer(
            open=form.get("open") == "on",
            subjects=[item.strip() for item in form.get("subjects", "").split(",") if item.strip()],
            grade_levels=parse_grade_levels(
                [item.strip() for item in form.get("grade_levels", "").split(",") if item.strip()]
            ),
            capacity=capacity,
            note=form.get("note", "").strip()[:500],
        )
        await MentorshipActions(runtime_of(current_app)).open_mentoring(g.viewer, offer)
    except InputError as error:
        raise FormError(422, str(error)) from None
    log.info("account %s saved a mentoring offer (open: %s)", g.viewer["id"], offer.open)
    return back_to("/mentors")


@blueprint.post("/mentors/<account_id>/request")
@signed_in
async def request_mentor(account_id: str) -> Any:
    runtime = runtime_of(current_app)
    number = parse_id(account_id)
    mentor = await accounts.by_id(runtime.pool, number) if number is not None else None
    if mentor is None or mentor["deleted_at"] is not None or mentor["actor_type"] != "Person":
        raise FormError(404, _("This teacher does not exist."))
    form = await request.form
    subjects = [item.strip() for item in form.get("subjects", "").split(",") if item.strip()]
    row = await MentorshipActions(runtime).offer(g.viewer, mentor, form.get("message", "").strip()[:1000], subjects)
    log.info("account %s asked account %s to mentor (mentorship %s)", g.viewer["id"], mentor["id"], row["id"])
    return redirect("/mentorships", 303)


@blueprint.get("/mentorships")
@signed_in
async def mentorships_page() -> Any:
    runtime = runtime_of(current_app)
    rows = await mentorship.list_for(runtime.pool, g.viewer["id"], None)
    return await render("mentorships.html", mentorships=await _mentorships_json(runtime, g.viewer, list(rows)))


@blueprint.post("/mentorships/<mentorship_id>/<action>")
@signed_in
async def mentorship_action(mentorship_id: str, action: str) -> Any:
    if action not in MENTORSHIP_ACTIONS:
        raise FormError(404, _("Unknown action."))
    runtime = runtime_of(current_app)
    number = parse_id(mentorship_id)
    row = await mentorship.by_id(runtime.pool, number) if number is not None else None
    if row is None or g.viewer["id"] not in (row["mentor_id"], row["mentee_id"]):
        raise FormError(404, _("This mentorship does not exist."))
    actions = MentorshipActions(runtime)
    if action == "withdraw":
        await actions.withdraw(g.viewer, row)
    else:
        await actions.answer(g.viewer, row, action == "accept")
    log.info("mentorship %s: %s by account %s", row["id"], action, g.viewer["id"])
    return back_to("/mentorships")
