"""The delivery worker: claims due messages from the outbox, sends them, records the outcome.

How a message moves (one database transaction per arrow, none held while talking to a
provider):

    claim:   pending and due, or sending with an expired lease
             → sending, claimed_until = now + lease, claimed_by = this batch, attempts + 1
    deliver: → sent | pending at now + backoff (transient failure) | failed
             (messages kept in the development inbox: one commit for the batch's lot)

A claim is one statement, `UPDATE … WHERE id IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)
RETURNING …`: on PostgreSQL the rows other workers' claims hold are skipped, so several workers
take disjoint batches; on SQLite the claim transaction starts with `BEGIN IMMEDIATE`, which
serialises claims (run one worker there: more add nothing). A batch is `delivery_batch_size`
messages, doubled after each full batch that ended within a poll interval, up to ten times
that (`_adapt`): under a backlog, fewer units of work a message.

Each outcome is committed right after its send and only if this batch still holds the claim, so
a worker that dies mid-batch loses nothing: its unsent messages are claimed again once their
lease expires, and the ones it marked sent are not sent again. The one unavoidable at-least-once
window is between a provider accepting a message and the commit that records it (milliseconds);
the email's Message-ID is stable across retries so mail systems can fold such a copy. A worker
told to stop finishes the message in hand and gives the rest of its batch back at once.

Backoff: the n-th retry waits min(max, base·2ⁿ⁻¹), scaled by a random factor in [0.5, 1) so that
messages failed together do not retry together. A message whose link or code has expired
(`expiration_minutes` in its context) is failed instead of sent late.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jinja2
from sqlalchemy.exc import OperationalError

from antechamber import db
from antechamber.clock import as_utc
from antechamber.crypto import Unsealable
from antechamber.delivery import claims, messages
from antechamber.delivery.email import SmtpSender, build_email
from antechamber.delivery.outbox import unseal_context
from antechamber.delivery.sms import TwilioSms
from antechamber.delivery.transport import (
    EmailSender,
    PermanentFailure,
    SmsSender,
    TransientFailure,
)
from antechamber.services import Services
from antechamber.settings import Settings

log = logging.getLogger("antechamber.delivery.worker")
INBOX = "inbox"
MAX_ERROR_CHARS = 1000
#: Under a backlog a batch grows up to this many times `delivery_batch_size` (`_adapt`).
MAX_BATCH_GROWTH = 10


@dataclass
class Transports:
    """The provider of each channel; None keeps that channel's messages in the inbox."""

    email: EmailSender | None = None
    sms: SmsSender | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Transports:
        """Development mode, or a channel without a provider: the development inbox."""
        if settings.dev:
            return cls()
        return cls(
            email=SmtpSender(settings) if settings.smtp_configured else None,
            sms=TwilioSms(settings) if settings.sms_configured else None,
        )

    def close(self) -> None:
        for sender in (self.email, self.sms):
            if sender is not None:
                try:
                    sender.close()
                except Exception:
                    log.exception("closing a %s sender failed", sender.name)


