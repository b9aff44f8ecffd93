"""Groups (FEP-1b12): the fields a local Group actor adds to the actor document,
its moderators collection, and checks of the client's group input."""

import html
import re
from dataclasses import dataclass, field
from typing import Any

from actors.urls import LocalUrls
from actors.vocabulary import AS_CONTEXT

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_]{1,30}$")
MAX_DISPLAY_NAME = 100
MAX_DESCRIPTION = 2000
MAX_RULES = 5000
MAX_LABELS = 20
MAX_LABEL_LENGTH = 60


class InvalidGroup(ValueError):
    """Group input that cannot be stored; the message names the field."""


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
            raise InvalidGroup("name is missing")
        if not NAME_PATTERN.match(self.name):
            raise InvalidGroup(
                "name must be 1 to 30 letters, digits or underscores,"
                f" not {self.name[:40]!r}"
            )
        _check_length("display_name", self.display_name, MAX_DISPLAY_NAME)
        _check_length("description", self.description, MAX_DESCRIPTION)
        _check_length("rules", self.rules, MAX_RULES)
        self.subjects = _labels("subjects", self.subjects)
        self.grade_levels = _labels("grade_levels", self.grade_levels)


def _check_length(name: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise InvalidGroup(f"{name} is over {limit} characters")


def _labels(name: str, values: list[Any]) -> list[str]:
    # Stored lower-cased and without repeats, so the directory filter matches
    # whatever case the client sends.
    if len(values) > MAX_LABELS:
        raise InvalidGroup(f"{name} has over {MAX_LABELS} entries")
    labels: list[str] = []
    for value in values:
        if not isinstance(value, str) or not value.strip():
            raise InvalidGroup(f"{name} entries must be non-empty strings")
        label = value.strip().lower()
        if len(label) > MAX_LABEL_LENGTH:
            raise InvalidGroup(f"{name} entry {label[:40]!r} is over 60 characters")
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
