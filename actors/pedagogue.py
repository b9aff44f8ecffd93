"""Pedagogue's own JSON-LD terms: mentorship offers and teacher profile data.

The terms are defined in ``federation/contexts/pedagogue.jsonld`` under one
namespace IRI, NAMESPACE, the same on every instance. Documents carry that
context inline, so a receiver never has to fetch it; each instance also serves
the same file at ``/ns/pedagogue.jsonld``. A received object is read through
JSON-LD compaction against that context (``compact_terms``), so a peer may
bind the namespace to any prefix, or write full IRIs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from actors.vocabulary import CONTEXT, first_id, has_type, text_value
from federation import jsonld

CONTEXT_FILE = "pedagogue.jsonld"
# The vocabulary's namespace IRI, the same on every instance, so that a term
# means one thing wherever it comes from. An instance-specific IRI would make
# every instance's terms different properties. It is an identifier, never
# fetched; docs/FEDERATION.md lists the terms.
# NOTE: nothing is served at this IRI; each instance serves the context at
# /ns/pedagogue.jsonld instead.
NAMESPACE = "https://pedagogue.social/ns#"
MENTORED_BY = f"{NAMESPACE}mentoredBy"
MAX_LIST_ITEMS = 20
MAX_ITEM_LENGTH = 100
MAX_FIELDS = 8


@cache
def context_document() -> dict[str, Any]:
    """Return the bundled context document, ``{"@context": {...}}``."""
    text = resources.files("federation").joinpath("contexts", CONTEXT_FILE).read_text()
    return json.loads(text)


def full_context() -> list[Any]:
    """Return the ``@context`` of documents that use Pedagogue terms."""
    return [*CONTEXT, context_document()["@context"]]


def compact_terms(document: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Return a received object with its terms named as in our context.

    The object is compacted with JSON-LD against ``full_context()``, so
    ``ped:Mentorship`` or a full IRI becomes ``Mentorship``. ``context`` is
    the enclosing activity's ``@context``, for an embedded object without its
    own. The object is returned unchanged when it has no context or names one
    that is not bundled, or is not valid JSON-LD.
    """
    source = document
    if "@context" not in document and context is not None:
        source = {"@context": context, **document}
    if "@context" not in source:
        return document
    try:
        compacted = jsonld.compact(source, full_context())
    except (jsonld.ContextNotBundled, jsonld.InvalidJsonLd):
        return document
    compacted.pop("@context", None)
    return compacted


def own_term_names() -> frozenset[str]:
    """Return the names our context defines for terms, without its prefixes."""
    context = context_document()["@context"]
    return frozenset(
        name
        for name, definition in context.items()
        if not (isinstance(definition, str) and definition.endswith(("#", "/")))
    )


def with_own_terms(document: dict[str, Any]) -> dict[str, Any]:
    """Return a received document with Pedagogue terms added under our names.

    A sender that binds the namespace to another prefix, or writes full IRIs,
    has keys with a colon; only then is the document compacted, and only our
    terms are copied from the result. Other keys stay as they were, because
    compaction also renames terms of other vocabularies that callers read by
    the sender's names.
    """
    if not any(":" in key for key in document if isinstance(key, str)):
        return document
    compacted = compact_terms(document)
    found = {
        name: compacted[name]
        for name in own_term_names()
        if name in compacted and name not in document
    }
    return {**document, **found} if found else document


def clean_list(value: Any) -> list[str]:
    """Return the strings of a remote list value, trimmed and bounded."""
    items = value if isinstance(value, list) else [value]
    cleaned = []
    for item in items[:MAX_LIST_ITEMS]:
        if isinstance(item, str) and item.strip():
            cleaned.append(item.strip()[:MAX_ITEM_LENGTH])
    return cleaned


# Mentorship


def render_mentorship(
    uri: str, mentee_id: str, mentor_id: str, message: str, subjects: list[str]
) -> dict[str, Any]:
    """Return the Mentorship object offered by the mentee to the mentor.

    It is an ActivityStreams Relationship in shape: ``subject`` (the mentee) is
    ``mentoredBy`` the ``object`` (the mentor).
    """
    return {
        "id": uri,
        "type": "Mentorship",
        "subject": mentee_id,
        "relationship": MENTORED_BY,
        "object": mentor_id,
        "content": message,
        "teachingSubjects": subjects,
    }


