"""Prometheus metrics, one registry per `Services` (tests build many apps in one process).

Counters count what this process did; the outbox backlog gauges are read from the database at
scrape time, so they are right whichever process (server or `antechamber worker`) delivers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from antechamber import db
from antechamber.clock import Clock, as_utc

log = logging.getLogger("antechamber.metrics")


def _registry() -> CollectorRegistry:
    return CollectorRegistry(auto_describe=True)


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=_registry)

    def __post_init__(self) -> None:
        r = self.registry
        self.sent = Counter(
            "antechamber_delivery_sent",
            "Messages delivered, by channel and by where they went (smtp, twilio, inbox).",
            ["channel", "via"],
            registry=r,
        )
        self.retried = Counter(
            "antechamber_delivery_retried",
            "Transient delivery failures that were scheduled for another try.",
            ["channel"],
            registry=r,
        )
        self.failed = Counter(
            "antechamber_delivery_failed",
            "Messages given up on: permanent (provider refused), exhausted (too many tries), "
            "expired (its link or code ran out first).",
            ["channel", "reason"],
            registry=r,
        )
        self.refused = Counter(
            "antechamber_delivery_refused",
            "Sends refused before reaching the outbox, by the limit or rule that refused them.",
            ["channel", "reason"],
            registry=r,
        )
        self.rate_limited = Counter(
            "antechamber_rate_limited",
            "Requests refused by a rate limit, by limit name.",
            ["limit"],
            registry=r,
        )
        # Labels are bounded: the route *template* (or "(unmatched)"), never the raw path, which
        # could carry ids or tokens and would grow without bound.
        self.http_requests = Counter(
            "antechamber_http_requests",
            "HTTP requests served, by route template, method and status code.",
            ["route", "method", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "antechamber_http_request_duration_seconds",
            "Time to serve an HTTP request, by route template.",
            ["route"],
            registry=r,
        )
        self.logins = Counter(
            "antechamber_logins",
            "Login steps concluded: session (a session started), mfa_required or "
            "primary_required (an intermediate session waits for another factor).",
            ["outcome"],
            registry=r,
        )
        self.mfa = Counter(
            "antechamber_mfa",
            "Second-factor checks, by method (sms_otp, totp, recovery_code) and outcome "
            "(success, failure).",
            ["method", "outcome"],
            registry=r,
        )
        # (route, method, status) -> the request counter's and the duration histogram's child
        # for those labels: `labels` takes a lock and builds its key on every call.
        self._served: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        # The same for the login and second-factor counters: label values -> child.
        self._logins: dict[str, Any] = {}
        self._mfa: dict[tuple[str, str], Any] = {}

    def count_request(self, route: str, method: str, status: int, elapsed: float) -> None:
        """Count a request served (by route template, method and status) and its duration."""
        children = self._served.get((route, method, status))
        if children is None:
            children = (
                self.http_requests.labels(route, method, str(status)),
                self.http_duration.labels(route),
            )
            self._served[(route, method, status)] = children
        children[0].inc()
        children[1].observe(elapsed)

    def count_login(self, outcome: str) -> None:
        """Count a login step concluded (`sessions.login.conclude`) with `outcome`."""
        child = self._logins.get(outcome)
        if child is None:
            child = self._logins[outcome] = self.logins.labels(outcome)
        child.inc()

    def count_mfa(self, method: str, outcome: str) -> None:
        """Count a second-factor check of `method` with `outcome` (success, failure)."""
        child = self._mfa.get((method, outcome))
        if child is None:
            child = self._mfa[(method, outcome)] = self.mfa.labels(method, outcome)
        child.inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class OutboxBacklog(Collector):
    """Pending messages and the age of the oldest, per channel: the delivery health signal."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self.sessions = sessions
        self.clock = clock

    def describe(self) -> list[Metric]:
        return []  # collected lazily: no database query when the collector is registered

    def collect(self) -> Iterator[Metric]:
        from antechamber.delivery.models import OutboxMessage

        pending = GaugeMetricFamily(
            "antechamber_outbox_pending_messages",
            "Messages not yet delivered nor given up on.",
            labels=["channel"],
        )
        oldest = GaugeMetricFamily(
            "antechamber_outbox_oldest_pending_age_seconds",
            "Age of the oldest message not yet delivered.",
            labels=["channel"],
        )
        try:
            with db.transaction(self.sessions, read_only=True) as session:
                rows = session.execute(
                    select(
                        OutboxMessage.channel,
                        func.count(),
                        func.min(OutboxMessage.created_at),
                    )
                    .where(OutboxMessage.status.in_(("pending", "sending")))
                    .group_by(OutboxMessage.channel)
                ).all()
        except Exception:
            # A scrape must never fail the endpoint; the counters are still worth having.
            log.exception("could not read the outbox backlog")
            return
        now = self.clock.now()
        seen = set()
        for channel, count, first in rows:
            seen.add(channel)
            pending.add_metric([channel], count)
            oldest.add_metric([channel], max(0.0, (now - as_utc(first)).total_seconds()))
        for channel in ("email", "sms"):
            if channel not in seen:
                pending.add_metric([channel], 0)
                oldest.add_metric([channel], 0)
        yield pending
        yield oldest
