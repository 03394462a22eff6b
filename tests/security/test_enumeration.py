"""No enumeration through the discovery send: known and unknown emails get the same answer.

Research §1.5 and §1.7 (OWASP Forgot Password: "a consistent message for both existent and
non-existent accounts" and uniform time; ASVS 6.3.8) and §2.10 (django-rest-framework-
passwordless#112 and ash_authentication#1210: a uniform body but a slower answer for known
users). The send looks nothing up and always queues an email, so status, body (but the request
id), headers and time are the same; the time is compared as medians of interleaved runs with a
generous margin: a statistical check that catches a lookup or a synchronous send, not a
benchmark.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient

from antechamber.app import create_app
from antechamber.clock import FrozenClock
from antechamber.delivery.models import OutboxMessage
from antechamber.services import Services
from antechamber.settings import Settings
from tests.conftest import Credentials
from tests.factories import allow_redirect, make_member, make_org
from tests.flows import SEND

RUNS = 25


@pytest.fixture
def api(settings: Settings, engine: Engine, clock: FrozenClock, project: Credentials) -> TestClient:
    """An app whose send limits stay out of the way of repeated sends."""
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
def known(services: Services, project: Credentials) -> str:
    """Someone with every kind of membership: active, pending, and eligible by domain."""
    pid = project.project_id
    allow_redirect(services, pid)
    for _ in range(3):
        org = make_org(services, pid)
        make_member(services, pid, org, email_address="known@acme.example")
    pending = make_org(services, pid)
    make_member(
        services, pid, pending, email_address="known@acme.example", create_member_as_pending=True
    )
    make_org(
        services,
        pid,
        email_allowed_domains=["acme.example"],
        email_jit_provisioning="RESTRICTED",
    )
    return "known@acme.example"


def _answer(response: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
    body = {k: v for k, v in response.json().items() if k != "request_id"}
    headers = {k: v for k, v in response.headers.items() if k not in ("date",)}
    return response.status_code, body, headers


def test_known_and_unknown_emails_get_the_same_answer(
    api: TestClient, services: Services, known: str
) -> None:
    answers = {
        email: _answer(api.post(SEND, json={"email_address": email}))
        for email in (known, "nobody@acme.example", "NOBODY@elsewhere.example")
    }
    assert len(set(map(repr, answers.values()))) == 1, answers
    with services.sessions() as s:
        rows = s.execute(
            select(OutboxMessage.recipient, func.count()).group_by(OutboxMessage.recipient)
        )
        per_recipient = {str(recipient): int(count) for recipient, count in rows}
    # Everyone gets an email: the unknown address is not told apart by its inbox either.
    assert per_recipient == {
        "known@acme.example": 1,
        "nobody@acme.example": 1,
        "nobody@elsewhere.example": 1,
    }


def test_known_and_unknown_emails_take_the_same_time(api: TestClient, known: str) -> None:
    def timed(email: str) -> float:
        started = time.perf_counter()
        response = api.post(SEND, json={"email_address": email})
        elapsed = time.perf_counter() - started
        assert response.status_code == 200
        return elapsed

    for email in (known, "warmup@acme.example"):  # first calls pay for imports and caches
        timed(email)
    samples: dict[str, list[float]] = {"known": [], "unknown": []}
    for n in range(RUNS):  # interleaved, so load on the machine hits both alike
        samples["known"].append(timed(known))
        samples["unknown"].append(timed(f"nobody{n}@acme.example"))
    known_median = statistics.median(samples["known"])
    unknown_median = statistics.median(samples["unknown"])
    # Half the slower median plus 2 ms: far wider than noise on a busy machine, far narrower
    # than a synchronous email send or a chain of membership lookups.
    margin = 0.5 * max(known_median, unknown_median) + 0.002
    assert abs(known_median - unknown_median) <= margin, (known_median, unknown_median)
