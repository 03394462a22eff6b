"""SMS MFA through the official Python SDK (stytch 15.3.0) against a live server: the SDK's
strict response models parse every answer, and the session's JWT verifies offline."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from stytch.core.response_base import StytchError

from antechamber.services import Services
from tests.compat.conftest import RequestLog
from tests.compat.test_python_sdk import discover
from tests.factories import last_code, magic_token, message_ids, sms_ids

EMAIL = "ada@acme.example"
PHONE = "+12025550123"


def fresh_ist(sdk: Any, services: Services, app: FastAPI) -> str:
    """Another discovery login of EMAIL: its IST. Send limits follow the wall clock, which the
    frozen test clock does not move, so they are reset first."""
    app.state.services.limiter.reset()
    seen = message_ids(services, EMAIL)
    sdk.magic_links.email.discovery.send(email_address=EMAIL)
    token = magic_token(services, EMAIL, seen=seen)
    found = sdk.magic_links.discovery.authenticate(discovery_magic_links_token=token)
    return str(found.intermediate_session_token)


def factor_kinds(member_session: Any) -> list[tuple[str, str]]:
    return [(f.type, f.delivery_method) for f in member_session.authentication_factors]


def test_required_for_all_create_send_authenticate_verify_locally(
    sdk: Any, services: Services, request_log: RequestLog
) -> None:
    found = discover(sdk, services, EMAIL)
    created = sdk.discovery.organizations.create(
        intermediate_session_token=found.intermediate_session_token,
        email_allowed_domains=[],
        organization_name="Strict Co",
        session_duration_minutes=60,
        mfa_policy="REQUIRED_FOR_ALL",
    )
    assert created.session_jwt == ""
    assert created.mfa_required.member_options is None
    org_id = created.organization.organization_id

    sent = sdk.otps.sms.send(
        organization_id=org_id, member_id=created.member_id, mfa_phone_number=PHONE
    )
    assert sent.member.mfa_phone_number == PHONE
    assert sent.member.mfa_phone_number_verified is False
    done = sdk.otps.sms.authenticate(
        organization_id=org_id,
        member_id=created.member_id,
        code=last_code(services, PHONE),
        intermediate_session_token=created.intermediate_session_token,
    )
    assert factor_kinds(done.member_session) == [("magic_link", "email"), ("otp", "sms")]
    phone_factor = done.member_session.authentication_factors[1].phone_number_factor
    assert phone_factor.phone_number == PHONE
    assert done.member.mfa_phone_number_verified is True
    assert done.member.mfa_enrolled is True

    local = sdk.sessions.authenticate_jwt(session_jwt=done.session_jwt)
    assert local.member_session.member_id == created.member_id
    assert factor_kinds(local.member_session) == [("magic_link", "email"), ("otp", "sms")]
    assert request_log.paths["/v1/b2b/sessions/authenticate"] == 0  # verified offline

    with pytest.raises(StytchError) as refused:
        sdk.otps.sms.authenticate(
            organization_id=org_id,
            member_id=created.member_id,
            code="000000",
            intermediate_session_token=created.intermediate_session_token,
        )
    assert refused.value.details.error_type == "intermediate_session_not_found"


def test_optional_opt_in_automatic_code_then_opt_out(
    sdk: Any, services: Services, inner_app: FastAPI
) -> None:
    found = discover(sdk, services, EMAIL)
    created = sdk.discovery.organizations.create(
        intermediate_session_token=found.intermediate_session_token,
        email_allowed_domains=[],
        organization_name="Relaxed Co",
        session_duration_minutes=60,
        mfa_policy="OPTIONAL",
    )
    assert created.member_authenticated is True
    org_id, member_id = created.organization.organization_id, created.member_id
    sdk.organizations.members.update(organization_id=org_id, member_id=member_id, mfa_enrolled=True)

    # Opted in without a phone: the login stops and the member enrols one.
    pending = sdk.discovery.intermediate_sessions.exchange(
        intermediate_session_token=fresh_ist(sdk, services, inner_app), organization_id=org_id
    )
    assert pending.member_authenticated is False
    assert pending.mfa_required.member_options is None
    sdk.otps.sms.send(organization_id=org_id, member_id=member_id, mfa_phone_number=PHONE)
    done = sdk.otps.sms.authenticate(
        organization_id=org_id,
        member_id=member_id,
        code=last_code(services, PHONE),
        intermediate_session_token=pending.intermediate_session_token,
    )
    assert factor_kinds(done.member_session)[1] == ("otp", "sms")

    # With a verified phone the code is texted with the MFA answer.
    ist = fresh_ist(sdk, services, inner_app)
    seen = sms_ids(services, PHONE)
    pending = sdk.discovery.intermediate_sessions.exchange(
        intermediate_session_token=ist, organization_id=org_id
    )
    assert pending.mfa_required.secondary_auth_initiated == "sms_otp"
    assert pending.mfa_required.member_options.mfa_phone_number == "+1******0123"
    assert pending.mfa_required.member_options.totp_registration_id == ""
    done = sdk.otps.sms.authenticate(
        organization_id=org_id,
        member_id=member_id,
        code=last_code(services, PHONE, seen=seen),
        intermediate_session_token=pending.intermediate_session_token,
    )
    assert done.session_jwt

    # Opted out: the next login has no MFA step.
    updated = sdk.organizations.members.update(
        organization_id=org_id, member_id=member_id, mfa_enrolled=False
    )
    assert updated.member.mfa_enrolled is False
    entered = sdk.discovery.intermediate_sessions.exchange(
        intermediate_session_token=fresh_ist(sdk, services, inner_app), organization_id=org_id
    )
    assert entered.member_authenticated is True
    assert entered.mfa_required is None

    # An administrator deletes the phone: SMS MFA starts afresh.
    deleted = sdk.organizations.members.delete_mfa_phone_number(
        organization_id=org_id, member_id=member_id
    )
    assert deleted.member.mfa_phone_number == ""
    assert deleted.member.mfa_phone_number_verified is False
