"""Local actions: each changes the database, stores its activity and queues its
deliveries in one transaction, so an action is either done and on its way or
not done at all."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import asyncpg

from actors import text as text_format
from actors.note import iso, render_note, render_tombstone
from actors.visibility import VISIBILITIES, addressing
from federation.errors import FederationError
from outbox import activities as build
from outbox.queue import enqueue_deliveries, next_activity_id, store_activity
from storage import accounts, social, statuses, tags

if TYPE_CHECKING:
    from pedagogue.runtime import Runtime

log = logging.getLogger(__name__)

MAX_STATUS_CHARACTERS = 5000
# Limit of the content warning (spoiler_text), counted apart from the text.
# The compose form in web/templates/macros.html sets the same maxlength.
MAX_SPOILER_CHARACTERS = 500


class ActionError(Exception):
    """A local action that cannot be done, with the HTTP status the API returns."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class NewStatus:
    text: str
    visibility: str = "public"
    spoiler_text: str = ""
    sensitive: bool = False
    language: str | None = None
    in_reply_to_id: int | None = None
    # The group account a group-only status is addressed to.
    group_id: int | None = None
    # Uploads of the author (``POST /api/v2/media``) to attach, in order.
    media_ids: list[int] = field(default_factory=list)
    # An outbox.polls.NewPoll, already checked, for a status with a poll.
    poll: Any = None


