"""Local group actions: creating a group, announcing members' posts to the
group's members, and moderation. Each runs in one transaction with the
activities it sends, like the actions in ``outbox.actions``."""

from __future__ import annotations

import logging
from datetime import UTC
from typing import TYPE_CHECKING, Any

import asyncpg

from actors.group import (
    GroupInput,
    add_group_fields,
    build_group_announce,
    build_moderator_delete,
    build_rejected_create,
    description_html,
    render_group_update,
)
from actors.keys import generate_key_pair
from actors.note import iso
from actors.person import render_person
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

    # Membership

    async def join(self, account: Any, group: Any) -> None:
        """Join a group. A remote group gets a Follow. A local group makes the
        account a member, unless it requires approval: then a join request
        notifies its moderators. Raises ActionError(403) for an account a
        moderator removed from a local group."""
        if group["domain"] is not None:
            await self.actions.follow(account, group)
            return
        async with accounts.transaction(self.runtime.pool) as connection:
            if await groups.is_removed_member(connection, group["id"], account["id"]):
                raise ActionError(
                    403,
                    "a moderator removed you from this group; ask one to readmit you",
                )
            if await social.follow_between(connection, account["id"], group["id"]):
                return
            accepted = not group["manually_approves_followers"]
            await social.upsert_follow(
                connection, account["id"], group["id"], None, accepted
            )
            if not accepted:
                await self.request_to_join(connection, group, account)
        log.info(
            "%s %s group %s",
            account["actor_id"],
            "joined" if accepted else "asked to join",
            group["actor_id"],
        )

    async def leave(self, account: Any, group: Any) -> None:
        """Leave a group or withdraw a join request; a remote group gets
        Undo(Follow). Raises ActionError(422) for an owner, and a moderator's
        role ends with the membership."""
        pool = self.runtime.pool
        if await groups.moderator_role(pool, group["id"], account["id"]) == "owner":
            raise ActionError(422, "the owner of a group cannot leave it")
        await self.actions.unfollow(account, group)
        if group["domain"] is not None:
            return
        async with accounts.transaction(pool) as connection:
            await groups.clear_join_request(connection, group["id"], account["id"])
            if await groups.remove_moderator(connection, group["id"], account["id"]):
                await self.send_update(connection, group)
        log.info("%s left group %s", account["actor_id"], group["actor_id"])

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
        member. A non-member's post is not announced, and its author gets a
        Reject of the Create.

        ``create`` is the Create activity of the status, as received or sent.
        """
        activity_id = id_of(create) if create is not None else None
        for group in await groups.local_groups_by_actor_ids(connection, addressed):
            if group["id"] == author["id"]:
                continue
            if not await groups.is_member(connection, group["id"], author["id"]):
                await self._reject_post(connection, group, status, author, create)
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

    async def _reject_post(
        self,
        connection: asyncpg.Connection,
        group: Any,
        status: Any,
        author: Any,
        create: dict[str, Any] | None,
    ) -> None:
        """Reject the Create of a post from a non-member (pending, removed or
        never joined), which FEP-1b12 allows a group to send.

        A local author gets no activity, because its post never left this
        instance; the rejection is logged either way.
        """
        if await groups.is_removed_member(connection, group["id"], author["id"]):
            reason = "a moderator removed the author from the group"
        elif await social.follow_between(connection, author["id"], group["id"]):
            reason = "the author's request to join the group is pending"
        else:
            reason = "the author is not a member of the group"
        activity_id = id_of(create) if create is not None else None
        log.info(
            "group %s rejected Create %s of %s by %s: %s",
            group["actor_id"],
            activity_id,
            status["uri"],
            author["actor_id"],
            reason,
        )
        if author["domain"] is None or create is None or activity_id is None:
            return
        await self.actions._send(
            connection,
            group,
            lambda uri: build_rejected_create(uri, group["actor_id"], create, reason),
            [author["inbox_url"]],
        )

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
        """Take a post out of the group. The author's post itself stays.

        Members and the author's server get two activities. Undo(Announce) of
        the group's boost makes Mastodon and Pedagogue drop the boost. An
        Announce of the moderator's Delete of the post (FEP-1b12, as Lemmy
        sends a moderator's removal) makes FEP-1b12 receivers, which show the
        wrapped Create, take the post out of the group. Raises ActionError(404)
        when the group never announced the status.
        """
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
                await statuses.mark_deleted(connection, reblog)
                await self.actions._undo_reblog_activity(connection, group, reblog)
            if status["account_id"] == moderator["id"]:
                # A Delete by the post's own author means "delete the post"
                # to every receiver, so a moderator taking their own post out
                # of the group relies on the Undo(Announce) alone.
                log.info(
                    "moderator %s removed their own post %s from group %s;"
                    " no Delete is announced",
                    moderator["actor_id"],
                    status["uri"],
                    group["actor_id"],
                )
            else:
                await self._announce_removal(connection, moderator, group, status)
        log.info(
            "moderator %s removed %s from group %s",
            moderator["actor_id"],
            status["uri"],
            group["actor_id"],
        )

    async def _announce_removal(
        self, connection: asyncpg.Connection, moderator: Any, group: Any, status: Any
    ) -> None:
        delete_id = next_activity_id()
        delete_uri = self.urls.activity(delete_id)
        delete = build_moderator_delete(
            delete_uri, moderator["actor_id"], status["uri"], group["actor_id"]
        )
        # Stored so that the Delete dereferences at its id, for receivers that
        # fetch an announced activity rather than trust the embedded copy.
        await store_activity(
            connection,
            activity_id=delete_id,
            uri=delete_uri,
            account_id=moderator["id"],
            body=delete,
        )
        inboxes = await social.follower_inboxes(connection, group["id"])
        author = await accounts.by_id(connection, status["account_id"])
        extra: list[str] = []
        if author is not None and author["domain"] is not None:
            inboxes.append(author["shared_inbox_url"] or author["inbox_url"])
            extra.append(author["actor_id"])
        followers = self.urls.followers(group["username"])
        await self.actions._send(
            connection,
            group,
            lambda uri: build_group_announce(
                uri, group["actor_id"], followers, delete, extra
            ),
            inboxes,
        )

    async def remove_member(self, moderator: Any, group: Any, member: Any) -> None:
        """End a membership or a pending request, and keep the account out until
        a moderator readmits it. A remote member gets Reject(Follow).

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
            await groups.record_removed_member(
                connection, group["id"], member["id"], moderator["id"]
            )
            await groups.clear_join_request(connection, group["id"], member["id"])
            was_moderator = await groups.remove_moderator(
                connection, group["id"], member["id"]
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
            if was_moderator:
                await self.send_update(connection, group)
        log.info(
            "moderator %s removed member %s from group %s",
            moderator["actor_id"],
            member["actor_id"],
            group["actor_id"],
        )

    async def readmit(self, moderator: Any, group: Any, account: Any) -> None:
        """Let a removed account join again. Raises ActionError(404) when the
        account was not removed."""
        await self.require_moderator(group, moderator)
        async with accounts.transaction(self.runtime.pool) as connection:
            if not await groups.readmit(connection, group["id"], account["id"]):
                raise ActionError(
                    404, "Record not found: that account was not removed from the group"
                )
        log.info(
            "moderator %s readmitted %s to group %s",
            moderator["actor_id"],
            account["actor_id"],
            group["actor_id"],
        )

    async def answer_join_request(
        self, moderator: Any, group: Any, requester: Any, accept: bool
    ) -> None:
        """Authorize or reject a pending join request; a remote requester gets
        Accept or Reject of its Follow. The moderators' notifications of the
        request are deleted. Raises ActionError(403) for non-moderators and
        404 when no request is pending."""
        await self.require_moderator(group, moderator)
        async with accounts.transaction(self.runtime.pool) as connection:
            follow = await social.follow_between(
                connection, requester["id"], group["id"]
            )
            if follow is None or follow["accepted"]:
                raise ActionError(
                    404, "Record not found: no pending join request from that account"
                )
            if accept:
                await social.accept_follow(connection, follow["id"])
            else:
                await social.delete_follow(connection, requester["id"], group["id"])
            await groups.clear_join_request(connection, group["id"], requester["id"])
            await social.remove_notification(
                connection, group["id"], "follow_request", requester["id"], None
            )
            if requester["domain"] is not None:
                await self.actions.send_follow_answer(
                    connection, group, requester, follow["uri"], accept
                )
        log.info(
            "moderator %s %s the join request of %s to group %s",
            moderator["actor_id"],
            "authorized" if accept else "rejected",
            requester["actor_id"],
            group["actor_id"],
        )

    async def request_to_join(
        self, connection: asyncpg.Connection, group: Any, requester: Any
    ) -> None:
        """Notify the moderators of a local group of an account's join request."""
        count = await groups.notify_join_request(
            connection, group["id"], requester["id"]
        )
        log.info(
            "join request of %s to group %s notified %d moderators",
            requester["actor_id"],
            group["actor_id"],
            count,
        )

    # Moderators

    async def add_moderator(
        self, owner: Any, group: Any, account: Any, role: str
    ) -> None:
        """Make a local member a moderator and send the group's Update to its
        members. Only an owner may. Raises ActionError 403 for others, 422 for a
        remote account, a non-member or a bad role."""
        if await self.require_moderator(group, owner) != "owner":
            raise ActionError(403, "only an owner of this group may add moderators")
        if role not in ("owner", "moderator"):
            raise ActionError(422, f"role must be owner or moderator, not {role!r}")
        if account["domain"] is not None:
            raise ActionError(422, "moderators must be accounts on this instance")
        async with accounts.transaction(self.runtime.pool) as connection:
            if not await groups.is_member(connection, group["id"], account["id"]):
                raise ActionError(422, "moderators must be members of the group")
            await groups.add_moderator(connection, group["id"], account["id"], role)
            await self.send_update(connection, group)
        log.info(
            "%s made %s a %s of group %s",
            owner["actor_id"],
            account["actor_id"],
            role,
            group["actor_id"],
        )

    async def remove_moderator(self, owner: Any, group: Any, account: Any) -> None:
        """Take a moderator's role away and send the group's Update to its
        members. Only an owner may; the last owner cannot be removed. Raises
        ActionError 403 for others, 404 for an account that is no moderator and
        422 for the last owner."""
        if await self.require_moderator(group, owner) != "owner":
            raise ActionError(403, "only an owner of this group may remove moderators")
        async with accounts.transaction(self.runtime.pool) as connection:
            role = await groups.moderator_role(connection, group["id"], account["id"])
            if role is None:
                raise ActionError(
                    404,
                    "Record not found: that account is not a moderator of the group",
                )
            if (
                role == "owner"
                and await groups.owner_count(connection, group["id"]) < 2
            ):
                raise ActionError(422, "the last owner of a group cannot be removed")
            await groups.remove_moderator(connection, group["id"], account["id"])
            await self.send_update(connection, group)
        log.info(
            "%s removed %s as a %s of group %s",
            owner["actor_id"],
            account["actor_id"],
            role,
            group["actor_id"],
        )

    async def send_update(self, connection: asyncpg.Connection, group: Any) -> None:
        """Send an Update of the group's actor to its remote members, so that
        their servers fetch the moderators collection (``attributedTo``) again."""
        key = await accounts.local_key(connection, group["id"])
        assert key is not None, f"local group {group['actor_id']} has no key"
        document = render_person(group, key["public_key_pem"], self.urls)
        add_group_fields(document, self.urls, group["username"])
        followers = self.urls.followers(group["username"])
        inboxes = await social.follower_inboxes(connection, group["id"])
        await self.actions._send(
            connection,
            group,
            lambda uri: render_group_update(document, uri, followers),
            inboxes,
        )


def _now() -> Any:
    from datetime import datetime

    return datetime.now(UTC)
