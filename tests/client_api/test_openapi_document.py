"""The OpenAPI description of the client API endpoints in web/api_filters.py,
api_lists.py, api_media.py and api_misc.py: every route is described, and
every schema and reference in the document is valid."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest
from quart import Quart

from tests.support.openapi import load_document
from web import api_filters, api_lists, api_media, api_misc

BLUEPRINTS = (api_filters, api_lists, api_media, api_misc)
METHODS = ("get", "post", "put", "patch", "delete")


def _routes() -> set[tuple[str, str]]:
    app = Quart(__name__)
    for module in BLUEPRINTS:
        app.register_blueprint(module.blueprint)
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", "{id}", rule.rule)
        for method in rule.methods or ():
            if method.lower() in METHODS:
                routes.add((path, method.lower()))
    return routes


def _references(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _references(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in _references(item)]
    return []


@pytest.mark.parametrize(("path", "method"), sorted(_routes()))
def test_client_route_described(path, method):
    document = load_document("client")

    assert path in document["paths"], f"{path} is not described"
    assert method in document["paths"][path], (
        f"{method.upper()} {path} is not described"
    )


def test_client_references_resolve():
    document = load_document("client")

    for reference in _references(document):
        assert reference.startswith("#/"), reference
        node: Any = document
        for part in reference[2:].split("/"):
            assert part in node, f"{reference} does not resolve"
            node = node[part]


@pytest.mark.parametrize(
    "name", sorted(load_document("client")["components"]["schemas"])
)
def test_client_schema_valid(name):
    schema = load_document("client")["components"]["schemas"][name]

    jsonschema.Draft202012Validator.check_schema(schema)
