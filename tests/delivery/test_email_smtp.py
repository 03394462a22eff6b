"""Email through a real SMTP server (aiosmtpd on a random loopback port)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from antechamber.clock import FrozenClock
from antechamber.delivery import outbox
from antechamber.delivery.worker import DeliveryWorker
from antechamber.services import Services
from antechamber.settings import Settings
from tests.conftest import Credentials, _free_port
from tests.delivery.conftest import (
    SMTP_PASSWORD,
    SMTP_USER,
    Certificate,
    SmtpServer,
    drain,
    magic_link,
    services_with,
)


def smtp_services(
    settings: Settings, engine: Engine, clock: FrozenClock, server_port: int, **extra: object
) -> Services:
    overrides: dict[str, object] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": server_port,
        "smtp_tls": "none",
        "smtp_from": "Acme Login <login@acme.example>",
        "product_name": "Acme Login",
        **extra,
    }
    return services_with(settings, engine, clock, **overrides)


def status_of(services: Services) -> list[tuple[str, str, int, str | None]]:
    with services.sessions() as session:
        return [(m.recipient, m.status, m.attempts, m.last_error) for m in outbox.recent(session)]


def test_magic_link_arrives_with_both_bodies_and_headers(
    settings: Settings,
    engine: Engine,
    clock: FrozenClock,
    project: Credentials,
    smtp_server: SmtpServer,
) -> None:
    services = smtp_services(settings, engine, clock, smtp_server.port)
    url = magic_link(services, project.project_id, "Ada@Acme.example", minutes=15)

    [result] = drain(DeliveryWorker(services))
    assert (result.claimed, result.sent) == (1, 1)

    [received] = smtp_server.received
    assert received.mail_from == "login@acme.example"
    assert received.rcpt_tos == ["ada@acme.example"]
    email = received.message
    assert email["From"] == "Acme Login <login@acme.example>"
    assert email["To"] == "ada@acme.example"
    assert email["Subject"] == "Sign in to Acme Login"
    assert email["Auto-Submitted"] == "auto-generated"
    assert email["Date"]
    assert email.get_content_type() == "multipart/alternative"
    text = email.get_body(("plain",))
    html = email.get_body(("html",))
    assert text is not None
    assert html is not None
    assert url in text.get_content()
    assert "expires in 15 minutes" in text.get_content()
    assert f'href="{url.replace("&", "&amp;")}"' in html.get_content()

    with services.sessions() as session:
        [message] = outbox.recent(session)
    assert message.status == "sent"
    assert message.delivered_via == "smtp"
    assert email["Message-ID"] == f"<{message.id}@acme.example>" == message.provider_message_id
    assert message.sent_at is not None
    assert services.metrics.sent.labels("email", "smtp")._value.get() == 1


def test_starttls_and_login(
    settings: Settings,
    engine: Engine,
    clock: FrozenClock,
    project: Credentials,
    starttls_server: SmtpServer,
    certificate: Certificate,
) -> None:
    services = smtp_services(
        settings,
        engine,
        clock,
        starttls_server.port,
        smtp_tls="starttls",
        smtp_username=SMTP_USER,
        smtp_password=SecretStr(SMTP_PASSWORD),
        smtp_ca_file=certificate.cert_file,
    )
    magic_link(services, project.project_id)
    drain(DeliveryWorker(services))
    assert len(starttls_server.received) == 1


def test_wrong_password_is_retried_not_lost(
    settings: Settings,
    engine: Engine,
    clock: FrozenClock,
    project: Credentials,
    starttls_server: SmtpServer,
    certificate: Certificate,
) -> None:
    services = smtp_services(
        settings,
        engine,
        clock,
        starttls_server.port,
        smtp_tls="starttls",
        smtp_username=SMTP_USER,
        smtp_password=SecretStr("wrong"),
        smtp_ca_file=certificate.cert_file,
    )
    magic_link(services, project.project_id)
    drain(DeliveryWorker(services))
    [(_, status, attempts, error)] = status_of(services)
    assert (status, attempts) == ("pending", 1)  # an operator can fix the password in time
    assert error is not None
    assert "535" in error
    assert starttls_server.received == []


def test_implicit_tls(
    settings: Settings,
    engine: Engine,
    clock: FrozenClock,
    project: Credentials,
    implicit_tls_server: SmtpServer,
    certificate: Certificate,
) -> None:
    services = smtp_services(
        settings,
        engine,
        clock,
        implicit_tls_server.port,
        smtp_tls="implicit",
        smtp_ca_file=certificate.cert_file,
    )
    magic_link(services, project.project_id)
    drain(DeliveryWorker(services))
    assert len(implicit_tls_server.received) == 1


def test_untrusted_certificate_is_not_accepted(
    settings: Settings,
    engine: Engine,
    clock: FrozenClock,
    project: Credentials,
    implicit_tls_server: SmtpServer,
) -> None:
    services = smtp_services(settings, engine, clock, implicit_tls_server.port, smtp_tls="implicit")
    magic_link(services, project.project_id)
    drain(DeliveryWorker(services))
    [(_, status, _, error)] = status_of(services)
    assert status == "pending"
    assert error is not None
    assert "CERTIFICATE_VERIFY_FAILED" in error
    assert implicit_tls_server.received == []


def test_one_connection_serves_a_batch(
    settings: Settings,
    engine: Engine,
    clock: FrozenClock,
    project: Credentials,
    smtp_server: SmtpServer,
) -> None:
    services = smtp_services(settings, engine, clock, smtp_server.port)
    for n in range(5):
        magic_link(services, project.project_id, f"p{n}@acme.example")
    sessions: list[int] = []
    original = smtp_server.recorder.handle_DATA

    async def counting(server, session, envelope):  # type: ignore[no-untyped-def]
        sessions.append(id(session))
        return await original(server, session, envelope)

    smtp_server.recorder.handle_DATA = counting  # type: ignore[method-assign]
    drain(DeliveryWorker(services))
    assert len(smtp_server.received) == 5
    assert len(set(sessions)) == 1


def test_refused_recipient_fails_at_once(
    settings: Settings,
    engine: Engine,
    clock: FrozenClock,
    project: Credentials,
    smtp_server: SmtpServer,
) -> None:
    services = smtp_services(settings, engine, clock, smtp_server.port)
    magic_link(services, project.project_id, "nobody@acme.example")
    magic_link(services, project.project_id, "ada@acme.example")
    drain(DeliveryWorker(services))
    assert {r: (s, e) for r, s, _, e in status_of(services)} == {
        "nobody@acme.example": ("failed", "recipient refused: 550 5.1.1 No such user here"),
        "ada@acme.example": ("sent", None),  # the batch went on, on a fresh connection
    }
    assert [r.rcpt_tos for r in smtp_server.received] == [["ada@acme.example"]]
    assert services.metrics.failed.labels("email", "permanent")._value.get() == 1


def test_deferred_recipient_is_retried(
    settings: Settings,
    engine: Engine,
    clock: FrozenClock,
    project: Credentials,
    smtp_server: SmtpServer,
) -> None:
    services = smtp_services(settings, engine, clock, smtp_server.port)
    magic_link(services, project.project_id, "busy@acme.example")
    drain(DeliveryWorker(services))
    [(_, status, attempts, error)] = status_of(services)
    assert (status, attempts) == ("pending", 1)
    assert error is not None
    assert "451" in error


@pytest.fixture
def refusing_port() -> int:
    """A loopback port nobody listens on: connections are refused."""
    return _free_port()


@pytest.fixture
def dropping_server() -> Iterator[int]:
    """Accepts TCP connections and closes them at once, before any greeting."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    listener.close()


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts TCP connections and never says a word (a hung relay)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield listener.getsockname()[1]
    listener.close()


