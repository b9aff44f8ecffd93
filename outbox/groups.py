"""Local group actions: creating a group, announcing members' posts to the
group's members, and moderation. Each runs in one transaction with the
activities it sends, like the actions in ``outbox.actions``."""

from __future__ import annotations

import logging
from datetime import UTC
from typing import TYPE_CHECKING, Any

import asyncpg

from actors.group import GroupInput, description_html
from actors.keys import generate_key_pair
from actors.note import iso
from actors.vocabulary import id_of
from outbox import activities as build
from outbox.actions import ActionError, Actions
from outbox.queue import enqueue_deliveries, next_activity_id, store_activity
from storage import accounts, groups, social, statuses

if TYPE_CHECKING:
    from pedagogue.runtime import Runtime

log = logging.getLogger(__name__)

# Visibilities a group passes on; a followers-only or direct post addressed to
# a group stays with its addressees, because an Announce would widen it.
ANNOUNCED_VISIBILITIES = ("public", "unlisted")


class GroupActions:
    """Group creation, announcing and moderation for the client API and the inbox."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.urls = runtime.urls
        self.actions = Actions(runtime)

    # Creation

    async def create(self, creator: Any, new: GroupInput) -> asyncpg.Record:
        """Create a local group with its own key pair; the creator becomes its
        owner and first member. Raises ActionError(422) for invalid input or a
        name already taken by a teacher or group."""
        new.validate()
        urls = self.urls
        name = new.name
        private_pem, public_pem = generate_key_pair()
        try:
            async with accounts.transaction(self.runtime.pool) as connection:
                account = await accounts.create_local(
                    connection,
                    username=name,
                    actor_id=urls.actor(name),
                    key_id=urls.key(name),
                    private_key_pem=private_pem,
                    public_key_pem=public_pem,
                    display_name=new.display_name.strip() or name,
                    actor_type="Group",
                    urls={
                        "inbox": urls.inbox(name),
                        "shared_inbox": urls.shared_inbox,
                        "outbox": urls.outbox(name),
                        "followers": urls.followers(name),
                        "following": urls.following(name),
                        "url": urls.profile(name),
                    },
                )
                await connection.execute(
                    "UPDATE accounts SET summary = $2, manually_approves_followers = $3"
                    " WHERE id = $1",
                    account["id"],
                    description_html(new.description),
                    new.approval_required,
                )
                await groups.insert_profile(
                    connection,
                    account["id"],
                    description=new.description,
                    rules=new.rules,
                    subjects=new.subjects,
                    grade_levels=new.grade_levels,
                    created_by=creator["id"],
                )
                await groups.add_moderator(
                    connection, account["id"], creator["id"], "owner"
                )
                await social.upsert_follow(
                    connection, creator["id"], account["id"], None, True
                )
        except asyncpg.UniqueViolationError:
            raise ActionError(422, f"Validation failed: name {name!r} is already taken")
        log.info("group %s created by %s", account["actor_id"], creator["actor_id"])
        group = await groups.local_group(self.runtime.pool, account["id"])
        assert group is not None
        return group

    # Announcing members' posts (FEP-1b12, the Announce activity)

    async def announce_addressed(
        self,
        connection: asyncpg.Connection,
        status: Any,
        author: Any,
        addressed: list[str],
        create: dict[str, Any] | None,
    ) -> None:
        """Announce a new status to the members of each local group it is
        addressed to (by mention, to, cc or audience), when its author is a
        member. Posts of non-members are logged and not announced.

        ``create`` is the Create activity of the status, as received or sent.
        """
        activity_id = id_of(create) if create is not None else None
        for group in await groups.local_groups_by_actor_ids(connection, addressed):
            if group["id"] == author["id"]:
                continue
            if not await groups.is_member(connection, group["id"], author["id"]):
                log.info(
                    "group %s did not announce %s (%s): %s is not a member",
                    group["actor_id"],
                    status["uri"],
                    activity_id,
                    author["actor_id"],
                )
                continue
            if status["visibility"] not in ANNOUNCED_VISIBILITIES:
                log.info(
                    "group %s did not announce %s (%s): visibility %s",
                    group["actor_id"],
                    status["uri"],
                    activity_id,
                    status["visibility"],
                )
                continue
            await self.announce(connection, group, status, author, create)

    async def announce(
        self,
        connection: asyncpg.Connection,
        group: Any,
        status: Any,
        author: Any,
        create: dict[str, Any] | None = None,
    ) -> None:
        """Boost a status as the group: members' home feeds here, and Announces
        to the group's remote members and to the author.

        Two Announces go out. The first wraps the Create activity as it was
        received (FEP-1b12, the Announce activity). The second carries the
        post's id, which Mastodon and Pedagogue show as a boost by the group in
        members' timelines.
        """
        if await groups.post(connection, group["id"], status["id"]) is not None:
            log.debug("group %s already announced %s", group["actor_id"], status["uri"])
            return
        activity_id = next_activity_id()
        uri = self.urls.activity(activity_id)
        followers = self.urls.followers(group["username"])
        body = build.build_announce(
            uri,
            group["actor_id"],
            status["uri"],
            author["actor_id"],
            followers,
            iso(_now()),
            public=status["visibility"] == "public",
        )
        body["audience"] = group["actor_id"]
        reblog = await statuses.insert(
            connection,
            uri=uri,
            account_id=group["id"],
            local=True,
            content="",
            visibility=status["visibility"],
            to_uris=body["to"],
            cc_uris=body["cc"],
            reblog_of_id=status["id"],
            activity_uri=uri,
            status_id=activity_id,
        )
        assert reblog is not None
        await groups.record_post(connection, group["id"], status["id"], reblog["id"])
        await statuses.bump_counter(connection, status["id"], "reblogs_count", 1)
        readers = await social.local_follower_ids(connection, group["id"])
        await social.add_to_home_feeds(connection, reblog["id"], readers)
        inboxes = await social.follower_inboxes(connection, group["id"])
        if author["domain"] is None:
            await social.notify(
                connection, author["id"], "reblog", group["id"], status["id"]
            )
        else:
            inboxes.append(author["shared_inbox_url"] or author["inbox_url"])
        await store_activity(
            connection,
            activity_id=activity_id,
            uri=uri,
            account_id=group["id"],
            body=body,
        )
        await enqueue_deliveries(
            connection, activity_id, inboxes, self.actions.deadline
        )
        if create is not None:
            await self._announce_activity(connection, group, create, body, inboxes)
        self.runtime.delivery_wakeup.set()
        log.info(
            "group %s announced %s by %s to %d inboxes",
            group["actor_id"],
            status["uri"],
            author["actor_id"],
            len(set(inboxes)),
        )

    async def _announce_activity(
        self,
        connection: asyncpg.Connection,
        group: Any,
        create: dict[str, Any],
        boost: dict[str, Any],
        inboxes: list[str],
    ) -> None:
        activity_id = next_activity_id()
        uri = self.urls.activity(activity_id)
        # FEP-1b12: the wrapped activity is kept exactly as received, so that
        # a receiver can check it against its origin or its proofs.
        body = {
            "@context": boost["@context"],
            "id": uri,
            "type": "Announce",
            "actor": group["actor_id"],
            "object": create,
            "to": boost["to"],
            "cc": boost["cc"],
            "audience": group["actor_id"],
            "published": boost["published"],
        }
        await store_activity(
            connection,
            activity_id=activity_id,
            uri=uri,
            account_id=group["id"],
            body=body,
        )
        await enqueue_deliveries(
            connection, activity_id, inboxes, self.actions.deadline
        )

    # Moderation

    async def require_moderator(self, group: Any, account: Any) -> str:
        """Return the account's role; raise ActionError(403) for non-moderators."""
        role = await groups.moderator_role(
            self.runtime.pool, group["id"], account["id"]
        )
        if role is None:
            raise ActionError(403, "only a moderator of this group may do that")
        return role

    async def remove_post(self, moderator: Any, group: Any, status: Any) -> None:
        """Take a post out of the group: its boost is deleted and members get
        Undo(Announce). The author's post itself stays. Raises ActionError(404)
        when the group never announced the status."""
        await self.require_moderator(group, moderator)
        async with accounts.transaction(self.runtime.pool) as connection:
            post = await groups.post(connection, group["id"], status["id"])
            if post is None or post["removed_at"] is not None:
                raise ActionError(404, "Record not found: the group shows no such post")
            await groups.mark_post_removed(
                connection, group["id"], status["id"], moderator["id"]
            )
            reblog = await statuses.by_id(connection, post["announce_status_id"])
            if reblog is not None and reblog["deleted_at"] is None:
                # NOTE: only the boost is undone. Peers that show the wrapped
                # Create (FEP-1b12) keep the post, because no Announce of a
                # moderator's Delete or Remove is sent yet.
                await statuses.mark_deleted(connection, reblog)
                await self.actions._undo_reblog_activity(connection, group, reblog)
        log.info(
            "moderator %s removed %s from group %s",
            moderator["actor_id"],
            status["uri"],
            group["actor_id"],
        )

    async def remove_member(self, moderator: Any, group: Any, member: Any) -> None:
        """End a membership or a pending request; a remote member gets Reject(Follow).

        Raises ActionError(404) when the account is not a member, and 422 for an
        owner, who cannot be removed.
        """
        await self.require_moderator(group, moderator)
        role = await groups.moderator_role(self.runtime.pool, group["id"], member["id"])
        if role == "owner":
            raise ActionError(422, "the owner of a group cannot be removed")
        async with accounts.transaction(self.runtime.pool) as connection:
            follow = await social.delete_follow(connection, member["id"], group["id"])
            if follow is None:
                raise ActionError(
                    404, "Record not found: that account is not a member of the group"
                )
            await connection.execute(
                "DELETE FROM group_moderators WHERE group_id = $1 AND account_id = $2",
                group["id"],
                member["id"],
            )
            await connection.execute(
                "DELETE FROM home_feed WHERE account_id = $1 AND status_id IN"
                " (SELECT id FROM statuses WHERE account_id = $2)",
                member["id"],
                group["id"],
            )
            if member["domain"] is not None:
                # A Reject of an accepted Follow ends the follow in Pedagogue
                # and in Mastodon, which finds the follow by the Follow's id
                # (app/lib/activitypub/activity/reject.rb).
                await self.actions.send_follow_answer(
                    connection, group, member, follow["uri"], accept=False
                )
        log.info(
            "moderator %s removed member %s from group %s",
            moderator["actor_id"],
            member["actor_id"],
            group["actor_id"],
        )

    async def add_moderator(
        self, owner: Any, group: Any, account: Any, role: str
    ) -> None:
        """Make a local member a moderator; only an owner may. Raises ActionError
        403 for others, 422 for a remote account, a non-member or a bad role."""
        if await self.require_moderator(group, owner) != "owner":
            raise ActionError(403, "only an owner of this group may add moderators")
        if role not in ("owner", "moderator"):
            raise ActionError(422, f"role must be owner or moderator, not {role!r}")
        if account["domain"] is not None:
            raise ActionError(422, "moderators must be accounts on this instance")
        if not await groups.is_member(self.runtime.pool, group["id"], account["id"]):
            raise ActionError(422, "moderators must be members of the group")
        await groups.add_moderator(self.runtime.pool, group["id"], account["id"], role)
        log.info(
            "%s made %s a %s of group %s",
            owner["actor_id"],
            account["actor_id"],
            role,
            group["actor_id"],
        )


def _now() -> Any:
    from datetime import datetime

    return datetime.now(UTC)
