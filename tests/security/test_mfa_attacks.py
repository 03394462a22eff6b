"""Attempts to get past the second factor (security.md §2.1–2.5, §2.9).

Each refusal is checked three ways: the HTTP status, the `error_type`, and a database left as
it was (`tests.dbsnap`: members, codes, ISTs, sessions, outbox, links).
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from starlette.testclient import TestClient

from antechamber.clock import FrozenClock
from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.conftest import Credentials, LiveServer
from tests.dbsnap import snapshot
from tests.factories import (
    allow_redirect,
    last_code,
    make_member,
    make_org,
    sms_count,
    verify_phone,
)
from tests.flows import (
    LIST,
    SESSION_AUTHENTICATE,
    SESSION_EXCHANGE,
    SESSION_REVOKE,
    SMS_AUTHENTICATE,
    SMS_SEND,
    authenticate_sms,
    enter,
    ist_for,
    login,
    send_sms,
)

PHONE = "+12025550123"
EMAIL = "ada@acme.example"


@pytest.fixture(autouse=True)
def callback(services: Services, project: Credentials) -> None:
    allow_redirect(services, project.project_id)


@pytest.fixture
def strict(services: Services, project: Credentials) -> Organization:
    org = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    make_member(services, project.project_id, org, email_address=EMAIL)
    return org


def pending(api: TestClient, services: Services, org: Organization) -> dict[str, Any]:
    body = enter(api, ist_for(api, services, EMAIL), org.id)
    assert body["mfa_required"] is not None
    return body


def refused(response: Any, status: int, error_type: str) -> None:
    assert (response.status_code, response.json()["error_type"]) == (status, error_type), (
        response.json()
    )


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_an_ist_bound_to_org_a_never_finishes_mfa_in_org_b(
    api: TestClient, services: Services, project: Credentials
) -> None:
    pid = project.project_id
    a = make_org(services, pid, mfa_policy="REQUIRED_FOR_ALL")
    make_member(services, pid, a, email_address=EMAIL)
    b = make_org(services, pid, mfa_policy="REQUIRED_FOR_ALL")
    member_b = make_member(services, pid, b, email_address=EMAIL)
    in_a = pending(api, services, a)
    in_b = pending(api, services, b)
    send_sms(api, in_b, mfa_phone_number=PHONE)
    code_b = last_code(services, PHONE)

    before = snapshot(services.engine)
    stolen = {"intermediate_session_token": in_a["intermediate_session_token"]}
    base = {"organization_id": b.id, "member_id": member_b.id}
    refused(
        api.post(SMS_AUTHENTICATE, json={**base, **stolen, "code": code_b}),
        400,
        "invalid_intermediate_session_token_for_organization",
    )
    refused(
        api.post(SMS_SEND, json={**base, **stolen}),
        400,
        "invalid_intermediate_session_token_for_organization",
    )
    # Org B with org A's member id: that member is not in B.
    refused(
        api.post(
            SMS_AUTHENTICATE,
            json={**base, "member_id": in_a["member_id"], **stolen, "code": code_b},
        ),
        404,
        "member_not_found",
    )
    assert snapshot(services.engine) == before
    # Nothing was used up: the rightful login still completes with the same code.
    assert authenticate_sms(api, in_b, code_b).status_code == 200


def test_a_pending_mfa_ist_is_refused_wherever_a_session_is_needed(
    api: TestClient, services: Services, strict: Organization
) -> None:
    waiting = pending(api, services, strict)
    ist = waiting["intermediate_session_token"]
    send_sms(api, waiting, mfa_phone_number=PHONE)
    code = last_code(services, PHONE)
    member = {"organization_id": strict.id, "member_id": waiting["member_id"]}

    before = snapshot(services.engine)
    for path, fields in [
        (SESSION_AUTHENTICATE, {}),
        (SESSION_REVOKE, {}),
        (SESSION_EXCHANGE, {"organization_id": strict.id}),
        (LIST, {}),
        (SMS_SEND, member),
        (SMS_AUTHENTICATE, {**member, "code": code}),
    ]:
        refused(api.post(path, json={"session_token": ist, **fields}), 404, "session_not_found")
        refused(
            api.post(path, json={"session_jwt": ist, **fields}), 401, "unable_to_parse_session_jwt"
        )
    assert snapshot(services.engine) == before
    assert authenticate_sms(api, waiting, code).status_code == 200


def test_a_used_code_is_refused(
    api: TestClient, services: Services, project: Credentials, strict: Organization
) -> None:
    waiting = pending(api, services, strict)
    send_sms(api, waiting, mfa_phone_number=PHONE)
    code = last_code(services, PHONE)
    done = authenticate_sms(api, waiting, code)
    assert done.status_code == 200
    before = snapshot(services.engine)
    # The same request again: its IST is used up.
    refused(authenticate_sms(api, waiting, code), 404, "intermediate_session_not_found")
    # The same code with the session it produced (step-up): used up too.
    replay = authenticate_sms(
        api,
        waiting,
        code,
        intermediate_session_token=None,
        session_token=done.json()["session_token"],
    )
    refused(replay, 401, "unable_to_auth_otp_code")
    assert snapshot(services.engine) == before


def test_an_expired_code_is_refused(
    api: TestClient, services: Services, strict: Organization, clock: FrozenClock
) -> None:
    waiting = pending(api, services, strict)
    send_sms(api, waiting, mfa_phone_number=PHONE)
    code = last_code(services, PHONE)
    clock.advance(minutes=2, seconds=1)  # the IST (10 minutes) is still live
    before = snapshot(services.engine)
    refused(authenticate_sms(api, waiting, code), 401, "unable_to_auth_otp_code")
    assert snapshot(services.engine) == before


def test_five_wrong_codes_kill_the_code(
    api: TestClient, services: Services, strict: Organization
) -> None:
    waiting = pending(api, services, strict)
    send_sms(api, waiting, mfa_phone_number=PHONE)
    code = last_code(services, PHONE)
    for _ in range(5):
        refused(authenticate_sms(api, waiting, wrong(code)), 404, "otp_code_not_found")
    before = snapshot(services.engine)
    refused(authenticate_sms(api, waiting, code), 401, "unable_to_auth_otp_code")
    assert snapshot(services.engine) == before
    with services.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sms_otps")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM member_sessions")).scalar_one() == 0
        failures = conn.execute(
            text("SELECT mfa_failed_attempts FROM members WHERE id = :id"),
            {"id": waiting["member_id"]},
        ).scalar_one()
    assert failures == 5


@pytest.mark.postgres_only
def test_fifty_concurrent_guesses_are_counted_exactly(
    live_server: LiveServer,
    api: TestClient,
    services: Services,
    project: Credentials,
    strict: Organization,
) -> None:
    waiting = pending(api, services, strict)
    send_sms(api, waiting, mfa_phone_number=PHONE)
    code = last_code(services, PHONE)
    guesses = [f"{n:06d}" for n in range(51) if f"{n:06d}" != code][:50]
    barrier = threading.Barrier(50)
    answers: list[str] = []

    def guess(value: str) -> None:
        with httpx.Client(base_url=live_server.url, auth=project.auth, timeout=60) as http:
            barrier.wait()
            response = http.post(
                SMS_AUTHENTICATE,
                json={
                    "organization_id": strict.id,
                    "member_id": waiting["member_id"],
                    "code": value,
                    "intermediate_session_token": waiting["intermediate_session_token"],
                },
            )
            answers.append(f"{response.status_code} {response.json()['error_type']}")

    threads = [threading.Thread(target=guess, args=(g,)) for g in guesses]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Five guesses counted against the code, which then died; the rest found it dead. Each
    # counted guess counted once against the member (threshold 10: not locked).
    assert Counter(answers) == {"404 otp_code_not_found": 5, "401 unable_to_auth_otp_code": 45}
    with services.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sms_otps")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM member_sessions")).scalar_one() == 0
        failures = conn.execute(
            text("SELECT mfa_failed_attempts FROM members WHERE id = :id"),
            {"id": waiting["member_id"]},
        ).scalar_one()
    assert failures == 5


def test_a_verified_phone_cannot_be_swapped(
    api: TestClient, services: Services, project: Credentials, strict: Organization
) -> None:
    waiting = pending(api, services, strict)
    send_sms(api, waiting, mfa_phone_number=PHONE)
    session = authenticate_sms(api, waiting, last_code(services, PHONE)).json()
    attacker = "+12025550666"
    later = pending(api, services, strict)
    member = {"organization_id": strict.id, "member_id": waiting["member_id"]}

    before = snapshot(services.engine)
    for credential in (
        {},
        {"intermediate_session_token": later["intermediate_session_token"]},
        {"session_token": session["session_token"]},
    ):
        response = api.post(SMS_SEND, json={**member, "mfa_phone_number": attacker, **credential})
        refused(response, 400, "mfa_phone_number_mismatch")
    update = api.put(
        f"/v1/b2b/organizations/{strict.id}/members/{waiting['member_id']}",
        json={"mfa_phone_number": attacker},
    )
    refused(update, 400, "mfa_phone_number_mismatch")
    assert snapshot(services.engine) == before
    assert sms_count(services, attacker) == 0


def test_a_planted_number_never_becomes_the_members_factor(
    api: TestClient, app: FastAPI, services: Services, project: Credentials, strict: Organization
) -> None:
    """Someone with the member's id (and an app that forwards anything) links their number
    before the member enrols: they get a code, but cannot use it without the member's login."""
    victim = pending(api, services, strict)
    member = {"organization_id": strict.id, "member_id": victim["member_id"]}
    planted = "+12025550666"
    assert api.post(SMS_SEND, json={**member, "mfa_phone_number": planted}).status_code == 200
    code = last_code(services, planted)
    mallory_org = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    make_member(services, project.project_id, mallory_org, email_address="mallory@evil.example")
    mallory = enter(api, ist_for(api, services, "mallory@evil.example"), mallory_org.id)

    before = snapshot(services.engine)
    refused(api.post(SMS_AUTHENTICATE, json={**member, "code": code}), 400, "no_session_arguments")
    refused(
        api.post(
            SMS_AUTHENTICATE,
            json={
                **member,
                "code": code,
                "intermediate_session_token": mallory["intermediate_session_token"],
            },
        ),
        400,
        "invalid_intermediate_session_token_for_organization",
    )
    assert snapshot(services.engine) == before
    # The member, logging in, replaces the unverified number with their own.
    app.state.services.limiter.reset()  # (the per-member limit follows the wall clock)
    own = send_sms(
        api,
        victim,
        mfa_phone_number=PHONE,
        intermediate_session_token=victim["intermediate_session_token"],
    )
    assert own["member"]["mfa_phone_number"] == PHONE
    stale = authenticate_sms(api, victim, code)  # the planted number's code died with it
    refused(stale, 404, "otp_code_not_found")
    with services.engine.connect() as conn:
        row = conn.execute(
            text("SELECT mfa_phone_number, mfa_phone_number_verified FROM members WHERE id = :id"),
            {"id": victim["member_id"]},
        ).one()
    assert tuple(row) == (PHONE, False)


