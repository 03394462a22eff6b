"""Attempts to get past TOTP and recovery codes (security.md; research §2.3–2.5,
keycloak#13607): replay within a step (also concurrent, on PostgreSQL), used recovery codes,
brute force against the lock shared with SMS, pending or expired registrations, other members,
organizations and projects, and enrolment hijack.

Each refusal is checked three ways: the HTTP status, the `error_type`, and the login tables
left as they were (`tests.dbsnap`, TOTP tables included). Counted failures change the member's
failure counter and nothing else, which is checked on its own.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import httpx
import pyotp
import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from antechamber.clock import FrozenClock
from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.conftest import Credentials, LiveServer
from tests.dbsnap import LOGIN_TABLES, snapshot
from tests.factories import (
    allow_redirect,
    last_code,
    make_member,
    make_org,
    start_session,
    verify_phone,
)
from tests.flows import (
    RECOVERY_RECOVER,
    TOTP_AUTHENTICATE,
    authenticate_sms,
    authenticate_totp,
    create_totp,
    enter,
    ist_for,
    member_totp_path,
    recover,
    send_sms,
)
from tests.snapshots import assert_refused

EMAIL = "ada@acme.example"
INTRUDER = "eve@acme.example"
PHONE = "+12025550123"
# The member row holds the failure counter, which counted refusals change on purpose.
UNCOUNTED = tuple(t for t in LOGIN_TABLES if t != "members")


@pytest.fixture(autouse=True)
def callback(services: Services, project: Credentials) -> None:
    allow_redirect(services, project.project_id)


@pytest.fixture
def strict(services: Services, project: Credentials) -> Organization:
    org = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    make_member(services, project.project_id, org, email_address=EMAIL)
    return org


def pending(
    api: TestClient, services: Services, org: Organization, email: str = EMAIL
) -> dict[str, Any]:
    body = enter(api, ist_for(api, services, email), org.id)
    assert body["mfa_required"] is not None
    return body


def code(secret: str, clock: FrozenClock, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(clock.now().timestamp() + 30 * steps)


def other_code(value: str) -> str:
    return f"{(int(value) + 500_000) % 1_000_000:06d}"


def enrolled(
    api: TestClient, services: Services, org: Organization, clock: FrozenClock
) -> dict[str, Any]:
    """The member's first login, TOTP enrolled and used; then the next step of the clock."""
    first = pending(api, services, org)
    created: dict[str, Any] = create_totp(api, first).json()
    done = authenticate_totp(api, first, code(created["secret"], clock))
    assert done.status_code == 200, done.json()
    created["session_token"] = done.json()["session_token"]
    clock.advance(seconds=30)
    return created


def failures(services: Services, member_id: str) -> int:
    with services.engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT mfa_failed_attempts FROM members WHERE id = :id"), {"id": member_id}
            ).scalar_one()
        )


def test_a_totp_code_is_accepted_once_in_its_step(
    api: TestClient, services: Services, strict: Organization, clock: FrozenClock
) -> None:
    totp = enrolled(api, services, strict, clock)
    login = pending(api, services, strict)
    now = code(totp["secret"], clock)
    assert authenticate_totp(api, login, now).status_code == 200
    again = pending(api, services, strict)
    before = snapshot(services.engine)
    assert_refused(authenticate_totp(api, again, now), 400, "totp_code_already_authenticated")
    # Within the window the previous step's code is refused too: a newer one was used.
    assert_refused(
        authenticate_totp(api, again, code(totp["secret"], clock, -1)),
        400,
        "totp_code_already_authenticated",
    )
    # And with the session the code produced (step-up): still used.
    assert_refused(
        authenticate_totp(
            api, again, now, intermediate_session_token=None, session_token=totp["session_token"]
        ),
        400,
        "totp_code_already_authenticated",
    )
    assert snapshot(services.engine) == before  # nothing counted, the IST still live


@pytest.mark.postgres_only
def test_concurrent_uses_of_one_totp_code_succeed_once(
    live_server: LiveServer,
    api: TestClient,
    services: Services,
    project: Credentials,
    strict: Organization,
    clock: FrozenClock,
) -> None:
    totp = enrolled(api, services, strict, clock)
    login = pending(api, services, strict)
    value = code(totp["secret"], clock)
    barrier = threading.Barrier(20)
    answers: list[str] = []

    def attempt() -> None:
        with httpx.Client(base_url=live_server.url, auth=project.auth, timeout=60) as http:
            barrier.wait()
            response = http.post(
                TOTP_AUTHENTICATE,
                json={
                    "organization_id": strict.id,
                    "member_id": login["member_id"],
                    "code": value,
                    # Step-up with one session: nothing but the code's step serialises them.
                    "session_token": totp["session_token"],
                },
            )
            answers.append(f"{response.status_code} {response.json().get('error_type', '')}")

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Counter(answers) == {"200 ": 1, "400 totp_code_already_authenticated": 19}


