"""Lesson plans as files: a standalone HTML page that prints well, and Markdown
with the metadata in YAML front matter, which can be imported again."""

from __future__ import annotations

import html
import re
from typing import Any

import yaml

from actors.lesson_plan import FRAMEWORKS, LICENSES, InvalidPlan

_FRONT_MATTER = re.compile(
    r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)(.*)\Z", re.DOTALL
)
# Front matter larger than this is rejected before YAML reads it. An exported
# plan's front matter is a few kilobytes.
MAX_FRONT_MATTER = 64_000
# Front matter keys an import reads; others (uri, author) are informative only.
IMPORTED_KEYS = (
    "title",
    "summary",
    "subjects",
    "grade_levels",
    "age_range",
    "duration_minutes",
    "objectives",
    "materials",
    "alignments",
    "license",
    "visibility",
)

_PRINT_CSS = """
body { font: 16px/1.5 Georgia, serif; max-width: 46em; margin: 2em auto; padding: 0 1em;
       color: #111; }
h1 { font-size: 1.8em; margin-bottom: 0.2em; }
.summary { font-size: 1.1em; color: #333; }
table.meta { border-collapse: collapse; margin: 1em 0; width: 100%; }
table.meta th { text-align: left; width: 11em; vertical-align: top;
                padding: 0.2em 0.6em 0.2em 0; }
table.meta td { padding: 0.2em 0; }
footer { margin-top: 2em; font-size: 0.9em; color: #444; border-top: 1px solid #ccc; }
@media print {
  body { margin: 0; max-width: none; font-size: 11pt; }
  a { color: inherit; text-decoration: none; }
  a[href^="http"]::after { content: " (" attr(href) ")"; font-size: 0.85em; }
  h1, h2, h3 { page-break-after: avoid; }
  table, img, pre { page-break-inside: avoid; }
  img { max-width: 100%; }
}
"""


def _license_name(key: str | None) -> str:
    return LICENSES[key].name if key in LICENSES else "Unknown licence"


def export_html(plan: dict[str, Any]) -> str:
    """Return a standalone HTML page for the API entity of a plan."""
    e = html.escape
    rows = [
        ("Author", plan["account"]["acct"]),
        ("Subjects", ", ".join(plan["subjects"])),
        ("Grade levels", ", ".join(plan["grade_levels"])),
        ("Ages", plan["age_range"] or ""),
        (
            "Duration",
            f"{plan['duration_minutes']} minutes" if plan["duration_minutes"] else "",
        ),
        (
            "Standards",
            ", ".join(
                f"{FRAMEWORKS.get(a['framework'], a['framework'])} {a['code']}"
                for a in plan["alignments"]
            ),
        ),
        ("Licence", _license_name(plan["license"]["key"] if plan["license"] else None)),
    ]
    table = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows if v)
    lists = ""
    for heading, items in (
        ("Learning objectives", plan["objectives"]),
        ("Materials", plan["materials"]),
    ):
        if items:
            entries = "".join(f"<li>{e(item)}</li>" for item in items)
            lists += f"<h2>{e(heading)}</h2><ul>{entries}</ul>"
    attribution = "".join(
        f'<li>Adapted from <a href="{e(item["uri"], quote=True)}">'
        f"{e(item.get('title') or item['uri'])}</a></li>"
        for item in plan["attribution"]
    )
    files = "".join(
        f'<li><a href="{e(item["url"], quote=True)}">{e(item["file_name"])}</a></li>'
        for item in plan["attachments"]
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(plan['title'])}</title><style>{_PRINT_CSS}</style></head><body>"
        f"<article><h1>{e(plan['title'])}</h1>"
        f'<p class="summary">{e(plan["summary"])}</p>'
        f'<table class="meta">{table}</table>{lists}'
        # body_html was sanitised when it was stored.
        f"<h2>Lesson</h2>{plan['body_html']}"
        + (f"<h2>Attachments</h2><ul>{files}</ul>" if files else "")
        + "</article><footer>"
        + (f"<ul>{attribution}</ul>" if attribution else "")
        + f'<p><a href="{e(plan["uri"], quote=True)}">{e(plan["uri"])}</a></p>'
        "</footer></body></html>\n"
    )


def export_markdown(plan: dict[str, Any]) -> str:
    """Return the plan as Markdown with its metadata in YAML front matter."""
    front: dict[str, Any] = {
        "title": plan["title"],
        "summary": plan["summary"],
        "subjects": plan["subjects"],
        "grade_levels": plan["grade_levels"],
        "age_range": plan["age_range"],
        "duration_minutes": plan["duration_minutes"],
        "objectives": plan["objectives"],
        "materials": plan["materials"],
        "alignments": plan["alignments"],
        "license": plan["license"]["key"] if plan["license"] else None,
        "visibility": plan["visibility"],
        "uri": plan["uri"],
        "author": plan["account"]["acct"],
    }
    if plan["adapted_from"]:
        front["adapted_from"] = plan["adapted_from"]["uri"]
        front["attribution"] = plan["attribution"]
    header = yaml.safe_dump(front, sort_keys=False, allow_unicode=True)
    # NOTE: remote plans carry no Markdown source, so their body is exported as
    # the received (sanitised) HTML; an import shows that HTML as text.
    body = (
        plan["body_markdown"]
        if plan["body_markdown"] is not None
        else plan["body_html"]
    )
    return f"---\n{header}---\n\n{body.strip()}\n"


class _AliasFreeLoader(yaml.SafeLoader):
    """YAML's safe loader without aliases: ``*name`` references are rejected.

    An alias shares a node, so a few nested aliases describe a document of
    billions of items that converting to text would build. Exported front
    matter never uses them.
    """

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not accepted", event.start_mark
            )
        return super().compose_node(parent, index)


def _plain_items(key: str, value: Any) -> Any:
    if not isinstance(value, list):
        return value
    if not all(isinstance(item, (str, int)) for item in value):
        raise InvalidPlan(key, "must be a list of plain text items")
    return [str(item) for item in value]


def parse_markdown(text: str) -> tuple[dict[str, Any], str | None]:
    """Return the plan parameters and ``adapted_from`` URI of an exported file.

    Raises InvalidPlan("file") when the front matter is missing or not a YAML
    mapping.
    """
    match = _FRONT_MATTER.match(text.lstrip("\ufeff"))
    if match is None:
        raise InvalidPlan("file", "has no YAML front matter between --- lines")
    if len(match.group(1)) > MAX_FRONT_MATTER:
        raise InvalidPlan("file", f"front matter is over {MAX_FRONT_MATTER} characters")
    try:
        front = yaml.load(match.group(1), Loader=_AliasFreeLoader)
    except yaml.YAMLError as error:
        raise InvalidPlan("file", f"front matter is not valid YAML: {error}") from None
    if not isinstance(front, dict):
        raise InvalidPlan("file", "front matter must be a YAML mapping")
    params = {key: front[key] for key in IMPORTED_KEYS if front.get(key) is not None}
    if "duration_minutes" in params and isinstance(params["duration_minutes"], int):
        params["duration_minutes"] = str(params["duration_minutes"])
    if isinstance(params.get("age_range"), int):
        params["age_range"] = str(params["age_range"])
    for key in ("grade_levels", "subjects", "objectives", "materials"):
        if key in params:
            params[key] = _plain_items(key, params[key])
    params["body"] = match.group(2).strip()
    adapted_from = front.get("adapted_from")
    return params, adapted_from if isinstance(adapted_from, str) else None
