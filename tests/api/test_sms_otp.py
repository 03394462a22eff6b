"""SMS one-time codes over HTTP: enrolment, the automatic send, step-up, policy and limits."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from starlette.testclient import TestClient

from antechamber.audit.models import AuditEvent
from antechamber.clock import FrozenClock
from antechamber.delivery import outbox
from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.conftest import Credentials
from tests.factories import (
    allow_redirect,
    last_code,
    lock_member,
    make_member,
    make_org,
    sms_count,
    sms_ids,
    verify_phone,
)
from tests.flows import (
    SESSION_AUTHENTICATE,
    SESSION_EXCHANGE,
    SMS_AUTHENTICATE,
    SMS_SEND,
    authenticate_sms,
    enter,
    ist_for,
    login,
    mfa_phone_path,
    send_sms,
)

PHONE = "+12025550123"
OTHER_PHONE = "+12025550199"
EMAIL = "ada@acme.example"


@pytest.fixture(autouse=True)
def callback(services: Services, project: Credentials) -> None:
    allow_redirect(services, project.project_id)


def reset_limits(app: FastAPI) -> None:
    """Forget the send counters (they follow the wall clock, which tests do not move)."""
    app.state.services.limiter.reset()


def pending_login(
    api: TestClient, services: Services, org: Organization, email: str = EMAIL
) -> dict[str, Any]:
    body = enter(api, ist_for(api, services, email), org.id)
    assert body["member_authenticated"] is False, body
    assert body["mfa_required"] is not None
    return body


def factor_types(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (f["type"], f["delivery_method"]) for f in body["member_session"]["authentication_factors"]
    ]


def member_row(services: Services, member_id: str) -> Member:
    with services.sessions() as s:
        row = s.get(Member, member_id)
        assert row is not None
        return row


def events(services: Services, event_type: str) -> list[AuditEvent]:
    with services.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.event_type == event_type)))


def enrol(
    api: TestClient, services: Services, org: Organization, email: str = EMAIL, phone: str = PHONE
) -> dict[str, Any]:
    """A first MFA login: send to a new number (no IST, as the tutorial does), authenticate."""
    pending = pending_login(api, services, org, email)
    assert pending["mfa_required"]["member_options"] is None
    seen = sms_ids(services, phone)
    sent = send_sms(api, pending, mfa_phone_number=phone)
    assert sent["member"]["mfa_phone_number"] == phone
    assert sent["member"]["mfa_phone_number_verified"] is False
    done = authenticate_sms(api, pending, last_code(services, phone, seen=seen))
    assert done.status_code == 200, done.json()
    body: dict[str, Any] = done.json()
    return body


def test_required_for_all_enrols_a_phone_at_the_first_login(
    api: TestClient, services: Services, project: Credentials
) -> None:
    org = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    member = make_member(services, project.project_id, org, email_address=EMAIL)
    pending = pending_login(api, services, org)
    assert pending["mfa_required"] == {"member_options": None, "secondary_auth_initiated": None}
    sent = send_sms(api, pending, mfa_phone_number=PHONE)
    assert sent["member_id"] == member.id
    assert sent["organization"]["organization_id"] == org.id
    assert (sent["member"]["mfa_phone_number"], sent["member"]["mfa_phone_number_verified"]) == (
        PHONE,
        False,
    )
    done = authenticate_sms(api, pending, last_code(services, PHONE))
    assert done.status_code == 200, done.json()
    body = done.json()

    assert body["member_authenticated"] is True
    assert body["intermediate_session_token"] == ""
    assert body["mfa_required"] is None
    assert len(body["session_token"]) == 44
    assert factor_types(body) == [("magic_link", "email"), ("otp", "sms")]
    sms_factor = body["member_session"]["authentication_factors"][1]
    assert sms_factor["phone_number_factor"] == {
        "phone_id": member_row(services, member.id).phone_id,
        "phone_number": PHONE,
    }
    assert body["member"]["mfa_phone_number_verified"] is True
    assert body["member"]["mfa_enrolled"] is True
    checked = api.post(SESSION_AUTHENTICATE, json={"session_token": body["session_token"]})
    assert checked.status_code == 200
    # The IST of that login is used up.
    again = authenticate_sms(api, pending, "000000")
    assert (again.status_code, again.json()["error_type"]) == (
        404,
        "intermediate_session_not_found",
    )
    assert len(events(services, "mfa.sms_authenticated")) == 1


def test_the_next_login_texts_the_code_itself(
    api: TestClient, app: FastAPI, services: Services, project: Credentials, clock: FrozenClock
) -> None:
    org = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    make_member(services, project.project_id, org, email_address=EMAIL)
    enrol(api, services, org)
    clock.advance(minutes=5)
    reset_limits(app)

    seen = sms_ids(services, PHONE)
    pending = pending_login(api, services, org)
    assert pending["mfa_required"] == {
        "member_options": {"mfa_phone_number": "+1******0123", "totp_registration_id": ""},
        "secondary_auth_initiated": "sms_otp",
    }
    code = last_code(services, PHONE, seen=seen)
    # An app that asks again at once (the tutorial's does) gets a 200 and no second text: the
    # code already sent stays the one to use.
    count = sms_count(services, PHONE)
    send_sms(api, pending, mfa_phone_number=PHONE)
    send_sms(api, pending)
    assert sms_count(services, PHONE) == count
    done = authenticate_sms(api, pending, code)
    assert done.status_code == 200, done.json()
    assert factor_types(done.json()) == [("magic_link", "email"), ("otp", "sms")]


def test_session_exchange_texts_the_code_too(
    api: TestClient, services: Services, project: Credentials
) -> None:
    relaxed = make_org(services, project.project_id)
    make_member(services, project.project_id, relaxed, email_address=EMAIL)
    strict = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    member = make_member(
        services, project.project_id, strict, email_address=EMAIL, mfa_phone_number=PHONE
    )
    verify_phone(services, member)
    session = login(api, services, EMAIL, relaxed.id)
    switched = api.post(
        SESSION_EXCHANGE,
        json={"organization_id": strict.id, "session_token": session["session_token"]},
    ).json()
    assert switched["mfa_required"]["secondary_auth_initiated"] == "sms_otp"
    done = authenticate_sms(api, switched, last_code(services, PHONE))
    assert done.status_code == 200, done.json()
    assert done.json()["organization"]["organization_id"] == strict.id


def test_a_failed_automatic_send_does_not_fail_the_login(
    api: TestClient, services: Services, project: Credentials
) -> None:
    org = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    # A premium-rate number on file (set by an administrator, verified long ago): the SMS
    # policy refuses it, so no code goes out and the app must ask (and is told why).
    premium = "+19005550123"
    member = make_member(
        services, project.project_id, org, email_address=EMAIL, mfa_phone_number=premium
    )
    verify_phone(services, member)
    pending = pending_login(api, services, org)
    assert pending["mfa_required"]["secondary_auth_initiated"] is None
    assert sms_count(services, premium) == 0
    refused = [e.details["reason"] for e in events(services, "delivery.refused")]
    assert refused == ["unsupported_phone_number_type"]
    response = api.post(SMS_SEND, json={"organization_id": org.id, "member_id": member.id})
    assert (response.status_code, response.json()["error_type"]) == (
        400,
        "unsupported_phone_number_type",
    )


def test_a_resend_after_the_window_replaces_the_code(
    api: TestClient, app: FastAPI, services: Services, project: Credentials, clock: FrozenClock
) -> None:
    org = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    make_member(services, project.project_id, org, email_address=EMAIL)
    pending = pending_login(api, services, org)
    send_sms(api, pending, mfa_phone_number=PHONE)
    first = last_code(services, PHONE)
    clock.advance(seconds=31)
    reset_limits(app)
    seen = sms_ids(services, PHONE)
    send_sms(api, pending)
    second = last_code(services, PHONE, seen=seen)
    if first != second:
        stale = authenticate_sms(api, pending, first)
        assert (stale.status_code, stale.json()["error_type"]) == (404, "otp_code_not_found")
    assert authenticate_sms(api, pending, second).status_code == 200


def test_send_limits_answer_429_with_retry_after(
    api: TestClient, services: Services, project: Credentials
) -> None:
    org = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    make_member(services, project.project_id, org, email_address=EMAIL)
    pending = pending_login(api, services, org)
    send_sms(api, pending, mfa_phone_number=PHONE)
    # Another number at once, even by the member themself: the per-member limit.
    response = api.post(
        SMS_SEND,
        json={
            "organization_id": org.id,
            "member_id": pending["member_id"],
            "mfa_phone_number": OTHER_PHONE,
            "intermediate_session_token": pending["intermediate_session_token"],
        },
    )
    assert (response.status_code, response.json()["error_type"]) == (429, "too_many_requests")
    assert 1 <= int(response.headers["Retry-After"]) <= 30
    assert sms_count(services, OTHER_PHONE) == 0
    assert member_row(services, pending["member_id"]).mfa_phone_number == PHONE
    # The same number for someone else at once: the per-number limit of the outbox.
    other_org = make_org(services, project.project_id)
    other = make_member(services, project.project_id, other_org, email_address="bob@acme.example")
    response = api.post(
        SMS_SEND,
        json={"organization_id": other_org.id, "member_id": other.id, "mfa_phone_number": PHONE},
    )
    assert (response.status_code, response.json()["error_type"]) == (429, "too_many_requests")
    assert response.headers["Retry-After"]
    assert member_row(services, other.id).mfa_phone_number == ""
    reasons = [e.details["reason"] for e in events(services, "delivery.refused")]
    assert reasons == ["sms:member", "sms:recipient"]


def test_an_unverified_number_is_replaced_only_by_the_member(
    api: TestClient, app: FastAPI, services: Services, project: Credentials
) -> None:
    org = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    make_member(services, project.project_id, org, email_address=EMAIL)
    pending = pending_login(api, services, org)
    send_sms(api, pending, mfa_phone_number=PHONE)
    reset_limits(app)
    stranger = api.post(
        SMS_SEND,
        json={
            "organization_id": org.id,
            "member_id": pending["member_id"],
            "mfa_phone_number": OTHER_PHONE,
        },
    )
    assert (stranger.status_code, stranger.json()["error_type"]) == (
        400,
        "mfa_phone_number_mismatch",
    )
    seen = sms_ids(services, OTHER_PHONE)
    fixed = send_sms(
        api,
        pending,
        mfa_phone_number=OTHER_PHONE,
        intermediate_session_token=pending["intermediate_session_token"],
    )
    assert fixed["member"]["mfa_phone_number"] == OTHER_PHONE
    done = authenticate_sms(api, pending, last_code(services, OTHER_PHONE, seen=seen))
    assert done.status_code == 200
    assert done.json()["member"]["mfa_phone_number"] == OTHER_PHONE


def test_step_up_adds_the_factor_to_the_session_and_enrolls(
    api: TestClient, app: FastAPI, services: Services, project: Credentials
) -> None:
    org = make_org(services, project.project_id)
    make_member(services, project.project_id, org, email_address=EMAIL)
    session = login(api, services, EMAIL, org.id)
    send_sms(api, session, mfa_phone_number=PHONE, session_token=session["session_token"])
    done = authenticate_sms(
        api,
        session,
        last_code(services, PHONE),
        intermediate_session_token=None,
        session_jwt=session["session_jwt"],
        set_mfa_enrollment="enroll",
        session_duration_minutes=120,
    )
    assert done.status_code == 200, done.json()
    body = done.json()
    assert (
        body["member_session"]["member_session_id"]
        == session["member_session"]["member_session_id"]
    )
    assert body["session_token"] == ""  # presented as a JWT: only its digest is stored
    assert factor_types(body) == [("magic_link", "email"), ("otp", "sms")]
    assert body["member"]["mfa_enrolled"] is True
    assert body["member"]["mfa_phone_number_verified"] is True
    assert body["member_session"]["expires_at"] > session["member_session"]["expires_at"]
    # The original token still names the same session, now with both factors.
    checked = api.post(SESSION_AUTHENTICATE, json={"session_token": session["session_token"]})
    assert [f["type"] for f in checked.json()["member_session"]["authentication_factors"]] == [
        "magic_link",
        "otp",
    ]
    # Opted in: the next login stops for MFA, with the code already sent.
    reset_limits(app)
    nxt = pending_login(api, services, org)
    assert nxt["mfa_required"]["secondary_auth_initiated"] == "sms_otp"


def test_unenroll_after_a_code_and_the_next_login_has_no_mfa_step(
    api: TestClient, services: Services, project: Credentials
) -> None:
    org = make_org(services, project.project_id)
    member = make_member(services, project.project_id, org, email_address=EMAIL, mfa_enrolled=True)
    pending = pending_login(api, services, org)
    send_sms(api, pending, mfa_phone_number=PHONE)
    done = authenticate_sms(api, pending, last_code(services, PHONE), set_mfa_enrollment="unenroll")
    assert done.status_code == 200
    assert done.json()["member"]["mfa_enrolled"] is False
    assert login(api, services, EMAIL, org.id)["member_id"] == member.id


def test_policy_ignores_unenroll_where_it_requires_mfa(
    api: TestClient, services: Services, project: Credentials
) -> None:
    org = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    make_member(services, project.project_id, org, email_address=EMAIL)
    pending = pending_login(api, services, org)
    send_sms(api, pending, mfa_phone_number=PHONE)
    done = authenticate_sms(api, pending, last_code(services, PHONE), set_mfa_enrollment="unenroll")
    assert done.status_code == 200
    assert done.json()["member"]["mfa_enrolled"] is True
    bad = authenticate_sms(api, pending, "123456", set_mfa_enrollment="sometimes")
    assert (bad.status_code, bad.json()["error_type"]) == (400, "invalid_argument")


def test_a_policy_change_to_required_enrols_members_at_their_next_login(
    api: TestClient, services: Services, project: Credentials
) -> None:
    org = make_org(services, project.project_id)
    make_member(services, project.project_id, org, email_address=EMAIL)
    assert factor_types(login(api, services, EMAIL, org.id)) == [("magic_link", "email")]
    updated = api.put(f"/v1/b2b/organizations/{org.id}", json={"mfa_policy": "REQUIRED_FOR_ALL"})
    assert updated.status_code == 200
    body = enrol(api, services, org)  # exchange → send with a new phone → authenticate
    assert factor_types(body) == [("magic_link", "email"), ("otp", "sms")]
    assert body["member"]["mfa_enrolled"] is True


def test_roles_listed_by_the_organization_must_use_mfa(
    api: TestClient, services: Services, project: Credentials
) -> None:
    org = make_org(services, project.project_id, mfa_required_roles=["stytch_admin"])
    boss = make_member(
        services, project.project_id, org, email_address="boss@acme.example", roles=["stytch_admin"]
    )
    make_member(services, project.project_id, org, email_address="staff@acme.example")
    body = enrol(api, services, org, "boss@acme.example")
    assert body["member"]["mfa_enrolled"] is True  # policy enrolled the admin
    refused = api.put(
        f"/v1/b2b/organizations/{org.id}/members/{boss.id}", json={"mfa_enrolled": False}
    )
    assert (refused.status_code, refused.json()["error_type"]) == (
        400,
        "mfa_enrollment_required_by_policy",
    )
    assert login(api, services, "staff@acme.example", org.id)["member_authenticated"] is True


def test_restricted_mfa_methods_without_sms_refuse_it(
    api: TestClient, services: Services, project: Credentials
) -> None:
    org = make_org(
        services,
        project.project_id,
        mfa_policy="REQUIRED_FOR_ALL",
        mfa_methods="RESTRICTED",
        allowed_mfa_methods=["totp"],
    )
    member = make_member(
        services, project.project_id, org, email_address=EMAIL, mfa_phone_number=PHONE
    )
    verify_phone(services, member)
    pending = pending_login(api, services, org)
    assert pending["mfa_required"]["secondary_auth_initiated"] is None  # nothing sent
    assert sms_count(services, PHONE) == 0
    for path, fields in [(SMS_SEND, {}), (SMS_AUTHENTICATE, {"code": "123456"})]:
        response = api.post(
            path,
            json={
                "organization_id": org.id,
                "member_id": member.id,
                "intermediate_session_token": pending["intermediate_session_token"],
                **fields,
            },
        )
        assert (response.status_code, response.json()["error_type"]) == (
            400,
            "operation_restricted_by_organization_mfa_methods",
        ), path


def test_session_arguments_are_counted(
    api: TestClient, services: Services, project: Credentials
) -> None:
    org = make_org(services, project.project_id)
    member = make_member(services, project.project_id, org, email_address=EMAIL)
    base = {"organization_id": org.id, "member_id": member.id}
    none = api.post(SMS_AUTHENTICATE, json={**base, "code": "123456"})
    assert (none.status_code, none.json()["error_type"]) == (400, "no_session_arguments")
    two = {"intermediate_session_token": "a", "session_token": "b"}
    for path, extra in [(SMS_AUTHENTICATE, {"code": "123456"}), (SMS_SEND, {})]:
        response = api.post(path, json={**base, **two, **extra})
        assert (response.status_code, response.json()["error_type"]) == (
            400,
            "too_many_session_arguments",
        ), path


def test_lockout_shows_on_the_member_and_ends(
    api: TestClient, app: FastAPI, services: Services, project: Credentials, clock: FrozenClock
) -> None:
    org = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    member = make_member(services, project.project_id, org, email_address=EMAIL)
    pending = pending_login(api, services, org)
    for _ in range(2):  # ten wrong guesses over two codes
        reset_limits(app)
        send_sms(api, pending, mfa_phone_number=PHONE)
        code = last_code(services, PHONE)
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        for _ in range(5):
            assert authenticate_sms(api, pending, wrong).status_code == 404
    shown = api.get(f"/v1/b2b/organizations/{org.id}/member", params={"member_id": member.id})
    locked = shown.json()["member"]
    assert locked["is_locked"] is True
    assert locked["lock_created_at"]
    assert locked["lock_expires_at"]
    reset_limits(app)
    refused = api.post(SMS_SEND, json={"organization_id": org.id, "member_id": member.id})
    assert (refused.status_code, refused.json()["error_type"]) == (401, "member_locked")
    assert refused.json()["error_details"]["lock_expires_at"]

    clock.advance(minutes=31)
    pending = pending_login(api, services, org)  # the first IST has expired meanwhile
    shown = api.get(f"/v1/b2b/organizations/{org.id}/member", params={"member_id": member.id})
    assert shown.json()["member"]["is_locked"] is False
    send_sms(api, pending)
    assert authenticate_sms(api, pending, last_code(services, PHONE)).status_code == 200


def test_locale_chooses_the_text(api: TestClient, services: Services, project: Credentials) -> None:
    org = make_org(services, project.project_id)
    member = make_member(services, project.project_id, org, email_address=EMAIL)
    base = {"organization_id": org.id, "member_id": member.id, "mfa_phone_number": PHONE}
    bad = api.post(SMS_SEND, json={**base, "locale": "xx"})
    assert (bad.status_code, bad.json()["error_type"]) == (400, "invalid_locale")
    assert api.post(SMS_SEND, json={**base, "locale": "fr"}).status_code == 200
    with services.sessions() as s:
        (message,) = outbox.recent(s, recipient=PHONE)
        assert message.locale == "fr"


def test_pending_members_get_a_code_only_with_their_login(
    api: TestClient, services: Services, project: Credentials
) -> None:
    org = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    member = make_member(
        services, project.project_id, org, email_address=EMAIL, create_member_as_pending=True
    )
    pending = pending_login(api, services, org)
    base = {"organization_id": org.id, "member_id": member.id, "mfa_phone_number": PHONE}
    refused = api.post(SMS_SEND, json=base)
    assert (refused.status_code, refused.json()["error_type"]) == (
        400,
        "action_available_only_for_active_members",
    )
    send_sms(
        api,
        pending,
        mfa_phone_number=PHONE,
        intermediate_session_token=pending["intermediate_session_token"],
    )
    done = authenticate_sms(api, pending, last_code(services, PHONE))
    assert done.status_code == 200
    assert done.json()["member"]["status"] == "active"


def test_an_ist_still_missing_its_primary_factor_cannot_do_mfa(
    api: TestClient, services: Services, project: Credentials
) -> None:
    org = make_org(
        services,
        project.project_id,
        mfa_policy="REQUIRED_FOR_ALL",
        auth_methods="RESTRICTED",
        allowed_auth_methods=["sso"],
    )
    member = make_member(services, project.project_id, org, email_address=EMAIL)
    body = enter(api, ist_for(api, services, EMAIL), org.id)
    assert body["primary_required"] is not None
    for path, extra in [(SMS_SEND, {"mfa_phone_number": PHONE}), (SMS_AUTHENTICATE, {"code": "1"})]:
        response = api.post(
            path,
            json={
                "organization_id": org.id,
                "member_id": member.id,
                "intermediate_session_token": body["intermediate_session_token"],
                **extra,
            },
        )
        assert (response.status_code, response.json()["error_type"]) == (
            400,
            "action_available_only_once_primary_authentication_is_met",
        ), path
    assert sms_count(services, PHONE) == 0


def test_deleting_the_phone_resets_sms_mfa(
    api: TestClient, app: FastAPI, services: Services, project: Credentials
) -> None:
    org = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    member = make_member(services, project.project_id, org, email_address=EMAIL)
    session = enrol(api, services, org)
    path = mfa_phone_path(org.id, member.id)
    deleted = api.delete(path)
    assert deleted.status_code == 200, deleted.json()
    shown = deleted.json()["member"]
    assert (shown["mfa_phone_number"], shown["mfa_phone_number_verified"]) == ("", False)
    assert shown["mfa_enrolled"] is True
    assert member_row(services, member.id).phone_id is None
    (event,) = events(services, "member.mfa_phone_reset")
    assert event.member_id == member.id
    assert event.details["was_verified"] is True
    again = api.request("DELETE", path, json={})  # Node sends {} on DELETE
    assert (again.status_code, again.json()["error_type"]) == (404, "member_phone_number_not_found")
    # Sessions already started stay; the next login enrols a number afresh.
    reset_limits(app)
    assert (
        api.post(SESSION_AUTHENTICATE, json={"session_token": session["session_token"]}).status_code
        == 200
    )
    body = enrol(api, services, org, phone=OTHER_PHONE)
    assert body["member"]["mfa_phone_number"] == OTHER_PHONE


def test_the_exchange_texts_by_the_code_and_lock_it_read_with_the_member(
    api: TestClient, services: Services, project: Credentials
) -> None:
    """The exchange reads the member's live code and lock with the IST (one statement): a
    second exchange within the resend window texts nothing new, a locked member gets none."""
    org = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    member = make_member(
        services, project.project_id, org, email_address=EMAIL, mfa_phone_number=PHONE
    )
    verify_phone(services, member)
    first = pending_login(api, services, org)
    assert first["mfa_required"]["secondary_auth_initiated"] == "sms_otp"
    assert sms_count(services, PHONE) == 1
    again = enter(api, first["intermediate_session_token"], org.id)
    assert again["mfa_required"]["secondary_auth_initiated"] == "sms_otp"
    assert sms_count(services, PHONE) == 1  # the code sent a moment ago still stands
    lock_member(services, member)
    locked = pending_login(api, services, org)
    assert locked["mfa_required"]["secondary_auth_initiated"] is None
    assert sms_count(services, PHONE) == 1
