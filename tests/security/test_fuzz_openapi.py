"""Schemathesis against the OpenAPI document of `/v1/b2b/*`: never a 5xx, never an answer
outside the documented schema (status code, content type, body), for valid and invalid
requests alike, authenticated as a real project.

Two parts, each bounded so the suite stays fast (it runs twice in CI):
- every operation on its own, a few dozen generated requests each (`EXAMPLES`);
- the stateful run, which follows the OpenAPI links (create an organization, then get, update,
  delete it or add a member; create a member, then get, update, delete it or list its
  sessions), a few short scenarios (`SCENARIOS`, `STEPS`).
Raise the numbers locally to fuzz harder: ANTECHAMBER_FUZZ_EXAMPLES, ANTECHAMBER_FUZZ_SCENARIOS.
"""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from antechamber.services import Services
from tests import openapi_document
from tests.conftest import Credentials
from tests.factories import allow_redirect, make_member, make_org

EXAMPLES = int(os.environ.get("ANTECHAMBER_FUZZ_EXAMPLES", "12"))
SCENARIOS = int(os.environ.get("ANTECHAMBER_FUZZ_SCENARIOS", "8"))
STEPS = 6

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
FAST = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same requests every run: a failure here is never a fluke
    suppress_health_check=list(HealthCheck),
    database=None,
)


def basic_auth(project: Credentials) -> dict[str, str]:
    token = base64.b64encode(f"{project.project_id}:{project.secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def b2b_schema(app: Any, services: Services, project: Credentials) -> Any:
    """The `/v1/b2b` document, calling this test's app, over a project with something in it."""
    allow_redirect(services, project.project_id)
    org = make_org(services, project.project_id, organization_slug="acme")
    make_member(services, project.project_id, org, email_address="ada@acme.example")
    schema = openapi_document.b2b_schema()
    schema.app = app
    return schema


@pytest.mark.parametrize(("method", "path"), openapi_document.b2b_operations())
def test_every_operation(b2b_schema: Any, project: Credentials, method: str, path: str) -> None:
    operation = b2b_schema[path][method]
    headers = basic_auth(project)
    cases = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @FAST
    @given(case=cases)
    def fuzz(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    fuzz()


def test_stateful_links(b2b_schema: Any, project: Credentials) -> None:
    headers = basic_auth(project)
    machine = b2b_schema.as_state_machine()

    class Authenticated(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": headers}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS)

    Authenticated.run(
        settings=settings(
            max_examples=SCENARIOS,
            stateful_step_count=STEPS,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
    )