@dataclass(frozen=True)
class BatchResult:
    """What one `run_once` did. `released`: claimed, then given back unsent (stopping)."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    released: int = 0


@dataclass(frozen=True)
class _Claimed:
    id: str
    channel: str
    recipient: str
    template: str
    locale: str
    payload: str
    attempts: int
    created_at: datetime


class DeliveryWorker:
    """Sends what the outbox holds. `run_once` does one batch (tests drive it directly);
    `run` loops until `stop`; `start` runs that loop in a daemon thread."""

    def __init__(
        self,
        services: Services,
        transports: Transports | None = None,
        *,
        name: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.services = services
        self.settings = services.settings
        self.transports = transports or Transports.from_settings(services.settings)
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not a secret)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        #: Pause between two tries at recording an outcome while the database is away.
        self.record_retry_seconds = 0.5
        #: How many messages the next batch claims (`_adapt`).
        self.batch_size = self.settings.delivery_batch_size

    # --- the loop -------------------------------------------------------------------------

    def run(self) -> None:
        """Deliver until `stop()`: a full batch is followed at once by the next, an idle or
        failed one by a pause. An error (the database is down) is logged, never raised."""
        poll = self.settings.delivery_poll_seconds
        try:
            while not self._stopping.is_set():
                asked = self.batch_size
                try:
                    result = self.run_once()
                except Exception:
                    log.exception("delivery batch failed; trying again shortly")
                    self._stopping.wait(min(30.0, poll * 5))
                    continue
                if result.claimed < asked:
                    self._stopping.wait(poll)
        finally:
            self.transports.close()

    def start(self) -> None:
        """Run the loop in a background thread (the server's lifespan does this)."""
        self._stopping.clear()
        self._thread = threading.Thread(target=self.run, name="delivery-worker", daemon=True)
        self._thread.start()

    @property
    def stopping(self) -> threading.Event:
        """Set once the loop is asked to stop (wait on it to pause until then)."""
        return self._stopping

    def request_stop(self) -> None:
        """Ask the loop to stop after the message in hand (safe from a signal handler)."""
        self._stopping.set()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Ask the loop to stop, and wait for its thread if `start` made one."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    # --- one batch ------------------------------------------------------------------------

    def run_once(self) -> BatchResult:
        """Claim up to `batch_size` due messages and deliver them one by one."""
        token = f"{self.name}:{secrets.token_hex(4)}"[-80:]
        started = time.monotonic()
        claimed, lease_end = self._claim(token)
        if not claimed:
            self._adapt(0, 0.0)
            return BatchResult()
        counts = {"sent": 0, "retried": 0, "failed": 0, "released": 0}
        margin = timedelta(seconds=self.settings.delivery_send_timeout_seconds)
        kept: list[_Claimed] = []  # kept in the development inbox; recorded together below
        try:
            for index, message in enumerate(claimed):
                # Stop early rather than send on a lease that may run out mid-send (another
                # worker could then claim and send the same message).
                if self._stopping.is_set() or self.services.clock.now() + margin > lease_end:
                    counts["released"] = self._release(claimed[index:], token)
                    break
                counts[self._deliver(message, token, kept)] += 1
        finally:
            try:
                self._record_kept(kept, token)
            finally:
                self.transports.close()
        self._adapt(len(claimed), time.monotonic() - started)
        return BatchResult(claimed=len(claimed), **counts)

    def _adapt(self, claimed: int, seconds: float) -> None:
        """Size the next batch to the backlog: after a full batch done within a poll interval,
        twice as many (up to `MAX_BATCH_GROWTH` times `delivery_batch_size`); otherwise
        `delivery_batch_size` again.

        A batch's claim and its record are a unit of work each, whatever its size, and on
        SQLite each takes the writer lock the server's requests queue on: under a backlog
        fewer, larger batches cost less a message. Bounded in time as well as in number, so a
        slow provider keeps batches short: a claim holds its messages back from other workers
        (PostgreSQL) until it ends, and the lease margin gives back what it could not send."""
        base = self.settings.delivery_batch_size
        if claimed >= self.batch_size and seconds < self.settings.delivery_poll_seconds:
            self.batch_size = min(self.batch_size * 2, base * MAX_BATCH_GROWTH)
        else:
            self.batch_size = base

    def _claim(self, token: str) -> tuple[list[_Claimed], datetime]:
        """Claim up to a batch of due messages, in one unit of work of one statement
        (`claims.CLAIM`); they come back in the order they fell due."""
        now = self.services.clock.now()
        lease_end = now + timedelta(seconds=self.settings.delivery_lease_seconds)
        params = {
            "p_now": now,
            "p_limit": self.batch_size,
            "p_until": lease_end,
            "p_token": token,
        }
        with db.transaction(self.services.sessions) as session:
            rows = db.connection(session, flush=False).execute(claims.CLAIM, params).all()
        # RETURNING promises no order. (One column's datetimes, all of one kind: no as_utc.)
        rows.sort(key=lambda row: (row.next_attempt_at, row.id))
        return [_Claimed(*row[:8]) for row in rows], lease_end

    def _release(self, messages_: list[_Claimed], token: str) -> int:
        """Give unsent claims back: due now, and the claim does not count as a try."""
        params = {"p_ids": [m.id for m in messages_], "p_token": token}
        with db.transaction(self.services.sessions) as session:
            result = db.connection(session, flush=False).execute(claims.RELEASE, params)
        return int(getattr(result, "rowcount", 0) or 0)

    # --- one message ----------------------------------------------------------------------

    def _deliver(self, message: _Claimed, token: str, kept: list[_Claimed]) -> str:
        """Send one claimed message and record the outcome; returns sent, retried or failed.

        A message kept in the development inbox (nothing leaves the server) goes to `kept`
        instead, for `_record_kept`: recording it late can at worst show it once more in the
        inbox after a crash, so one commit serves the batch."""
        now = self.services.clock.now()
        metrics = self.services.metrics
        max_attempts = self.settings.delivery_max_attempts
        if message.attempts > max_attempts:
            # Claimed more often than allowed without an outcome: it keeps killing workers.
            return self._fail(message, token, "exhausted", "claimed too often without an outcome")
        try:
            context = unseal_context(message.payload, self.settings.key_bytes())
        except Unsealable:
            return self._fail(
                message,
                token,
                "permanent",
                "the payload cannot be unsealed with the current ANTECHAMBER_SECRET_KEY",
            )
        expires = _expiry(message, context)
        if expires is not None and now >= expires:
            return self._fail(message, token, "expired", "its link or code expired before delivery")

        try:
            rendered = messages.render(
                message.template, context, locale=message.locale, settings=self.settings
            )
        except (jinja2.TemplateError, LookupError, TypeError, ValueError) as exc:
            # Rendering is deterministic: what fails now fails on every try.
            log.exception("rendering %s failed", message.id)
            return self._fail(message, token, "permanent", f"cannot render: {exc}")

        via = INBOX
        provider_id: str | None = None
        try:
            if message.channel == "email" and self.transports.email is not None:
                via = self.transports.email.name
                email = build_email(
                    rendered,
                    to=message.recipient,
                    message_id=message.id,
                    settings=self.settings,
                    now=now,
                )
                provider_id = str(email["Message-ID"])
                self.transports.email.send_email(email)
            elif message.channel == "sms" and self.transports.sms is not None:
                via = self.transports.sms.name
                provider_id = self.transports.sms.send_sms(message.recipient, rendered.text)
        except PermanentFailure as exc:
            return self._fail(message, token, "permanent", str(exc))
        except TransientFailure as exc:
            return self._retry_or_fail(message, token, str(exc))
        except Exception as exc:
            # A bug or an unforeseen provider reply: keep the worker alive and the message
            # retryable; the traceback is for the operator (it holds no payload).
            log.exception("delivering %s failed unexpectedly", message.id)
            return self._retry_or_fail(message, token, f"{type(exc).__name__}: {exc}")

        if via == INBOX:
            kept.append(message)
            return "sent"
        self._mark(
            [message],
            token,
            status="sent",
            sent_at=self.services.clock.now(),
            claimed_until=None,
            last_error=None,
            delivered_via=via,
            provider_message_id=provider_id,
        )
        metrics.sent.labels(message.channel, via).inc()
        return "sent"

    def _record_kept(self, kept: list[_Claimed], token: str) -> None:
        """Record the messages of a batch kept in the development inbox, in one commit."""
        if not kept:
            return
        self._mark(
            kept,
            token,
            status="sent",
            sent_at=self.services.clock.now(),
            claimed_until=None,
            last_error=None,
            delivered_via=INBOX,
            provider_message_id=None,
        )
        by_channel = Counter(message.channel for message in kept)
        for channel, count in by_channel.items():
            self.services.metrics.sent.labels(channel, INBOX).inc(count)
        # One line a batch (a line a message was a sixth of the worker's time under load); the
        # messages themselves are in the inbox (`antechamber outbox`, /dev/inbox).
        log.info(
            "%d message(s) kept in the development inbox (%s)",
            len(kept),
            ", ".join(f"{count} {channel}" for channel, count in sorted(by_channel.items())),
        )
        if log.isEnabledFor(logging.DEBUG):
            for message in kept:
                log.debug("%s %s kept in the development inbox", message.channel, message.id)

    def _retry_or_fail(self, message: _Claimed, token: str, error: str) -> str:
        if message.attempts >= self.settings.delivery_max_attempts:
            return self._fail(message, token, "exhausted", error)
        delay = self.backoff(message.attempts)
        self._mark(
            [message],
            token,
            status="pending",
            claimed_until=None,
            next_attempt_at=self.services.clock.now() + timedelta(seconds=delay),
            last_error=error[:MAX_ERROR_CHARS],
        )
        self.services.metrics.retried.labels(message.channel).inc()
        log.warning(
            "%s %s: attempt %d failed, retrying in %.0f s: %s",
            message.channel,
            message.id,
            message.attempts,
            delay,
            error,
        )
        return "retried"

    def _fail(self, message: _Claimed, token: str, reason: str, error: str) -> str:
        self._mark(
            [message],
            token,
            status="failed",
            claimed_until=None,
            last_error=error[:MAX_ERROR_CHARS],
        )
        self.services.metrics.failed.labels(message.channel, reason).inc()
        log.error("%s %s failed (%s): %s", message.channel, message.id, reason, error)
        return "failed"

    def _mark(self, messages_: list[_Claimed], token: str, **values: Any) -> None:
        """Record an outcome, but only for the messages this batch still holds the claim of.

        If the database is unreachable (PostgreSQL restarting), keep trying for the length of
        a lease: the message has already gone to its provider, and an outcome not recorded
        would have it sent again once the claim expires (seen under `bench faults`). Past
        that, or when told to stop, the error is raised and the claim left to expire.
        """
        first = messages_[0]
        ids = [m.id for m in messages_]
        statement = claims.mark_statement(tuple(values))
        params = {f"v_{column}": value for column, value in values.items()}
        params["p_ids"] = ids
        params["p_token"] = token
        deadline = time.monotonic() + self.settings.delivery_lease_seconds
        while True:
            try:
                with db.transaction(self.services.sessions) as session:
                    result = db.connection(session, flush=False).execute(statement, params)
                break
            except OperationalError as exc:
                if time.monotonic() >= deadline or self._stopping.is_set():
                    raise
                log.warning(
                    "%s %s%s: recording its outcome failed (%s); trying again",
                    first.channel,
                    first.id,
                    f" and {len(ids) - 1} more" if len(ids) > 1 else "",
                    type(exc.orig).__name__ if exc.orig is not None else "OperationalError",
                )
                self._stopping.wait(self.record_retry_seconds)
        recorded = int(getattr(result, "rowcount", -1))
        if 0 <= recorded < len(ids):
            log.warning(
                "%s %s%s: the claim expired before its outcome was recorded; another worker "
                "may send it again",
                first.channel,
                first.id,
                f" (or {len(ids) - recorded} of {len(ids)} in its batch)" if len(ids) > 1 else "",
            )

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failed try (jittered, see module doc)."""
        s = self.settings
        ceiling = min(
            s.delivery_retry_max_seconds, s.delivery_retry_base_seconds * 2.0 ** (attempts - 1)
        )
        return ceiling * (0.5 + self._rng.random() / 2)


def _expiry(message: _Claimed, context: dict[str, Any]) -> datetime | None:
    minutes = context.get("expiration_minutes")
    if isinstance(minutes, int) and not isinstance(minutes, bool) and minutes > 0:
        return as_utc(message.created_at) + timedelta(minutes=minutes)
    return None