@pytest.mark.postgres_only
def test_concurrent_uses_of_one_recovery_code_succeed_once(
    live_server: LiveServer,
    api: TestClient,
    services: Services,
    project: Credentials,
    strict: Organization,
    clock: FrozenClock,
) -> None:
    totp = enrolled(api, services, strict, clock)
    barrier = threading.Barrier(20)
    answers: list[str] = []

    def attempt() -> None:
        with httpx.Client(base_url=live_server.url, auth=project.auth, timeout=60) as http:
            barrier.wait()
            response = http.post(
                RECOVERY_RECOVER,
                json={
                    "organization_id": strict.id,
                    "member_id": totp["member_id"],
                    "recovery_code": totp["recovery_codes"][0],
                    "session_token": totp["session_token"],
                },
            )
            answers.append(f"{response.status_code} {response.json().get('error_type', '')}")

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Exactly one success. Each refusal counts as a failed attempt, so a request that checks
    # the member after ten of them have committed finds the member locked instead.
    counted = Counter(answers)
    assert counted.pop("200 ") == 1, answers
    assert set(counted) <= {"401 unable_to_authenticate_recovery_code", "401 member_locked"}
    assert sum(counted.values()) == 19
    with services.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM totp_recovery_codes")).scalar_one() == 9


def test_a_used_recovery_code_is_refused(
    api: TestClient, services: Services, strict: Organization, clock: FrozenClock
) -> None:
    totp = enrolled(api, services, strict, clock)
    used = totp["recovery_codes"][0]
    assert recover(api, pending(api, services, strict), used).status_code == 200
    again = pending(api, services, strict)
    before = snapshot(services.engine, UNCOUNTED)
    assert_refused(recover(api, again, used), 401, "unable_to_authenticate_recovery_code")
    assert snapshot(services.engine, UNCOUNTED) == before
    assert failures(services, totp["member_id"]) == 1


def test_totp_and_sms_failures_share_one_lock(
    api: TestClient, services: Services, strict: Organization, clock: FrozenClock
) -> None:
    totp = enrolled(api, services, strict, clock)
    member_id = totp["member_id"]
    login = pending(api, services, strict)
    # The member also has a phone (a wrong SMS code counts in the same lock).
    sms = send_sms(api, login, mfa_phone_number=PHONE)
    assert sms["member"]["mfa_phone_number"] == PHONE
    sms_code = last_code(services, PHONE)
    right = code(totp["secret"], clock)
    threshold = services.settings.mfa_lockout_threshold
    for i in range(threshold - 1):
        if i < 4:  # below the 5 wrong guesses that kill an SMS code
            response = authenticate_sms(api, login, other_code(sms_code))
            assert_refused(response, 404, "otp_code_not_found")
        elif i % 2:
            response = recover(api, login, "aaaaaa-bbbbbb-cccccc-dddddd")
            assert_refused(response, 401, "unable_to_authenticate_recovery_code")
        else:
            response = authenticate_totp(api, login, other_code(right))
            assert_refused(response, 401, "unable_to_authenticate_totp")
    assert failures(services, member_id) == threshold - 1
    last = authenticate_totp(api, login, other_code(right))
    assert_refused(last, 401, "unable_to_authenticate_totp")
    before = snapshot(services.engine)
    body = assert_refused(authenticate_totp(api, login, right), 401, "member_locked")
    assert body["error_details"]["lock_expires_at"]
    assert_refused(recover(api, login, totp["recovery_codes"][0]), 401, "member_locked")
    assert snapshot(services.engine) == before


def test_a_pending_registration_is_not_a_factor_for_anyone_else(
    api: TestClient,
    services: Services,
    project: Credentials,
    strict: Organization,
    clock: FrozenClock,
) -> None:
    make_member(services, project.project_id, strict, email_address=INTRUDER)
    victim = pending(api, services, strict)
    created = create_totp(api, victim).json()
    intruder = pending(api, services, strict, INTRUDER)
    right = code(created["secret"], clock)
    before = snapshot(services.engine)
    # The intruder's own login, aimed at the victim's pending registration.
    assert_refused(
        authenticate_totp(
            api, victim, right, intermediate_session_token=intruder["intermediate_session_token"]
        ),
        400,
        "invalid_intermediate_session_token_for_organization",
    )
    # The project's secret alone: no credential, no attempt.
    assert_refused(
        authenticate_totp(api, victim, right, intermediate_session_token=None),
        400,
        "no_session_arguments",
    )
    assert_refused(
        create_totp(api, victim, intermediate_session_token=None), 400, "no_session_arguments"
    )
    # The intruder cannot replace the victim's pending registration with one of theirs.
    assert_refused(
        create_totp(api, victim, intermediate_session_token=intruder["intermediate_session_token"]),
        400,
        "invalid_intermediate_session_token_for_organization",
    )
    assert snapshot(services.engine) == before


