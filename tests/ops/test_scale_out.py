"""Two server processes on one PostgreSQL and one Redis share everything: tokens, sessions,
keys and rate-limit counters. A flow started on one finishes on the other."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import stytch
from stytch.core.response_base import StytchError

import antechamber
from antechamber.services import Services
from antechamber.settings import Settings
from tests.conftest import Credentials
from tests.factories import CALLBACK_URL, allow_redirect, last_code, magic_token

REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(settings: Settings, port: int, tmp: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTECHAMBER_")}
    assert settings.secret_key is not None
    env |= {
        "PYTHONPATH": str(Path(antechamber.__file__).parent.parent),
        "ANTECHAMBER_DATABASE_URL": settings.database_url,
        "ANTECHAMBER_SECRET_KEY": settings.secret_key.get_secret_value(),
        "ANTECHAMBER_REDIS_URL": REDIS_URL,
        "ANTECHAMBER_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        # Messages stay in the outbox, where the test reads them.
        "ANTECHAMBER_DELIVERY_WORKER": "false",
        "ANTECHAMBER_LOG_LEVEL": "warning",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "antechamber", "serve", "--port", str(port)],
        cwd=tmp,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server on port {port} did not start")


@pytest.fixture
def two_servers(
    settings: Settings, services: Services, tmp_path: Path
) -> Iterator[tuple[str, str]]:
    if not _redis_up():
        pytest.skip("needs Redis at 127.0.0.1:6379")
    ports = (_free_port(), _free_port())
    procs = [_serve(settings, port, tmp_path) for port in ports]
    try:
        yield (f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.mark.postgres_only
def test_a_login_crosses_processes(
    two_servers: tuple[str, str], services: Services, project: Credentials
) -> None:
    allow_redirect(services, project.project_id)
    one, two = (
        stytch.B2BClient(project.project_id, project.secret, environment=url) for url in two_servers
    )
    email = f"ada-{secrets.token_hex(4)}@acme.example"

    one.magic_links.email.discovery.send(email_address=email, discovery_redirect_url=CALLBACK_URL)
    found = two.magic_links.discovery.authenticate(
        discovery_magic_links_token=magic_token(services, email)
    )
    # Magic link and organization on one process, the SMS factor on the other.
    pending = one.discovery.organizations.create(
        intermediate_session_token=found.intermediate_session_token,
        organization_name="Acme",
        mfa_policy="REQUIRED_FOR_ALL",
    )
    assert pending.session_jwt == ""
    phone = "+12025550147"
    org_id, member_id = pending.organization.organization_id, pending.member_id
    two.otps.sms.send(organization_id=org_id, member_id=member_id, mfa_phone_number=phone)
    created = two.otps.sms.authenticate(
        organization_id=org_id,
        member_id=member_id,
        code=last_code(services, phone),
        intermediate_session_token=pending.intermediate_session_token,
    )
    assert len(created.member_session.authentication_factors) == 2
    assert one.sessions.authenticate(session_token=created.session_token).member_session

    # The JWT verifies with either process's JWKS: they share the signing keys.
    for base in two_servers:
        keys = jwt.PyJWKClient(f"{base}/v1/b2b/sessions/jwks/{project.project_id}")
        key = keys.get_signing_key_from_jwt(created.session_jwt)
        claims: dict[str, Any] = jwt.decode(
            created.session_jwt,
            key.key,
            algorithms=["RS256"],
            audience=project.project_id,
            issuer=f"stytch.com/{project.project_id}",
        )
        assert claims["sub"] == created.member_id

    one.sessions.revoke(session_token=created.session_token)
    with pytest.raises(StytchError) as refused:
        two.sessions.authenticate(session_token=created.session_token)
    assert refused.value.details.error_type == "session_not_found"


@pytest.mark.postgres_only
def test_rate_limits_are_shared_through_redis(
    two_servers: tuple[str, str], services: Services, project: Credentials
) -> None:
    allow_redirect(services, project.project_id)
    one, two = (
        stytch.B2BClient(project.project_id, project.secret, environment=url) for url in two_servers
    )
    email = f"flood-{secrets.token_hex(4)}@acme.example"
    limit = int(services.settings.limit_email_per_recipient.split("/")[0])
    for _ in range(limit):
        one.magic_links.email.discovery.send(
            email_address=email, discovery_redirect_url=CALLBACK_URL
        )
    with pytest.raises(StytchError) as refused:
        two.magic_links.email.discovery.send(
            email_address=email, discovery_redirect_url=CALLBACK_URL
        )
    assert refused.value.details.status_code == 429
