"""Validating client API responses against the OpenAPI documents in web/openapi/."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

OPENAPI_DIR = Path(__file__).resolve().parents[2] / "web" / "openapi"


@cache
def load_document(name: str) -> dict[str, Any]:
    """Load ``web/openapi/NAME.yaml``."""
    return yaml.safe_load((OPENAPI_DIR / f"{name}.yaml").read_text())


def _response_schema(document: dict[str, Any], path: str, method: str, status: int) -> Any:
    operation = document["paths"][path][method.lower()]
    responses = operation["responses"]
    response = responses.get(str(status)) or responses.get("default")
    if response is None:
        raise AssertionError(f"{method} {path} documents no {status} response")
    if "$ref" in response:
        # A shared response under #/components/responses/NAME.
        response = document["components"]["responses"][response["$ref"].split("/")[-1]]
    return response["content"]["application/json"]["schema"]


def validate_response(
    name: str, path: str, method: str, status: int, body: Any
) -> None:
    """Raise jsonschema.ValidationError unless ``body`` matches the documented
    schema of ``method path`` (the path template, e.g. ``/api/x/{id}``) for
    ``status`` in ``web/openapi/NAME.yaml``."""
    document = load_document(name)
    schema = _response_schema(document, path, method, status)
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry = Registry().with_resource("urn:openapi", resource)
    validator = jsonschema.Draft202012Validator(
        {"$schema": "https://json-schema.org/draft/2020-12/schema", **_rebase(schema)},
        registry=registry,
    )
    validator.validate(body)


def _rebase(schema: Any) -> Any:
    """Point local ``#/components/...`` references at the registered document."""
    if isinstance(schema, dict):
        return {
            key: (f"urn:openapi{value}" if key == "$ref" and value.startswith("#") else _rebase(value))
            for key, value in schema.items()
        }
    if isinstance(schema, list):
        return [_rebase(item) for item in schema]
    return schema
