"""TOTP and recovery codes through the official Python SDK (stytch 15.3.0) against a live
server: enrol at the first REQUIRED_FOR_ALL login, log in with a code, recover with a recovery
code at a second login; the SDK's strict models parse every answer."""

from __future__ import annotations

from typing import Any

import pyotp
import pytest
from fastapi import FastAPI
from stytch.core.response_base import StytchError

from antechamber.clock import FrozenClock
from antechamber.services import Services
from tests.compat.test_python_sdk import discover
from tests.compat.test_python_sdk_mfa import EMAIL, factor_kinds, fresh_ist


def test_enrol_log_in_and_recover_with_the_sdk(
    sdk: Any, services: Services, inner_app: FastAPI, clock: FrozenClock
) -> None:
    found = discover(sdk, services, EMAIL)
    created = sdk.discovery.organizations.create(
        intermediate_session_token=found.intermediate_session_token,
        email_allowed_domains=[],
        organization_name="Authenticator Co",
        session_duration_minutes=60,
        mfa_policy="REQUIRED_FOR_ALL",
    )
    assert created.member_authenticated is False
    org_id, member_id = created.organization.organization_id, created.member_id

    totp = sdk.totps.create(
        organization_id=org_id,
        member_id=member_id,
        intermediate_session_token=created.intermediate_session_token,
    )
    assert totp.qr_code.startswith("data:image/png;base64,")
    assert len(totp.recovery_codes) == 10
    done = sdk.totps.authenticate(
        organization_id=org_id,
        member_id=member_id,
        code=pyotp.TOTP(totp.secret).at(clock.now()),
        intermediate_session_token=created.intermediate_session_token,
    )
    assert factor_kinds(done.member_session) == [
        ("magic_link", "email"),
        ("totp", "authenticator_app"),
    ]
    assert done.member_session.authentication_factors[1].authenticator_app_factor.totp_id == (
        totp.totp_registration_id
    )
    assert done.member.totp_registration_id == totp.totp_registration_id
    assert done.member.mfa_enrolled is True
    local = sdk.sessions.authenticate_jwt(session_jwt=done.session_jwt)
    assert factor_kinds(local.member_session)[1] == ("totp", "authenticator_app")

    # The same code again at the next login: refused, a code works once.
    pending = sdk.discovery.intermediate_sessions.exchange(
        intermediate_session_token=fresh_ist(sdk, services, inner_app), organization_id=org_id
    )
    assert pending.mfa_required.member_options.totp_registration_id == totp.totp_registration_id
    assert pending.mfa_required.secondary_auth_initiated is None
    with pytest.raises(StytchError) as refused:
        sdk.totps.authenticate(
            organization_id=org_id,
            member_id=member_id,
            code=pyotp.TOTP(totp.secret).at(clock.now()),
            intermediate_session_token=pending.intermediate_session_token,
        )
    assert refused.value.details.error_type == "totp_code_already_authenticated"

    # The second login finishes with a recovery code instead.
    recovered = sdk.recovery_codes.recover(
        organization_id=org_id,
        member_id=member_id,
        recovery_code=totp.recovery_codes[0],
        intermediate_session_token=pending.intermediate_session_token,
    )
    assert recovered.recovery_codes_remaining == 9
    assert factor_kinds(recovered.member_session)[1] == ("recovery_codes", "recovery_code")
    assert recovered.member_session.authentication_factors[
        1
    ].recovery_code_factor.totp_recovery_code_id

    rotated = sdk.recovery_codes.rotate(organization_id=org_id, member_id=member_id)
    assert len(rotated.recovery_codes) == 10
    with pytest.raises(StytchError) as not_retrievable:
        sdk.recovery_codes.get(organization_id=org_id, member_id=member_id)
    assert not_retrievable.value.details.error_type == "recovery_codes_not_retrievable"

    reset = sdk.organizations.members.delete_totp(organization_id=org_id, member_id=member_id)
    assert reset.member.totp_registration_id == ""
