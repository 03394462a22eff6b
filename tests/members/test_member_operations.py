"""What operators do to one member: unlock, reset the SMS phone, make or remove admin."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from antechamber.audit import service as audit
from antechamber.members import service as members
from antechamber.members.errors import MemberNotFound
from antechamber.members.models import Member
from antechamber.otp import sms
from antechamber.otp.models import SmsOtp
from antechamber.services import Services
from tests.conftest import Credentials
from tests.factories import lock_member, make_member, make_org

PHONE = "+12025550123"


def fresh(services: Services, member_id: str) -> Member:
    with services.sessions() as session:
        member = session.get(Member, member_id)
        assert member is not None
        return member


def test_unlock_ends_a_lockout_and_is_audited(services: Services, project: Credentials) -> None:
    org = make_org(services, project.project_id)
    member = make_member(services, project.project_id, org)
    lock_member(services, member)
    assert fresh(services, member.id).lock_expires_at is not None

    with services.scope(project.project_id, "test", "operator:member-live-x") as scope:
        members.unlock_member(scope, org, member.id)

    after = fresh(services, member.id)
    assert (after.lock_expires_at, after.lock_created_at, after.mfa_failed_attempts) == (
        None,
        None,
        0,
    )
    with services.sessions() as session:
        [event] = audit.list_events(session, event_type="member.unlocked")
    assert (event.actor, event.member_id, event.details) == (
        "operator:member-live-x",
        member.id,
        {"was_locked": True},
    )


def test_unlocking_an_unlocked_member_is_harmless(services: Services, project: Credentials) -> None:
    org = make_org(services, project.project_id)
    member = make_member(services, project.project_id, org)
    with services.scope(project.project_id, "test", "cli") as scope:
        members.unlock_member(scope, org, member.id)
    with services.sessions() as session:
        [event] = audit.list_events(session, event_type="member.unlocked")
    assert event.details == {"was_locked": False}


def test_reset_sms_phone(services: Services, project: Credentials) -> None:
    org = make_org(services, project.project_id)
    member = make_member(services, project.project_id, org, mfa_phone_number=PHONE)
    other = make_member(services, project.project_id, org, mfa_phone_number="+12025550124")
    with services.scope(project.project_id, "test", "test") as scope:
        m = members.get_member(scope, org, member_id=member.id)
        m.mfa_phone_number_verified = True
        m.default_mfa_method = "sms_otp"
        sms.issue_code(scope, m, PHONE)
        sms.issue_code(
            scope, members.get_member(scope, org, member_id=other.id), other.mfa_phone_number
        )

    with services.scope(project.project_id, "test", "operator:member-live-x") as scope:
        m = members.get_member(scope, org, member_id=member.id)
        members.reset_sms_phone(scope, org, m)

    after = fresh(services, member.id)
    assert after.mfa_phone_number == ""
    assert not after.mfa_phone_number_verified
    assert after.phone_id is None
    assert after.default_mfa_method == ""
    with services.sessions() as session:
        live = session.scalars(select(SmsOtp.member_id)).all()
        [event] = audit.list_events(session, event_type="member.mfa_phone_reset")
    assert live == [other.id]  # the member's code died; nobody else's
    assert (event.actor, event.member_id) == ("operator:member-live-x", member.id)
    assert event.details["had_phone"] is True
    assert event.details["was_verified"] is True
    # A phone can be enrolled again, even the same number.
    with services.scope(project.project_id, "test", "test") as scope:
        again = members.update_member(scope, org, member.id, {"mfa_phone_number": PHONE})
        assert again.mfa_phone_number == PHONE
        assert again.phone_id


def test_reset_sms_phone_checks_the_organization(services: Services, project: Credentials) -> None:
    org, elsewhere = make_org(services, project.project_id), make_org(services, project.project_id)
    member = make_member(services, project.project_id, org, mfa_phone_number=PHONE)
    with (
        pytest.raises(MemberNotFound),
        services.scope(project.project_id, "test", "test") as scope,
    ):
        members.reset_sms_phone(
            scope, elsewhere, members.get_member(scope, org, member_id=member.id)
        )
    assert fresh(services, member.id).mfa_phone_number == PHONE


def test_roles_with_admin(services: Services, project: Credentials) -> None:
    org = make_org(services, project.project_id)
    member = make_member(services, project.project_id, org)
    assert members.roles_with_admin(member, True) == ["stytch_member", "stytch_admin"]
    member.roles = ["stytch_admin"]
    assert members.roles_with_admin(member, False) == ["stytch_member"]
    assert members.roles_with_admin(member, True) == ["stytch_member", "stytch_admin"]
