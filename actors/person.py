"""Teachers and the instance actor: their ActivityStreams form, and remote actors."""

from dataclasses import dataclass, field
from typing import Any

from actors import pedagogue
from actors.mentoring import MentoringTerms, parse_mentoring
from actors.urls import LocalUrls
from actors.vocabulary import (
    CONTEXT,
    as_list,
    first_id,
    http_url,
    id_of,
    is_http_id,
    text_value,
)
from federation.hosts import url_authority
from federation.sanitize import plain_text, sanitize_html

ACTOR_TYPES = frozenset({"Person", "Service", "Application", "Group", "Organization"})


class InvalidActor(ValueError):
    """A remote actor document that cannot be used."""


# movedTo is not in the ActivityStreams context; Mastodon defines it this way.
MOVED_TO_CONTEXT = {"movedTo": {"@id": "as:movedTo", "@type": "@id"}}


def render_person(
    account: Any,
    public_key_pem: str,
    urls: LocalUrls,
    mentoring: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the actor document of a local teacher.

    ``mentoring`` is the teacher's offer from ``actors.mentoring.render_mentoring``.
    """
    username = account["username"]
    actor_id = urls.actor(username)
    document: dict[str, Any] = {
        "@context": pedagogue.full_context(),
        "id": actor_id,
        "type": account["actor_type"],
        "preferredUsername": username,
        "name": account["display_name"] or username,
        "summary": account["summary"],
        "url": urls.profile(username),
        "inbox": urls.inbox(username),
        "outbox": urls.outbox(username),
        "followers": urls.followers(username),
        "following": urls.following(username),
        "endpoints": {"sharedInbox": urls.shared_inbox},
        "manuallyApprovesFollowers": account["manually_approves_followers"],
        "discoverable": account.get("discoverable", True),
        # Pinned statuses, served by web.api_statuses.featured_collection.
        "featured": f"{actor_id}/collections/featured",
        "published": account["created_at"].strftime("%Y-%m-%dT%H:%M:%SZ"),
        "publicKey": {
            "id": urls.key(username),
            "owner": actor_id,
            "publicKeyPem": public_key_pem,
        },
    }
    if account["icon_url"]:
        document["icon"] = {"type": "Image", "url": account["icon_url"]}
    if account["header_url"]:
        document["image"] = {"type": "Image", "url": account["header_url"]}
    if account["fields"]:
        document["attachment"] = pedagogue.render_attachment(account["fields"])
    document.update(pedagogue.render_profile_terms(account))
    if mentoring is not None:
        document["mentoring"] = mentoring
    # Account migration, as Mastodon 4 publishes it: the aliases let another
    # account move here, and movedTo names where this one went.
    if account.get("also_known_as"):
        document["alsoKnownAs"] = list(account["also_known_as"])
    if account.get("moved_to_actor_id"):
        document["movedTo"] = account["moved_to_actor_id"]
        document["@context"] = [*document["@context"], MOVED_TO_CONTEXT]
    return document


def render_instance_actor(public_key_pem: str, urls: LocalUrls, domain: str) -> dict:
    """Return the instance actor, the Application that signs the instance's fetches."""
    actor_id = urls.instance_actor
    return {
        "@context": CONTEXT,
        "id": actor_id,
        "type": "Application",
        "preferredUsername": domain,
        "name": domain,
        "url": f"{urls.base}/about",
        "inbox": f"{actor_id}/inbox",
        "outbox": f"{actor_id}/outbox",
        "endpoints": {"sharedInbox": urls.shared_inbox},
        "manuallyApprovesFollowers": True,
        "publicKey": {
            "id": urls.instance_key,
            "owner": actor_id,
            "publicKeyPem": public_key_pem,
        },
    }


@dataclass
class RemoteActor:
    """The fields of a remote actor document that the instance stores."""

    actor_id: str
    actor_type: str
    username: str
    domain: str
    display_name: str
    summary: str
    inbox_url: str
    shared_inbox_url: str | None
    outbox_url: str | None
    followers_url: str | None
    following_url: str | None
    url: str | None
    icon_url: str | None
    manually_approves_followers: bool
    keys: list[tuple[str, str]] = field(default_factory=list)
    # Profile data; field values are sanitised HTML.
    fields: list[dict[str, Any]] = field(default_factory=list)
    header_url: str | None = None
    subjects: list[str] = field(default_factory=list)
    grade_levels: list[str] = field(default_factory=list)
    school: str = ""
    teacher_role: str = ""
    pronouns: str = ""
    mentoring: MentoringTerms | None = None


def _keys_of(document: dict[str, Any], actor_id: str) -> list[tuple[str, str]]:
    # publicKey is an object for most servers and an array for a few; a key
    # whose owner is another actor is ignored.
    keys = []
    for key in as_list(document.get("publicKey")):
        if not isinstance(key, dict):
            continue
        key_id, pem = key.get("id"), key.get("publicKeyPem")
        owner = id_of(key.get("owner")) or actor_id
        if isinstance(key_id, str) and isinstance(pem, str) and owner == actor_id:
            keys.append((key_id, pem))
    return keys


def _required_url(document: dict[str, Any], key: str) -> str:
    value = id_of(document.get(key))
    if not is_http_id(value):
        raise InvalidActor(f"actor {key} missing or not an http(s) URL")
    return value


def parse_actor(document: Any, fetched_from: str | None = None) -> RemoteActor:
    """Read a remote actor document; raise InvalidActor when it is unusable.

    When ``fetched_from`` is given, the document's id must be on the same host,
    so that a server cannot hand out actors in another server's name.
    """
    if not isinstance(document, dict):
        raise InvalidActor("actor document is not a JSON object")
    document = pedagogue.with_own_terms(document)
    actor_id = _required_url(document, "id")
    domain = url_authority(actor_id)
    if fetched_from and url_authority(fetched_from) != domain:
        raise InvalidActor(f"actor {actor_id} was served by another host")
    types = [t for t in as_list(document.get("type")) if t in ACTOR_TYPES]
    if not types:
        raise InvalidActor(f"{actor_id} is not an actor type")
    endpoints = document.get("endpoints")
    shared = id_of(endpoints.get("sharedInbox")) if isinstance(endpoints, dict) else None
    username = document.get("preferredUsername")
    if not isinstance(username, str) or not username.strip():
        username = actor_id.rstrip("/").rsplit("/", 1)[-1]
    icon = document.get("icon")
    if isinstance(icon, list):
        icon = icon[0] if icon else None
    image = document.get("image")
    if isinstance(image, list):
        image = image[0] if image else None
    return RemoteActor(
        actor_id=actor_id,
        actor_type=types[0],
        username=username.strip()[:255],
        domain=domain,
        # Literal text, escaped where it is shown: a name is not HTML, and
        # stripping tags would change "<3 maths" for every reader. Every path
        # that stores an actor, the fetch and Update(Person), reads it here.
        display_name=text_value(document, "name")[:255],
        # Sanitised here because every path that stores an actor, the key
        # fetch included, parses it with this function.
        summary=sanitize_html(text_value(document, "summary"), object_id=actor_id),
        inbox_url=_required_url(document, "inbox"),
        shared_inbox_url=shared,
        outbox_url=id_of(document.get("outbox")),
        followers_url=id_of(document.get("followers")),
        following_url=id_of(document.get("following")),
        url=http_url(first_id(document.get("url"))),
        icon_url=http_url(first_id(icon.get("url"))) if isinstance(icon, dict) else None,
        manually_approves_followers=document.get("manuallyApprovesFollowers") is True,
        keys=_keys_of(document, actor_id),
        fields=[
            {
                "name": plain_text(item["name"]),
                "value": sanitize_html(item["value"]),
                "verified_at": None,
            }
            for item in pedagogue.parse_attachment(document)
        ],
        header_url=http_url(first_id(image.get("url"))) if isinstance(image, dict) else None,
        subjects=pedagogue.clean_list(document.get("teachingSubjects", [])),
        grade_levels=pedagogue.clean_list(document.get("gradeLevels", [])),
        school=_short_text(document, "school"),
        teacher_role=_short_text(document, "teacherRole"),
        pronouns=_short_text(document, "pronouns"),
        mentoring=parse_mentoring(document),
    )


def _short_text(document: dict[str, Any], key: str) -> str:
    value = document.get(key)
    return plain_text(value)[:200] if isinstance(value, str) else ""