def test_a_session_of_another_member_is_refused(
    api: TestClient, services: Services, project: Credentials
) -> None:
    org = make_org(services, project.project_id)
    make_member(services, project.project_id, org, email_address="mallory@acme.example")
    victim = make_member(
        services, project.project_id, org, email_address=EMAIL, mfa_phone_number=PHONE
    )
    verify_phone(services, victim)
    theirs = login(api, services, "mallory@acme.example", org.id)
    member = {"organization_id": org.id, "member_id": victim.id}
    before = snapshot(services.engine)
    for path, extra in [(SMS_SEND, {}), (SMS_AUTHENTICATE, {"code": "123456"})]:
        response = api.post(
            path, json={**member, "session_token": theirs["session_token"], **extra}
        )
        refused(response, 400, "invalid_session_for_member")
        response = api.post(path, json={**member, "session_jwt": theirs["session_jwt"], **extra})
        refused(response, 400, "invalid_session_for_member")
    assert snapshot(services.engine) == before


@pytest.mark.parametrize(
    ("number", "status", "error_type"),
    [
        ("2025550123", 400, "invalid_phone_number"),  # no + and country code
        ("+1202555", 400, "invalid_phone_number"),
        ("+1 (202) 555-0123", 400, "invalid_phone_number"),
        ("+19005550123", 400, "unsupported_phone_number_type"),  # premium rate
        ("+18005550123", 400, "unsupported_phone_number_type"),  # toll free
        ("+447400123456", 400, "invalid_phone_number_country_code"),  # GB: not allowed here
    ],
)
def test_numbers_that_never_get_a_text(
    api: TestClient,
    services: Services,
    strict: Organization,
    number: str,
    status: int,
    error_type: str,
) -> None:
    waiting = pending(api, services, strict)
    before = snapshot(services.engine)
    response = api.post(
        SMS_SEND,
        json={
            "organization_id": strict.id,
            "member_id": waiting["member_id"],
            "mfa_phone_number": number,
            "intermediate_session_token": waiting["intermediate_session_token"],
        },
    )
    refused(response, status, error_type)
    assert snapshot(services.engine) == before  # nothing linked, nothing in the outbox
    with services.engine.connect() as conn:
        assert (
            conn.execute(
                text("SELECT count(*) FROM outbox_messages WHERE channel = 'sms'")
            ).scalar_one()
            == 0
        )


def test_opting_out_under_required_for_all_is_refused(
    api: TestClient, services: Services, strict: Organization
) -> None:
    waiting = pending(api, services, strict)
    send_sms(api, waiting, mfa_phone_number=PHONE)
    assert authenticate_sms(api, waiting, last_code(services, PHONE)).status_code == 200
    before = snapshot(services.engine)
    response = api.put(
        f"/v1/b2b/organizations/{strict.id}/members/{waiting['member_id']}",
        json={"mfa_enrolled": False},
    )
    refused(response, 400, "mfa_enrollment_required_by_policy")
    assert snapshot(services.engine) == before


def test_another_projects_credentials_are_unknown(
    api: TestClient,
    client: TestClient,
    services: Services,
    other_project: Credentials,
    strict: Organization,
) -> None:
    waiting = pending(api, services, strict)
    send_sms(api, waiting, mfa_phone_number=PHONE)
    code = last_code(services, PHONE)
    before = snapshot(services.engine)
    client.auth = other_project.auth
    response = authenticate_sms(client, waiting, code)
    refused(response, 404, "organization_not_found")
    assert snapshot(services.engine) == before
