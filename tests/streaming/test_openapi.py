"""The OpenAPI description of the streaming endpoints in web/streaming.py."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from tests.support.openapi import load_document
from web.streaming import SSE_PATHS

DOCUMENTED = (
    "/api/v1/streaming",
    "/api/v1/streaming/health",
    *(f"/api/v1/streaming/{path}" for path in SSE_PATHS),
)


def _references(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _references(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in _references(item)]
    return []


@pytest.mark.parametrize("path", DOCUMENTED)
def test_streaming_path_described(path: str) -> None:
    document = load_document("streaming")
    assert "get" in document["paths"].get(path, {}), f"GET {path} is not described"


def test_streaming_references_resolve() -> None:
    document = load_document("streaming")
    for reference in _references(document):
        assert reference.startswith("#/"), reference
        node: Any = document
        for part in reference[2:].split("/"):
            assert part in node, f"{reference} does not resolve"
            node = node[part]


@pytest.mark.parametrize(
    "name", sorted(load_document("streaming")["components"]["schemas"])
)
def test_streaming_schema_valid(name: str) -> None:
    schema = load_document("streaming")["components"]["schemas"][name]
    jsonschema.Draft202012Validator.check_schema(schema)
