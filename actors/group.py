"""Groups (FEP-1b12): the fields a local Group actor adds to the actor document,
its moderators collection, the moderation activities a group sends, and checks
of the client's group input."""

import html
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from actors.lesson_plan import InvalidPlan, parse_grade_level
from actors.urls import LocalUrls
from actors.vocabulary import AS_CONTEXT, CONTEXT, PUBLIC, id_of, ids_of

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_]{1,30}$")
MAX_DISPLAY_NAME = 100
MAX_DESCRIPTION = 2000
MAX_RULES = 5000
MAX_LABELS = 20
MAX_LABEL_LENGTH = 60


class InvalidGroup(ValueError):
    """Group input that cannot be stored, with the name of the field at fault."""

    def __init__(self, message: str, field_name: str | None = None) -> None:
        super().__init__(message)
        self.field = field_name


@dataclass
class GroupInput:
    """A new group as the client API receives it."""

    name: str
    display_name: str = ""
    description: str = ""
    rules: str = ""
    subjects: list[str] = field(default_factory=list)
    grade_levels: list[str] = field(default_factory=list)
    approval_required: bool = False

    def validate(self) -> None:
        """Raise InvalidGroup naming the first field that is missing or too long."""
        if not self.name:
            raise InvalidGroup("name is missing", "name")
        if not NAME_PATTERN.match(self.name):
            raise InvalidGroup(
                "name must be 1 to 30 letters, digits or underscores,"
                f" not {self.name[:40]!r}",
                "name",
            )
        _check_length("display_name", self.display_name, MAX_DISPLAY_NAME)
        if any(unicodedata.category(char) == "Cc" for char in self.display_name):
            raise InvalidGroup(
                "display_name must be a single line without control characters",
                "display_name",
            )
        _check_length("description", self.description, MAX_DESCRIPTION)
        _check_length("rules", self.rules, MAX_RULES)
        self.subjects = _labels("subjects", self.subjects)
        self.grade_levels = [
            _grade_level(label) for label in _labels("grade_levels", self.grade_levels)
        ]
        self.grade_levels = list(dict.fromkeys(self.grade_levels))


def _check_length(name: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise InvalidGroup(f"{name} is over {limit} characters", name)


def _grade_level(label: str) -> str:
    # Lesson plans, mentor offers and profiles accept the same grade levels.
    try:
        stored, _ = parse_grade_level(label)
    except InvalidPlan as error:
        raise InvalidGroup(f"grade_levels: {error.message}", "grade_levels") from None
    return stored.lower()


def _labels(name: str, values: list[Any]) -> list[str]:
    # Stored lower-cased and without repeats, so the directory filter matches
    # whatever case the client sends.
    if len(values) > MAX_LABELS:
        raise InvalidGroup(f"{name} has over {MAX_LABELS} entries", name)
    labels: list[str] = []
    for value in values:
        if not isinstance(value, str) or not value.strip():
            raise InvalidGroup(f"{name} entries must be non-empty strings", name)
        label = value.strip().lower()
        if len(label) > MAX_LABEL_LENGTH:
            raise InvalidGroup(
                f"{name} entry {label[:40]!r} is over 60 characters", name
            )
        if label not in labels:
            labels.append(label)
    return labels


def description_html(description: str) -> str:
    """Return the actor summary for a plain-text description: escaped paragraphs."""
    paragraphs = [part.strip() for part in description.split("\n\n") if part.strip()]
    return "".join(
        f"<p>{html.escape(part).replace(chr(10), '<br>')}</p>" for part in paragraphs
    )


def moderators_url(urls: LocalUrls, username: str) -> str:
    return f"{urls.actor(username)}/moderators"


def add_group_fields(
    document: dict[str, Any], urls: LocalUrls, username: str
) -> dict[str, Any]:
    """Add the FEP-1b12 fields of a local group to its rendered actor document.

    Moderators are listed in the collection that ``attributedTo`` names
    (FEP-1b12, group moderation).
    """
    document["attributedTo"] = moderators_url(urls, username)
    return document


def render_moderators(collection_id: str, actor_ids: list[str]) -> dict[str, Any]:
    """Return the moderators collection of a group (FEP-1b12)."""
    return {
        "@context": AS_CONTEXT,
        "id": collection_id,
        "type": "OrderedCollection",
        "totalItems": len(actor_ids),
        "orderedItems": actor_ids,
    }


# Maximum number of moderators read from a remote group's collection. Lemmy
# lists a community's moderators in one page, and a longer list is cut here.
MAX_REMOTE_MODERATORS = 50


def moderator_ids(collection: Any) -> list[str]:
    """Return the actor ids a moderators collection lists, first page only.

    Accepts an OrderedCollection or Collection with its items inline, as
    Lemmy and Pedagogue serve it, or a bare list of ids.
    """
    items: Any = None
    if isinstance(collection, list):
        items = collection
    elif isinstance(collection, dict):
        items = collection.get("orderedItems", collection.get("items"))
        if items is None and isinstance(collection.get("first"), dict):
            first = collection["first"]
            items = first.get("orderedItems", first.get("items"))
    found = [item for item in ids_of(items) if item.startswith(("https://", "http://"))]
    return list(dict.fromkeys(found))[:MAX_REMOTE_MODERATORS]


def build_moderator_delete(
    activity_id: str, moderator_id: str, object_id: str, group_id: str
) -> dict[str, Any]:
    """Return a moderator's Delete of a post in a group, shaped as Lemmy sends one.

    The group wraps it in an Announce. FEP-1b12 receivers must check that the
    actor is listed in the group's moderators collection, and Lemmy reads a
    Delete whose actor is not the post's author as a removal from the group.
    """
    return {
        "@context": CONTEXT,
        "id": activity_id,
        "type": "Delete",
        "actor": moderator_id,
        "object": object_id,
        "to": [PUBLIC],
        "cc": [group_id],
        "audience": group_id,
    }


def build_group_announce(
    activity_id: str,
    group_id: str,
    followers: str,
    activity: dict[str, Any],
    extra_recipients: list[str],
) -> dict[str, Any]:
    """Return the group's Announce of an activity, the activity embedded whole."""
    embedded = {key: value for key, value in activity.items() if key != "@context"}
    return {
        "@context": CONTEXT,
        "id": activity_id,
        "type": "Announce",
        "actor": group_id,
        "object": embedded,
        "to": [PUBLIC],
        "cc": [followers, *extra_recipients],
        "audience": group_id,
    }


def build_rejected_create(
    activity_id: str, group_id: str, create: dict[str, Any], reason: str
) -> dict[str, Any]:
    """Return the group's Reject of a Create it will not announce (FEP-1b12).

    The Create is embedded with its id, type, actor and object id only: enough
    for the author's server to tell it from a Reject of a Follow, without
    sending the post back.
    """
    author = id_of(create.get("actor"))
    rejected = {
        "id": id_of(create),
        "type": "Create",
        "actor": author,
        "object": id_of(create.get("object")),
    }
    return {
        "@context": CONTEXT,
        "id": activity_id,
        "type": "Reject",
        "actor": group_id,
        "object": rejected,
        "to": [author],
        "summary": reason,
    }


def render_group_update(
    document: dict[str, Any], activity_id: str, followers: str
) -> dict[str, Any]:
    """Return an Update of a local group's actor document, to its members."""
    group = {key: value for key, value in document.items() if key != "@context"}
    return {
        "@context": document.get("@context", CONTEXT),
        "id": activity_id,
        "type": "Update",
        "actor": group["id"],
        "object": group,
        "to": [PUBLIC],
        "cc": [followers],
    }
