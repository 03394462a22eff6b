"""The delivery worker: claims, leases, crashes, stops, and the development inbox."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select, update

import antechamber
from antechamber.clock import FrozenClock, as_utc
from antechamber.delivery import outbox
from antechamber.delivery.models import OutboxMessage
from antechamber.delivery.worker import DeliveryWorker, Transports
from antechamber.services import Services
from antechamber.settings import Settings
from tests.conftest import USE_PG, Credentials, _free_port
from tests.delivery.conftest import SmtpServer, drain, magic_link, services_with, sms_code


class Recording:
    """An email sender that keeps what it is given; `during` runs inside each send."""

    name = "recording"

    def __init__(self, during=None) -> None:  # type: ignore[no-untyped-def]
        self.sent: list[str] = []
        self.during = during
        self.lock = threading.Lock()

    def send_email(self, message: EmailMessage) -> None:
        if self.during is not None:
            self.during(len(self.sent) + 1)
        with self.lock:
            self.sent.append(str(message["To"]))

    def close(self) -> None:
        pass


def statuses(services: Services) -> Counter[str]:
    with services.sessions() as session:
        return Counter(m.status for m in session.scalars(select(OutboxMessage)))


def enqueue_many(services: Services, project_id: str, n: int) -> None:
    with services.scope(project_id, "test", "test") as scope:
        for i in range(n):
            outbox.enqueue(
                scope,
                channel="email",
                recipient=f"person{i}@acme.example",
                template="discovery_magic_link",
                context={"url": f"https://app.acme.example/?token={i}", "expiration_minutes": 60},
            )


# --- the development inbox ------------------------------------------------------------------


def test_development_mode_keeps_messages_in_the_inbox(
    settings: Settings, engine: Engine, clock: FrozenClock, project: Credentials
) -> None:
    # Providers configured but unreachable: in development mode they must not even be tried.
    services = services_with(
        settings,
        engine,
        clock,
        dev=True,
        smtp_host="127.0.0.1",
        smtp_port=_free_port(),
        twilio_account_sid="AC1",
        twilio_base_url=f"http://127.0.0.1:{_free_port()}",
    )
    magic_link(services, project.project_id)
    sms_code(services, project.project_id)
    [result] = drain(DeliveryWorker(services))
    assert (result.sent, result.retried) == (2, 0)
    with services.sessions() as session:
        assert {(m.status, m.delivered_via) for m in outbox.recent(session)} == {("sent", "inbox")}
    assert services.metrics.sent.labels("email", "inbox")._value.get() == 1
    assert services.metrics.sent.labels("sms", "inbox")._value.get() == 1


def test_messages_kept_in_the_inbox_are_logged_once_a_batch(
    settings: Settings,
    engine: Engine,
    clock: FrozenClock,
    project: Credentials,
    caplog: pytest.LogCaptureFixture,
) -> None:
    services = services_with(settings, engine, clock, dev=True)
    magic_link(services, project.project_id)
    magic_link(services, project.project_id, to="bo@acme.example")
    sms_code(services, project.project_id)
    with caplog.at_level("INFO", logger="antechamber.delivery.worker"):
        [result] = drain(DeliveryWorker(services))
    assert result.sent == 3
    lines = [r.getMessage() for r in caplog.records if r.name == "antechamber.delivery.worker"]
    assert lines == ["3 message(s) kept in the development inbox (2 email, 1 sms)"]
    assert services.metrics.sent.labels("email", "inbox")._value.get() == 2


def test_a_channel_without_provider_uses_the_inbox(settings: Settings) -> None:
    transports = Transports.from_settings(settings.model_copy(update={"smtp_host": "mail"}))
    assert transports.email is not None
    assert transports.email.name == "smtp"
    assert transports.sms is None


# --- claims and leases ----------------------------------------------------------------------


def test_a_crash_mid_batch_loses_nothing_and_sends_nothing_twice(
    services: Services, clock: FrozenClock, project: Credentials
) -> None:
    enqueue_many(services, project.project_id, 6)

    def crash(n: int) -> None:
        if n == 3:
            raise SystemExit("the process dies while sending the third message")

    first = Recording(during=crash)
    with pytest.raises(SystemExit):
        DeliveryWorker(services, Transports(email=first)).run_once()
    assert len(first.sent) == 2
    assert statuses(services) == {"sent": 2, "sending": 4}

    second = Recording()
    restarted = DeliveryWorker(services, Transports(email=second))
    assert restarted.run_once().claimed == 0  # the dead worker's lease still holds
    clock.advance(seconds=services.settings.delivery_lease_seconds)
    drain(restarted)
    assert statuses(services) == {"sent": 6}
    assert sorted(first.sent + second.sent) == sorted(f"person{i}@acme.example" for i in range(6))
    with services.sessions() as session:
        attempts = {m.recipient: m.attempts for m in session.scalars(select(OutboxMessage))}
    # A lost claim counts as a try.
    assert {attempts[r] for r in first.sent} == {1}
    assert {attempts[r] for r in second.sent} == {2}


def test_a_claim_takes_the_earliest_due_at_most_a_batch_in_one_go(
    settings: Settings, engine: Engine, clock: FrozenClock, project: Credentials
) -> None:
    """Due: pending and its time come, or sending on a lease that ran out; oldest due first;
    each claimed one leased to the batch and counted as a try; the rest left as they were."""
    services = services_with(settings, engine, clock, delivery_batch_size=3)
    enqueue_many(services, project.project_id, 6)
    now = clock.now()
    # person0: due last; person1: not due yet; person2: a lease still running; person3: a
    # lease run out (due first); person4 and person5: due in between, in that order.
    plan = {
        "person0": ("pending", now - timedelta(seconds=1), None),
        "person1": ("pending", now + timedelta(seconds=5), None),
        "person2": ("sending", now - timedelta(seconds=50), now + timedelta(seconds=5)),
        "person3": ("sending", now - timedelta(seconds=40), now),
        "person4": ("pending", now - timedelta(seconds=30), None),
        "person5": ("pending", now - timedelta(seconds=20), None),
    }
    with services.sessions.begin() as session:
        for m in session.scalars(select(OutboxMessage)):
            status, due, until = plan[m.recipient.split("@")[0]]
            m.status, m.next_attempt_at, m.claimed_until = status, due, until
    worker = DeliveryWorker(services, Transports(email=Recording()))
    claimed, lease_end = worker._claim("w:1")
    assert [m.recipient.split("@")[0] for m in claimed] == ["person3", "person4", "person5"]
    assert lease_end == now + timedelta(seconds=services.settings.delivery_lease_seconds)
    with services.sessions() as session:
        rows = {m.recipient.split("@")[0]: m for m in session.scalars(select(OutboxMessage))}
    for name in ("person3", "person4", "person5"):
        assert (rows[name].status, rows[name].claimed_by, rows[name].attempts) == (
            "sending",
            "w:1",
            1,
        )
        assert as_utc(rows[name].claimed_until) == lease_end
    assert {rows[n].status for n in ("person0", "person1")} == {"pending"}
    assert (rows["person2"].status, rows["person2"].claimed_by) == ("sending", None)
    assert {rows[n].attempts for n in ("person0", "person1", "person2")} == {0}
    # The next claim takes the one left due; nothing else is.
    assert [m.recipient.split("@")[0] for m in worker._claim("w:2")[0]] == ["person0"]
    assert worker._claim("w:3")[0] == []


def test_a_backlog_grows_the_batch_up_to_its_bound_and_a_short_batch_sets_it_back(
    settings: Settings, engine: Engine, clock: FrozenClock, project: Credentials
) -> None:
    # A poll interval no batch here takes: every full batch counts as fast.
    services = services_with(
        settings, engine, clock, delivery_batch_size=1, delivery_poll_seconds=60
    )
    enqueue_many(services, project.project_id, 40)
    sender = Recording()
    worker = DeliveryWorker(services, Transports(email=sender))
    assert [r.claimed for r in drain(worker)] == [1, 2, 4, 8, 10, 10, 5]
    assert worker.batch_size == 1  # the last batch was not full
    assert statuses(services) == {"sent": 40}
    assert len(set(sender.sent)) == 40


def test_a_slow_batch_does_not_grow_the_next(
    settings: Settings, engine: Engine, clock: FrozenClock, project: Credentials
) -> None:
    # Every batch takes longer than this poll interval (a slow provider).
    services = services_with(
        settings, engine, clock, delivery_batch_size=2, delivery_poll_seconds=0.001
    )
    enqueue_many(services, project.project_id, 7)
    slow = Recording(during=lambda n: time.sleep(0.002))
    worker = DeliveryWorker(services, Transports(email=slow))
    assert [r.claimed for r in drain(worker)] == [2, 2, 2, 1]
    assert statuses(services) == {"sent": 7}


def two_workers_race(services: Services) -> tuple[Counter[str], list[Recording]]:
    """Two workers started together, each claiming until nothing is left: how often each
    message was sent, and the two senders."""
    senders = [Recording(), Recording()]
    workers = [
        DeliveryWorker(services, Transports(email=s), name=f"w{i}") for i, s in enumerate(senders)
    ]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(worker: DeliveryWorker) -> None:
        start.wait()
        try:
            while worker.run_once().claimed:
                pass
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    return Counter(senders[0].sent + senders[1].sent), senders


def test_two_workers_never_send_one_message_twice(
    settings: Settings, engine: Engine, clock: FrozenClock, project: Credentials
) -> None:
    """Small batches claimed by two workers at once (SQLite: serialised by its writer lock;
    PostgreSQL: SKIP LOCKED), each message sent exactly once and recorded sent."""
    services = services_with(
        settings, engine, clock, delivery_batch_size=7, limit_email_per_project="5000/hour"
    )
    enqueue_many(services, project.project_id, 150)
    delivered, _ = two_workers_race(services)
    assert len(delivered) == 150
    assert set(delivered.values()) == {1}
    assert statuses(services) == {"sent": 150}


def test_a_batch_stops_before_its_lease_could_run_out(
    services: Services, clock: FrozenClock, project: Credentials
) -> None:
    enqueue_many(services, project.project_id, 3)
    s = services.settings
    # The first send is slow: afterwards less than one send timeout of lease is left.
    slow = Recording(
        during=lambda n: (
            clock.advance(seconds=s.delivery_lease_seconds - s.delivery_send_timeout_seconds + 1)
            if n == 1
            else None
        )
    )
    result = DeliveryWorker(services, Transports(email=slow)).run_once()
    assert (result.sent, result.released) == (1, 2)
    assert statuses(services) == {"sent": 1, "pending": 2}
    with services.sessions() as session:
        released = session.scalars(
            select(OutboxMessage.attempts).where(OutboxMessage.status == "pending")
        ).all()
    assert released == [0, 0]  # given back unsent: not a try


def test_stop_finishes_the_message_in_hand_and_gives_the_rest_back(
    services: Services, project: Credentials
) -> None:
    enqueue_many(services, project.project_id, 5)
    holder: list[DeliveryWorker] = []
    sender = Recording(during=lambda n: holder[0].request_stop() if n == 2 else None)
    worker = DeliveryWorker(services, Transports(email=sender))
    holder.append(worker)
    result = worker.run_once()
    assert (result.sent, result.released) == (2, 3)
    # No lease to wait for: another worker takes them at once.
    drain(DeliveryWorker(services, Transports(email=sender)))
    assert statuses(services) == {"sent": 5}
    assert len(sender.sent) == 5


def test_late_outcome_of_a_lost_claim_does_not_overwrite(
    services: Services, clock: FrozenClock, project: Credentials
) -> None:
    magic_link(services, project.project_id)
    worker = DeliveryWorker(services, Transports(email=Recording()))
    claimed, _ = worker._claim("worker-a:1")
    # The lease expires and another worker delivers it.
    clock.advance(seconds=services.settings.delivery_lease_seconds)
    other = Recording()
    drain(DeliveryWorker(services, Transports(email=other)))
    assert len(other.sent) == 1
    # The first worker comes back and reports a failure: it no longer holds the claim.
    worker._fail(claimed[0], "worker-a:1", "permanent", "late")
    assert statuses(services) == {"sent": 1}


def test_a_message_that_keeps_killing_workers_is_given_up(
    services: Services, clock: FrozenClock, project: Credentials
) -> None:
    magic_link(services, project.project_id, minutes=600)
    max_attempts = services.settings.delivery_max_attempts
    with services.sessions.begin() as session:
        session.execute(update(OutboxMessage).values(attempts=max_attempts))
    sender = Recording()
    [result] = drain(DeliveryWorker(services, Transports(email=sender)))
    assert result.failed == 1
    assert sender.sent == []
    with services.sessions() as session:
        [m] = outbox.recent(session)
    assert (m.status, m.last_error) == ("failed", "claimed too often without an outcome")


def test_a_payload_sealed_under_another_key_fails_clearly(
    settings: Settings, engine: Engine, clock: FrozenClock, project: Credentials
) -> None:
    services = services_with(settings, engine, clock)
    magic_link(services, project.project_id)
    rotated = services_with(settings, engine, clock, secret_key=SecretStr("another-key"))
    drain(DeliveryWorker(rotated, Transports(email=Recording())))
    with services.sessions() as session:
        [m] = outbox.recent(session)
    assert m.status == "failed"
    assert m.last_error is not None
    assert "ANTECHAMBER_SECRET_KEY" in m.last_error


def test_a_message_that_cannot_be_rendered_fails_at_once(
    services: Services, project: Credentials
) -> None:
    magic_link(services, project.project_id)
    with services.sessions.begin() as session:  # say, a template removed by an upgrade
        session.execute(update(OutboxMessage).values(template="retired_template"))
    sender = Recording()
    [result] = drain(DeliveryWorker(services, Transports(email=sender)))
    assert result.failed == 1
    assert sender.sent == []
    with services.sessions() as session:
        [m] = outbox.recent(session)
    assert m.status == "failed"
    assert m.last_error == "cannot render: no message template named 'retired_template'"


# --- the loop, in the server and on its own -------------------------------------------------


def wait_for(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    """Wait for a background thread's effect (not for time to pass)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def test_the_server_runs_the_worker(
    settings: Settings, engine: Engine, clock: FrozenClock, project: Credentials
) -> None:
    from starlette.testclient import TestClient

    from antechamber.app import create_app

    app = create_app(
        settings.model_copy(update={"delivery_worker": True, "delivery_poll_seconds": 0.05}),
        engine=engine,
        clock=clock,
    )
    services: Services = app.state.services
    with TestClient(app):
        assert app.state.delivery_worker is not None
        magic_link(services, project.project_id)
        wait_for(lambda: statuses(services) == {"sent": 1})
    assert app.state.delivery_worker._thread is None  # stopped with the server