def test_an_expired_pending_registration_is_refused(
    api: TestClient, services: Services, strict: Organization, clock: FrozenClock
) -> None:
    login = pending(api, services, strict)
    created = create_totp(api, login, expiration_minutes=5).json()
    clock.advance(minutes=5)  # the IST (10 minutes) is still live
    before = snapshot(services.engine)
    assert_refused(
        authenticate_totp(api, login, code(created["secret"], clock)), 404, "totp_not_found"
    )
    assert_refused(
        recover(api, login, created["recovery_codes"][0]),
        400,
        ("no_active_recovery_code_backed_factor"),
    )
    assert snapshot(services.engine) == before


def test_another_members_or_organizations_registration_is_refused(
    api: TestClient,
    client: TestClient,
    services: Services,
    project: Credentials,
    other_project: Credentials,
    strict: Organization,
    clock: FrozenClock,
) -> None:
    totp = enrolled(api, services, strict, clock)
    elsewhere = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    stranger = make_member(services, project.project_id, elsewhere, email_address=INTRUDER)
    right = code(totp["secret"], clock)
    login = pending(api, services, strict)
    before = snapshot(services.engine)
    # The victim's member id under another organization: not found there.
    moved = {**login, "organization": {"organization_id": elsewhere.id}}
    assert_refused(authenticate_totp(api, moved, right), 404, "member_not_found")
    # Another organization's member with the victim's IST: the IST is not theirs.
    theirs = {**moved, "member_id": stranger.id}
    assert_refused(
        authenticate_totp(api, theirs, right),
        400,
        "invalid_intermediate_session_token_for_organization",
    )
    assert_refused(
        api.delete(member_totp_path(elsewhere.id, totp["member_id"])), 404, ("member_not_found")
    )
    # Another project's secret: nothing of this project exists.
    client.auth = other_project.auth
    assert_refused(authenticate_totp(client, login, right), 404, "organization_not_found")
    assert_refused(
        client.delete(member_totp_path(strict.id, totp["member_id"])),
        404,
        "organization_not_found",
    )
    assert snapshot(services.engine) == before


def test_an_ist_cannot_add_an_authenticator_next_to_a_verified_phone(
    api: TestClient,
    services: Services,
    project: Credentials,
    strict: Organization,
    clock: FrozenClock,
) -> None:
    """Whoever holds the member's mailbox gets an IST; with it alone they must not enrol their
    own authenticator and skip the phone (research §2.3)."""
    member_id = pending(api, services, strict)["member_id"]
    api.put(
        f"/v1/b2b/organizations/{strict.id}/members/{member_id}", json={"mfa_phone_number": PHONE}
    )
    with services.sessions() as s:
        row = s.get(Member, member_id)
        assert row is not None
    verify_phone(services, row)
    login = pending(api, services, strict)
    before = snapshot(services.engine)
    assert_refused(create_totp(api, login), 400, "totp_enrollment_requires_mfa")
    assert snapshot(services.engine) == before
    # After the SMS step the member's session may enrol an authenticator.
    done = authenticate_sms(api, login, last_code(services, PHONE))
    assert done.status_code == 200, done.json()
    created = create_totp(
        api, login, intermediate_session_token=None, session_token=done.json()["session_token"]
    )
    assert created.status_code == 200, created.json()


def test_a_session_without_a_second_factor_cannot_add_one_next_to_a_verified_phone(
    api: TestClient, services: Services, project: Credentials
) -> None:
    relaxed = make_org(services, project.project_id)  # OPTIONAL: sessions without MFA exist
    member = make_member(
        services, project.project_id, relaxed, email_address=EMAIL, mfa_phone_number=PHONE
    )
    verify_phone(services, member)
    _, token, _ = start_session(services, project.project_id, relaxed, member)
    victim = {"organization": {"organization_id": relaxed.id}, "member_id": member.id}
    before = snapshot(services.engine)
    assert_refused(
        create_totp(api, victim, session_token=token), 400, "totp_enrollment_requires_mfa"
    )
    assert snapshot(services.engine) == before
