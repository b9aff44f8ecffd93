"""Visibility levels and their addressing, as Mastodon maps them to ``to``/``cc``."""

from actors.vocabulary import PUBLIC, PUBLIC_FORMS

VISIBILITIES = ("public", "unlisted", "private", "direct")


def addressing(
    visibility: str, followers_url: str, mentioned: list[str]
) -> tuple[list[str], list[str]]:
    """Return (to, cc) for a local status of the given visibility.

    public: to Public, cc followers. unlisted: to followers, cc Public.
    private: to followers. direct: to the mentioned actors only. Mentioned
    actors are always addressed so that their servers deliver to them.
    """
    if visibility == "public":
        return [PUBLIC], [followers_url, *mentioned]
    if visibility == "unlisted":
        return [followers_url], [PUBLIC, *mentioned]
    if visibility == "private":
        return [followers_url], list(mentioned)
    if visibility == "direct":
        return list(mentioned), []
    raise ValueError(f"unknown visibility {visibility!r}")


def visibility_of(to: list[str], cc: list[str], followers_url: str | None) -> str:
    """Infer the visibility of a received object from its addressing."""
    if PUBLIC_FORMS.intersection(to):
        return "public"
    if PUBLIC_FORMS.intersection(cc):
        return "unlisted"
    recipients = set(to) | set(cc)
    if followers_url and followers_url in recipients:
        return "private"
    # Some servers address followers without naming the collection we stored;
    # any collection-looking URL counts as followers-only rather than direct.
    if any(url.endswith("/followers") for url in recipients):
        return "private"
    return "direct"
