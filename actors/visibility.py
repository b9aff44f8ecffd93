"""Visibility levels and their addressing, as Mastodon maps them to ``to``/``cc``.

Pedagogue adds two levels to Mastodon's four. ``local`` is addressed like
``public`` but never leaves this instance: no delivery, no remote fetch, no
outbox entry. ``group`` is addressed to a group's members collection and the
group actor, with the group as the ActivityStreams ``audience`` (FEP-1b12).
"""

from actors.vocabulary import PUBLIC, PUBLIC_FORMS

VISIBILITIES = ("public", "unlisted", "private", "direct", "local", "group")


def addressing(
    visibility: str,
    followers_url: str,
    mentioned: list[str],
    group: tuple[str, str] | None = None,
) -> tuple[list[str], list[str]]:
    """Return (to, cc) for a local status of the given visibility.

    public and local: to Public, cc followers. unlisted: to followers, cc
    Public. private: to followers. direct: to the mentioned actors only.
    group: to the group's members collection, cc the group actor; ``group`` is
    (group actor id, members collection URL) and required for that level.
    Mentioned actors are addressed at every level but group, so that their
    servers deliver to them; a group-only status reaches the group alone.
    Raises ValueError for an unknown level or a group level without a group.
    """
    if visibility in ("public", "local"):
        return [PUBLIC], [followers_url, *mentioned]
    if visibility == "unlisted":
        return [followers_url], [PUBLIC, *mentioned]
    if visibility == "private":
        return [followers_url], list(mentioned)
    if visibility == "direct":
        return list(mentioned), []
    if visibility == "group":
        if group is None:
            raise ValueError("a group-only status needs a group")
        group_actor_id, members_url = group
        return [members_url], [group_actor_id]
    raise ValueError(f"unknown visibility {visibility!r}")


def visibility_of(
    to: list[str],
    cc: list[str],
    followers_url: str | None,
    group: tuple[str, str] | None = None,
) -> str:
    """Infer the visibility of a received object from its addressing.

    ``group`` is (group actor id, members collection URL) of a known group
    that the object names in ``audience`` (FEP-1b12) or addresses through its
    members collection. A non-public object addressed to that collection is
    group-only. One addressed to the group actor is group-only unless it is
    addressed to the author's followers too, because making it group-only
    would hide it from followers who are not members.
    """
    if PUBLIC_FORMS.intersection(to):
        return "public"
    if PUBLIC_FORMS.intersection(cc):
        return "unlisted"
    recipients = set(to) | set(cc)
    if group is not None and group[1] in recipients:
        return "group"
    if followers_url and followers_url in recipients:
        return "private"
    if group is not None and group[0] in recipients:
        return "group"
    # Some servers address followers without naming the collection we stored;
    # any collection-looking URL counts as followers-only rather than direct.
    if any(url.endswith("/followers") for url in recipients):
        return "private"
    return "direct"
