"""Prometheus metrics at /metrics: delivery counts per channel, refusals, the backlog."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from antechamber.app import create_app
from antechamber.delivery.worker import DeliveryWorker
from antechamber.errors import TooManyRequests
from antechamber.services import Services
from tests.conftest import Credentials
from tests.delivery.conftest import magic_link, sms_code


def samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_delivery_counts_and_backlog(client: TestClient, project: Credentials) -> None:
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    magic_link(services, project.project_id, "ada@acme.example")
    sms_code(services, project.project_id, "+12025550123")
    with pytest.raises(TooManyRequests):
        sms_code(services, project.project_id, "+12025550123")

    before = samples(client)
    assert before[("antechamber_outbox_pending_messages", (("channel", "email"),))] == 1
    assert before[("antechamber_outbox_pending_messages", (("channel", "sms"),))] == 1
    refused = (("channel", "sms"), ("reason", "sms:recipient"))
    assert before[("antechamber_delivery_refused_total", refused)] == 1
    assert before[("antechamber_rate_limited_total", (("limit", "sms:recipient"),))] == 1

    services.clock.advance(seconds=90)  # type: ignore[attr-defined]
    after_wait = samples(client)
    age = ("antechamber_outbox_oldest_pending_age_seconds", (("channel", "email"),))
    assert after_wait[age] == 90

    DeliveryWorker(services).run_once()
    after = samples(client)
    assert after[("antechamber_delivery_sent_total", (("channel", "email"), ("via", "inbox")))] == 1
    assert after[("antechamber_delivery_sent_total", (("channel", "sms"), ("via", "inbox")))] == 1
    assert after[("antechamber_outbox_pending_messages", (("channel", "email"),))] == 0


def test_each_app_has_its_own_registry(settings, engine, clock) -> None:  # type: ignore[no-untyped-def]
    first = create_app(settings, engine=engine, clock=clock)
    second = create_app(settings, engine=engine, clock=clock)
    first.state.services.metrics.sent.labels("email", "smtp").inc()
    with TestClient(second) as client:
        key = ("antechamber_delivery_sent_total", (("channel", "email"), ("via", "smtp")))
        assert samples(client).get(key, 0) == 0


def test_metrics_can_be_turned_off(settings, engine, clock) -> None:  # type: ignore[no-untyped-def]
    app = create_app(settings.model_copy(update={"metrics": False}), engine=engine, clock=clock)
    with TestClient(app) as client:
        assert client.get("/metrics").status_code == 404


def test_requests_logins_and_mfa_are_counted_without_secrets(
    api: TestClient, services: Services, project: Credentials
) -> None:
    from tests.factories import allow_redirect, last_code, make_member, make_org
    from tests.flows import SESSION_AUTHENTICATE, authenticate_sms, enter, ist_for, send_sms

    allow_redirect(services, project.project_id)
    email = "ada@acme.example"
    phone = "+12025550123"
    org = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    member = make_member(services, project.project_id, org, email_address=email)
    pending = enter(api, ist_for(api, services, email), org.id)
    send_sms(api, pending, mfa_phone_number=phone)
    code = last_code(services, phone)
    wrong = "000000" if code != "000000" else "111111"
    assert authenticate_sms(api, pending, wrong).status_code == 404
    done = authenticate_sms(api, pending, code)
    assert done.status_code == 200, done.json()
    body = done.json()
    assert api.post(SESSION_AUTHENTICATE, json={"session_token": body["session_token"]}).is_success
    fetched = api.get(f"/v1/b2b/organizations/{org.id}/member", params={"member_id": member.id})
    assert fetched.status_code == 200

    response = api.get("/metrics")
    got = samples(api)
    assert got[("antechamber_logins_total", (("outcome", "mfa_required"),))] == 1
    assert got[("antechamber_logins_total", (("outcome", "session"),))] == 1
    assert got[("antechamber_mfa_total", (("method", "sms_otp"), ("outcome", "failure")))] == 1
    assert got[("antechamber_mfa_total", (("method", "sms_otp"), ("outcome", "success")))] == 1
    route = "/v1/b2b/organizations/{organization_id}/member"
    key = (("method", "GET"), ("route", route), ("status", "200"))
    assert got[("antechamber_http_requests_total", key)] == 1
    authenticated = (
        ("method", "POST"),
        ("route", "/v1/b2b/otps/sms/authenticate"),
        ("status", "200"),
    )
    assert got[("antechamber_http_requests_total", authenticated)] == 1
    count = ("antechamber_http_request_duration_seconds_count", (("route", route),))
    assert got[count] == 1

    text = response.text
    for secret in (
        body["session_token"],
        body["session_jwt"],
        pending["intermediate_session_token"],
        code,
        email,
        phone,
        org.id,
        member.id,
        project.secret,
    ):
        assert secret not in text
