"""Real servers for delivery tests: an SMTP server (aiosmtpd) and a fake Twilio API, each on a
random loopback port, plus helpers to put messages in the outbox."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import logging
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import Engine

from antechamber.clock import FrozenClock
from antechamber.delivery import outbox
from antechamber.delivery.worker import BatchResult, DeliveryWorker
from antechamber.services import Services
from antechamber.settings import Settings
from tests.conftest import _free_port

# aiosmtpd reports every connection's end at INFO from its own thread, sometimes after pytest
# has closed the stream a test's log handler writes to ("--- Logging error ---" in the output).
logging.getLogger("mail.log").setLevel(logging.WARNING)

# --- outbox helpers -------------------------------------------------------------------------


def magic_link(
    services: Services,
    project_id: str,
    to: str = "ada@acme.example",
    *,
    token: str = "tok3n",
    minutes: int = 15,
    locale: str = "en",
) -> str:
    """Enqueue a discovery magic link in its own transaction; returns the link."""
    url = f"https://app.acme.example/authenticate?stytch_token_type=discovery&token={token}"
    with services.scope(project_id, "test", "test") as scope:
        message = outbox.enqueue(
            scope,
            channel="email",
            recipient=to,
            template="discovery_magic_link",
            context={"url": url, "expiration_minutes": minutes},
            locale=locale,
        )
        assert message.status == "pending"
    return url


def sms_code(
    services: Services,
    project_id: str,
    to: str = "+12025550123",
    *,
    code: str = "123456",
    minutes: int = 10,
) -> None:
    with services.scope(project_id, "test", "test") as scope:
        outbox.enqueue(
            scope,
            channel="sms",
            recipient=to,
            template="sms_otp",
            context={"code": code, "expiration_minutes": minutes},
        )


def drain(worker: DeliveryWorker, *, max_batches: int = 100) -> list[BatchResult]:
    """Run batches until nothing is due."""
    results = []
    for _ in range(max_batches):
        result = worker.run_once()
        if not result.claimed:
            return results
        results.append(result)
    raise AssertionError("the outbox never emptied")


def services_with(
    settings: Settings, engine: Engine, clock: FrozenClock, **overrides: Any
) -> Services:
    return Services.build(settings.model_copy(update=overrides), engine, clock)


# --- SMTP -----------------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class SmtpRecorder:
    """An aiosmtpd handler that keeps what it accepts. `on_data` may answer instead (a string
    such as "550 …") or act (kill a worker) before the message counts as accepted."""

    received: list[Received] = field(default_factory=list)
    on_data: Callable[[int], str | None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.on_data is not None:
            answer = self.on_data(len(self.received) + 1)
            if answer is not None:
                return answer
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 No such user here"
        if address.startswith("busy@"):
            return "451 4.3.0 Mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@dataclass
class SmtpServer:
    host: str
    port: int
    recorder: SmtpRecorder

    @property
    def received(self) -> list[Received]:
        return self.recorder.received


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A plain SMTP server on a random loopback port."""
    recorder = SmtpRecorder()
    port = _free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    yield SmtpServer("127.0.0.1", port, recorder)
    controller.stop()


@dataclass(frozen=True)
class Certificate:
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1; clients trust it via ANTECHAMBER_SMTP_CA_FILE."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(cert_file, key_file)


SMTP_USER, SMTP_PASSWORD = "relay-user", "relay-password"


def check_login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = (
        isinstance(data, LoginPassword)
        and data.login == SMTP_USER.encode()
        and data.password == SMTP_PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def starttls_server(certificate: Certificate) -> Iterator[SmtpServer]:
    """SMTP that insists on STARTTLS and a login before it accepts mail."""
    recorder = SmtpRecorder()
    port = _free_port()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=port,
        tls_context=certificate.server_context(),
        require_starttls=True,
        authenticator=check_login,
        auth_required=True,
    )
    controller.start()
    yield SmtpServer("127.0.0.1", port, recorder)
    controller.stop()


@pytest.fixture
def implicit_tls_server(certificate: Certificate) -> Iterator[SmtpServer]:
    """SMTP over TLS from the first byte (port 465 style)."""
    recorder = SmtpRecorder()
    port = _free_port()
    controller = Controller(
        recorder, hostname="127.0.0.1", port=port, ssl_context=certificate.server_context()
    )
    controller.start()
    yield SmtpServer("127.0.0.1", port, recorder)
    controller.stop()


# --- Twilio ---------------------------------------------------------------------------------

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "twilio-auth-token"


@dataclass
class TwilioRequest:
    path: str
    auth: tuple[str, str]
    content_type: str
    form: dict[str, str]


@dataclass
class FakeTwilio:
    """Twilio's Messages API as far as we use it. It checks what Twilio checks (path, Basic
    auth, form encoding, required fields) and answers with Twilio's shapes. `replies` queues
    (status, body) answers for the next requests, e.g. a 500 then the default 201."""

    url: str
    requests: list[TwilioRequest] = field(default_factory=list)
    replies: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    credentials: tuple[str, str] = (ACCOUNT_SID, AUTH_TOKEN)


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    port = _free_port()
    fake = FakeTwilio(f"http://127.0.0.1:{port}")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length).decode()
            scheme, _, encoded = self.headers.get("Authorization", "").partition(" ")
            user, _, password = base64.b64decode(encoded or "").decode().partition(":")
            form = {k: v[0] for k, v in parse_qs(raw).items()}
            request = TwilioRequest(
                self.path, (user, password), self.headers.get("Content-Type", ""), form
            )
            fake.requests.append(request)
            expected_path = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
            if scheme != "Basic" or (user, password) != fake.credentials:
                self._answer(401, _error(20003, "Authenticate", 401))
                return
            if self.path != expected_path:
                self._answer(404, _error(20404, "The requested resource was not found", 404))
                return
            if not request.content_type.startswith("application/x-www-form-urlencoded"):
                self._answer(400, _error(21601, "Unsupported content type", 400))
                return
            if "To" not in form or "Body" not in form:
                self._answer(400, _error(21604, "A 'To' phone number is required.", 400))
                return
            if ("From" in form) == ("MessagingServiceSid" in form):
                self._answer(400, _error(21603, "A 'From' phone number is required.", 400))
                return
            if fake.replies:
                status, body = fake.replies.pop(0)
                self._answer(status, body)
                return
            sid = f"SM{len(fake.requests):032d}"
            self._answer(201, {"sid": sid, "status": "queued", "to": form["To"], "body": "…"})

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


def _error(code: int, message: str, status: int) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


twilio_error = _error
