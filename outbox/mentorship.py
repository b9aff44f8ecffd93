"""Local mentorship actions: opening to mentoring, offering, accepting,
rejecting and withdrawing. Each one changes the database, stores its activities
and notifications and queues their delivery in one transaction, as
``outbox.actions`` does.

A teacher's mentoring offer is part of their actor document, so a change of
the offer, or of the free places after an acceptance or a withdrawal, sends
Update(Person).

A remote mentor whose server runs other software than Pedagogue also gets the
request as a direct message with a link, because Mastodon and most other
servers drop an Offer they do not understand. ``PeerSoftwareChecks`` reads the
server's NodeInfo in the worker, never inside the client's request, and caches
the software name per host in ``hosts.software`` for a day.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import asyncpg

from actors import pedagogue
from actors.mentoring import render_mentoring
from federation.errors import FederationError
from federation.webfinger import NODEINFO_SCHEMA
from outbox import activities as build
from outbox.actions import ActionError, Actions, NewStatus
from outbox.profiles import InputError, ProfileActions
from outbox.queue import enqueue_deliveries, next_activity_id, store_activity
from storage import accounts, mentorship

if TYPE_CHECKING:
    from pedagogue.runtime import Runtime

log = logging.getLogger(__name__)

MAX_CAPACITY = 100
SOFTWARE_CACHE_SECONDS = 86_400
PEDAGOGUE_SOFTWARE = "pedagogue"
# The PostgreSQL NOTIFY channel that wakes PeerSoftwareChecks in any process.
PEER_CHECK_CHANNEL = "pedagogue_mentorship"
# Seconds between two polls for pending checks when no notification arrives.
PEER_CHECK_INTERVAL = 10.0
PEER_CHECK_BATCH = 20
# The request's message is cut to this length in the direct message, which
# must stay under the status length limit with the handle and profile link.
MAX_MESSAGE_IN_STATUS = 4000

# Notification types, one per mentorship event.
REQUEST_NOTIFICATION = "mentorship_request"
ACCEPTED_NOTIFICATION = "mentorship_accepted"
REJECTED_NOTIFICATION = "mentorship_rejected"
WITHDRAWN_NOTIFICATION = "mentorship_withdrawn"


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
        """Store or change the teacher's mentoring offer and send the changed
        actor document as Update(Person). Raises InputError (422) for a
        capacity outside 0..100."""
        if not 0 <= offer.capacity <= MAX_CAPACITY:
            raise InputError(
                422,
                "capacity",
                f"capacity must be between 0 and {MAX_CAPACITY}, not {offer.capacity}",
            )
        async with accounts.transaction(self.runtime.pool) as connection:
            row = await mentorship.save_mentor_profile(
                connection,
                account["id"],
                open=offer.open,
                subjects=offer.subjects,
                grade_levels=offer.grade_levels,
                capacity=offer.capacity,
                note=offer.note,
            )
            await ProfileActions(self.runtime).send_update(connection, account)
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
        """Ask ``mentor`` to mentor ``mentee``. A local mentor gets a
        notification and a remote mentor an Offer.

        For a remote mentor the check of their server's software is queued for
        ``PeerSoftwareChecks``, so no remote request delays this one. Raises
        ActionError: 422 for oneself, 409 when the pair already has a pending
        or running mentorship, and for a local mentor who is not open to
        mentoring or has no free place.
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
                peer_check=None if mentor["domain"] is None else "pending",
            )
            if row is None:
                raise ActionError(
                    409, "a mentorship with this teacher is already pending or running"
                )
            if mentor["domain"] is None:
                await mentorship.notify(
                    connection,
                    mentor["id"],
                    REQUEST_NOTIFICATION,
                    mentee["id"],
                    row["id"],
                )
            else:
                body = self.render_offer(row, mentee, mentor)
                await self._queue_to_inbox(
                    connection,
                    activity_id,
                    offer_uri,
                    mentee,
                    body,
                    mentor["inbox_url"],
                )
                await connection.execute(f"NOTIFY {PEER_CHECK_CHANNEL}")
        self.runtime.delivery_wakeup.set()
        log.info(
            "mentorship %s offered by %s to %s",
            row["uri"],
            mentee["actor_id"],
            mentor["actor_id"],
        )
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

    async def send_request_message(
        self, mentee: Any, mentor: Any, row: Any, software: str | None
    ) -> None:
        """Post the request as a direct status from the mentee to the mentor."""
        handle = f"@{mentor['username']}@{mentor['domain']}"
        subjects = ", ".join(row["subjects"])
        about = f" in {subjects}" if subjects else ""
        message = row["message"][:MAX_MESSAGE_IN_STATUS]
        text = (
            f"{handle} Would you mentor me{about}? {message}".strip()
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

        A local mentee gets a notification. Acceptance opens the private
        thread with a direct status to the mentee and, because it takes a free
        place, sends the mentor's actor document as Update(Person).
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
            if mentee["domain"] is None:
                await mentorship.notify(
                    connection,
                    mentee["id"],
                    ACCEPTED_NOTIFICATION if accept else REJECTED_NOTIFICATION,
                    mentor["id"],
                    row["id"],
                )
            else:
                offer = self.render_offer(row, mentee, mentor)
                await self.queue_answer(connection, mentor, mentee, offer, accept)
            if accept:
                await ProfileActions(self.runtime).send_update(connection, mentor)
        log.info(
            "mentorship %s %s by %s",
            row["uri"],
            "accepted" if accept else "rejected",
            mentor["actor_id"],
        )
        if accept:
            await self._open_thread(mentor, mentee)
        return updated

    async def queue_answer(
        self, connection: Any, mentor: Any, mentee: Any, offer: dict, accept: bool
    ) -> None:
        """Store and queue the mentor's Accept or Reject of a remote mentee's Offer."""
        offer = {key: value for key, value in offer.items() if key != "@context"}
        builder = build.build_accept if accept else build.build_reject
        activity_id = next_activity_id()
        uri = self.urls.activity(activity_id)
        body = builder(uri, mentor["actor_id"], offer)
        body["@context"] = pedagogue.full_context()
        await self._queue_to_inbox(
            connection, activity_id, uri, mentor, body, mentee["inbox_url"]
        )
        self.runtime.delivery_wakeup.set()

    async def _queue_to_inbox(
        self,
        connection: Any,
        activity_id: int,
        uri: str,
        sender: Any,
        body: dict[str, Any],
        inbox_url: str,
    ) -> None:
        """Store ``sender``'s activity and queue its delivery to one inbox."""
        await store_activity(
            connection,
            activity_id=activity_id,
            uri=uri,
            account_id=sender["id"],
            body=body,
        )
        await enqueue_deliveries(
            connection,
            activity_id,
            [inbox_url],
            self.runtime.settings.federation.delivery_deadline,
        )

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
        """Withdraw a pending or running mentorship.

        A remote mentor gets Undo(Offer) and a local one a notification. When
        a running mentorship of a local mentor ends, the mentor's actor
        document goes out again with the freed place. Raises ActionError: 403
        unless ``mentee`` is the mentee, 409 when it is already rejected or
        withdrawn."""
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
            if mentor["domain"] is None:
                await mentorship.notify(
                    connection,
                    mentor["id"],
                    WITHDRAWN_NOTIFICATION,
                    mentee["id"],
                    row["id"],
                )
                if current["state"] == "accepted":
                    await ProfileActions(self.runtime).send_update(connection, mentor)
            else:
                offer = self.render_offer(row, mentee, mentor)
                offer.pop("@context", None)
                activity_id = next_activity_id()
                uri = self.urls.activity(activity_id)
                body = build.build_undo(uri, mentee["actor_id"], offer)
                body["@context"] = pedagogue.full_context()
                await self._queue_to_inbox(
                    connection, activity_id, uri, mentee, body, mentor["inbox_url"]
                )
        self.runtime.delivery_wakeup.set()
        log.info("mentorship %s withdrawn by %s", row["uri"], mentee["actor_id"])
        return updated


async def published_offer(db: Any, account_id: int) -> dict[str, Any] | None:
    """Return the ``mentoring`` object of a local teacher's actor document, or
    None when the teacher never set a mentoring offer."""
    profile = await mentorship.mentor_profile(db, account_id)
    if profile is None:
        return None
    return render_mentoring(
        open=profile["open"],
        subjects=list(profile["subjects"]),
        grade_levels=list(profile["grade_levels"]),
        capacity=profile["capacity"],
        free_places=await mentorship.free_places(db, account_id, profile["capacity"]),
        note=profile["note"],
    )


class PeerSoftwareChecks:
    """Finds out, outside the client's request, whether a remote mentor's
    server reads Offer, and posts the request as a direct message when not.

    Each pending check is finished once, even with several worker processes,
    because ``mentorship.finish_peer_check`` marks it done before the message
    is posted. A crash between the two loses that message rather than
    sending it twice.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def run(self, stopping: asyncio.Event) -> None:
        """Check pending requests when notified, and every PEER_CHECK_INTERVAL."""
        wakeup = asyncio.Event()
        listener = await self._listen(wakeup)
        try:
            while not stopping.is_set():
                try:
                    await self.run_once()
                except (asyncpg.PostgresError, OSError) as error:
                    log.warning("mentorship peer checks failed this round: %r", error)
                await _wait(wakeup, stopping, PEER_CHECK_INTERVAL)
        finally:
            if listener is not None:
                await listener.close()

    async def _listen(self, wakeup: asyncio.Event) -> asyncpg.Connection | None:
        try:
            connection = await asyncpg.connect(self.runtime.dsn)
            await connection.add_listener(PEER_CHECK_CHANNEL, lambda *_: wakeup.set())
        except (asyncpg.PostgresError, OSError) as error:
            log.warning(
                "mentorship peer checks will poll every %.0f s: LISTEN failed: %r",
                PEER_CHECK_INTERVAL,
                error,
            )
            return None
        return connection

    async def run_once(self) -> int:
        """Finish the pending checks, each host's NodeInfo read once and the
        hosts side by side; return how many checks were finished."""
        rows = await mentorship.pending_peer_checks(self.runtime.pool, PEER_CHECK_BATCH)
        if not rows:
            return 0
        hosts = {_origin(row["mentor_actor_id"]) for row in rows}
        found = await asyncio.gather(*(self.peer_software(host) for host in hosts))
        software_by_host = dict(zip(hosts, found))
        finished = 0
        for row in rows:
            software = software_by_host[_origin(row["mentor_actor_id"])]
            if await self._finish(row["id"], software):
                finished += 1
        return finished

    async def _finish(self, mentorship_id: int, software: str | None) -> bool:
        pool = self.runtime.pool
        row = await mentorship.finish_peer_check(pool, mentorship_id)
        if row is None:
            return False
        if software == PEDAGOGUE_SOFTWARE:
            log.info("mentorship %s: the mentor's server reads Offer", row["uri"])
            return True
        if row["state"] != "pending":
            log.info(
                "mentorship %s is %s: no direct message sent", row["uri"], row["state"]
            )
            return True
        mentee = await accounts.by_id(pool, row["mentee_id"])
        mentor = await accounts.by_id(pool, row["mentor_id"])
        try:
            await MentorshipActions(self.runtime).send_request_message(
                mentee, mentor, row, software
            )
        except ActionError as error:
            log.warning(
                "mentorship %s: direct message to %s not sent: %s",
                row["uri"],
                mentor["actor_id"],
                error.message,
            )
        return True

    async def peer_software(self, origin: str) -> str | None:
        """Return the lower-case NodeInfo software name of a host, or None when
        the host reports none or cannot be read.

        A name, or its absence (no usable NodeInfo, or a 4xx response), is
        cached in ``hosts`` for a day. A timeout, a refused connection or a 5xx
        response is not cached, so the next request tries again.
        """
        host = urlsplit(origin).netloc
        pool = self.runtime.pool
        cached = await pool.fetchrow(
            "SELECT software FROM hosts WHERE host = $1 AND software_checked_at"
            " > now() - make_interval(secs => $2)",
            host,
            SOFTWARE_CACHE_SECONDS,
        )
        if cached is not None:
            return cached["software"]
        try:
            software = await self._fetch_software(origin)
        except FederationError as error:
            log.info("NodeInfo of %s not read: %s", origin, error.message)
            if not 400 <= error.status < 500:
                return None
            software = None
        await pool.execute(
            "INSERT INTO hosts (host, software, software_checked_at)"
            " VALUES ($1, $2, now()) ON CONFLICT (host) DO UPDATE"
            " SET software = EXCLUDED.software, software_checked_at = now()",
            host,
            software,
        )
        log.info("NodeInfo of %s names software %s", origin, software)
        return software

    async def _fetch_software(self, origin: str) -> str | None:
        # NodeInfo 2.x: the well-known document links to the versioned one.
        fetcher = self.runtime.fetcher
        links = await fetcher.get_json(
            f"{origin}/.well-known/nodeinfo", accept="application/json"
        )
        if not isinstance(links, dict) or not isinstance(links.get("links"), list):
            return None
        hrefs = [
            link.get("href")
            for link in links["links"]
            if isinstance(link, dict)
            and str(link.get("rel", "")).startswith(NODEINFO_SCHEMA.format("2."))
        ]
        if not hrefs or not isinstance(hrefs[-1], str):
            return None
        document = await fetcher.get_json(hrefs[-1], accept="application/json")
        software = document.get("software") if isinstance(document, dict) else None
        name = software.get("name") if isinstance(software, dict) else None
        return name.strip().lower()[:64] if isinstance(name, str) else None


def _origin(actor_id: str) -> str:
    parts = urlsplit(actor_id)
    return f"{parts.scheme}://{parts.netloc.lower()}"


async def _wait(event: asyncio.Event, stopping: asyncio.Event, timeout: float) -> None:
    waiters = [
        asyncio.ensure_future(event.wait()),
        asyncio.ensure_future(stopping.wait()),
    ]
    try:
        await asyncio.wait(
            waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        for waiter in waiters:
            waiter.cancel()
    event.clear()
