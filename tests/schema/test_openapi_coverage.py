"""The merged OpenAPI document against the application's routes: every route
under /api/ and /oauth/ is described, every described path is served, and the
document's references and schemas are valid."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import jsonschema
import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound

from pedagogue.config import load_settings
from pedagogue.runtime import Runtime
from web import openapi
from web.app import create_app

PREFIXES = ("/api/", "/oauth/", "/.well-known/oauth-authorization-server")
METHODS = ("get", "put", "post", "delete", "patch")

# Routes left out of the document on purpose, as (rule, method): reason.
# The streaming WebSocket shares GET /api/v1/streaming with its HTTP route,
# and the SSE route <path:kind> is described path by path, so neither is here.
UNDESCRIBED: dict[tuple[str, str], str] = {}


@cache
def _application() -> Any:
    settings = load_settings(
        None, overrides={"instance": {"url": "https://school.test"}}, environ={}
    )
    # The runtime is never started: building the app reads only its settings.
    return create_app(Runtime(settings, "postgresql://unused"))


def _rules() -> list[tuple[str, str]]:
    routes = set()
    for rule in _application().url_map.iter_rules():
        if not rule.rule.startswith(PREFIXES):
            continue
        for method in rule.methods or ():
            if method.lower() in METHODS:
                routes.add((rule.rule, method.lower()))
    return sorted(routes)


def _rule_pattern(rule: str) -> re.Pattern[str]:
    """Return a regex that a described path template matches when the rule
    would serve it; ``<path:x>`` spans slashes, other variables do not."""
    pattern = ""
    for literal, converter, name in re.findall(r"([^<]*)(?:<(?:(\w+):)?(\w+)>)?", rule):
        pattern += re.escape(literal)
        if converter == "path":
            pattern += ".+"
        elif name:
            pattern += "[^/]+"
    return re.compile(pattern + "/?")


def _described() -> list[tuple[str, str]]:
    return sorted(
        (path, method)
        for path, item in openapi.document()["paths"].items()
        for method in item
        if method in METHODS
    )


@pytest.mark.parametrize(("rule", "method"), _rules())
def test_route_described(rule: str, method: str) -> None:
    if (rule, method) in UNDESCRIBED:
        pytest.skip(UNDESCRIBED[(rule, method)])
    pattern = _rule_pattern(rule)

    matches = [
        path
        for path, described_method in _described()
        if described_method == method and pattern.fullmatch(path)
    ]

    assert matches, f"{method.upper()} {rule} is not in the OpenAPI document"


@pytest.mark.parametrize(("path", "method"), _described())
def test_described_path_served(path: str, method: str) -> None:
    adapter = _application().url_map.bind("school.test")
    concrete = re.sub(r"\{[^}]+\}", "1", path)

    try:
        adapter.match(concrete, method=method.upper())
    except (NotFound, MethodNotAllowed) as error:
        pytest.fail(f"{method.upper()} {path} is described but not served: {error}")


def test_document_is_openapi_3_1() -> None:
    assert openapi.document()["openapi"] == "3.1.0"


def test_oauth2_flows_described() -> None:
    flows = openapi.document()["components"]["securitySchemes"]["oauth2"]["flows"]

    assert set(flows) == {"authorizationCode", "clientCredentials", "password"}


def _references(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _references(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in _references(item)]
    return []


def test_references_resolve() -> None:
    document = openapi.document()

    for reference in _references(document):
        assert reference.startswith("#/"), reference
        node: Any = document
        for part in reference[2:].split("/"):
            assert part in node, f"{reference} does not resolve"
            node = node[part]


@pytest.mark.parametrize("name", sorted(openapi.document()["components"]["schemas"]))
def test_schema_valid(name: str) -> None:
    schema = openapi.document()["components"]["schemas"][name]

    jsonschema.Draft202012Validator.check_schema(schema)


def test_merge_renames_conflicting_components() -> None:
    first = {
        "paths": {"/a": {"get": {"responses": {"200": {"$ref": "#/components/schemas/X"}}}}},
        "components": {"schemas": {"X": {"type": "string"}}},
    }
    second = {
        "paths": {"/b": {"get": {"responses": {"200": {"$ref": "#/components/schemas/X"}}}}},
        "components": {"schemas": {"X": {"type": "integer"}}},
    }

    merged = openapi.merge({"one": first, "two": second})

    assert merged["paths"]["/a"]["get"]["responses"]["200"]["$ref"] == "#/components/schemas/one.X"
    assert merged["paths"]["/b"]["get"]["responses"]["200"]["$ref"] == "#/components/schemas/two.X"
    assert merged["components"]["schemas"]["two.X"] == {"type": "integer"}


def test_merge_rejects_operation_in_two_files() -> None:
    area = {"paths": {"/a": {"get": {}}}}

    with pytest.raises(ValueError, match="GET /a is described in two files"):
        openapi.merge({"one": area, "two": area})
