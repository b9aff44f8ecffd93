"""The OpenAPI 3.1 document of the client API, merged from the YAML files here.

Each ``NAME.yaml`` describes one area of the API and stays a complete document
of its own, so tests can validate against one area. The merged document served
at ``/api/openapi.json`` tags each operation with its area, keeps each file's
description as that tag's description, and renames a component that two files
define differently to ``AREA.NAME`` in both, rewriting the references to it.
"""

from __future__ import annotations

import copy
import json
import logging
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from quart import Blueprint, Response

from pedagogue import __version__

log = logging.getLogger(__name__)

DIRECTORY = Path(__file__).resolve().parent
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
COMPONENT_PREFIX = "#/components/"
WRITE_METHODS = ("put", "post", "delete", "patch")
RATE_LIMITED = {
    "description": (
        "Over the write rate limit; the Retry-After header gives the seconds to wait"
    ),
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {"type": "string"}},
            }
        }
    },
}

blueprint = Blueprint("openapi", __name__)

DESCRIPTION = """\
Pedagogue's client API: the Mastodon client API (as Mastodon 4.3 documents \
it) that Mastodon apps and libraries use, and Pedagogue's own endpoints under \
/api/pedagogue/v1/ for lesson plans, groups, events, mentorship and profiles. \
Each tag below is one area of the API, with a description of what is particular to it.

Clients authenticate with a bearer token from OAuth 2 (RFC 6749). An app \
registers with POST /api/v1/apps and then takes a token at /oauth/token by \
the authorization code grant with PKCE (RFC 7636, S256 or plain), the client \
credentials grant, or the password grant where the instance allows it. \
A revoked or expired token is rejected with 401 on every endpoint. Errors \
are `{"error": message}` with Mastodon's status codes.
"""


def area_documents() -> dict[str, dict[str, Any]]:
    """Load every ``*.yaml`` file beside this module, keyed by its stem."""
    return {
        path.stem: yaml.safe_load(path.read_text(encoding="utf-8"))
        for path in sorted(DIRECTORY.glob("*.yaml"))
    }


def merge(areas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Merge area documents into one; raise ValueError on an operation
    described twice.

    Two areas may describe different methods of one path.

    A security scheme that two areas define differently is also a ValueError,
    because security requirements name schemes without a reference to rewrite.
    """
    renames = _component_renames(areas)
    paths: dict[str, Any] = {}
    components: dict[str, dict[str, Any]] = {}
    tags: list[dict[str, Any]] = []

    for area, source in areas.items():
        document = _rewrite_references(copy.deepcopy(source), renames[area])
        info = document.get("info", {})
        tags.append(
            {
                "name": area,
                "description": f"{info.get('title', area)}. {info.get('description', '')}".strip(),
            }
        )
        tags.extend(
            tag for tag in document.get("tags", []) if tag["name"] not in _names(tags)
        )

        for path, item in document.get("paths", {}).items():
            operations = _tag_operations(path, item, area, document.get("security"))
            merged_item = paths.setdefault(path, {})
            for method, operation in operations.items():
                if method in merged_item:
                    raise ValueError(
                        f"{method.upper()} {path} is described in two files,"
                        f" one is {area}.yaml"
                    )
                merged_item[method] = operation

        for kind, entries in document.get("components", {}).items():
            merged = components.setdefault(kind, {})
            for name, value in entries.items():
                merged[renames[area].get((kind, name), name)] = value

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Pedagogue client API",
            "version": __version__,
            "description": DESCRIPTION,
        },
        "servers": [{"url": "/"}],
        "tags": tags,
        "paths": dict(sorted(paths.items())),
        "components": components,
    }


def _names(tags: list[dict[str, Any]]) -> set[str]:
    return {tag["name"] for tag in tags}


def _component_renames(
    areas: dict[str, dict[str, Any]],
) -> dict[str, dict[tuple[str, str], str]]:
    """Return, per area, the components to rename because another area
    defines a different component under the same name."""
    definitions: dict[tuple[str, str], dict[str, str]] = {}
    for area, document in areas.items():
        for kind, entries in document.get("components", {}).items():
            for name, value in entries.items():
                text = json.dumps(value, sort_keys=True)
                definitions.setdefault((kind, name), {})[area] = text

    renames: dict[str, dict[tuple[str, str], str]] = {area: {} for area in areas}
    for (kind, name), by_area in definitions.items():
        if len(set(by_area.values())) == 1:
            continue
        if kind == "securitySchemes":
            raise ValueError(
                f"security scheme {name} is defined differently in"
                f" {', '.join(sorted(by_area))}"
            )
        for area in by_area:
            renames[area][(kind, name)] = f"{area}.{name}"
    return renames


def _rewrite_references(node: Any, renames: dict[tuple[str, str], str]) -> Any:
    """Point ``$ref`` values at renamed components, in place; return ``node``."""
    if isinstance(node, dict):
        reference = node.get("$ref")
        if isinstance(reference, str) and reference.startswith(COMPONENT_PREFIX):
            kind, _, name = reference[len(COMPONENT_PREFIX) :].partition("/")
            if (kind, name) in renames:
                node["$ref"] = f"{COMPONENT_PREFIX}{kind}/{renames[(kind, name)]}"
        for value in node.values():
            _rewrite_references(value, renames)
    elif isinstance(node, list):
        for item in node:
            _rewrite_references(item, renames)
    return node


def _tag_operations(
    path: str, item: dict[str, Any], area: str, security: Any
) -> dict[str, Any]:
    """Return the operations of a path item, each tagged with its area and
    given the file's default security, the item's shared parameters and the
    rate limit's 429, because two areas may share one path item in the
    merged document."""
    shared = item.get("parameters", [])
    operations = {}
    for method, operation in item.items():
        if method not in METHODS:
            continue
        operation["tags"] = [*operation.get("tags", []), area]
        if security is not None and "security" not in operation:
            operation["security"] = security
        if shared:
            operation["parameters"] = [*shared, *operation.get("parameters", [])]
        if method in WRITE_METHODS and path.startswith("/api/"):
            # Every write under /api/ passes a rate limit (per account, or per
            # address for app registration), so each can answer 429 whether or
            # not its area file lists it.
            operation.setdefault("responses", {}).setdefault("429", RATE_LIMITED)
        operations[method] = operation
    return operations


@cache
def document() -> dict[str, Any]:
    """Return the merged document, built once per process."""
    merged = merge(area_documents())
    log.info("OpenAPI document built with %d paths", len(merged["paths"]))
    return merged


@cache
def _document_bytes() -> bytes:
    return json.dumps(document(), separators=(",", ":")).encode()


@blueprint.get("/api/openapi.json")
async def openapi_json() -> Response:
    return Response(_document_bytes(), content_type="application/json")