def test_the_server_can_leave_delivery_to_a_separate_worker(
    settings: Settings, engine: Engine, clock: FrozenClock
) -> None:
    from starlette.testclient import TestClient

    from antechamber.app import create_app

    app = create_app(settings, engine=engine, clock=clock)  # delivery_worker=False
    with TestClient(app):
        assert app.state.delivery_worker is None


def worker_process(settings: Settings, smtp: SmtpServer, tmp_path: Path) -> subprocess.Popen[str]:
    """`antechamber worker` in its own process, on the test database, sending to `smtp`."""
    package_parent = str(Path(antechamber.__file__).resolve().parent.parent)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ANTECHAMBER_")},
        "PYTHONPATH": package_parent,
        "ANTECHAMBER_DATABASE_URL": settings.database_url,
        "ANTECHAMBER_SECRET_KEY": settings.key_bytes().decode(),
        "ANTECHAMBER_STATE_DIR": str(tmp_path / "worker-state"),
        "ANTECHAMBER_PUBLIC_BASE_URL": settings.public_base_url,
        "ANTECHAMBER_SMTP_HOST": smtp.host,
        "ANTECHAMBER_SMTP_PORT": str(smtp.port),
        "ANTECHAMBER_SMTP_TLS": "none",
        "ANTECHAMBER_SMTP_FROM": "login@acme.example",
        "ANTECHAMBER_DELIVERY_BATCH_SIZE": "10",
        "ANTECHAMBER_LOG_LEVEL": "warning",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "antechamber", "worker"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_worker_killed_mid_batch_and_restarted_delivers_each_message_once(
    settings: Settings,
    services: Services,
    clock: FrozenClock,
    project: Credentials,
    smtp_server: SmtpServer,
    tmp_path: Path,
) -> None:
    enqueue_many(services, project.project_id, 30)
    proc = worker_process(settings, smtp_server, tmp_path)

    def kill_on_15th(n: int) -> str | None:
        if n == 15:  # mid-batch (batches of 10), before this message is accepted
            os.kill(proc.pid, signal.SIGKILL)
            return "421 4.3.0 going away"
        return None

    smtp_server.recorder.on_data = kill_on_15th
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
    assert len(smtp_server.received) == 14

    # Restart once the dead worker's lease has run out (the clock, not a sleep).
    smtp_server.recorder.on_data = None
    clock.advance(seconds=settings.delivery_lease_seconds + 60)
    smtp_settings = {
        "smtp_host": smtp_server.host,
        "smtp_port": smtp_server.port,
        "smtp_tls": "none",
        "smtp_from": "login@acme.example",
    }
    restarted = DeliveryWorker(
        Services.build(settings.model_copy(update=smtp_settings), services.engine, clock)
    )
    drain(restarted)

    delivered = Counter(tuple(r.rcpt_tos) for r in smtp_server.received)
    assert len(delivered) == 30
    assert set(delivered.values()) == {1}
    assert statuses(services) == {"sent": 30}


def test_sigterm_gives_the_batch_back_at_once(
    settings: Settings,
    services: Services,
    project: Credentials,
    smtp_server: SmtpServer,
    tmp_path: Path,
) -> None:
    enqueue_many(services, project.project_id, 10)
    proc = worker_process(settings, smtp_server, tmp_path)

    def term_on_4th(n: int) -> None:
        if n == 4:
            os.kill(proc.pid, signal.SIGTERM)

    smtp_server.recorder.on_data = term_on_4th
    proc.wait(timeout=60)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    assert len(smtp_server.received) == 4  # the message in hand was finished
    assert statuses(services) == {"sent": 4, "pending": 6}  # no lease to wait for


@pytest.mark.postgres_only
def test_two_workers_over_a_thousand_messages_deliver_each_once(
    settings: Settings, engine: Engine, clock: FrozenClock, project: Credentials
) -> None:
    assert USE_PG
    services = services_with(settings, engine, clock, limit_email_per_project="5000/hour")
    enqueue_many(services, project.project_id, 1000)
    delivered, senders = two_workers_race(services)
    assert len(delivered) == 1000
    assert set(delivered.values()) == {1}
    assert all(s.sent for s in senders)  # both took part
    assert statuses(services) == {"sent": 1000}
