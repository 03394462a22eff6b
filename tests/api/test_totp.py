"""TOTP and recovery codes over HTTP: enrolment at the first login, later logins, recovery,
rotation, the administrator's reset, and how TOTP meets the organization's MFA settings."""

from __future__ import annotations

from typing import Any

import pyotp
import pytest
from starlette.testclient import TestClient

from antechamber.clock import FrozenClock
from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.conftest import Credentials
from tests.factories import (
    allow_redirect,
    make_member,
    make_org,
    sms_count,
    start_session,
    verify_phone,
)
from tests.flows import (
    RECOVERY_ROTATE,
    SESSION_AUTHENTICATE,
    authenticate_totp,
    create_totp,
    enter,
    ist_for,
    member_totp_path,
    recover,
    recovery_codes_path,
)
from tests.snapshots import assert_refused

EMAIL = "ada@acme.example"
PHONE = "+12025550123"


@pytest.fixture(autouse=True)
def callback(services: Services, project: Credentials) -> None:
    allow_redirect(services, project.project_id)


def pending_login(api: TestClient, services: Services, org: Organization) -> dict[str, Any]:
    body = enter(api, ist_for(api, services, EMAIL), org.id)
    assert body["member_authenticated"] is False, body
    return body


def factor_types(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (f["type"], f["delivery_method"]) for f in body["member_session"]["authentication_factors"]
    ]


