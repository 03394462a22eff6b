"""Email codes and organization links answer known and unknown addresses alike: status, body
(but the request id and, for organization sends, the member Stytch returns) and time, compared
as medians of interleaved runs with the margin of tests/security/test_enumeration.py."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from antechamber.app import create_app
from antechamber.clock import FrozenClock
from antechamber.organizations.models import Organization
from antechamber.services import Services
from antechamber.settings import Settings
from tests.conftest import Credentials
from tests.email_auth.conftest import (
    LOGIN_OR_SIGNUP,
    OTP_DISCOVERY_SEND,
    OTP_LOGIN_OR_SIGNUP,
)
from tests.factories import make_member, make_org

RUNS = 25


@pytest.fixture
def api(settings: Settings, engine: Engine, clock: FrozenClock, project: Credentials) -> TestClient:
    relaxed = settings.model_copy(
        update={
            "limit_email_per_recipient": "10000/minute",
            "limit_discovery_send_per_ip": "10000/minute",
        }
    )
    client = TestClient(create_app(relaxed, engine=engine, clock=clock))
    client.auth = project.auth
    return client


@pytest.fixture
def org(services: Services, project: Credentials) -> Organization:
    org = make_org(
        services,
        project.project_id,
        email_jit_provisioning="RESTRICTED",
        email_allowed_domains=["acme.example"],
    )
    make_member(services, project.project_id, org, email_address="known@acme.example")
    return org


def same_time(timed: Callable[[str], float]) -> None:
    for email in ("known@acme.example", "warmup@acme.example"):
        timed(email)
    samples: dict[str, list[float]] = {"known": [], "unknown": []}
    for n in range(RUNS):
        samples["known"].append(timed("known@acme.example"))
        samples["unknown"].append(timed(f"nobody{n}@acme.example"))
    known = statistics.median(samples["known"])
    unknown = statistics.median(samples["unknown"])
    assert abs(known - unknown) <= 0.5 * max(known, unknown) + 0.002, (known, unknown)


def test_discovery_codes_answer_the_same_and_take_the_same_time(
    api: TestClient, org: Organization
) -> None:
    def answer(email: str) -> Any:
        response = api.post(OTP_DISCOVERY_SEND, json={"email_address": email})
        body = {k: v for k, v in response.json().items() if k != "request_id"}
        return response.status_code, body

    assert (
        answer("known@acme.example")
        == answer("stranger@acme.example")
        == (
            200,
            {"status_code": 200},
        )
    )

    def timed(email: str) -> float:
        started = time.perf_counter()
        assert api.post(OTP_DISCOVERY_SEND, json={"email_address": email}).status_code == 200
        return time.perf_counter() - started

    same_time(timed)


@pytest.mark.parametrize("path", [LOGIN_OR_SIGNUP, OTP_LOGIN_OR_SIGNUP])
def test_organization_sends_take_the_same_time_for_members_and_newcomers(
    api: TestClient, org: Organization, path: str
) -> None:
    """Where the organization's JIT rules admit the domain (elsewhere a newcomer is refused,
    as Stytch does: the caller is the app, holding the project secret)."""

    def timed(email: str) -> float:
        started = time.perf_counter()
        response = api.post(path, json={"organization_id": org.id, "email_address": email})
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.json()
        return elapsed

    same_time(timed)
