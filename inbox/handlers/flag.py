"""Flag: a report from another instance about local accounts and posts."""

import logging

from actors.vocabulary import as_list, first_id
from inbox.handlers import Context, Ignored
from storage import accounts, moderation, statuses

log = logging.getLogger(__name__)

MAX_COMMENT = 1000
# Objects read from one Flag; Mastodon sends the account and the posts chosen.
MAX_OBJECTS = 50
# Flags stored per remote actor in FLAG_WINDOW_SECONDS; further ones are
# ignored, so that one actor cannot flood the moderation queue.
MAX_FLAGS_PER_WINDOW = 5
FLAG_WINDOW_SECONDS = 3600


async def handle_flag(context: Context) -> None:
    """Store a Flag as a report on the first local account it names.

    Posts it names count when they belong to that account. Raises Ignored
    when the sender's domain is blocked with reject_reports, or the Flag
    names no local account.
    """
    if await context.runtime.domain_policy.rejects_reports(context.actor_id):
        raise Ignored(f"Flag from {context.actor_id}, whose domain's reports are rejected")
    urls = context.runtime.urls
    named = [first_id(item) for item in as_list(context.object)[:MAX_OBJECTS]]
    local = [uri for uri in named if uri and urls.is_local(uri)]
    target = None
    status_ids = []
    found = []
    for uri in local:
        status = await statuses.by_uri(context.connection, uri)
        if status is not None:
            found.append(status)
            continue
        account = await accounts.by_actor_id(context.connection, uri)
        if target is None and account is not None and account["actor_type"] == "Person":
            target = account
    if target is None and found:
        target = await accounts.by_id(context.connection, found[0]["account_id"])
    if target is None or target["domain"] is not None:
        raise Ignored(f"Flag {context.activity_id} names no local account")
    status_ids = [row["id"] for row in found if row["account_id"] == target["id"]]
    content = context.activity.get("content")
    comment = content[:MAX_COMMENT] if isinstance(content, str) else ""
    sender = await context.actor()
    await _check_flag_rate(context, sender["id"])
    report = await moderation.create_report(
        context.connection,
        account_id=sender["id"],
        target_account_id=target["id"],
        status_ids=status_ids,
        comment=comment,
        category="other",
        rule_ids=[],
        forwarded=False,
        uri=context.activity_id,
    )
    log.info(
        "Flag %s from %s on %s stored as report %s",
        context.activity_id,
        context.actor_id,
        target["actor_id"],
        report["id"] if report else "(already stored)",
    )


async def _check_flag_rate(context: Context, sender_id: int) -> None:
    """Raise Ignored when the sender had MAX_FLAGS_PER_WINDOW reports stored
    in the last FLAG_WINDOW_SECONDS."""
    # Locking the sender's row makes parallel inbox workers count one Flag
    # after the other, so a burst cannot pass the limit.
    await context.connection.execute(
        "SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE", sender_id
    )
    recent = await context.connection.fetchval(
        "SELECT count(*) FROM reports WHERE account_id = $1"
        " AND created_at > now() - make_interval(secs => $2)",
        sender_id,
        float(FLAG_WINDOW_SECONDS),
    )
    if recent >= MAX_FLAGS_PER_WINDOW:
        raise Ignored(
            f"Flag {context.activity_id} from {context.actor_id}: over the limit of"
            f" {MAX_FLAGS_PER_WINDOW} reports per {FLAG_WINDOW_SECONDS} seconds"
        )
