"""Offer of a mentorship, and its Accept, Reject and Undo."""

from __future__ import annotations

import logging

from actors.pedagogue import InvalidOffer, parse_offer
from actors.vocabulary import first_id, has_type
from inbox.handlers import Context, Ignored
from storage import accounts, mentorship

log = logging.getLogger(__name__)


async def concerns_mentorship(context: Context) -> bool:
    """Return True when an Accept, Reject or Undo answers a mentorship Offer."""
    obj = context.object
    if has_type(obj, "Offer"):
        return True
    object_id = first_id(obj)
    if not object_id:
        return False
    return await mentorship.by_uri(context.connection, object_id) is not None


async def handle_offer(context: Context) -> None:
    """Store a remote teacher's request to be mentored by a local teacher, and
    notify the mentor.

    A mentor who is not open to mentoring or has no free place answers with
    Reject at once. Raises Ignored for an Offer of something else, for a
    mentor who is not local and for a repeated request.
    """
    from outbox.mentorship import REQUEST_NOTIFICATION, MentorshipActions

    try:
        offer = parse_offer(context.activity, context.actor_id)
    except InvalidOffer as error:
        raise Ignored(str(error))
    if not context.same_host(offer.mentorship_id):
        raise Ignored(f"mentorship {offer.mentorship_id} is not on the sender's host")
    mentor = await accounts.by_actor_id(context.connection, offer.mentor_id)
    if mentor is None or mentor["domain"] is not None or mentor["deleted_at"]:
        raise Ignored(f"mentor {offer.mentor_id} is not a local teacher")
    mentee = await context.actor()
    row = await mentorship.insert(
        context.connection,
        uri=offer.mentorship_id,
        offer_uri=offer.offer_id,
        mentor_id=mentor["id"],
        mentee_id=mentee["id"],
        message=offer.message,
        subjects=offer.subjects,
    )
    if row is None:
        raise Ignored(f"mentorship {offer.mentorship_id} repeats a live or stored one")
    profile = await mentorship.mentor_profile(context.connection, mentor["id"])
    full = (
        profile is None
        or not profile["open"]
        or await mentorship.accepted_count(context.connection, mentor["id"])
        >= profile["capacity"]
    )
    if full:
        await mentorship.set_state(context.connection, row["id"], "rejected")
        actions = MentorshipActions(context.runtime)
        offer_body = actions.render_offer(row, mentee, mentor)
        await actions.queue_answer(
            context.connection, mentor, mentee, offer_body, False
        )
        log.info(
            "mentorship %s from %s rejected: %s is closed or full (%s)",
            offer.mentorship_id,
            context.actor_id,
            mentor["actor_id"],
            context.activity_id,
        )
        return
    await mentorship.notify(
        context.connection, mentor["id"], REQUEST_NOTIFICATION, mentee["id"], row["id"]
    )
    log.info(
        "mentorship %s offered by %s to %s (%s)",
        offer.mentorship_id,
        context.actor_id,
        mentor["actor_id"],
        context.activity_id,
    )


async def _answered_row(context: Context):  # type: ignore[no-untyped-def]
    object_id = first_id(context.object)
    row = await mentorship.by_uri(context.connection, object_id or "")
    if row is None:
        raise Ignored(f"no mentorship matches {object_id}")
    return row


async def handle_answer(context: Context, accept: bool) -> None:
    """Mark a local teacher's pending mentorship request accepted or rejected,
    and notify the teacher.

    Raises Ignored unless the sender is the mentor and the request is pending.
    """
    from outbox.mentorship import ACCEPTED_NOTIFICATION, REJECTED_NOTIFICATION

    row = await _answered_row(context)
    mentor = await accounts.by_id(context.connection, row["mentor_id"])
    if mentor["actor_id"] != context.actor_id:
        raise Ignored(f"{context.actor_id} is not the mentor of {row['uri']}")
    if row["state"] != "pending":
        raise Ignored(f"mentorship {row['uri']} is {row['state']}, not pending")
    state = "accepted" if accept else "rejected"
    await mentorship.set_state(context.connection, row["id"], state)
    await mentorship.notify(
        context.connection,
        row["mentee_id"],
        ACCEPTED_NOTIFICATION if accept else REJECTED_NOTIFICATION,
        mentor["id"],
        row["id"],
    )
    log.info(
        "mentorship %s %s by %s (%s)",
        row["uri"],
        state,
        context.actor_id,
        context.activity_id,
    )


async def handle_accept(context: Context) -> None:
    """Accept of a mentorship Offer; see handle_answer."""
    await handle_answer(context, True)


async def handle_reject(context: Context) -> None:
    """Reject of a mentorship Offer; see handle_answer."""
    await handle_answer(context, False)


async def handle_undo(context: Context) -> None:
    """Withdraw a remote mentee's pending or running mentorship and notify the
    mentor. A running one frees a place, so the mentor's actor document goes
    out again as Update(Person).

    Raises Ignored unless the sender is the mentee and the mentorship is live.
    """
    from outbox.mentorship import WITHDRAWN_NOTIFICATION
    from outbox.profiles import ProfileActions

    row = await _answered_row(context)
    mentee = await accounts.by_id(context.connection, row["mentee_id"])
    if mentee["actor_id"] != context.actor_id:
        raise Ignored(f"{context.actor_id} is not the mentee of {row['uri']}")
    if row["state"] not in mentorship.LIVE_STATES:
        raise Ignored(f"mentorship {row['uri']} is already {row['state']}")
    await mentorship.set_state(context.connection, row["id"], "withdrawn")
    await mentorship.notify(
        context.connection,
        row["mentor_id"],
        WITHDRAWN_NOTIFICATION,
        mentee["id"],
        row["id"],
    )
    if row["state"] == "accepted":
        mentor = await accounts.by_id(context.connection, row["mentor_id"])
        await ProfileActions(context.runtime).send_update(context.connection, mentor)
    log.info(
        "mentorship %s withdrawn by %s (%s)",
        row["uri"],
        context.actor_id,
        context.activity_id,
    )
