"""Lesson plans: licences, field rules, the Article form and reading LRMI terms.

A plan federates as an ActivityStreams Article whose extra fields are schema.org
learning-resource terms (LRMI). Pedagogue reads them back from the JSON-LD
expanded form, so a peer may bind the terms to any prefix it likes.
"""

from __future__ import annotations

import html
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from actors.vocabulary import (
    AS_CONTEXT,
    SECURITY_CONTEXT,
    as_list,
    first_id,
    has_type,
    id_of,
    ids_of,
    is_http_id,
)

SCHEMA_CONTEXT = "https://schema.org/"
# Hashtag is Mastodon's extension of ActivityStreams. Without its term the
# schema.org context's @vocab would expand it to a schema.org type.
PLAN_CONTEXT: list[Any] = [
    AS_CONTEXT,
    SECURITY_CONTEXT,
    SCHEMA_CONTEXT,
    {"Hashtag": "as:Hashtag"},
]
AS_NS = "https://www.w3.org/ns/activitystreams#"
# Peers write the schema.org namespace in all of these forms (Mastodon's own
# context binds "schema" to the "#" one).
SCHEMA_NAMESPACES = ("http://schema.org/", "https://schema.org/", "http://schema.org#")
RESOURCE_TYPE = "lesson plan"

MAX_TITLE = 200
MAX_SUMMARY = 1000
MAX_BODY = 100_000
MAX_LIST_ITEMS = 50
MAX_ITEM = 500
MAX_DURATION_MINUTES = 100_000


