"""Account migration: aliases (``alsoKnownAs``) and Move, in both directions.

A teacher first lists the old account as an alias of the new one, then moves
the old account. The old account's actor gets ``movedTo`` and its followers
get Move. Their instances check that the new account lists the old one in
``alsoKnownAs``, as fetched from the new account's own server, before they
unfollow the old account and follow the new one. Mastodon 4 follows the same
protocol, so moves between it and Pedagogue work both ways.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import asyncpg

from actors.vocabulary import id_of, is_http_id
from federation.errors import FederationError
from outbox.actions import ActionError, Actions
from outbox.queue import enqueue_deliveries, next_activity_id, store_activity
from storage import accounts, social

if TYPE_CHECKING:
    from pedagogue.runtime import Runtime

log = logging.getLogger(__name__)

MAX_ALIASES = 10
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


def aliases_of(document: Any) -> list[str]:
    """Return the actor ids that an actor document lists in ``alsoKnownAs``."""
    if not isinstance(document, dict):
        return []
    value = document.get("alsoKnownAs")
    items = value if isinstance(value, list) else [value]
    ids = (id_of(entry) for entry in items)
    return [item for item in ids if item is not None and is_http_id(item)]


def build_move(activity_id: str, origin: str, target: str, followers: str) -> dict:
    """Return a Move of ``origin`` to ``target``, shaped as Mastodon sends it."""
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": activity_id,
        "type": "Move",
        "actor": origin,
        "object": origin,
        "target": target,
        "to": [followers],
    }


class MigrationActions:
    """Set aliases, move a local account, and follow remote accounts that moved."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.urls = runtime.urls

    async def resolve(self, address: str) -> asyncpg.Record:
        """Find an account by ``user@domain`` (an optional leading @) or actor URL.

        Raises ActionError(422) naming the address when it cannot be found.
        """
        address = address.strip()
        try:
            if is_http_id(address):
                return await self.runtime.resolver.actor(address)
            username, separator, domain = address.lstrip("@").partition("@")
            if not separator or not username or not domain:
                raise ActionError(
                    422, f"{address!r} is not an address like name@example.org"
                )
            return await self.runtime.resolver.actor_by_handle(username, domain)
        except FederationError as error:
            raise ActionError(
                422, f"account {address} not found: {error.message}"
            ) from None

    async def set_aliases(self, account: Any, addresses: list[str]) -> list[str]:
        """Store the accounts ``account`` is also known as; return their actor ids.

        The list replaces the stored one, and followers get Update(Person).
        """
        if len(addresses) > MAX_ALIASES:
            raise ActionError(422, f"at most {MAX_ALIASES} aliases are allowed")
        actor_ids: list[str] = []
        for address in addresses:
            if not address.strip():
                continue
            alias = await self.resolve(address)
            if alias["id"] == account["id"]:
                raise ActionError(422, "an account cannot be its own alias")
            if alias["actor_id"] not in actor_ids:
                actor_ids.append(alias["actor_id"])
        async with accounts.transaction(self.runtime.pool) as connection:
            updated = await connection.fetchrow(
                "UPDATE accounts SET also_known_as = $2 WHERE id = $1 RETURNING *",
                account["id"],
                actor_ids,
            )
            await self._send_update(connection, updated)
        self.runtime.delivery_wakeup.set()
        log.info("aliases of %s set to %s", account["actor_id"], actor_ids)
        return actor_ids

    async def move(self, account: Any, address: str) -> asyncpg.Record:
        """Move ``account`` to the account at ``address`` and tell its followers.

        Raises ActionError(422) unless the target lists ``account`` in its
        ``alsoKnownAs``, read fresh from the target's server, and (409) when
        the account has moved already.
        """
        if account["moved_to_actor_id"]:
            raise ActionError(
                409, f"this account has moved to {account['moved_to_actor_id']}"
            )
        target = await self.resolve(address)
        if target["id"] == account["id"]:
            raise ActionError(422, "an account cannot move to itself")
        if account["actor_id"] not in await self.current_aliases(target):
            raise ActionError(
                422,
                f"{target['actor_id']} does not list this account as an alias;"
                " add the alias on the new account first",
            )
        async with accounts.transaction(self.runtime.pool) as connection:
            moved = await connection.fetchrow(
                "UPDATE accounts SET moved_to_actor_id = $2, moved_at = now()"
                " WHERE id = $1 RETURNING *",
                account["id"],
                target["actor_id"],
            )
            await self._send_move(connection, moved, target)
            await self._send_update(connection, moved)
        self.runtime.delivery_wakeup.set()
        log.info("%s moved to %s", account["actor_id"], target["actor_id"])
        # Followers on this instance need no Move: they are moved here.
        await self.move_local_followers(moved, target)
        return moved

    async def current_aliases(self, target: Any) -> list[str]:
        """Return the ``alsoKnownAs`` of ``target``: stored for a local account,
        fetched from its server for a remote one, because a stored copy may be
        stale or forged by the sender of an activity."""
        if target["domain"] is None:
            return list(target["also_known_as"] or [])
        document = await self.runtime.resolver.fetch(target["actor_id"])
        if id_of(document) != target["actor_id"]:
            raise FederationError(
                422, f"{target['actor_id']} served an actor with another id"
            )
        return aliases_of(document)

    async def move_local_followers(self, origin: Any, target: Any) -> int:
        """Make every local follower of ``origin`` follow ``target`` instead.

        Returns how many followers moved. Each follower moves in its own
        transaction, so one failure leaves the others moved. A follower who
        blocks the target, or is blocked by it, keeps the old follow.
        """
        rows = await self.runtime.pool.fetch(
            "SELECT a.* FROM follows f JOIN accounts a ON a.id = f.account_id"
            " WHERE f.target_account_id = $1 AND a.domain IS NULL"
            " AND a.deleted_at IS NULL",
            origin["id"],
        )
        actions = Actions(self.runtime)
        moved = 0
        for follower in rows:
            if follower["id"] == target["id"]:
                continue
            try:
                await actions.follow(follower, target)
            except ActionError as error:
                log.info(
                    "%s did not follow %s after its move from %s: %s",
                    follower["actor_id"],
                    target["actor_id"],
                    origin["actor_id"],
                    error.message,
                )
                continue
            await actions.unfollow(follower, origin)
            moved += 1
        log.info(
            "moved %d local followers of %s to %s",
            moved,
            origin["actor_id"],
            target["actor_id"],
        )
        return moved

    async def _send_move(
        self, connection: asyncpg.Connection, account: Any, target: Any
    ) -> None:
        inboxes = await social.follower_inboxes(connection, account["id"])
        activity_id = next_activity_id()
        uri = self.urls.activity(activity_id)
        followers = self.urls.followers(account["username"])
        body = build_move(uri, account["actor_id"], target["actor_id"], followers)
        await store_activity(
            connection,
            activity_id=activity_id,
            uri=uri,
            account_id=account["id"],
            body=body,
        )
        deadline = self.runtime.settings.federation.delivery_deadline
        await enqueue_deliveries(connection, activity_id, inboxes, deadline)
        log.info(
            "Move %s of %s queued to %d inboxes", uri, account["actor_id"], len(inboxes)
        )

    async def _send_update(self, connection: asyncpg.Connection, account: Any) -> None:
        # Imported here because outbox.profiles imports outbox.actions.
        from outbox.profiles import ProfileActions

        await ProfileActions(self.runtime).send_update(connection, account)
