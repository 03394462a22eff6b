"""Database statements per request on the hot paths (docs/performance.md).

Counts, not timings: a change that adds a round trip to a login or a session check fails here,
whatever the machine's speed. The budgets are what the lean paths need today; lowering one is
progress, raising one needs a reason in the commit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyotp
import pytest
from sqlalchemy import Engine, event
from starlette.testclient import TestClient

from antechamber.clock import FrozenClock
from antechamber.projects import service as projects
from antechamber.services import Services
from tests.conftest import Credentials
from tests.factories import (
    allow_redirect,
    last_code,
    magic_token,
    make_member,
    make_org,
    verify_phone,
)
from tests.flows import (
    AUTHENTICATE,
    EXCHANGE,
    SEND,
    SESSION_AUTHENTICATE,
    SMS_AUTHENTICATE,
    TOTP_AUTHENTICATE,
    TOTP_CREATE,
    enter,
    ist_for,
)

PHONE = "+12025550123"

# step: (transactions begun, statements run) at most, per request.
BUDGET = {
    "send": (1, 6),
    "authenticate": (1, 4),
    "exchange": (1, 10),  # with the project's first signing key made (5 of the 10)
    # Into an organization that requires MFA: the IST read with organization, member and its
    # live SMS code, bound by one conditional UPDATE, the code texted (code, outbox), the audit.
    "exchange_mfa": (1, 5),
    "sms_authenticate": (1, 11),
    "totp_authenticate": (1, 5),
    # With the project's secret checked lately (projects.VERIFIED_SECRET_SECONDS) and a JWT of
    # this process's signing: the session row alone.
    "session_token": (1, 1),
    "session_jwt": (1, 1),
}


@contextmanager
def counting(engine: Engine) -> Iterator[Counter[str]]:
    """Statements the engine runs inside the block, by their first word (SELECT, INSERT …)."""
    seen: Counter[str] = Counter()

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        word = statement.split(None, 1)[0].upper()
        if word != "BEGIN":  # SQLite's, sent by db.make_engine's "begin" hook: counted there
            seen[word] += 1

    def on_begin(conn: Any) -> None:
        seen["BEGIN"] += 1

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "begin", on_begin)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "begin", on_begin)


def post(
    api: TestClient, engine: Engine, path: str, body: dict[str, Any]
) -> tuple[dict[str, Any], Counter[str]]:
    with counting(engine) as seen:
        response = api.post(path, json=body)
    assert response.status_code == 200, response.json()
    return response.json(), seen


@pytest.mark.parametrize("policy", ["OPTIONAL", "REQUIRED_FOR_ALL"])
def test_login_statements(
    api: TestClient,
    services: Services,
    project: Credentials,
    engine: Engine,
    policy: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # However slow the machine, the secret checked by the first request is still trusted.
    monkeypatch.setattr(projects.time, "monotonic", lambda: 1000.0)
    allow_redirect(services, project.project_id, "http://localhost:3000/discovery")
    org = make_org(services, project.project_id, mfa_policy=policy)
    member = make_member(
        services,
        project.project_id,
        org,
        email_address="ada@acme.example",
        mfa_phone_number=PHONE,
        mfa_enrolled=policy == "REQUIRED_FOR_ALL",
    )
    verify_phone(services, member)
    report: dict[str, Counter[str]] = {}
    _, report["send"] = post(
        api,
        engine,
        SEND,
        {
            "email_address": "ada@acme.example",
            "discovery_redirect_url": "http://localhost:3000/discovery",
        },
    )
    token = magic_token(services, "ada@acme.example")
    found, report["authenticate"] = post(
        api, engine, AUTHENTICATE, {"discovery_magic_links_token": token}
    )
    exchange = "exchange_mfa" if policy == "REQUIRED_FOR_ALL" else "exchange"
    entered, report[exchange] = post(
        api,
        engine,
        EXCHANGE,
        {
            "intermediate_session_token": found["intermediate_session_token"],
            "organization_id": org.id,
        },
    )
    if policy == "REQUIRED_FOR_ALL":
        code = last_code(services, PHONE)
        done, report["sms_authenticate"] = post(
            api,
            engine,
            SMS_AUTHENTICATE,
            {
                "organization_id": org.id,
                "member_id": member.id,
                "code": code,
                "intermediate_session_token": entered["intermediate_session_token"],
            },
        )
    else:
        done = entered
    _, report["session_token"] = post(
        api, engine, SESSION_AUTHENTICATE, {"session_token": done["session_token"]}
    )
    _, report["session_jwt"] = post(
        api, engine, SESSION_AUTHENTICATE, {"session_jwt": done["session_jwt"]}
    )
    for step, seen in report.items():
        assert seen["BEGIN"] <= BUDGET[step][0], (step, dict(seen))
        assert sum(seen.values()) - seen["BEGIN"] <= BUDGET[step][1], (step, dict(seen))


def test_totp_login_statements(
    api: TestClient,
    services: Services,
    project: Credentials,
    engine: Engine,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A returning member's login finished with an authenticator app's code (REQUIRED_FOR_ALL)."""
    monkeypatch.setattr(projects.time, "monotonic", lambda: 1000.0)
    allow_redirect(services, project.project_id)
    org = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    member = make_member(services, project.project_id, org, email_address="ada@acme.example")
    first = enter(api, ist_for(api, services, "ada@acme.example"), org.id)
    ids = {"organization_id": org.id, "member_id": member.id}
    created, _ = post(
        api,
        engine,
        TOTP_CREATE,
        {**ids, "intermediate_session_token": first["intermediate_session_token"]},
    )
    secret = created["secret"]
    code = pyotp.TOTP(secret).at(clock.now().timestamp())
    post(
        api,
        engine,
        TOTP_AUTHENTICATE,
        {**ids, "code": code, "intermediate_session_token": first["intermediate_session_token"]},
    )
    clock.advance(seconds=30)  # the next login needs the next code
    again = enter(api, ist_for(api, services, "ada@acme.example"), org.id)
    assert again["member_authenticated"] is False, again
    _, seen = post(
        api,
        engine,
        TOTP_AUTHENTICATE,
        {
            **ids,
            "code": pyotp.TOTP(secret).at(clock.now().timestamp()),
            "intermediate_session_token": again["intermediate_session_token"],
        },
    )
    assert seen["BEGIN"] <= BUDGET["totp_authenticate"][0], dict(seen)
    assert sum(seen.values()) - seen["BEGIN"] <= BUDGET["totp_authenticate"][1], dict(seen)
