"""Posts addressed to a local group (FEP-1b12): a member's post is announced by
the group to its members."""

import logging
from typing import Any

from actors.vocabulary import as_list, id_of, ids_of
from inbox.handlers import Context
from outbox.groups import GroupActions
from storage import accounts

log = logging.getLogger(__name__)


def addressed_ids(activity: dict[str, Any], obj: dict[str, Any]) -> list[str]:
    """Return the ids a Create and its object address: to, cc, audience and the
    hrefs of Mention tags.

    Mastodon names a mentioned group in the object's ``tag`` and ``cc``;
    FEP-1b12 servers name it in ``audience``; Lemmy also puts it in ``to``.
    """
    found: list[str] = []
    for document in (activity, obj):
        for key in ("to", "cc", "audience"):
            found += ids_of(document.get(key))
    for tag in as_list(obj.get("tag")):
        if isinstance(tag, dict) and tag.get("type") == "Mention":
            href = id_of(tag.get("href"))
            if href:
                found.append(href)
    return list(dict.fromkeys(found))


async def announce_to_groups(
    context: Context, obj: dict[str, Any], status: Any
) -> None:
    """Announce a newly stored status to the local groups it addresses."""
    addressed = [
        actor_id
        for actor_id in addressed_ids(context.activity, obj)
        if context.runtime.urls.is_local(actor_id)
    ]
    if not addressed:
        return
    author = await accounts.by_id(context.connection, status["account_id"])
    await GroupActions(context.runtime).announce_addressed(
        context.connection, status, author, addressed, context.activity
    )