def test_a_hung_relay_is_abandoned_within_the_send_timeout(
    settings: Settings,
    engine: Engine,
    clock: FrozenClock,
    project: Credentials,
    silent_server: int,
) -> None:
    services = smtp_services(
        settings, engine, clock, silent_server, delivery_send_timeout_seconds=0.2
    )
    magic_link(services, project.project_id)
    assert DeliveryWorker(services).run_once().retried == 1
    [(_, status, _, error)] = status_of(services)
    assert status == "pending"
    assert error == "the relay did not finish within 0.2 s"


@pytest.mark.parametrize("server", ["refusing_port", "dropping_server"])
def test_unreachable_server_retries_with_backoff_then_fails(
    settings: Settings,
    engine: Engine,
    clock: FrozenClock,
    project: Credentials,
    server: str,
    request: pytest.FixtureRequest,
) -> None:
    port = request.getfixturevalue(server)
    services = smtp_services(
        settings,
        engine,
        clock,
        port,
        delivery_max_attempts=4,
        delivery_retry_base_seconds=10,
        delivery_retry_max_seconds=30,
    )
    magic_link(services, project.project_id, minutes=60)
    worker = DeliveryWorker(services)
    waits = []
    for attempt in range(1, 4):
        result = worker.run_once()
        assert (result.claimed, result.retried) == (1, 1)
        with services.sessions() as session:
            [message] = outbox.recent(session)
        assert (message.status, message.attempts) == ("pending", attempt)
        wait = message.next_attempt_at.replace(tzinfo=None) - clock.now().replace(tzinfo=None)
        waits.append(wait.total_seconds())
        assert worker.run_once().claimed == 0  # not due before its backoff
        clock.advance(seconds=30)
    # Exponential with jitter in [0.5, 1): 10·2ⁿ⁻¹ capped at 30.
    assert 5 <= waits[0] < 10
    assert 10 <= waits[1] < 20
    assert 15 <= waits[2] < 30

    result = worker.run_once()
    assert (result.claimed, result.failed) == (1, 1)
    [(_, status, attempts, error)] = status_of(services)
    assert (status, attempts) == ("failed", 4)
    assert error  # the last error is kept for the operator
    assert services.metrics.retried.labels("email")._value.get() == 3
    assert services.metrics.failed.labels("email", "exhausted")._value.get() == 1


def test_link_that_expired_while_the_server_was_down_is_not_sent_late(
    settings: Settings,
    engine: Engine,
    clock: FrozenClock,
    project: Credentials,
    smtp_server: SmtpServer,
) -> None:
    services = smtp_services(settings, engine, clock, smtp_server.port)
    magic_link(services, project.project_id, minutes=10)
    clock.advance(minutes=10)
    [result] = drain(DeliveryWorker(services))
    assert result.failed == 1
    [(_, status, _, error)] = status_of(services)
    assert status == "failed"
    assert error is not None
    assert "expired" in error
    assert smtp_server.received == []


def test_rolled_back_transaction_sends_nothing(
    settings: Settings,
    engine: Engine,
    clock: FrozenClock,
    project: Credentials,
    smtp_server: SmtpServer,
) -> None:
    services = smtp_services(settings, engine, clock, smtp_server.port)
    with pytest.raises(RuntimeError), services.scope(project.project_id, "test", "t") as scope:
        outbox.enqueue(
            scope,
            channel="email",
            recipient="ada@acme.example",
            template="discovery_magic_link",
            context={"url": "https://app.acme.example/?token=rolled-back", "expiration_minutes": 5},
        )
        raise RuntimeError("the magic link's insert failed")
    assert drain(DeliveryWorker(services)) == []
    assert smtp_server.received == []
