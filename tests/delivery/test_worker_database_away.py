"""The database goes away between a provider's acceptance and the commit that records it
(PostgreSQL restarting, as `bench faults` does): the worker keeps trying to record the outcome
rather than leave the claim to expire and the message to be sent again."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from antechamber import db
from antechamber.clock import FrozenClock
from antechamber.delivery import worker as worker_module
from antechamber.delivery.worker import DeliveryWorker, Transports
from antechamber.services import Services
from tests.conftest import Credentials
from tests.delivery.conftest import drain
from tests.delivery.test_worker import Recording, enqueue_many, statuses


class Outage:
    """`db.transaction` as the worker sees it, failing `n` times once armed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.remaining = 0
        self.failed = 0
        real = db.transaction

        @contextmanager
        def transaction(*args: Any, **kwargs: Any) -> Iterator[Any]:
            if self.remaining:
                self.remaining -= 1
                self.failed += 1
                raise OperationalError("UPDATE outbox_messages", {}, ConnectionError("gone"))
            with real(*args, **kwargs) as session:
                yield session

        monkeypatch.setattr(worker_module.db, "transaction", transaction)

    def arm(self, n: int) -> None:
        self.remaining = n


def test_an_outcome_is_recorded_once_the_database_is_back(
    services: Services, clock: FrozenClock, project: Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    enqueue_many(services, project.project_id, 3)
    outage = Outage(monkeypatch)
    sender = Recording(during=lambda n: outage.arm(3) if n == 2 else None)
    worker = DeliveryWorker(services, Transports(email=sender))
    worker.record_retry_seconds = 0.01
    drain(worker)
    assert outage.failed == 3
    assert statuses(services) == {"sent": 3}
    # Even once every lease has run out, nothing is sent again.
    clock.advance(seconds=services.settings.delivery_lease_seconds * 2)
    drain(worker)
    assert sorted(sender.sent) == sorted(f"person{i}@acme.example" for i in range(3))


def test_a_stopping_worker_does_not_wait_for_the_database(
    services: Services, project: Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    enqueue_many(services, project.project_id, 1)
    outage = Outage(monkeypatch)
    worker = DeliveryWorker(services, Transports(email=Recording()))

    def away_and_stop(n: int) -> None:
        outage.arm(1000)
        worker.request_stop()

    worker.transports = Transports(email=Recording(during=away_and_stop))
    with pytest.raises(OperationalError):
        worker.run_once()
    assert outage.failed == 1
