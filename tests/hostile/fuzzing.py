"""Hypothesis strategies for inbox fuzzing: random and mutated activities.

``random_activities`` builds ActivityStreams-shaped documents from the
vocabulary the handlers read. ``mutated_activities`` takes a peer-server
fixture and drops, duplicates or retypes fields, puts huge or odd strings in
them (NUL, lone surrogates, control and bidirectional characters) and nests
objects in objects.

Every URL in a generated document is confined to the hosts the test serves
(see ``confine``), so the instance under test never resolves or connects to
any other host, whatever the mutation put where.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

from hypothesis import strategies as st

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
ACTIVITY_TYPES = (
    "Create", "Update", "Delete", "Follow", "Accept", "Reject", "Undo", "Like",
    "Announce", "Block", "Flag", "Join", "Leave", "Offer", "Add", "Remove",
    "Move", "EmojiReact", "Question",
)  # fmt: skip
OBJECT_TYPES = (
    "Note", "Article", "Page", "Question", "Event", "Video", "Image", "Document",
    "Tombstone", "Person", "Group", "Service", "Collection", "OrderedCollection",
    "Hashtag", "Mention", "Place", "LessonPlan", "Relationship",
)  # fmt: skip
OBJECT_FIELDS = (
    "id", "type", "attributedTo", "content", "contentMap", "name", "summary",
    "published", "updated", "inReplyTo", "url", "to", "cc", "bto", "bcc",
    "audience", "tag", "attachment", "sensitive", "startTime", "endTime",
    "location", "mediaType", "href", "object", "target", "context", "quoteUrl",
    "oneOf", "anyOf", "icon", "image", "preferredUsername", "inbox", "followers",
)  # fmt: skip
ADDRESSING = ("to", "cc", "bto", "bcc", "audience")
# The Public collection's URL is kept only in these fields, where the handlers
# compare it as text and fetch nothing. Elsewhere it is rewritten like any URL.
PUBLIC_KEEPERS = ("to", "cc")

_URL = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*)://([^/?#\s\"'<>\\]*)")
_HANDLE = re.compile(r"@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?::\d+)?)")

ODD_STRINGS = (
    "",
    " ",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "\u202eevil\u202c",
    "\u200b\ufeff",
    "\r\n\t",
    "😀" * 50,
    "null",
    "[]",
    "{}",
    "<p>",
    "</p></div></body>",
    "%s%n%x",
    "../../etc/passwd",
    "' OR 1=1 --",
    "\\u0000",
    "2024-13-45T99:99:99Z",
    "-1",
    "1e400",
)


def walk_paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Yield the path (keys and list indexes) of every member below ``value``."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from walk_paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from walk_paths(item, (*prefix, index))


def _parent(document: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        document = document[step]
    return document


class Confinement:
    """The hosts a fuzzed document may name, and the host that replaces others."""

    def __init__(self, allowed_hosts: set[str], replacement_host: str) -> None:
        self.allowed = {host.lower() for host in allowed_hosts}
        self.replacement = replacement_host

    def text(self, text: str, *, keeps_public: bool) -> str:
        if keeps_public and text == PUBLIC:
            return text

        def url(match: re.Match[str]) -> str:
            if match.group(2).lower() in self.allowed:
                return match.group(0)
            return f"https://{self.replacement}"

        def handle(match: re.Match[str]) -> str:
            if match.group(1).lower() in self.allowed:
                return match.group(0)
            return f"@{self.replacement}"

        return _HANDLE.sub(handle, _URL.sub(url, text))

    def confine(self, value: Any, key: Any = None, *, top: bool = True) -> Any:
        """Return ``value`` with every URL and handle on another host rewritten.

        The activity's own ``@context`` is left alone, because the instance
        reads bundled contexts and fetches none. Rewritten contexts would only
        hide the rest of the document behind an unknown context.
        """
        if isinstance(value, str):
            return self.text(value, keeps_public=key in PUBLIC_KEEPERS)
        if isinstance(value, list):
            return [self.confine(item, key, top=False) for item in value]
        if isinstance(value, dict):
            return {
                self.text(str(name), keeps_public=False): (
                    item
                    if top and name == "@context"
                    else self.confine(item, name, top=False)
                )
                for name, item in value.items()
            }
        return value


def json_scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=40),
        st.sampled_from(ODD_STRINGS),
    )


def any_json() -> st.SearchStrategy[Any]:
    return st.recursive(
        json_scalars(),
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.text(max_size=12), children, max_size=4),
        ),
        max_leaves=12,
    )


def urls(hosts: list[str]) -> st.SearchStrategy[str]:
    path = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789/-_#?=.%", max_size=30)
    return st.builds(
        lambda host, tail: f"https://{host}/{tail}", st.sampled_from(hosts), path
    )


def field_values(hosts: list[str], actor_ids: list[str]) -> st.SearchStrategy[Any]:
    reference = st.one_of(urls(hosts), st.sampled_from(actor_ids + [PUBLIC]))
    return st.one_of(
        reference,
        st.lists(reference, max_size=4),
        json_scalars(),
        st.sampled_from(["<p>hi <b>there</b></p>", "<script>x()</script>"]),
        any_json(),
    )


def objects(hosts: list[str], actor_ids: list[str]) -> st.SearchStrategy[Any]:
    """Objects of ActivityStreams types with a random choice of their fields."""
    values = field_values(hosts, actor_ids)

    def build(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.fixed_dictionaries(
            {"type": st.sampled_from(OBJECT_TYPES + ACTIVITY_TYPES)},
            optional={
                name: st.one_of(values, children, st.lists(children, max_size=3))
                for name in OBJECT_FIELDS
                if name != "type"
            },
        )

    return st.recursive(st.one_of(urls(hosts), values), build, max_leaves=8)


@st.composite
def random_activities(
    draw: st.DrawFn, hosts: list[str], actor_ids: list[str], local_ids: list[str]
) -> dict[str, Any]:
    """Activities of every type by one of ``actor_ids``.

    Half of the objects are well-formed posts by the actor, with random extra
    fields, so the handlers get past their first checks. ``local_ids`` are
    addressed and referenced, never used as the actor.
    """
    actor = draw(st.sampled_from(actor_ids))
    references = actor_ids + local_ids
    addresses = st.lists(st.sampled_from(references + [PUBLIC]), max_size=3)
    post = st.fixed_dictionaries(
        {
            "id": urls([actor.split("/")[2]]),
            "type": st.sampled_from(OBJECT_TYPES),
            "attributedTo": st.just(actor),
            "content": st.one_of(st.text(max_size=60), st.sampled_from(ODD_STRINGS)),
            "to": addresses,
        },
        optional={
            name: field_values(hosts, references)
            for name in OBJECT_FIELDS
            if name not in ("id", "type", "attributedTo", "content", "to")
        },
    )
    activity = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "type": draw(
            st.one_of(
                st.sampled_from(ACTIVITY_TYPES),
                st.lists(st.sampled_from(ACTIVITY_TYPES), min_size=1, max_size=2),
            )
        ),
        "actor": actor,
        "object": draw(st.one_of(post, objects(hosts, references))),
        "to": draw(addresses),
    }
    extras = {
        "cc": st.one_of(st.sampled_from(references), urls(hosts)),
        "target": objects(hosts, references),
        "published": st.sampled_from(("2024-05-01T10:00:00Z",) + ODD_STRINGS),
        "audience": urls(hosts),
        "tag": st.lists(objects(hosts, references), max_size=3),
    }
    for name in draw(st.lists(st.sampled_from(sorted(extras)), unique=True)):
        activity[name] = draw(extras[name])
    return activity


@st.composite
def mutated_activities(
    draw: st.DrawFn, fixtures: list[dict[str, Any]], hosts: list[str]
) -> dict[str, Any]:
    """One fixture with one to four mutations applied in turn."""
    document = copy.deepcopy(draw(st.sampled_from(fixtures)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = [path for path in walk_paths(document) if path != ("@context",)]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        document = draw(_mutation(document, path, hosts))
    return document


@st.composite
def _mutation(
    draw: st.DrawFn, document: dict[str, Any], path: tuple[Any, ...], hosts: list[str]
) -> dict[str, Any]:
    parent = _parent(document, path)
    step = path[-1]
    value = parent[step]
    kind = draw(
        st.sampled_from(
            ("drop", "duplicate", "retype", "huge", "odd", "nest", "listify", "type")
        )
    )
    if kind == "drop":
        del parent[step]
    elif kind == "duplicate":
        if isinstance(parent, dict):
            other = draw(st.sampled_from(list(OBJECT_FIELDS) + ["actor", "type"]))
            parent[other] = copy.deepcopy(value)
        else:
            parent.append(copy.deepcopy(value))
    elif kind == "retype":
        parent[step] = draw(any_json())
    elif kind == "huge":
        size = draw(st.sampled_from((1_000, 65_536, 300_000)))
        parent[step] = draw(st.sampled_from(("a", "é", "<b>", "\u202e"))) * size
    elif kind == "odd":
        parent[step] = draw(st.sampled_from(ODD_STRINGS))
    elif kind == "nest":
        depth = draw(st.integers(min_value=1, max_value=40))
        nested = value
        for level in range(depth):
            nested = {
                "id": f"https://{draw(st.sampled_from(hosts))}/nested/{level}",
                "type": draw(st.sampled_from(OBJECT_TYPES)),
                "object": nested,
            }
        parent[step] = nested
    elif kind == "listify":
        parent[step] = [value, copy.deepcopy(value)]
    else:
        parent[step] = draw(st.sampled_from(ACTIVITY_TYPES + OBJECT_TYPES))
    return document


def encode(document: Any) -> bytes:
    """Serialise ``document`` as a peer might, lone surrogates included."""
    # ensure_ascii writes a lone surrogate as a \\udxxx escape, which is valid
    # JSON text that no UTF-8 encoder could produce from the string itself.
    return json.dumps(document, ensure_ascii=True).encode("ascii")
