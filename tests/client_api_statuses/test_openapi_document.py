"""web/openapi/statuses_more.yaml describes every route of web/api_statuses.py
and web/api_accounts.py, and each of its references resolves."""

from __future__ import annotations

import re
from typing import Any

import pytest
from quart import Quart

from tests.support.openapi import load_document
from web import api_accounts, api_statuses

METHODS = ("get", "post", "put", "patch", "delete")


def _routes() -> set[tuple[str, str]]:
    app = Quart(__name__)
    app.register_blueprint(api_statuses.blueprint)
    app.register_blueprint(api_accounts.blueprint)
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
def test_route_described(path, method):
    document = load_document("statuses_more")

    assert path in document["paths"], f"{path} is not described"
    assert method in document["paths"][path], f"{method.upper()} {path} is not described"


def test_references_resolve():
    document = load_document("statuses_more")

    for reference in _references(document):
        assert reference.startswith("#/"), reference
        node: Any = document
        for part in reference[2:].split("/"):
            assert part in node, f"{reference} does not resolve"
            node = node[part]
