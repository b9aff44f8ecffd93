"""Local mentorship actions: opening to mentoring, offering, accepting,
rejecting and withdrawing. Each one changes the database, stores its activity and queues its
delivery in one transaction, as ``outbox.actions`` does.

A peer whose NodeInfo names software other than Pedagogue also gets the
request as a direct message with a link, because Mastodon and most other
servers drop an Offer they do not understand. The software name is cached per
host in ``hosts.software`` for a day.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from actors import pedagogue
from federation.errors import FederationError
from federation.webfinger import NODEINFO_SCHEMA
from outbox import activities as build
from outbox.actions import ActionError, Actions, NewStatus
from outbox.queue import enqueue_deliveries, next_activity_id, store_activity
from storage import accounts, mentorship

if TYPE_CHECKING:
    from pedagogue.runtime import Runtime

log = logging.getLogger(__name__)

MAX_CAPACITY = 100
SOFTWARE_CACHE_SECONDS = 86_400
PEDAGOGUE_SOFTWARE = "pedagogue"


@dataclass
class MentorOffer:
    """A teacher's mentoring offer: subjects, grade levels and capacity."""

    open: bool
    subjects: list[str]
    grade_levels: list[str]
    capacity: int
    note: str = ""


class MentorshipActions:
    """The mentorship actions of the client API."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.urls = runtime.urls

    def mentorship_uri(self, mentorship_id: int) -> str:
        return f"{self.urls.base}/mentorships/{mentorship_id}"

    async def open_mentoring(self, account: Any, offer: MentorOffer) -> Any:
        """Store or change the teacher's mentoring offer; raise ActionError(422)
        for a capacity outside 0..100."""
        if not 0 <= offer.capacity <= MAX_CAPACITY:
            raise ActionError(
                422,
                f"capacity must be between 0 and {MAX_CAPACITY}, not {offer.capacity}",
            )
        row = await mentorship.save_mentor_profile(
            self.runtime.pool,
            account["id"],
            open=offer.open,
            subjects=offer.subjects,
            grade_levels=offer.grade_levels,
            capacity=offer.capacity,
            note=offer.note,
        )
        log.info(
            "mentoring of %s set open=%s capacity=%d",
            account["actor_id"],
            offer.open,
            offer.capacity,
        )
        return row

    async def offer(
        self, mentee: Any, mentor: Any, message: str, subjects: list[str]
    ) -> Any:
        """Ask ``mentor`` to mentor ``mentee``; a remote mentor gets an Offer.

        Raises ActionError: 422 for oneself, 409 when the pair already has a
        pending or running mentorship, and for a local mentor who is not open
        to mentoring or has no free place.
        """
        if mentor["id"] == mentee["id"]:
            raise ActionError(422, "you cannot ask yourself to be your mentor")
        pool = self.runtime.pool
        if mentor["domain"] is None:
            profile = await mentorship.mentor_profile(pool, mentor["id"])
            if profile is None or not profile["open"]:
                raise ActionError(409, "this teacher is not open to mentoring")
            if (
                await mentorship.accepted_count(pool, mentor["id"])
                >= profile["capacity"]
            ):
                raise ActionError(409, "this mentor has no free place")
        activity_id = next_activity_id()
        offer_uri = self.urls.activity(activity_id)
        async with accounts.transaction(pool) as connection:
            row = await mentorship.insert(
                connection,
                uri=None,
                offer_uri=None,
                mentor_id=mentor["id"],
                mentee_id=mentee["id"],
                message=message,
                subjects=subjects,
                uris_for_id=lambda new_id: (self.mentorship_uri(new_id), offer_uri),
            )
            if row is None:
                raise ActionError(
                    409, "a mentorship with this teacher is already pending or running"
                )
            if mentor["domain"] is not None:
                body = self.render_offer(row, mentee, mentor)
                await store_activity(
                    connection,
                    activity_id=activity_id,
                    uri=offer_uri,
                    account_id=mentee["id"],
                    body=body,
                )
                await enqueue_deliveries(
                    connection,
                    activity_id,
                    [mentor["inbox_url"]],
                    self.runtime.settings.federation.delivery_deadline,
                )
        self.runtime.delivery_wakeup.set()
        log.info(
            "mentorship %s offered by %s to %s",
            row["uri"],
            mentee["actor_id"],
            mentor["actor_id"],
        )
        if mentor["domain"] is not None:
            software = await self.peer_software(mentor["actor_id"])
            if software != PEDAGOGUE_SOFTWARE:
                await self._send_request_message(mentee, mentor, row, software)
        return row

    def render_offer(self, row: Any, mentee: Any, mentor: Any) -> dict[str, Any]:
        """Return the Offer activity of a mentorship row."""
        obj = pedagogue.render_mentorship(
            row["uri"],
            mentee["actor_id"],
            mentor["actor_id"],
            row["message"],
            list(row["subjects"]),
        )
        return pedagogue.render_offer(
            row["offer_uri"], mentee["actor_id"], mentor["actor_id"], obj
        )

    async def _send_request_message(
        self, mentee: Any, mentor: Any, row: Any, software: str | None
    ) -> None:
        handle = f"@{mentor['username']}@{mentor['domain']}"
        subjects = ", ".join(row["subjects"])
        about = f" in {subjects}" if subjects else ""
        text = (
            f"{handle} Would you mentor me{about}? {row['message']}".strip()
            + f"\n\nMy profile: {self.urls.profile(mentee['username'])}"
        )
        await Actions(self.runtime).post_status(
            mentee, NewStatus(text=text, visibility="direct")
        )
        log.info(
            "mentorship %s also sent as a direct message to %s (software %s)",
            row["uri"],
            mentor["actor_id"],
            software,
        )

    async def answer(self, mentor: Any, row: Any, accept: bool) -> Any:
        """Accept or reject a pending offer; a remote mentee gets Accept or Reject.

        Acceptance opens the private thread with a direct status to the mentee.
        Raises ActionError: 403 unless ``mentor`` is the mentor, 409 unless the
        offer is pending, and 409 when accepting would exceed the capacity.
        """
        if row["mentor_id"] != mentor["id"]:
            raise ActionError(403, "only the mentor can accept or reject this request")
        mentee = await accounts.by_id(self.runtime.pool, row["mentee_id"])
        async with accounts.transaction(self.runtime.pool) as connection:
            current = await connection.fetchrow(
                "SELECT * FROM mentorships WHERE id = $1 FOR UPDATE", row["id"]
            )
            if current["state"] != "pending":
                raise ActionError(
                    409, f"this request is {current['state']}, not pending"
                )
            if accept:
                # The profile row lock makes concurrent acceptances take turns.
                profile = await mentorship.mentor_profile(
                    connection, mentor["id"], lock=True
                )
                capacity = profile["capacity"] if profile else 0
                if (
                    await mentorship.accepted_count(connection, mentor["id"])
                    >= capacity
                ):
                    raise ActionError(
                        409, f"you already mentor {capacity} teachers, your capacity"
                    )
            updated = await mentorship.set_state(
                connection, row["id"], "accepted" if accept else "rejected"
            )
            if mentee["domain"] is not None:
                offer = self.render_offer(row, mentee, mentor)
                await self._queue_answer(connection, mentor, mentee, offer, accept)
        log.info(
            "mentorship %s %s by %s",
            row["uri"],
            "accepted" if accept else "rejected",
            mentor["actor_id"],
        )
        if accept:
            await self._open_thread(mentor, mentee)
        return updated

    async def _queue_answer(
        self, connection: Any, mentor: Any, mentee: Any, offer: dict, accept: bool
    ) -> None:
        offer = {key: value for key, value in offer.items() if key != "@context"}
        builder = build.build_accept if accept else build.build_reject
        activity_id = next_activity_id()
        uri = self.urls.activity(activity_id)
        body = builder(uri, mentor["actor_id"], offer)
        body["@context"] = pedagogue.full_context()
        await store_activity(
            connection,
            activity_id=activity_id,
            uri=uri,
            account_id=mentor["id"],
            body=body,
        )
        await enqueue_deliveries(
            connection,
            activity_id,
            [mentee["inbox_url"]],
            self.runtime.settings.federation.delivery_deadline,
        )
        self.runtime.delivery_wakeup.set()

    async def _open_thread(self, mentor: Any, mentee: Any) -> None:
        if mentee["domain"] is None:
            handle = f"@{mentee['username']}"
        else:
            handle = f"@{mentee['username']}@{mentee['domain']}"
        text = (
            f"{handle} I have accepted your mentorship request. This private thread"
            " is for the two of us."
        )
        await Actions(self.runtime).post_status(
            mentor, NewStatus(text=text, visibility="direct")
        )

    async def withdraw(self, mentee: Any, row: Any) -> Any:
        """Withdraw a pending or running mentorship; a remote mentor gets
        Undo(Offer). Raises ActionError: 403 unless ``mentee`` is the mentee,
        409 when it is already rejected or withdrawn."""
        if row["mentee_id"] != mentee["id"]:
            raise ActionError(403, "only the mentee can withdraw this request")
        mentor = await accounts.by_id(self.runtime.pool, row["mentor_id"])
        async with accounts.transaction(self.runtime.pool) as connection:
            current = await connection.fetchrow(
                "SELECT * FROM mentorships WHERE id = $1 FOR UPDATE", row["id"]
            )
            if current["state"] not in mentorship.LIVE_STATES:
                raise ActionError(409, f"this request is already {current['state']}")
            updated = await mentorship.set_state(connection, row["id"], "withdrawn")
            if mentor["domain"] is not None:
                offer = self.render_offer(row, mentee, mentor)
                offer.pop("@context", None)
                activity_id = next_activity_id()
                uri = self.urls.activity(activity_id)
                body = build.build_undo(uri, mentee["actor_id"], offer)
                body["@context"] = pedagogue.full_context()
                await store_activity(
                    connection,
                    activity_id=activity_id,
                    uri=uri,
                    account_id=mentee["id"],
                    body=body,
                )
                await enqueue_deliveries(
                    connection,
                    activity_id,
                    [mentor["inbox_url"]],
                    self.runtime.settings.federation.delivery_deadline,
                )
        self.runtime.delivery_wakeup.set()
        log.info("mentorship %s withdrawn by %s", row["uri"], mentee["actor_id"])
        return updated

    async def peer_software(self, actor_id: str) -> str | None:
        """Return the lower-case NodeInfo software name of an actor's host, or
        None when the host reports none. Cached in ``hosts`` for a day."""
        parts = urlsplit(actor_id)
        host = parts.netloc.lower()
        pool = self.runtime.pool
        cached = await pool.fetchrow(
            "SELECT software FROM hosts WHERE host = $1 AND software_checked_at"
            " > now() - make_interval(secs => $2)",
            host,
            SOFTWARE_CACHE_SECONDS,
        )
        if cached is not None:
            return cached["software"]
        software = await self._fetch_software(f"{parts.scheme}://{host}")
        await pool.execute(
            "INSERT INTO hosts (host, software, software_checked_at)"
            " VALUES ($1, $2, now()) ON CONFLICT (host) DO UPDATE"
            " SET software = EXCLUDED.software, software_checked_at = now()",
            host,
            software,
        )
        return software

    async def _fetch_software(self, base: str) -> str | None:
        # NodeInfo 2.x: the well-known document links to the versioned one.
        fetcher = self.runtime.fetcher
        try:
            links = await fetcher.get_json(
                f"{base}/.well-known/nodeinfo", accept="application/json"
            )
            hrefs = [
                link.get("href")
                for link in (links.get("links") or [])
                if isinstance(link, dict)
                and str(link.get("rel", "")).startswith(NODEINFO_SCHEMA.format("2."))
            ]
            if not hrefs or not isinstance(hrefs[-1], str):
                return None
            document = await fetcher.get_json(hrefs[-1], accept="application/json")
            name = (document.get("software") or {}).get("name")
        except (FederationError, AttributeError) as error:
            log.info("NodeInfo of %s not read: %s", base, error)
            return None
        return name.strip().lower()[:64] if isinstance(name, str) else None
