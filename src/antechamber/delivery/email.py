"""Email over SMTP with aiosmtplib, and building the message a template rendered.

`SmtpSender` keeps one connection for a batch (the worker closes it after each batch), speaks
STARTTLS (required, not opportunistic), implicit TLS, or plain SMTP for a relay on the same
host, and logs in when credentials are set. It runs aiosmtplib on an event loop of its own, so
the synchronous worker can call it from any one thread.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

import aiosmtplib

from antechamber.delivery.messages import Rendered
from antechamber.delivery.transport import PermanentFailure, TransientFailure
from antechamber.settings import Settings

log = logging.getLogger("antechamber.delivery.email")


def build_email(
    rendered: Rendered, *, to: str, message_id: str, settings: Settings, now: datetime
) -> EmailMessage:
    """A multipart/alternative message (plain text, then HTML) with the headers we promise.

    The Message-ID is derived from the outbox message id, so if a message is ever sent twice
    (a worker died between the provider's acceptance and our bookkeeping), mail systems see the
    same message and may fold the copies.
    """
    if rendered.subject is None or rendered.html is None:
        raise ValueError("an email needs a subject and an HTML body")
    sender = settings.smtp_sender
    domain = parseaddr(sender)[1].rpartition("@")[2] or settings.public_host
    email = EmailMessage()
    email["From"] = sender
    email["To"] = to
    email["Subject"] = rendered.subject
    email["Date"] = format_datetime(now)
    email["Message-ID"] = f"<{message_id}@{domain}>"
    # RFC 3834: an automatic message; out-of-office robots should not answer it.
    email["Auto-Submitted"] = "auto-generated"
    email["X-Auto-Response-Suppress"] = "All"
    email.set_content(rendered.text)
    email.add_alternative(rendered.html, subtype="html")
    return email


class SmtpSender:
    name = "smtp"

    def __init__(self, settings: Settings) -> None:
        if not settings.smtp_host:
            raise ValueError("SMTP is not configured (ANTECHAMBER_SMTP_HOST)")
        self.settings = settings
        self._runner: asyncio.Runner | None = None
        self._smtp: aiosmtplib.SMTP | None = None

    def send_email(self, message: EmailMessage) -> None:
        try:
            self._run(self._send(message))
        except (PermanentFailure, TransientFailure):
            self._drop()
            raise

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._run(self._quit())
            except Exception as exc:  # closing is best effort
                log.debug("SMTP quit failed: %s", exc)
            self._smtp = None
        if self._runner is not None:
            self._runner.close()
            self._runner = None

    def _run(self, coro: object) -> None:
        if self._runner is None:
            self._runner = asyncio.Runner()
        self._runner.run(coro)  # type: ignore[arg-type]

    def _drop(self) -> None:
        # After any failure the connection's state is unknown: start the next send afresh.
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    def _client(self) -> aiosmtplib.SMTP:
        s = self.settings
        context = None
        if s.smtp_tls != "none":
            context = ssl.create_default_context(
                cafile=str(s.smtp_ca_file) if s.smtp_ca_file else None
            )
        return aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_effective_port,
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            use_tls=s.smtp_tls == "implicit",
            start_tls=s.smtp_tls == "starttls",
            tls_context=context,
            timeout=s.delivery_send_timeout_seconds,
        )

    async def _send(self, message: EmailMessage) -> None:
        try:
            # The timeout bounds the whole exchange (connect, TLS, login, the message), so the
            # worker can tell whether its claim outlasts the send.
            async with asyncio.timeout(self.settings.delivery_send_timeout_seconds):
                if self._smtp is None or not self._smtp.is_connected:
                    self._smtp = self._client()
                    await self._smtp.connect()
                await self._smtp.send_message(message)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            text = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
            if codes and all(500 <= c < 600 for c in codes):
                raise PermanentFailure(f"recipient refused: {text}") from None
            raise TransientFailure(f"recipient deferred: {text}") from None
        except (aiosmtplib.SMTPRecipientRefused, aiosmtplib.SMTPDataError) as exc:
            if 500 <= exc.code < 600:
                raise PermanentFailure(f"refused: {exc.code} {exc.message}") from None
            raise TransientFailure(f"deferred: {exc.code} {exc.message}") from None
        except aiosmtplib.SMTPResponseException as exc:
            # Sender refused, authentication failed, HELO refused: the relay or our settings
            # are wrong, which an operator can fix before the retries run out.
            log.error("SMTP relay answered %s %s", exc.code, exc.message)
            raise TransientFailure(f"relay error: {exc.code} {exc.message}") from None
        except TimeoutError:
            timeout = self.settings.delivery_send_timeout_seconds
            raise TransientFailure(f"the relay did not finish within {timeout:g} s") from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise TransientFailure(f"{type(exc).__name__}: {exc}") from None

    async def _quit(self) -> None:
        if self._smtp is not None and self._smtp.is_connected:
            await self._smtp.quit()