class InvalidPlan(Exception):
    """A lesson plan field that cannot be stored, with the field's name."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class License:
    key: str
    name: str
    url: str | None
    derivatives: bool = True
    share_alike: bool = False
    non_commercial: bool = False


LICENSES: dict[str, License] = {
    item.key: item
    for item in (
        License(
            "CC-BY-4.0", "CC BY 4.0", "https://creativecommons.org/licenses/by/4.0/"
        ),
        License(
            "CC-BY-SA-4.0",
            "CC BY-SA 4.0",
            "https://creativecommons.org/licenses/by-sa/4.0/",
            share_alike=True,
        ),
        License(
            "CC-BY-NC-4.0",
            "CC BY-NC 4.0",
            "https://creativecommons.org/licenses/by-nc/4.0/",
            non_commercial=True,
        ),
        License(
            "CC-BY-NC-SA-4.0",
            "CC BY-NC-SA 4.0",
            "https://creativecommons.org/licenses/by-nc-sa/4.0/",
            share_alike=True,
            non_commercial=True,
        ),
        License(
            "CC-BY-ND-4.0",
            "CC BY-ND 4.0",
            "https://creativecommons.org/licenses/by-nd/4.0/",
            derivatives=False,
        ),
        License(
            "CC-BY-NC-ND-4.0",
            "CC BY-NC-ND 4.0",
            "https://creativecommons.org/licenses/by-nc-nd/4.0/",
            derivatives=False,
            non_commercial=True,
        ),
        License(
            "CC0-1.0", "CC0 1.0", "https://creativecommons.org/publicdomain/zero/1.0/"
        ),
        License("all-rights-reserved", "All rights reserved", None, derivatives=False),
    )
}
ALL_RIGHTS_RESERVED = "all-rights-reserved"
PUBLIC_DOMAIN = "CC0-1.0"
_LICENSE_BY_URL = {item.url: item.key for item in LICENSES.values() if item.url}


def license_of(key: Any, field_name: str = "license") -> str:
    """Return the licence key; raise InvalidPlan for an unknown one."""
    if isinstance(key, str):
        for known in LICENSES:
            if known.lower() == key.strip().lower():
                return known
    keys = ", ".join(LICENSES)
    raise InvalidPlan(
        field_name, f"unknown licence {str(key)[:60]!r}; use one of {keys}"
    )


def license_from_url(url: str) -> str | None:
    """Map a Creative Commons licence URL in any of its spellings to a key."""
    text = url.strip().lower().replace("http://", "https://", 1)
    text = re.sub(r"(legalcode|deed\.[a-z-]+)(\.[a-z-]+)?$", "", text)
    if not text.endswith("/"):
        text += "/"
    return _LICENSE_BY_URL.get(text)


def adaptation_license(original: str | None, requested: str | None) -> str:
    """Return the licence an adaptation gets; raise InvalidPlan when not allowed.

    NoDerivatives and all-rights-reserved plans cannot be adapted. A ShareAlike
    plan's adaptation keeps the same licence. A NonCommercial plan's adaptation
    must stay NonCommercial, because the original's condition still binds
    anyone who uses the adaptation. For the same reason an adaptation of a plan
    that requires attribution cannot be offered under CC0: CC0 promises reusers
    no conditions, yet the original's attribution still binds the adapted
    material.
    """
    if original is None:
        raise InvalidPlan("adapted_from", "the original plan names no known licence")
    source = LICENSES[original]
    if not source.derivatives:
        raise InvalidPlan(
            "adapted_from",
            f"the original plan's licence ({source.name}) forbids adaptations",
        )
    if requested is None:
        return original
    target = LICENSES[requested]
    if source.share_alike and requested != original:
        raise InvalidPlan(
            "license", f"an adaptation of a {source.name} plan must keep {source.name}"
        )
    if source.non_commercial and not target.non_commercial:
        raise InvalidPlan(
            "license", f"an adaptation of a {source.name} plan must stay NonCommercial"
        )
    if requested == PUBLIC_DOMAIN and original != PUBLIC_DOMAIN:
        raise InvalidPlan(
            "license",
            f"an adaptation of a {source.name} plan cannot be CC0, because the"
            " original's attribution still applies; choose a CC BY licence",
        )
    return requested


# Grade levels

GRADE_NAMES = {"PK": -1, "K": 0, "HIGHER-EDUCATION": 13, "ADULT": 14}
_GRADE = r"(PK|K|[1-9]|1[0-2])"
_GRADE_RANGE = re.compile(rf"^{_GRADE}(?:-{_GRADE})?$")


def _grade_number(text: str) -> int:
    return GRADE_NAMES[text] if text in GRADE_NAMES else int(text)


def parse_grade_level(value: Any) -> tuple[str, list[int]]:
    """Return a grade level in its stored form and the grades it covers.

    Accepts PK, K, 1 to 12, a range such as ``6-8`` or ``K-2``,
    ``higher-education`` and ``adult``. Raises InvalidPlan otherwise.
    """
    text = value.strip().upper().replace("GRADE ", "") if isinstance(value, str) else ""
    if text in ("HIGHER-EDUCATION", "ADULT"):
        return text.lower(), [GRADE_NAMES[text]]
    match = _GRADE_RANGE.match(text)
    if match is None:
        raise InvalidPlan(
            "grade_levels",
            f"{str(value)[:40]!r} is not a grade level; use PK, K, 1-12, a range"
            " such as 6-8, higher-education or adult",
        )
    low = _grade_number(match.group(1))
    high = _grade_number(match.group(2)) if match.group(2) else low
    if high < low:
        raise InvalidPlan("grade_levels", f"grade range {text!r} ends before it starts")
    return text, list(range(low, high + 1))


def parse_age_range(value: Any) -> tuple[int, int] | None:
    """Return (minimum, maximum) age from ``"11-14"`` or ``"8"``; None for empty."""
    if value in (None, ""):
        return None
    match = re.match(r"^\s*([0-9]{1,3})\s*(?:-\s*([0-9]{1,3}))?\s*$", str(value))
    if match is None:
        raise InvalidPlan(
            "age_range", f"{str(value)[:40]!r} is not an age range like 11-14"
        )
    low = int(match.group(1))
    high = int(match.group(2) or low)
    if high < low or high > 120:
        raise InvalidPlan("age_range", f"{str(value)[:40]!r} is not a valid age range")
    return low, high


# Standards

FRAMEWORKS = {
    "CCSS": "Common Core State Standards",
    "NGSS": "Next Generation Science Standards",
}
_CCSS = re.compile(
    r"^(?:CCSS\.)?(?:MATH\.CONTENT\.|MATH\.PRACTICE\.|ELA-LITERACY\.)?"
    r"[A-Z0-9]{1,5}(?:\.[A-Z0-9]{1,5}){0,4}[a-z]?$"
)
_NGSS = re.compile(r"^(?:K|[1-5]|MS|HS)-(?:PS|LS|ESS|ETS)[1-4]-[0-9]{1,2}$")
_OTHER_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-_:/]{0,63}$")


def framework_key(name: str) -> str:
    """Return CCSS or NGSS for their names and abbreviations, else the name."""
    cleaned = name.strip()
    for key, full in FRAMEWORKS.items():
        if cleaned.upper() in (key, full.upper(), f"{key} ({full})".upper()):
            return key
    return cleaned


# The long CCSS identifiers name the subject before the code. The stored form
# is the code alone (6.RP.A.1, RL.3.1, MP1), because teachers write it so and it
# names one standard without the prefix.
_CCSS_PREFIXES = ("CCSS.", "MATH.CONTENT.", "MATH.PRACTICE.", "ELA-LITERACY.")
_FRAMEWORK_PREFIX = re.compile(r"^(CCSS|NGSS)[./:\s]+(.+)$", re.IGNORECASE)


def ccss_code(code: str) -> str:
    """Return a Common Core code in its stored form: without the ``CCSS.``,
    ``MATH.CONTENT.``, ``MATH.PRACTICE.`` or ``ELA-LITERACY.`` prefixes, in
    capitals except a final sub-standard letter (W.3.1a)."""
    text = code.strip()
    stripped = True
    while stripped:
        stripped = False
        for prefix in _CCSS_PREFIXES:
            if text.upper().startswith(prefix) and len(text) > len(prefix):
                text = text[len(prefix) :]
                stripped = True
    if len(text) > 1 and text[-1].isalpha() and text[-2].isdigit():
        return text[:-1].upper() + text[-1].lower()
    return text.upper()


def canonical_code(text: str, keep_framework: bool = False) -> str:
    """Return a standard's code as plans store it, for search and for following.

    ``text`` is a code alone or prefixed by its framework (``CCSS.6.RP.A.1``,
    ``NGSS/MS-PS1-2``). A Common Core or NGSS code takes its stored form; any
    other code is returned as given. With ``keep_framework``, a given CCSS or
    NGSS prefix stays in front, joined by a dot (``CCSS.6.RP.A.1``).
    """
    text = text.strip()
    prefixed = _FRAMEWORK_PREFIX.match(text)
    if prefixed is not None:
        framework, code = prefixed.group(1).upper(), prefixed.group(2)
        code = ccss_code(code) if framework == "CCSS" else code.strip().upper()
        return f"{framework}.{code}" if keep_framework else code
    if _NGSS.match(text.upper()):
        return text.upper()
    if text.upper().startswith(_CCSS_PREFIXES[1:]):
        return ccss_code(text)
    shaped = text.upper() if text[-1:].isupper() or text[-1:].isdigit() else text
    if _CCSS.match(shaped) and "." in text and any(ch.isdigit() for ch in text):
        return ccss_code(text)
    return text


def parse_alignment(value: Any) -> dict[str, str]:
    """Return ``{"framework", "code"}`` for a standard; raise InvalidPlan if it
    does not parse (CCSS and NGSS codes are checked against their formats, and
    stored in the form ``ccss_code`` gives or in capitals)."""
    if not isinstance(value, dict):
        raise InvalidPlan(
            "alignments", "each alignment must be an object with framework and code"
        )
    framework = value.get("framework")
    code = value.get("code")
    if not isinstance(framework, str) or not framework.strip() or len(framework) > 100:
        raise InvalidPlan(
            "alignments", "framework is missing or longer than 100 characters"
        )
    if not isinstance(code, str) or not code.strip():
        raise InvalidPlan("alignments", "code is missing")
    key = framework_key(framework)
    code = code.strip()
    if key == "CCSS":
        code = ccss_code(code) if code.isascii() else code
        valid = bool(_CCSS.match(code)) and any(ch.isdigit() for ch in code)
    elif key == "NGSS":
        valid = bool(_NGSS.match(code.upper()))
        code = code.upper()
    else:
        valid = bool(_OTHER_CODE.match(code))
    if not valid:
        raise InvalidPlan(
            "alignments",
            f"{code[:60]!r} is not a valid {FRAMEWORKS.get(key, key)} code",
        )
    return {"framework": key, "code": code}


# Durations (ISO 8601 durations, as schema.org's timeRequired uses them)

_DURATION = re.compile(
    r"^P(?:([0-9]{1,9})D)?(?:T(?:([0-9]{1,9})H)?(?:([0-9]{1,9})M)?(?:([0-9]{1,9})S)?)?$"
)


def duration_text(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    return (
        "PT"
        + (f"{hours}H" if hours else "")
        + (f"{rest}M" if rest or not hours else "")
    )


def parse_duration(text: str) -> int | None:
    """Return the minutes of an ISO 8601 duration such as PT1H30M, or None when
    it does not parse or lies outside 1 to MAX_DURATION_MINUTES minutes."""
    match = _DURATION.match(text.strip().upper())
    if match is None or text.strip().upper() in ("P", "PT"):
        return None
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    total = days * 1440 + hours * 60 + minutes + (1 if seconds and not minutes else 0)
    if not 1 <= total <= MAX_DURATION_MINUTES:
        return None
    return total


# Local input


@dataclass
class PlanFields:
    """The validated fields of a local plan (create, edit or import)."""

    title: str
    summary: str = ""
    body_markdown: str = ""
    subjects: list[str] = field(default_factory=list)
    grade_levels: list[str] = field(default_factory=list)
    grade_numbers: list[int] = field(default_factory=list)
    age_range: tuple[int, int] | None = None
    duration_minutes: int | None = None
    objectives: list[str] = field(default_factory=list)
    materials: list[str] = field(default_factory=list)
    alignments: list[dict[str, str]] = field(default_factory=list)
    license: str | None = None


def _has_control(text: str, allowed: str = "") -> bool:
    return any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in text)


def _text(
    params: dict[str, Any],
    name: str,
    limit: int,
    required: bool = False,
    multiline: bool = False,
) -> str:
    value = params.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidPlan(name, "is missing")
        return ""
    if not isinstance(value, str):
        raise InvalidPlan(name, "must be a string")
    if len(value) > limit:
        raise InvalidPlan(name, f"is over {limit} characters")
    if _has_control(value.strip(), "\t\n\r" if multiline else ""):
        what = (
            "control characters" if multiline else "line breaks or control characters"
        )
        raise InvalidPlan(name, f"must not contain {what}")
    return value.strip()


def _strings(params: dict[str, Any], name: str) -> list[str]:
    value = params.get(name, params.get(f"{name}[]"))
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidPlan(name, "must be a list of strings")
    items = [item.strip() for item in value if item.strip()]
    if len(items) > MAX_LIST_ITEMS:
        raise InvalidPlan(name, f"has more than {MAX_LIST_ITEMS} items")
    if any(len(item) > MAX_ITEM for item in items):
        raise InvalidPlan(name, f"has an item over {MAX_ITEM} characters")
    if any(_has_control(item) for item in items):
        raise InvalidPlan(name, "has an item with line breaks or control characters")
    return items


def _duration(value: Any) -> int | None:
    """Read duration_minutes: a JSON integer, an integral finite number (45.0)
    or a string of ASCII digits. Fractions, NaN, infinities, strings such as
    "1e3" and digits of other scripts are rejected, never rounded."""
    if value in (None, ""):
        return None
    minutes: int | None = None
    if isinstance(value, bool):
        minutes = None
    elif isinstance(value, int):
        minutes = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        minutes = int(value) if abs(value) <= 10 * MAX_DURATION_MINUTES else -1
    elif isinstance(value, str) and re.fullmatch(r"\s*[0-9]{1,9}\s*", value):
        minutes = int(value)
    if minutes is None:
        raise InvalidPlan("duration_minutes", "must be a whole number of minutes")
    if not 1 <= minutes <= MAX_DURATION_MINUTES:
        raise InvalidPlan(
            "duration_minutes", f"must be between 1 and {MAX_DURATION_MINUTES}"
        )
    return minutes


def parse_fields(
    params: dict[str, Any], *, partial_of: PlanFields | None = None
) -> PlanFields:
    """Validate client input into PlanFields; raise InvalidPlan naming the field.

    With ``partial_of`` (an edit), fields not given keep their value there.
    """
    base = partial_of

    def given(name: str) -> bool:
        return base is None or name in params or f"{name}[]" in params

    fields = PlanFields(title=base.title if base else "")
    if given("title"):
        fields.title = _text(params, "title", MAX_TITLE, required=True)
    fields.summary = (
        _text(params, "summary", MAX_SUMMARY, multiline=True)
        if given("summary")
        else base.summary
    )
    fields.body_markdown = (
        _text(params, "body", MAX_BODY, multiline=True)
        if given("body")
        else base.body_markdown
    )
    for name in ("subjects", "objectives", "materials"):
        setattr(
            fields, name, _strings(params, name) if given(name) else getattr(base, name)
        )
    if given("grade_levels"):
        levels = [parse_grade_level(item) for item in _strings(params, "grade_levels")]
        fields.grade_levels = [text for text, _ in levels]
        fields.grade_numbers = sorted({n for _, numbers in levels for n in numbers})
    else:
        fields.grade_levels, fields.grade_numbers = (
            base.grade_levels,
            base.grade_numbers,
        )
    fields.age_range = (
        parse_age_range(params.get("age_range"))
        if given("age_range")
        else base.age_range
    )
    fields.duration_minutes = (
        _duration(params.get("duration_minutes"))
        if given("duration_minutes")
        else base.duration_minutes
    )
    if given("alignments"):
        raw = params.get("alignments") or []
        if not isinstance(raw, list) or len(raw) > MAX_LIST_ITEMS:
            raise InvalidPlan(
                "alignments", "must be a list of {framework, code} objects"
            )
        fields.alignments = [parse_alignment(item) for item in raw]
    else:
        fields.alignments = base.alignments
    if params.get("license") not in (None, ""):
        fields.license = license_of(params.get("license"))
    elif base is not None:
        fields.license = base.license
    return fields


_FORM_ALIGNMENT = re.compile(r"^alignments\[([0-9]{0,3})\]\[(framework|code)\]$")


def form_alignments(pairs: list[tuple[str, str]]) -> list[dict[str, str]] | None:
    """Return the alignments of a form body, None when it has none.

    Two spellings are read, as Rails-style clients send nested lists:
    ``alignments[0][framework]=CCSS&alignments[0][code]=6.RP.A.1`` (grouped by
    the number) and ``alignments[][framework]=...&alignments[][code]=...``
    (a new alignment starts when a key repeats). Any other ``alignments[...]``
    key raises InvalidPlan, so no standard is dropped unseen.
    """
    numbered: dict[str, dict[str, str]] = {}
    listed: list[dict[str, str]] = []
    found = False
    for key, value in pairs:
        if not key.startswith("alignments["):
            continue
        if key == "alignments[]":
            raise InvalidPlan(
                "alignments",
                "each alignment needs alignments[N][framework] and"
                " alignments[N][code], or send the plan as JSON",
            )
        match = _FORM_ALIGNMENT.match(key)
        if match is None:
            raise InvalidPlan(
                "alignments",
                f"{key[:60]!r} is not understood; use alignments[N][framework]"
                " and alignments[N][code]",
            )
        found = True
        number, part = match.groups()
        if number:
            numbered.setdefault(number, {})[part] = value
        elif not listed or part in listed[-1]:
            listed.append({part: value})
        else:
            listed[-1][part] = value
    if not found:
        return None
    ordered = [numbered[n] for n in sorted(numbered, key=int)]
    return ordered + listed


# Visibility

# Mastodon's names: private is followers only. Plans are not published as
# direct messages; a teacher shares one privately through a personal
# collection or by mentioning it in a direct status.
PLAN_VISIBILITIES = ("public", "unlisted", "private")


def parse_visibility(value: Any) -> str | None:
    """Return a plan visibility, None when not given; raise InvalidPlan."""
    if value in (None, ""):
        return None
    if value not in PLAN_VISIBILITIES:
        raise InvalidPlan(
            "visibility",
            f"{str(value)[:40]!r} is not one of public, unlisted or private"
            " (followers only)",
        )
    return str(value)


# The Article


def license_value(key: str | None) -> Any:
    if key is None:
        return None
    item = LICENSES[key]
    if item.url:
        return item.url
    # schema.org's license is a URL or a CreativeWork; "all rights reserved"
    # has no URL, so it goes as a named CreativeWork.
    return {"type": "CreativeWork", "name": item.name}


def render_article(
    plan: Any,
    status: Any,
    *,
    actor_id: str,
    attachments: list[Any],
    tags: list[tuple[str, str]] | None = None,
) -> dict:
    """Return the Article of a local plan (without @context). ``tags`` are the
    (name, tag page URL) pairs of the hashtags in its body."""
    article: dict[str, Any] = {
        "id": plan["uri"],
        "type": "Article",
        "attributedTo": actor_id,
        "name": plan["title"],
        # AS2's summary is HTML; the stored summary is plain text.
        "summary": html.escape(plan["summary"], quote=False) or None,
        "content": plan["body_html"],
        "mediaType": "text/html",
        "source": {
            "content": plan["body_markdown"] or "",
            "mediaType": "text/markdown",
        },
        "url": status["url"] or plan["uri"],
        "published": _iso(plan["created_at"]),
        "to": list(status["to_uris"]),
        "cc": list(status["cc_uris"]),
        "attachment": [
            {
                "type": "Document",
                "mediaType": item["mime_type"],
                "url": item["url"],
                "name": item["file_name"],
            }
            for item in attachments
        ],
        "learningResourceType": RESOURCE_TYPE,
        "about": list(plan["subjects"]),
        "educationalLevel": list(plan["grade_levels"]),
        "teaches": list(plan["objectives"]),
        "material": list(plan["materials"]),
        "educationalAlignment": [
            {
                "type": "AlignmentObject",
                "alignmentType": "teaches",
                "educationalFramework": FRAMEWORKS.get(
                    item["framework"], item["framework"]
                ),
                "targetName": item["code"],
            }
            for item in _json_list(plan["alignments"])
        ],
    }
    if plan["age_min"] is not None:
        article["typicalAgeRange"] = f"{plan['age_min']}-{plan['age_max']}"
    if plan["duration_minutes"]:
        article["timeRequired"] = duration_text(plan["duration_minutes"])
    if plan["license"]:
        article["license"] = license_value(plan["license"])
    chain = _json_list(plan["attribution"])
    if chain:
        article["isBasedOn"] = [
            {
                "id": item["uri"],
                "type": "CreativeWork",
                "name": item.get("title") or "",
                "author": item.get("author_uri"),
            }
            for item in chain
        ]
    if tags:
        article["tag"] = [
            {"type": "Hashtag", "href": url, "name": f"#{name}"} for name, url in tags
        ]
    if plan["updated_at"]:
        article["updated"] = _iso(plan["updated_at"])
    return article


def _iso(moment: Any) -> str:
    from actors.note import iso

    return iso(moment)


def _json_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        import json

        value = json.loads(value)
    return list(value or [])


# Reading a received Article


@dataclass
class RemotePlan:
    """The LRMI fields read from a received Article; ``rejected`` names fields
    that had the wrong types or values Pedagogue does not know, left out."""

    subjects: list[str] = field(default_factory=list)
    grade_levels: list[str] = field(default_factory=list)
    grade_numbers: list[int] = field(default_factory=list)
    age_range: tuple[int, int] | None = None
    duration_minutes: int | None = None
    objectives: list[str] = field(default_factory=list)
    materials: list[str] = field(default_factory=list)
    alignments: list[dict[str, str]] = field(default_factory=list)
    license: str | None = None
    attribution: list[dict[str, Any]] = field(default_factory=list)
    is_plan: bool = False
    rejected: list[str] = field(default_factory=list)


def _values(node: dict[str, Any], term: str) -> list[Any] | None:
    for namespace in SCHEMA_NAMESPACES:
        found = node.get(namespace + term)
        if found is not None:
            return list(found)
    return None


class _WrongType(Exception):
    pass


def _plain_strings(values: list[Any]) -> list[str]:
    result = []
    for item in values:
        if not isinstance(item, dict) or not isinstance(item.get("@value"), str):
            raise _WrongType()
        result.append(item["@value"].strip()[:MAX_ITEM])
    return [item for item in result if item][:MAX_LIST_ITEMS]


def _one_string(values: list[Any]) -> str:
    strings = _plain_strings(values)
    if len(strings) != 1:
        raise _WrongType()
    return strings[0]


def _node_string(node: dict[str, Any], *iris: str) -> str | None:
    for iri in iris:
        for item in node.get(iri, []):
            if isinstance(item, dict) and isinstance(item.get("@value"), str):
                return str(item["@value"])
    return None


def _schema_iris(term: str) -> list[str]:
    return [namespace + term for namespace in SCHEMA_NAMESPACES]


def _alignments(values: list[Any]) -> list[dict[str, str]]:
    result = []
    for item in values:
        if not isinstance(item, dict) or "@value" in item:
            raise _WrongType()
        code = _node_string(item, *_schema_iris("targetName"))
        framework = _node_string(item, *_schema_iris("educationalFramework"))
        if code is None or framework is None:
            raise _WrongType()
        try:
            result.append(parse_alignment({"framework": framework, "code": code}))
        except InvalidPlan:
            raise _WrongType() from None
    return result[:MAX_LIST_ITEMS]


def _license(values: list[Any]) -> str | None:
    if len(values) != 1 or not isinstance(values[0], dict):
        raise _WrongType()
    item = values[0]
    if isinstance(item.get("@id"), str) and not item["@id"].startswith("_:"):
        key = license_from_url(item["@id"])
        if key is None:
            raise _WrongType()
        return key
    name = _node_string(item, AS_NS + "name", *_schema_iris("name"))
    if name is not None and name.strip().lower() == "all rights reserved":
        return ALL_RIGHTS_RESERVED
    raise _WrongType()


def _attribution(values: list[Any]) -> list[dict[str, Any]]:
    chain = []
    for item in values:
        uri = item.get("@id") if isinstance(item, dict) else None
        if not isinstance(uri, str) or not uri.startswith(("https://", "http://")):
            raise _WrongType()
        authors = [
            a.get("@id") for a in _values(item, "author") or [] if isinstance(a, dict)
        ]
        chain.append(
            {
                "uri": uri,
                "title": (
                    _node_string(item, AS_NS + "name", *_schema_iris("name")) or ""
                )[:MAX_TITLE],
                "author_uri": next((a for a in authors if isinstance(a, str)), None),
            }
        )
    return chain[:MAX_LIST_ITEMS]


def _grades(values: list[Any]) -> tuple[list[str], list[int]]:
    levels, numbers = [], set()
    for text in _plain_strings(values):
        try:
            level, covered = parse_grade_level(text)
        except InvalidPlan:
            raise _WrongType() from None
        levels.append(level)
        numbers.update(covered)
    return levels, sorted(numbers)


def read_lrmi(expanded: dict[str, Any]) -> RemotePlan:
    """Read the LRMI terms of one expanded Article node.

    A term is left out and named in ``rejected`` when it has the wrong shape or
    a value that does not parse: a grade level, a standard's code, a duration
    or a licence URL that Pedagogue does not know. The plan is stored without
    that term.
    """
    plan = RemotePlan()
    readers: dict[str, Any] = {
        "about": lambda v: setattr(plan, "subjects", _plain_strings(v)),
        "teaches": lambda v: setattr(plan, "objectives", _plain_strings(v)),
        "material": lambda v: setattr(plan, "materials", _plain_strings(v)),
        "educationalLevel": lambda v: _set_grades(plan, _grades(v)),
        "typicalAgeRange": lambda v: _set_age(plan, _one_string(v)),
        "timeRequired": lambda v: _set_duration(plan, _one_string(v)),
        "educationalAlignment": lambda v: setattr(plan, "alignments", _alignments(v)),
        "license": lambda v: setattr(plan, "license", _license(v)),
        "isBasedOn": lambda v: setattr(plan, "attribution", _attribution(v)),
        "learningResourceType": lambda v: _plain_strings(v),
    }
    for term, reader in readers.items():
        values = _values(expanded, term)
        if values is None:
            continue
        plan.is_plan = True
        try:
            reader(values)
        except _WrongType:
            plan.rejected.append(term)
    return plan


def _set_grades(plan: RemotePlan, grades: tuple[list[str], list[int]]) -> None:
    plan.grade_levels, plan.grade_numbers = grades


def _set_age(plan: RemotePlan, text: str) -> None:
    try:
        plan.age_range = parse_age_range(text)
    except InvalidPlan:
        raise _WrongType() from None


def _set_duration(plan: RemotePlan, text: str) -> None:
    # parse_duration bounds the minutes, so a huge duration is rejected here
    # rather than failing the insert into the int4 column.
    minutes = parse_duration(text)
    if minutes is None:
        raise _WrongType()
    plan.duration_minutes = minutes


# Attachments of received plans

# Remote plans' attachments stay links to their origin: an instance never
# fetches or serves a remote file, so these types only decide which links a
# reader is offered. The instance's own upload types are accepted too.
LINKED_TYPES = frozenset(
    {
        "application/pdf",
        "application/epub+zip",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.presentation",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "text/plain",
        "audio/mpeg",
        "video/mp4",
    }
)
MAX_REMOTE_ATTACHMENTS = 16
# A link declaring a larger size, in bytes, is dropped: linked files are never
# stored here, but a handout that large is more likely an archive or an error.
MAX_LINKED_BYTES = 100_000_000
MAX_LINK_LENGTH = 2048
_MEDIA_TYPE = re.compile(
    r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$"
)


@dataclass(frozen=True)
class LinkedFile:
    """An attachment of a received plan, kept as a link to its origin."""

    url: str
    mime_type: str
    file_name: str
    size: int | None
    position: int


def _link_url(item: dict[str, Any], allow_http: bool) -> str | None:
    url = item.get("url") if "url" in item else item.get("href")
    if isinstance(url, list):
        url = url[0] if url else None
    if isinstance(url, dict):
        url = url.get("href") or url.get("id")
    if not isinstance(url, str) or len(url) > MAX_LINK_LENGTH:
        return None
    parts = urlsplit(url)
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        return None
    if parts.username or parts.password:
        return None
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        return None
    return url


def read_attachments(
    obj: dict[str, Any],
    *,
    allowed_types: frozenset[str],
    max_bytes: int,
    allow_http: bool = False,
) -> tuple[list[LinkedFile], list[str]]:
    """Return the usable attachments of a received Article and the reasons the
    others were dropped.

    A link is kept when three checks pass. Its URL is https (http too with
    ``allow_http``) with no credentials. Its ``mediaType``, without parameters
    such as charset, is one of ``allowed_types``. Any ``size`` it declares (in
    bytes, the property PeerTube puts on links) is a whole number within
    ``max_bytes``. Nothing is fetched.
    """
    items = as_list(obj.get("attachment"))
    kept: list[LinkedFile] = []
    dropped: list[str] = []
    for position, item in enumerate(items[:MAX_REMOTE_ATTACHMENTS]):
        if not isinstance(item, dict):
            dropped.append(f"attachment {position}: not an object")
            continue
        url = _link_url(item, allow_http)
        if url is None:
            dropped.append(f"attachment {position}: URL missing or not https")
            continue
        media = item.get("mediaType")
        mime_type = (
            media.split(";")[0].strip().lower() if isinstance(media, str) else ""
        )
        if not _MEDIA_TYPE.match(mime_type) or mime_type not in allowed_types:
            dropped.append(
                f"attachment {position}: type {mime_type[:80]!r} not allowed"
            )
            continue
        size = item.get("size")
        if size is not None and (
            isinstance(size, bool) or not isinstance(size, int) or size < 0
        ):
            dropped.append(f"attachment {position}: size is not a byte count")
            continue
        if size is not None and size > max_bytes:
            dropped.append(f"attachment {position}: size {size} over {max_bytes}")
            continue
        name = item.get("name")
        kept.append(
            LinkedFile(
                url=url,
                mime_type=mime_type,
                file_name=name if isinstance(name, str) else "",
                size=size,
                position=position,
            )
        )
    if len(items) > MAX_REMOTE_ATTACHMENTS:
        dropped.append(f"{len(items) - MAX_REMOTE_ATTACHMENTS} attachments over 16")
    return kept, dropped


# Collections of plans


def render_collection(
    collection: Any,
    *,
    uri: str,
    owner_id: str,
    to: list[str],
    cc: list[str],
    items: list[str],
) -> dict[str, Any]:
    """Return a teacher's collection as an OrderedCollection (without @context).

    ``items`` are plan ids, newest addition first; the caller passes only the
    plans that the reader may see.
    """
    document: dict[str, Any] = {
        "id": uri,
        "type": "OrderedCollection",
        "name": collection["name"],
        "attributedTo": owner_id,
        "to": to,
        "cc": cc,
        "published": _iso(collection["created_at"]),
        "totalItems": len(items),
        "orderedItems": items,
    }
    if collection["updated_at"]:
        document["updated"] = _iso(collection["updated_at"])
    return document


class InvalidCollection(ValueError):
    """A received collection that cannot be stored, with the reason."""


@dataclass(frozen=True)
class RemoteCollection:
    uri: str
    owner_id: str
    name: str
    to: list[str]
    cc: list[str]
    items: list[str]


def parse_collection(document: Any) -> RemoteCollection:
    """Read a received OrderedCollection (or Collection) of plans.

    Raises InvalidCollection when the id, owner or name is missing. Items that
    are not http(s) ids are dropped; at most 500 are read.
    """
    if not isinstance(document, dict):
        raise InvalidCollection("collection is not an object")
    uri = id_of(document)
    owner = first_id(document.get("attributedTo"))
    name = document.get("name")
    if not is_http_id(uri) or not is_http_id(owner):
        raise InvalidCollection("collection has no id or attributedTo")
    if not isinstance(name, str) or not name.strip():
        raise InvalidCollection(f"collection {uri} has no name")
    raw = document.get("orderedItems", document.get("items"))
    items = [item for item in ids_of(raw) if is_http_id(item)][:500]
    return RemoteCollection(
        uri=str(uri),
        owner_id=str(owner),
        name=name.strip()[:100],
        to=ids_of(document.get("to")),
        cc=ids_of(document.get("cc")),
        items=items,
    )


def is_plan_collection(document: Any) -> bool:
    """Return True for an object shaped like a collection of plans: a named
    (Ordered)Collection attributed to an actor. Actor collections such as
    followers carry no name and no attributedTo."""
    return (
        isinstance(document, dict)
        and has_type(document, "OrderedCollection", "Collection")
        and isinstance(document.get("name"), str)
        and document.get("attributedTo") is not None
    )
