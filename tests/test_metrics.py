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
