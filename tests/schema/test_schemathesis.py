"""Property-based tests of the client API against its served OpenAPI document.

Schemathesis generates requests for every described operation from the
document at /api/openapi.json of a live instance, sends them with the bearer
token of a seeded teacher (an admin, with every scope), and checks that no
response is a server error and that each response's status, content type and
body match the document.

The run is bounded: a few examples per operation, derandomized so that each
run sends the same requests, and no stateful phase.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import DOMAINS
from tests.support.live import LiveInstance, Teacher
from web import openapi

EXAMPLES_PER_OPERATION = 3
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

# Operations left out of the run, with the reason.
EXCLUDED = {
    # Streams never end, so a request would wait for the whole timeout.
    ("GET", "^/api/v1/streaming/.+"): "server-sent event streams never end",
    # These fetch URLs taken from the request body (rel="me" links of profile
    # fields, the plan a new plan adapts) with the guarded fetcher, which
    # checks addresses but not the domain policy. Generated URLs would send
    # DNS lookups and requests to hosts outside this machine.
    ("PATCH", "^/api/v1/accounts/update_credentials$"): "fetches profile links",
    ("PATCH", "^/api/pedagogue/v1/profile$"): "fetches profile links",
    ("POST", "^/api/pedagogue/v1/lesson_plans$"): "fetches remote plans",
    # A Move would redirect the seeded teacher's followers to another account.
    ("POST", "^/api/pedagogue/v1/account/move$"): "moves the seeded teacher",
}

# Query parameters dropped from generated requests, with the reason.
DROPPED_QUERY = {
    # With resolve=true, a lesson plan URI not stored here is fetched from its
    # origin. That fetch checks addresses but not the domain policy, so a
    # generated https URI would send DNS lookups and requests off this machine.
    ("GET", "/api/pedagogue/v1/lesson_plans/lookup"): "resolve",
}


@pytest.fixture(scope="module")
async def instance(
    databases: Any, pki: Any, tmp_path_factory: Any
) -> AsyncIterator[LiveInstance]:
    """A live instance that federates with no domain, so that handles and
    URLs in generated input are never fetched from a remote host."""
    live = LiveInstance(
        domain="school-a.test",
        dsn=await databases.create(),
        directory=tmp_path_factory.mktemp("schemathesis"),
        pki=pki,
        host_map={domain: "127.0.0.1" for domain in DOMAINS},
        extra_env={
            "PEDAGOGUE_FEDERATION__FEDERATION_MODE": "allowlist",
            # The run sends more writes than the default burst of the write
            # rate limit, and a 429 would then fall on whichever operations
            # run last, so the limit is raised out of the way.
            "PEDAGOGUE_WEB__API_WRITE_BURST": "100000",
        },
    )
    try:
        await live.start()
        yield live
    finally:
        live.stop()
        await databases.drop(live.dsn)


@pytest.fixture(scope="module")
async def teacher(instance: LiveInstance) -> Teacher:
    """An admin teacher with a token of every scope and one public status."""
    teacher = await instance.create_teacher("tester")
    connection = await instance.db()
    try:
        await connection.execute(
            "UPDATE accounts SET is_admin = true WHERE id = $1", int(teacher.account_id)
        )
    finally:
        await connection.close()
    await teacher.post("/api/v1/statuses", json={"status": "Fractions with paper strips"})
    return teacher


def _excluded(schema: Any) -> Any:
    for (method, path_regex), _reason in EXCLUDED.items():
        schema = schema.exclude(method=method, path_regex=path_regex)
    return schema


def _operations() -> list[Any]:
    """Return (method, path) of each operation in the document of this
    checkout, which the served document must equal."""
    local = _excluded(schemathesis.openapi.from_dict(openapi.document()))
    parameters = []
    for result in local.get_all_operations():
        operation = result.ok()
        parameters.append(pytest.param(operation.method.upper(), operation.path))
    return parameters


@pytest.fixture(scope="module")
def served_schema(instance: LiveInstance, teacher: Teacher) -> Any:
    response = requests.get(
        f"{instance.client_url}/api/openapi.json",
        verify=str(instance.pki.ca_file),
        timeout=10,
    )
    response.raise_for_status()
    assert response.json() == openapi.document()
    return schemathesis.openapi.from_dict(response.json())


@pytest.mark.parametrize(("method", "path"), _operations())
def test_operation_conforms(
    method: str, path: str, served_schema: Any, instance: LiveInstance, teacher: Teacher
) -> None:
    operation = served_schema[path][method]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        dropped = DROPPED_QUERY.get((method, path))
        if dropped is not None and case.query:
            case.query.pop(dropped, None)
        case.call_and_validate(
            base_url=instance.client_url,
            headers={"Authorization": f"Bearer {teacher.token}"},
            checks=CHECKS,
            verify=str(instance.pki.ca_file),
            timeout=30,
        )

    run()