class Actions:
    """The local actions of the client API and web UI."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.urls = runtime.urls

    @property
    def deadline(self) -> float:
        return self.runtime.settings.federation.delivery_deadline

    async def _send(
        self,
        connection: asyncpg.Connection,
        account: Any,
        build_activity: Any,
        inboxes: list[str],
        public: bool | None = None,
    ) -> dict[str, Any]:
        """Build, store and queue one activity; ``build_activity`` takes its uri.

        ``public`` overrides whether the activity is served to remote fetches
        and listed in the outbox; by default its addressing decides.
        """
        activity_id = next_activity_id()
        uri = self.urls.activity(activity_id)
        body = build_activity(uri)
        await store_activity(
            connection,
            activity_id=activity_id,
            uri=uri,
            account_id=account["id"],
            body=body,
            public=public,
        )
        await enqueue_deliveries(connection, activity_id, inboxes, self.deadline)
        self.runtime.delivery_wakeup.set()
        log.info("%s %s by %s queued to %d inboxes", body["type"], uri, account["actor_id"], len(inboxes))
        return body

    # Follows

    async def follow(self, account: Any, target: Any) -> asyncpg.Record:
        """Follow an account; a remote one gets a Follow and answers with Accept."""
        if target["id"] == account["id"]:
            raise ActionError(422, "you cannot follow yourself")
        from storage.moderation import block_between

        if await block_between(self.runtime.pool, account["id"], target["id"]):
            raise ActionError(403, "This action is not allowed: one of you blocks the other")
        if target["domain"] is None and target["actor_type"] == "Group":
            # A local group's removed members and moderators' notifications
            # apply to Mastodon clients' follows too.
            from outbox.groups import GroupActions

            await GroupActions(self.runtime).join(account, target)
            joined = await social.follow_between(self.runtime.pool, account["id"], target["id"])
            assert joined is not None
            return joined
        async with accounts.transaction(self.runtime.pool) as connection:
            existing = await social.follow_between(connection, account["id"], target["id"])
            if existing is not None:
                return existing
            if target["domain"] is None:
                accepted = not target["manually_approves_followers"]
                follow = await social.upsert_follow(
                    connection, account["id"], target["id"], None, accepted
                )
                kind = "follow" if accepted else "follow_request"
                await social.notify(connection, target["id"], kind, account["id"])
                return follow
            activity_id = next_activity_id()
            uri = self.urls.activity(activity_id)
            follow = await social.upsert_follow(connection, account["id"], target["id"], uri, False)
            body = build.build_follow(uri, account["actor_id"], target["actor_id"])
            await store_activity(
                connection, activity_id=activity_id, uri=uri, account_id=account["id"], body=body
            )
            await enqueue_deliveries(connection, activity_id, [target["inbox_url"]], self.deadline)
        self.runtime.delivery_wakeup.set()
        log.info("Follow %s from %s to %s queued", uri, account["actor_id"], target["actor_id"])
        return follow

    async def unfollow(self, account: Any, target: Any) -> None:
        """Stop following; a remote account gets Undo(Follow)."""
        async with accounts.transaction(self.runtime.pool) as connection:
            follow = await social.delete_follow(connection, account["id"], target["id"])
            await connection.execute(
                "DELETE FROM home_feed WHERE account_id = $1 AND status_id IN"
                " (SELECT id FROM statuses WHERE account_id = $2)",
                account["id"],
                target["id"],
            )
            if follow is None or target["domain"] is None:
                return
            original = build.build_follow(
                follow["uri"] or self.urls.activity(follow["id"]),
                account["actor_id"],
                target["actor_id"],
            )
            await self._send(
                connection,
                account,
                lambda uri: build.build_undo(uri, account["actor_id"], original),
                [target["inbox_url"]],
            )

    async def answer_follow_request(self, account: Any, follower: Any, accept: bool) -> None:
        """Accept or reject a pending follow request of a local account."""
        async with accounts.transaction(self.runtime.pool) as connection:
            follow = await social.follow_between(connection, follower["id"], account["id"])
            if follow is None or follow["accepted"]:
                raise ActionError(404, "no pending follow request from that account")
            if accept:
                await social.accept_follow(connection, follow["id"])
                await social.notify(connection, account["id"], "follow", follower["id"])
            else:
                await social.delete_follow(connection, follower["id"], account["id"])
            await social.remove_notification(
                connection, account["id"], "follow_request", follower["id"], None
            )
            if follower["domain"] is None:
                return
            await self.send_follow_answer(connection, account, follower, follow["uri"], accept)

    async def send_follow_answer(
        self, connection: asyncpg.Connection, account: Any, follower: Any, follow_uri: str | None, accept: bool
    ) -> None:
        """Queue an Accept or Reject of a remote Follow, embedding the Follow."""
        follow = build.build_follow(
            follow_uri or f"{follower['actor_id']}#follow", follower["actor_id"], account["actor_id"]
        )
        follow.pop("@context", None)
        builder = build.build_accept if accept else build.build_reject
        await self._send(
            connection,
            account,
            lambda uri: builder(uri, account["actor_id"], follow),
            [follower["inbox_url"]],
        )

    # Statuses

    async def post_status(self, account: Any, new: NewStatus) -> asyncpg.Record:
        """Publish a status: store it, fill home feeds and deliver its Create."""
        text = new.text.strip()
        # A status with media may have no text, as in Mastodon.
        if not text and not new.media_ids:
            raise ActionError(422, "Validation failed: Text can't be blank")
        if new.poll is not None and new.media_ids:
            raise ActionError(422, "Validation failed: a status cannot have both media and a poll")
        if len(text) > MAX_STATUS_CHARACTERS:
            raise ActionError(422, f"Validation failed: Text is over {MAX_STATUS_CHARACTERS} characters")
        if new.visibility not in VISIBILITIES:
            raise ActionError(422, f"Validation failed: unknown visibility {new.visibility!r}")
        if len(new.spoiler_text.strip()) > MAX_SPOILER_CHARACTERS:
            raise ActionError(
                422,
                f"Validation failed: Content warning is over {MAX_SPOILER_CHARACTERS} characters",
            )

        parent = None
        if new.in_reply_to_id is not None:
            parent = await statuses.by_id(self.runtime.pool, new.in_reply_to_id)
            if parent is None or parent["deleted_at"] is not None:
                raise ActionError(404, "Record not found: the status replied to does not exist")
            _keep_reply_within(new, parent)
        group = await self._audience_group(account, new)
        mentioned = await self._resolve_mentions(text)
        if parent is not None and parent["account_id"] != account["id"]:
            parent_author = await accounts.by_id(self.runtime.pool, parent["account_id"])
            if parent_author and all(m["id"] != parent_author["id"] for m in mentioned.values()):
                mentioned[(parent_author["username"], parent_author["domain"])] = parent_author
        mention_rows = list({row["id"]: row for row in mentioned.values()}.values())
        tags = text_format.find_hashtags(text)
        content = text_format.render_text(
            text,
            mention_url=lambda user, host: _profile_url(mentioned.get((user, host.lower() if host else None))),
            tag_url=self.urls.tag,
        )
        to, cc = addressing(
            new.visibility,
            self.urls.followers(account["username"]),
            [m["actor_id"] for m in mention_rows],
            (group["actor_id"], group["followers_url"]) if group is not None else None,
        )

        async with accounts.transaction(self.runtime.pool) as connection:
            status = await statuses.insert(
                connection,
                uri=None,
                uri_for_id=lambda sid: self.urls.status(account["username"], sid),
                account_id=account["id"],
                local=True,
                content=content,
                source_text=text,
                visibility=new.visibility,
                spoiler_text=new.spoiler_text.strip(),
                sensitive=new.sensitive or bool(new.spoiler_text.strip()),
                language=new.language,
                in_reply_to=parent,
                to_uris=to,
                cc_uris=cc,
            )
            assert status is not None
            await connection.execute(
                "UPDATE statuses SET url = $2, audience_id = $3 WHERE id = $1",
                status["id"],
                self.urls.status_page(account["username"], status["id"]),
                group["id"] if group is not None else None,
            )
            status = await statuses.by_id(connection, status["id"])
            await statuses.add_mentions(connection, status["id"], [m["id"] for m in mention_rows])
            await statuses.add_tags(connection, status["id"], tags)
            media = await _attach_media(connection, account, status, new.media_ids)
            poll = None
            if new.poll is not None:
                from storage import polls

                poll = await polls.insert(
                    connection,
                    status["id"],
                    new.poll.options,
                    multiple=new.poll.multiple,
                    hide_totals=new.poll.hide_totals,
                    expires_at=new.poll.expires_at(),
                )
            if parent is not None:
                await statuses.count_reply(connection, parent["id"], status["visibility"], 1)
            await self._distribute_locally(connection, account, status, mention_rows)
            note = self.render(status, account, parent, mention_rows, tags)
            if group is not None:
                note["audience"] = group["actor_id"]
            if media:
                note["attachment"] = [document_of(item) for item in media]
            if poll is not None:
                from outbox.polls import question_fields

                note.update(question_fields(poll))
            inboxes = await self._inboxes_for(
                connection, account, new.visibility, mention_rows, status["audience_id"]
            )
            body = await self._send(
                connection,
                account,
                lambda uri: build.build_create(uri, account["actor_id"], note),
                inboxes,
                public=False if new.visibility == "local" else None,
            )
            await connection.execute(
                "UPDATE statuses SET activity_uri = $2 WHERE id = $1", status["id"], body["id"]
            )
            # Imported here because outbox.groups imports this module.
            from outbox.groups import GroupActions

            local_mentions = [m["actor_id"] for m in mention_rows if m["domain"] is None]
            await GroupActions(self.runtime).announce_addressed(
                connection, status, account, local_mentions, body
            )
        return status

    def render(self, status: Any, account: Any, parent: Any, mentions: list[Any], tags: list[str]) -> dict:
        """Return the Note of a local status."""
        return render_note(
            status,
            actor_id=account["actor_id"],
            url=status["url"] or self.urls.status_page(account["username"], status["id"]),
            in_reply_to_uri=parent["uri"] if parent else status["in_reply_to_uri"],
            mentions=[(m["actor_id"], _handle(m, self.runtime.settings.domain)) for m in mentions],
            tags=[(name, self.urls.tag(name)) for name in tags],
        )

    async def _resolve_mentions(self, text: str) -> dict[tuple[str, str | None], Any]:
        found: dict[tuple[str, str | None], Any] = {}
        for username, host in text_format.find_mentions(text)[:50]:
            key = (username, host.lower() if host else None)
            try:
                if host is None or host.lower() == self.runtime.settings.domain:
                    row = await accounts.local_by_username(self.runtime.pool, username)
                else:
                    row = await self.runtime.resolver.actor_by_handle(username, host)
            except FederationError as error:
                log.info("mention @%s@%s not resolved: %s", username, host, error.message)
                row = None
            if row is not None and row["actor_type"] != "Application":
                found[key] = row
        return found

    async def _audience_group(self, account: Any, new: NewStatus) -> Any:
        """Return the group a group-only status goes to, or None for other levels.

        Raises ActionError(422) when the group is missing, unknown, or the
        author is neither a member nor a moderator of it.
        """
        if new.visibility != "group":
            if new.group_id is not None:
                raise ActionError(422, "Validation failed: group_id needs visibility group")
            return None
        if new.group_id is None:
            raise ActionError(422, "Validation failed: visibility group needs a group_id")
        group = await accounts.by_id(self.runtime.pool, new.group_id)
        if group is None or group["actor_type"] != "Group" or group["deleted_at"] is not None:
            raise ActionError(422, f"Validation failed: no group {new.group_id}")
        if not await self.runtime.pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM follows WHERE account_id = $1"
            " AND target_account_id = $2 AND accepted)"
            " OR EXISTS (SELECT 1 FROM group_moderators WHERE account_id = $1"
            " AND group_id = $2)",
            account["id"],
            group["id"],
        ):
            raise ActionError(
                422, f"Validation failed: you are not a member of group {new.group_id}"
            )
        return group

    async def _inboxes_for(
        self,
        connection: asyncpg.Connection,
        account: Any,
        visibility: str,
        mentioned: list[Any],
        audience_id: int | None = None,
    ) -> list[str]:
        """Return the inboxes a status of ``account`` goes to.

        ``audience_id`` is the group of a group-only status. A local-only
        status goes nowhere. A group-only status goes to the group's inbox when
        the group is remote (the group passes it on to its members, FEP-1b12),
        and to its remote members' inboxes when it is local.
        """
        if visibility == "local":
            return []
        if visibility == "group":
            group = None if audience_id is None else await accounts.by_id(connection, audience_id)
            if group is None:
                return []
            if group["domain"] is not None:
                return [group["shared_inbox_url"] or group["inbox_url"]]
            return await social.follower_inboxes(connection, group["id"])
        inboxes: list[str] = []
        if visibility != "direct":
            inboxes += await social.follower_inboxes(connection, account["id"])
        for row in mentioned:
            if row["domain"] is None:
                continue
            # Direct messages go to the personal inbox, as Mastodon sends them.
            shared = row["shared_inbox_url"] if visibility != "direct" else None
            inboxes.append(shared or row["inbox_url"])
        return inboxes

    async def _distribute_locally(
        self, connection: asyncpg.Connection, account: Any, status: Any, mentioned: list[Any]
    ) -> None:
        local_mentions = [m["id"] for m in mentioned if m["domain"] is None]
        if status["visibility"] == "group":
            # Members and moderators of the group only: a mention adds no reader.
            group_id = status["audience_id"]
            members = await social.local_follower_ids(connection, group_id)
            moderators = await connection.fetch(
                "SELECT account_id FROM group_moderators WHERE group_id = $1", group_id
            )
            readers = [account["id"], *members, *(m["account_id"] for m in moderators)]
            local_mentions = [m for m in local_mentions if m in readers]
        else:
            readers = [account["id"], *local_mentions]
        if status["visibility"] not in ("direct", "group"):
            readers += await social.local_follower_ids(connection, account["id"])
        if status["visibility"] == "public":
            readers += await tags.hashtag_follower_ids(connection, status["id"])
        await social.add_to_home_feeds(connection, status["id"], readers)
        for account_id in local_mentions:
            await social.notify(connection, account_id, "mention", account["id"], status["id"])

    async def delete_status(self, account: Any, status: Any) -> None:
        """Delete an own status and send Delete to everyone who received it."""
        if status["account_id"] != account["id"]:
            raise ActionError(403, "This action is not allowed")
        if status["object_type"] == "Event" and await self._delete_event(account, status):
            return
        async with accounts.transaction(self.runtime.pool) as connection:
            await statuses.mark_deleted(connection, status)
            if status["reblog_of_id"] is not None:
                await self._undo_reblog_activity(connection, account, status)
                return
            mentioned = await connection.fetch(
                "SELECT a.* FROM mentions m JOIN accounts a ON a.id = m.account_id"
                " WHERE m.status_id = $1",
                status["id"],
            )
            inboxes = await self._inboxes_for(
                connection, account, status["visibility"], mentioned, status["audience_id"]
            )
            if status["visibility"] != "local":
                inboxes += await self._interacting_inboxes(connection, status["id"])
            await self._send(
                connection,
                account,
                lambda uri: build.build_delete(
                    uri, account["actor_id"], status["uri"], list(status["to_uris"]), list(status["cc_uris"])
                ),
                inboxes,
                public=False if status["visibility"] == "local" else None,
            )

    async def _delete_event(self, account: Any, status: Any) -> bool:
        """Delete an event through EventActions, so that its participants and
        group hear of it too. Returns False when the status has no event row."""
        from outbox.events import EventActions
        from storage import events as event_store

        event = await event_store.by_status_id(self.runtime.pool, status["id"])
        if event is None:
            return False
        await EventActions(self.runtime).delete_event(account, event)
        return True

    async def _interacting_inboxes(self, connection: asyncpg.Connection, status_id: int) -> list[str]:
        # Servers that replied to or boosted a status hold copies of it too.
        rows = await connection.fetch(
            "SELECT DISTINCT coalesce(a.shared_inbox_url, a.inbox_url) AS inbox"
            " FROM statuses s JOIN accounts a ON a.id = s.account_id"
            " WHERE (s.in_reply_to_id = $1 OR s.reblog_of_id = $1) AND a.domain IS NOT NULL",
            status_id,
        )
        return [row["inbox"] for row in rows if row["inbox"]]

    # Favourites and boosts

    async def favourite(self, account: Any, status: Any) -> None:
        """Favourite a status; a remote author gets a Like."""
        author = await accounts.by_id(self.runtime.pool, status["account_id"])
        async with accounts.transaction(self.runtime.pool) as connection:
            activity_id = next_activity_id()
            uri = self.urls.activity(activity_id)
            added = await social.add_favourite(connection, account["id"], status["id"], uri)
            if added is None:
                return
            await statuses.bump_counter(connection, status["id"], "favourites_count", 1)
            if author["domain"] is None:
                await social.notify(connection, author["id"], "favourite", account["id"], status["id"])
                return
            body = build.build_like(uri, account["actor_id"], status["uri"], author["actor_id"])
            await store_activity(connection, activity_id=activity_id, uri=uri, account_id=account["id"], body=body)
            await enqueue_deliveries(connection, activity_id, [author["inbox_url"]], self.deadline)
        self.runtime.delivery_wakeup.set()

    async def unfavourite(self, account: Any, status: Any) -> None:
        """Remove a favourite; a remote author gets Undo(Like)."""
        author = await accounts.by_id(self.runtime.pool, status["account_id"])
        async with accounts.transaction(self.runtime.pool) as connection:
            removed = await social.remove_favourite(connection, account["id"], status["id"])
            if removed is None:
                return
            await statuses.bump_counter(connection, status["id"], "favourites_count", -1)
            if author["domain"] is None:
                await social.remove_notification(connection, author["id"], "favourite", account["id"], status["id"])
                return
            like = build.build_like(removed["uri"], account["actor_id"], status["uri"], author["actor_id"])
            await self._send(
                connection, account, lambda uri: build.build_undo(uri, account["actor_id"], like), [author["inbox_url"]]
            )

    async def reblog(self, account: Any, status: Any) -> asyncpg.Record:
        """Boost a public, unlisted or local-only status; followers and the
        author get Announce. The boost of a local-only status is local-only
        too, so its Announce is stored but neither delivered nor served."""
        if status["visibility"] not in ("public", "unlisted", "local"):
            raise ActionError(422, "Validation failed: this status cannot be boosted")
        local_only = status["visibility"] == "local"
        author = await accounts.by_id(self.runtime.pool, status["account_id"])
        async with accounts.transaction(self.runtime.pool) as connection:
            existing = await connection.fetchrow(
                "SELECT * FROM statuses WHERE account_id = $1 AND reblog_of_id = $2"
                " AND deleted_at IS NULL",
                account["id"],
                status["id"],
            )
            if existing is not None:
                return existing
            activity_id = next_activity_id()
            uri = self.urls.activity(activity_id)
            followers = self.urls.followers(account["username"])
            body = build.build_announce(
                uri, account["actor_id"], status["uri"], author["actor_id"], followers, iso(_now())
            )
            reblog = await statuses.insert(
                connection,
                uri=uri,
                account_id=account["id"],
                local=True,
                content="",
                visibility="local" if local_only else "public",
                to_uris=body["to"],
                cc_uris=body["cc"],
                reblog_of_id=status["id"],
                activity_uri=uri,
                status_id=activity_id,
            )
            await statuses.bump_counter(connection, status["id"], "reblogs_count", 1)
            readers = [account["id"], *await social.local_follower_ids(connection, account["id"])]
            await social.add_to_home_feeds(connection, reblog["id"], readers)
            inboxes = await social.follower_inboxes(connection, account["id"])
            if author["domain"] is None:
                await social.notify(connection, author["id"], "reblog", account["id"], status["id"])
            else:
                inboxes.append(author["shared_inbox_url"] or author["inbox_url"])
            if local_only:
                inboxes = []
            await store_activity(
                connection,
                activity_id=activity_id,
                uri=uri,
                account_id=account["id"],
                body=body,
                public=False if local_only else None,
            )
            await enqueue_deliveries(connection, activity_id, inboxes, self.deadline)
        self.runtime.delivery_wakeup.set()
        return reblog

    async def unreblog(self, account: Any, status: Any) -> None:
        """Remove a boost; its recipients get Undo(Announce)."""
        reblog = await self.runtime.pool.fetchrow(
            "SELECT * FROM statuses WHERE account_id = $1 AND reblog_of_id = $2 AND deleted_at IS NULL",
            account["id"],
            status["id"],
        )
        if reblog is None:
            return
        async with accounts.transaction(self.runtime.pool) as connection:
            await statuses.mark_deleted(connection, reblog)
            await self._undo_reblog_activity(connection, account, reblog)

    async def _undo_reblog_activity(self, connection: asyncpg.Connection, account: Any, reblog: Any) -> None:
        original = await statuses.by_id(connection, reblog["reblog_of_id"])
        author = await accounts.by_id(connection, original["account_id"]) if original else None
        if author is not None and author["domain"] is None:
            await social.remove_notification(connection, author["id"], "reblog", account["id"], original["id"])
        announce = await connection.fetchval("SELECT body FROM activities WHERE uri = $1", reblog["uri"])
        if announce is None or reblog["visibility"] == "local":
            return
        inboxes = await social.follower_inboxes(connection, account["id"])
        if author is not None and author["domain"] is not None:
            inboxes.append(author["shared_inbox_url"] or author["inbox_url"])
        await self._send(
            connection, account, lambda uri: build.build_undo(uri, account["actor_id"], announce), inboxes
        )

    def tombstone(self, status: Any) -> dict[str, Any]:
        return render_tombstone(status["uri"], status["deleted_at"])


async def _attach_media(
    connection: asyncpg.Connection, account: Any, status: Any, media_ids: list[int]
) -> list[Any]:
    """Attach the author's uploads to a new status; raise ActionError(422) if one
    is not an unattached upload of the author."""
    if not media_ids:
        return []
    from storage.media import MediaError, attach

    try:
        return await attach(connection, account["id"], status["id"], media_ids)
    except MediaError as error:
        raise ActionError(error.status, error.message) from None


def document_of(media: Any) -> dict[str, Any]:
    """Return the ActivityStreams Document of an attachment, as Mastodon sends it:
    alt text in ``name`` and the focal point in ``focalPoint``."""
    document: dict[str, Any] = {
        "type": "Document",
        "mediaType": media["mime_type"],
        "url": media["remote_url"],
        "name": media["description"] or None,
    }
    if media["focus_x"] is not None:
        document["focalPoint"] = [media["focus_x"], media["focus_y"]]
    if media["width"]:
        document["width"] = media["width"]
        document["height"] = media["height"]
    return document


def _keep_reply_within(new: NewStatus, parent: Any) -> None:
    """Narrow a reply to a local-only or group-only status to its parent's level.

    A public or unlisted reply to a local-only status becomes local-only, and
    a reply to a group-only status that is not direct goes to the same group,
    so that a reply does not carry a thread beyond the readers it had.
    """
    if parent["visibility"] == "local" and new.visibility in ("public", "unlisted"):
        new.visibility = "local"
    elif parent["visibility"] == "group" and new.visibility != "direct":
        new.visibility = "group"
        new.group_id = parent["audience_id"]


def _profile_url(account: Any) -> str | None:
    if account is None:
        return None
    return account["url"] or account["actor_id"]


def _handle(account: Any, local_domain: str) -> str:
    return f"@{account['username']}@{account['domain'] or local_domain}"


def _now() -> Any:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)