def now_code(secret: str, clock: FrozenClock, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(clock.now().timestamp() + 30 * steps)


def enrol(
    api: TestClient, services: Services, org: Organization, clock: FrozenClock
) -> dict[str, Any]:
    """A first login under MFA: create the TOTP with the IST, authenticate its first code.
    Returns the create answer (secret, recovery codes) with the session answer as "done"."""
    pending = pending_login(api, services, org)
    created = create_totp(api, pending)
    assert created.status_code == 200, created.json()
    body: dict[str, Any] = created.json()
    done = authenticate_totp(api, pending, now_code(body["secret"], clock))
    assert done.status_code == 200, done.json()
    body["done"] = done.json()
    clock.advance(seconds=30)  # the next login needs the next code
    return body


def test_first_login_enrols_totp_then_logs_in_with_it(
    api: TestClient, services: Services, project: Credentials, clock: FrozenClock
) -> None:
    org = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    member = make_member(services, project.project_id, org, email_address=EMAIL)
    pending = pending_login(api, services, org)
    assert pending["mfa_required"] == {"member_options": None, "secondary_auth_initiated": None}

    created = create_totp(api, pending)
    assert created.status_code == 200, created.json()
    body = created.json()
    assert body["member_id"] == member.id
    assert body["totp_registration_id"].startswith("member-totp-test-")
    assert body["qr_code"].startswith("data:image/png;base64,")
    assert len(body["recovery_codes"]) == 10
    assert body["member"]["totp_registration_id"] == ""  # pending until its first code
    uri = pyotp.parse_uri(
        f"otpauth://totp/Antechamber:{EMAIL}?secret={body['secret']}&issuer=Antechamber"
    )
    assert uri.secret == body["secret"]

    done = authenticate_totp(api, pending, now_code(body["secret"], clock))
    assert done.status_code == 200, done.json()
    session = done.json()
    assert session["member_authenticated"] is True
    assert factor_types(session) == [("magic_link", "email"), ("totp", "authenticator_app")]
    factor = session["member_session"]["authentication_factors"][1]
    assert factor["authenticator_app_factor"] == {"totp_id": body["totp_registration_id"]}
    assert session["member"]["totp_registration_id"] == body["totp_registration_id"]
    assert session["member"]["mfa_enrolled"] is True
    assert (
        api.post(SESSION_AUTHENTICATE, json={"session_token": session["session_token"]}).status_code
        == 200
    )

    # The next login: the member's options name the registration; nothing is texted.
    clock.advance(seconds=30)
    again = pending_login(api, services, org)
    assert again["mfa_required"] == {
        "member_options": {
            "mfa_phone_number": "",
            "totp_registration_id": body["totp_registration_id"],
        },
        "secondary_auth_initiated": None,
    }
    second = authenticate_totp(api, again, now_code(body["secret"], clock))
    assert second.status_code == 200, second.json()
    # The IST is used up.
    assert_refused(
        authenticate_totp(api, again, now_code(body["secret"], clock, 1)),
        404,
        "intermediate_session_not_found",
    )


def test_recovery_code_finishes_a_login(
    api: TestClient, services: Services, project: Credentials, clock: FrozenClock
) -> None:
    org = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    make_member(services, project.project_id, org, email_address=EMAIL)
    enrolled = enrol(api, services, org, clock)
    pending = pending_login(api, services, org)
    done = recover(api, pending, enrolled["recovery_codes"][3])
    assert done.status_code == 200, done.json()
    body = done.json()
    assert body["recovery_codes_remaining"] == 9
    assert factor_types(body) == [("magic_link", "email"), ("recovery_codes", "recovery_code")]
    assert body["member_session"]["authentication_factors"][1]["recovery_code_factor"][
        "totp_recovery_code_id"
    ].startswith("member-totp-recovery-code-test-")
    again = pending_login(api, services, org)
    assert_refused(
        recover(api, again, enrolled["recovery_codes"][3]),
        401,
        "unable_to_authenticate_recovery_code",
    )


def test_step_up_with_totp_and_default_method(
    api: TestClient, services: Services, project: Credentials, clock: FrozenClock
) -> None:
    org = make_org(services, project.project_id)
    member = make_member(services, project.project_id, org, email_address=EMAIL)
    _, token, _ = start_session(services, project.project_id, org, member)
    pending: dict[str, Any] = {"organization": {"organization_id": org.id}, "member_id": member.id}
    created = create_totp(api, pending, intermediate_session_token=None, session_token=token)
    assert created.status_code == 200, created.json()
    secret = created.json()["secret"]
    done = authenticate_totp(
        api,
        pending,
        now_code(secret, clock),
        intermediate_session_token=None,
        session_token=token,
        set_mfa_enrollment="enroll",
        set_default_mfa=True,
    )
    assert done.status_code == 200, done.json()
    body = done.json()
    assert body["session_token"] == token
    assert factor_types(body) == [("magic_link", "email"), ("totp", "authenticator_app")]
    assert body["member"]["mfa_enrolled"] is True
    assert body["member"]["default_mfa_method"] == "totp"


def test_a_totp_member_with_a_phone_is_not_texted(
    api: TestClient, services: Services, project: Credentials, clock: FrozenClock
) -> None:
    org = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    member = make_member(services, project.project_id, org, email_address=EMAIL)
    enrol(api, services, org, clock)
    update = api.put(
        f"/v1/b2b/organizations/{org.id}/members/{member.id}", json={"mfa_phone_number": PHONE}
    )
    assert update.status_code == 200, update.json()
    verify_phone(services, member)
    pending = pending_login(api, services, org)
    assert pending["mfa_required"]["secondary_auth_initiated"] is None
    assert sms_count(services, PHONE) == 0
    # Made the default, SMS is texted again.
    api.put(
        f"/v1/b2b/organizations/{org.id}/members/{member.id}",
        json={"default_mfa_method": "sms_otp"},
    )
    pending = pending_login(api, services, org)
    assert pending["mfa_required"]["secondary_auth_initiated"] == "sms_otp"


def test_default_mfa_method_totp_needs_an_active_registration(
    api: TestClient, services: Services, project: Credentials, clock: FrozenClock
) -> None:
    org = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    member = make_member(services, project.project_id, org, email_address=EMAIL)
    path = f"/v1/b2b/organizations/{org.id}/members/{member.id}"
    assert_refused(
        api.put(path, json={"default_mfa_method": "totp"}),
        400,
        "default_mfa_member_missing_factor",
    )
    enrol(api, services, org, clock)
    done = api.put(path, json={"default_mfa_method": "totp"})
    assert done.status_code == 200, done.json()
    assert done.json()["member"]["default_mfa_method"] == "totp"


def test_restricted_mfa_methods_without_totp_refuse_it(
    api: TestClient, services: Services, project: Credentials
) -> None:
    org = make_org(
        services,
        project.project_id,
        mfa_policy="REQUIRED_FOR_ALL",
        mfa_methods="RESTRICTED",
        allowed_mfa_methods=["sms_otp"],
    )
    make_member(services, project.project_id, org, email_address=EMAIL)
    pending = pending_login(api, services, org)
    assert_refused(
        create_totp(api, pending), 400, "operation_restricted_by_organization_mfa_methods"
    )
    assert_refused(
        authenticate_totp(api, pending, "123456"),
        400,
        "operation_restricted_by_organization_mfa_methods",
    )
    assert_refused(
        recover(api, pending, "aaaaaa-aaaaaa-aaaaaa-aaaaaa"),
        400,
        "operation_restricted_by_organization_mfa_methods",
    )


def test_recovery_codes_get_rotate_and_the_member_totp_delete(
    api: TestClient, services: Services, project: Credentials, clock: FrozenClock
) -> None:
    org = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    member = make_member(services, project.project_id, org, email_address=EMAIL)
    enrolled = enrol(api, services, org, clock)

    got = api.get(recovery_codes_path(org.id, member.id))
    body = assert_refused(got, 400, "recovery_codes_not_retrievable")
    assert "rotate" in body["error_message"]

    rotated = api.post(RECOVERY_ROTATE, json={"organization_id": org.id, "member_id": member.id})
    assert rotated.status_code == 200, rotated.json()
    fresh = rotated.json()["recovery_codes"]
    assert len(fresh) == 10
    pending = pending_login(api, services, org)
    assert_refused(
        recover(api, pending, enrolled["recovery_codes"][0]),
        401,
        "unable_to_authenticate_recovery_code",
    )
    assert recover(api, pending, fresh[0]).status_code == 200

    deleted = api.delete(member_totp_path(org.id, member.id))
    assert deleted.status_code == 200, deleted.json()
    assert deleted.json()["member"]["totp_registration_id"] == ""
    assert_refused(api.delete(member_totp_path(org.id, member.id)), 404, "totp_not_found")
    pending = pending_login(api, services, org)
    assert pending["mfa_required"]["member_options"] is None
    assert_refused(
        authenticate_totp(api, pending, now_code(enrolled["secret"], clock)), 404, "totp_not_found"
    )
    # The member can enrol again.
    assert create_totp(api, pending).status_code == 200