def render_offer(
    activity_id: str, mentee_id: str, mentor_id: str, mentorship: dict[str, Any]
) -> dict[str, Any]:
    """Return the Offer of a mentorship, addressed to the mentor alone."""
    return {
        "@context": full_context(),
        "id": activity_id,
        "type": "Offer",
        "actor": mentee_id,
        "object": mentorship,
        "target": mentor_id,
        "to": [mentor_id],
    }


class InvalidOffer(ValueError):
    """A received Offer that is not a usable mentorship offer."""


@dataclass
class RemoteOffer:
    """The fields of a received mentorship Offer."""

    offer_id: str
    mentorship_id: str
    mentee_id: str
    mentor_id: str
    message: str
    subjects: list[str] = field(default_factory=list)


def is_mentorship(document: Any) -> bool:
    """Return True for a Mentorship object, by type or by its relationship."""
    if not isinstance(document, dict):
        return False
    if has_type(document, "Mentorship", "pdg:Mentorship", f"{NAMESPACE}Mentorship"):
        return True
    return has_type(document, "Relationship") and first_id(
        document.get("relationship")
    ) in (MENTORED_BY, "pdg:mentoredBy", "mentoredBy")


def parse_offer(activity: dict[str, Any], sender_id: str) -> RemoteOffer:
    """Read a mentorship Offer; raise InvalidOffer naming what is wrong.

    The mentee (``subject``) must be the sender, and ``target`` (when present)
    must be the mentor the object names. The object's terms are read after
    compaction (``compact_terms``), whatever prefix the sender used.
    """
    offer_id = first_id(activity)
    obj = activity.get("object")
    if isinstance(obj, dict):
        obj = compact_terms(obj, activity.get("@context"))
    if not offer_id:
        raise InvalidOffer("Offer has no id")
    if not is_mentorship(obj):
        raise InvalidOffer(f"Offer {offer_id} does not offer a Mentorship")
    mentorship_id = first_id(obj)
    mentee = first_id(obj.get("subject"))
    mentor = first_id(obj.get("object"))
    target = first_id(activity.get("target"))
    if not mentorship_id or not mentee or not mentor:
        raise InvalidOffer(f"Mentorship of {offer_id} lacks id, subject or object")
    if mentee != sender_id:
        raise InvalidOffer(f"Mentorship subject {mentee} is not the sender")
    if target is not None and target != mentor:
        raise InvalidOffer(f"Offer target {target} is not the mentor {mentor}")
    return RemoteOffer(
        offer_id=offer_id,
        mentorship_id=mentorship_id,
        mentee_id=mentee,
        mentor_id=mentor,
        message=text_value(obj, "content")[:5000],
        subjects=clean_list(obj.get("teachingSubjects", [])),
    )


# Teacher profiles


def render_profile_terms(account: Any) -> dict[str, Any]:
    """Return the Pedagogue profile properties of a local teacher's actor."""
    terms: dict[str, Any] = {
        "teachingSubjects": list(account["subjects"]),
        "gradeLevels": list(account["grade_levels"]),
    }
    for key, column in (
        ("school", "school"),
        ("teacherRole", "teacher_role"),
        ("pronouns", "pronouns"),
    ):
        if account[column]:
            terms[key] = account[column]
    return terms


def render_attachment(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return profile fields as ``PropertyValue`` items (Mastodon's form)."""
    return [
        {"type": "PropertyValue", "name": item["name"], "value": item["value"]}
        for item in fields
    ]


def parse_attachment(document: dict[str, Any]) -> list[dict[str, str]]:
    """Return the ``PropertyValue`` items of an actor as raw name/value pairs.

    The values are remote HTML; the caller sanitises them before storing.
    """
    attachment = document.get("attachment")
    items = attachment if isinstance(attachment, list) else [attachment]
    found = []
    for item in items:
        if not has_type(item, "PropertyValue"):
            continue
        name, value = item.get("name"), item.get("value")
        if isinstance(name, str) and isinstance(value, str):
            found.append({"name": name[:255], "value": value[:2048]})
    return found[:MAX_FIELDS]
