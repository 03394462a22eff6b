"""No raw code or token in any table or log line (ASVS 6.5, OWASP MFA cheat sheet).

A whole MFA login runs (magic link, IST, SMS code, session; then a second login whose code is
texted automatically, and a TOTP enrolment by step-up with a code, a recovery code and a
rotation), the delivery worker hands the messages to the development inbox, and
then every column of every row of every table, and every captured log record, is searched for
each secret the login handed out.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import pyotp
import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from antechamber.clock import FrozenClock
from antechamber.delivery.worker import DeliveryWorker
from antechamber.services import Services
from tests.conftest import Credentials
from tests.dbsnap import dump_everything
from tests.factories import allow_redirect, last_code, magic_token, make_member, make_org, sms_ids
from tests.flows import (
    AUTHENTICATE,
    EXCHANGE,
    RECOVERY_ROTATE,
    SEND,
    authenticate_sms,
    authenticate_totp,
    create_totp,
    recover,
    send_sms,
)

EMAIL = "ada@acme.example"
PHONE = "+12025550123"


def discover(api: TestClient, services: Services) -> tuple[str, str]:
    """A discovery link sent and redeemed: (the link's token, the IST)."""
    assert api.post(SEND, json={"email_address": EMAIL}).status_code == 200
    token = magic_token(services, EMAIL)
    found = api.post(AUTHENTICATE, json={"discovery_magic_links_token": token})
    assert found.status_code == 200
    return token, found.json()["intermediate_session_token"]


def exchange(api: TestClient, ist: str, organization_id: str) -> dict[str, Any]:
    body: dict[str, Any] = api.post(
        EXCHANGE, json={"intermediate_session_token": ist, "organization_id": organization_id}
    ).json()
    assert body["mfa_required"] is not None
    return body


def test_no_code_or_token_in_any_table_or_log_line(
    api: TestClient,
    app: FastAPI,
    services: Services,
    project: Credentials,
    clock: FrozenClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    allow_redirect(services, project.project_id)
    org = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    make_member(services, project.project_id, org, email_address=EMAIL)
    secrets: dict[str, str] = {}

    link, ist = discover(api, services)
    pending = exchange(api, ist, org.id)
    send_sms(api, pending, mfa_phone_number=PHONE)
    code = last_code(services, PHONE)
    done = authenticate_sms(api, pending, code)
    assert done.status_code == 200
    secrets |= {
        "magic link": link,
        "IST": ist,
        "code": code,
        "session": done.json()["session_token"],
    }

    clock.advance(minutes=3)
    app.state.services.limiter.reset()
    link, ist = discover(api, services)
    seen = sms_ids(services, PHONE)
    pending = exchange(api, ist, org.id)
    assert pending["mfa_required"]["secondary_auth_initiated"] == "sms_otp"
    code = last_code(services, PHONE, seen=seen)
    done = authenticate_sms(api, pending, code)
    assert done.status_code == 200
    secrets |= {
        "second magic link": link,
        "second IST": ist,
        "automatic code": code,
        "second session": done.json()["session_token"],
    }
    # TOTP enrolled by step-up from that session (it passed SMS), used, recovered, rotated.
    member = {"organization": {"organization_id": org.id}, "member_id": done.json()["member_id"]}
    session = done.json()["session_token"]
    created = create_totp(api, member, session_token=session).json()
    totp_code = pyotp.TOTP(created["secret"]).at(clock.now().timestamp())
    stepped = authenticate_totp(api, member, totp_code, session_token=session)
    assert stepped.status_code == 200, stepped.json()
    assert (
        recover(api, member, created["recovery_codes"][0], session_token=session).status_code == 200
    )
    rotated = api.post(
        RECOVERY_ROTATE, json={"organization_id": org.id, "member_id": member["member_id"]}
    )
    assert rotated.status_code == 200, rotated.json()
    secrets |= {"TOTP secret": created["secret"], "TOTP code": totp_code}
    for i, value in enumerate(created["recovery_codes"] + rotated.json()["recovery_codes"]):
        secrets[f"recovery code {i}"] = value
        secrets[f"recovery code {i} as typed"] = value.replace("-", "")
    DeliveryWorker(services).run_once()  # renders each message, code and link included

    dump = dump_everything(services.engine)
    logs = "\n".join(f"{r.getMessage()} {r.__dict__!r}" for r in caplog.records)
    assert "/v1/b2b/otps/sms/authenticate" in logs  # the access log saw the login
    assert "/v1/b2b/totp/authenticate" in logs
    for name, value in secrets.items():
        # A code is six digits: look for it as a whole number, not inside a longer one.
        # Case-insensitive: a recovery code may be typed in capitals, a base32 secret is one.
        pattern = rf"(?<![0-9]){value}(?![0-9])" if value.isdigit() else re.escape(value)
        assert not re.search(pattern, dump, re.IGNORECASE), f"the {name} is stored in the clear"
        assert not re.search(pattern, logs, re.IGNORECASE), f"the {name} is in a log line"
