"""Publishing scheduled statuses when they are due, and closing ended polls."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from outbox.actions import ActionError, Actions
from outbox.polls import PollClosings
from storage import accounts, scheduled

if TYPE_CHECKING:
    from pedagogue.runtime import Runtime

log = logging.getLogger(__name__)

# Seconds between checks for due statuses; a status goes out at most this
# late. Statuses published per check.
CHECK_INTERVAL = 5.0
BATCH_SIZE = 20


class ScheduledPublisher:
    """Posts scheduled statuses once their time has come, and closes polls
    that have ended (outbox.polls.PollClosings) on the same clock."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def run(self, stopping: asyncio.Event) -> None:
        """Publish due statuses and close ended polls every CHECK_INTERVAL
        seconds until ``stopping``.

        An error ends only the current pass; it is logged and the next pass
        runs on time.
        """
        while not stopping.is_set():
            try:
                await self.run_once()
            except Exception:
                log.exception("scheduled status pass failed; trying again next pass")
            try:
                await PollClosings(self.runtime).run_once()
            except Exception:
                log.exception("poll closing pass failed; trying again next pass")
            try:
                await asyncio.wait_for(stopping.wait(), CHECK_INTERVAL)
            except TimeoutError:
                pass

    async def run_once(self) -> int:
        """Publish the statuses now due; return how many were published.

        Each row stays locked while its status is posted and is deleted in
        the same transaction as the lock, so two workers never post it twice.
        NOTE: a crash between the post's commit and the row's deletion posts
        the status a second time on the next pass.
        """
        from web.api_statuses import new_status_of

        published = 0
        async with accounts.transaction(self.runtime.pool) as connection:
            for row in await scheduled.claim_due(connection, BATCH_SIZE):
                if await self._publish(connection, row, new_status_of(row["params"])):
                    await connection.execute(
                        "DELETE FROM scheduled_statuses WHERE id = $1", row["id"]
                    )
                    published += 1
        return published

    async def _publish(self, connection: Any, row: Any, new: Any) -> bool:
        account = await accounts.by_id(self.runtime.pool, row["account_id"])
        if account is None or account["deleted_at"] is not None:
            log.info("scheduled status %s dropped: its account is gone", row["id"])
            return True
        try:
            status = await Actions(self.runtime).post_status(account, new)
        except ActionError as error:
            log.warning(
                "scheduled status %s of account %s failed: %s",
                row["id"],
                account["id"],
                error.message,
            )
            # The row is locked by this transaction, so the failure is written on it.
            await scheduled.record_failure(connection, row["id"], error.message)
            return False
        log.info(
            "scheduled status %s of account %s published as status %s",
            row["id"],
            account["id"],
            status["id"],
        )
        await self.runtime.pool.execute(
            "UPDATE idempotency_keys SET status_id = $2, scheduled_status_id = NULL"
            " WHERE scheduled_status_id = $1",
            row["id"],
            status["id"],
        )
        return True
