"""TOTP and recovery codes at the domain level, with the injected clock: the ±1 step window,
step boundaries, replay, expiry of a pending registration, the lock shared with SMS, single-use
recovery codes and rotation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyotp
import pytest
from sqlalchemy import select

from antechamber import units
from antechamber.clock import FrozenClock
from antechamber.errors import AntechamberError
from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.otp import sms
from antechamber.services import Services
from antechamber.sessions import factors, intermediate, login
from antechamber.totp import codes, recovery, service
from antechamber.totp.models import TotpRecoveryCode, TotpRegistration
from tests.conftest import Credentials
from tests.factories import make_member, make_org, start_session


@dataclass
class Enrolled:
    organization_id: str
    member_id: str
    session_token: str
    secret: str
    recovery_codes: list[str]
    project_id: str


@pytest.fixture
def aligned(clock: FrozenClock) -> FrozenClock:
    """The clock at the first second of a 30-second step, so tests can walk the steps."""
    clock.advance(seconds=30 - int(clock.now().timestamp()) % 30)
    return clock


@pytest.fixture
def enrolled(services: Services, project: Credentials, aligned: FrozenClock) -> Enrolled:
    org = make_org(services, project.project_id)
    member = make_member(services, project.project_id, org)
    _, token, _ = start_session(services, project.project_id, org, member)
    with services.scope(project.project_id, "test", "test") as scope:
        created = service.create_totp(
            scope, organization_id=org.id, member_id=member.id, session_token=token
        )
    return Enrolled(
        org.id, member.id, token, created.secret, created.recovery_codes, project.project_id
    )


def code_at(secret: str, clock: FrozenClock, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(clock.now().timestamp() + 30 * steps)


def attempt(services: Services, e: Enrolled, code: str, **extra: Any) -> str:
    """The error_type of a TOTP authenticate with the member's session, or "ok"."""
    try:
        with services.scope(e.project_id, "test", "test") as scope:
            service.authenticate_totp(
                scope,
                organization_id=e.organization_id,
                member_id=e.member_id,
                code=code,
                session_token=e.session_token,
                **extra,
            )
    except AntechamberError as exc:
        return exc.error_type
    return "ok"


def recover(services: Services, e: Enrolled, code: str) -> str | int:
    """Codes remaining after a recovery with the member's session, or the error_type."""
    try:
        with services.scope(e.project_id, "test", "test") as scope:
            return recovery.recover(
                scope,
                organization_id=e.organization_id,
                member_id=e.member_id,
                recovery_code=code,
                session_token=e.session_token,
            ).recovery_codes_remaining
    except AntechamberError as exc:
        return exc.error_type


def member(services: Services, member_id: str) -> Member:
    with services.sessions() as s:
        row = s.get(Member, member_id)
        assert row is not None
        return row


def test_the_first_code_activates_the_registration(services: Services, enrolled: Enrolled) -> None:
    assert member(services, enrolled.member_id).totp_registration_id == ""
    assert attempt(services, enrolled, code_at(enrolled.secret, services.clock)) == "ok"  # type: ignore[arg-type]
    with services.sessions() as s:
        row = s.scalars(select(TotpRegistration)).one()
        assert row.status == "active"
        assert row.expires_at is None
    assert member(services, enrolled.member_id).totp_registration_id == row.id


@pytest.mark.parametrize("steps", [-1, 0, 1])
def test_one_step_either_side_is_accepted(
    services: Services, enrolled: Enrolled, aligned: FrozenClock, steps: int
) -> None:
    assert attempt(services, enrolled, code_at(enrolled.secret, aligned, steps)) == "ok"


@pytest.mark.parametrize("steps", [-2, 2, 10])
def test_codes_outside_the_window_are_wrong(
    services: Services, enrolled: Enrolled, aligned: FrozenClock, steps: int
) -> None:
    code = code_at(enrolled.secret, aligned, steps)
    if code in {code_at(enrolled.secret, aligned, s) for s in (-1, 0, 1)}:
        pytest.skip("the random secret made a code collide inside the window")
    assert attempt(services, enrolled, code) == "unable_to_authenticate_totp"


def test_step_boundaries(services: Services, enrolled: Enrolled, aligned: FrozenClock) -> None:
    code = code_at(enrolled.secret, aligned)
    # Last second of the step after next: the code's step is now two behind.
    aligned.advance(seconds=89)
    if code not in {code_at(enrolled.secret, aligned, s) for s in (-1, 0, 1)}:
        assert attempt(services, enrolled, code) == "unable_to_authenticate_totp"
    aligned.advance(seconds=-30)  # last second of the next step: one behind, still accepted
    assert attempt(services, enrolled, code) == "ok"


def test_a_code_is_accepted_once_per_step(
    services: Services, enrolled: Enrolled, aligned: FrozenClock
) -> None:
    code = code_at(enrolled.secret, aligned)
    assert attempt(services, enrolled, code) == "ok"
    assert attempt(services, enrolled, code) == "totp_code_already_authenticated"
    aligned.advance(seconds=29)  # still inside the window, still refused
    assert attempt(services, enrolled, code) == "totp_code_already_authenticated"
    # An older step's code after a newer one was used is refused too (RFC 6238 §5.2).
    aligned.advance(seconds=1)
    older = code_at(enrolled.secret, aligned, -1)
    assert older == code
    assert attempt(services, enrolled, code_at(enrolled.secret, aligned)) == "ok"
    assert attempt(services, enrolled, code) == "totp_code_already_authenticated"
    # A replay is not a guess: it does not count towards the lock.
    assert member(services, enrolled.member_id).mfa_failed_attempts == 0


def test_an_expired_pending_registration_cannot_be_used(
    services: Services, enrolled: Enrolled, aligned: FrozenClock
) -> None:
    with services.scope(enrolled.project_id, "test", "test") as scope:
        short = service.create_totp(
            scope,
            organization_id=enrolled.organization_id,
            member_id=enrolled.member_id,
            session_token=enrolled.session_token,
            expiration_minutes=5,
        )
    aligned.advance(minutes=5)
    assert attempt(services, enrolled, code_at(short.secret, aligned)) == "totp_not_found"


def test_a_pending_registration_is_replaced_by_a_new_one(
    services: Services, enrolled: Enrolled, aligned: FrozenClock
) -> None:
    with services.scope(enrolled.project_id, "test", "test") as scope:
        again = service.create_totp(
            scope,
            organization_id=enrolled.organization_id,
            member_id=enrolled.member_id,
            session_token=enrolled.session_token,
            expiration_minutes=5,
        )
    with services.sessions() as s:
        assert len(s.scalars(select(TotpRegistration)).all()) == 1
        assert len(s.scalars(select(TotpRecoveryCode)).all()) == 10
    old = code_at(enrolled.secret, aligned)
    if old != code_at(again.secret, aligned):
        assert attempt(services, enrolled, old) == "unable_to_authenticate_totp"
    assert attempt(services, enrolled, code_at(again.secret, aligned)) == "ok"
    with (
        services.scope(enrolled.project_id, "test", "test") as scope,
        pytest.raises(AntechamberError) as refused,
    ):
        service.create_totp(
            scope,
            organization_id=enrolled.organization_id,
            member_id=enrolled.member_id,
            session_token=enrolled.session_token,
        )
    assert refused.value.error_type == "active_totp_exists"


@pytest.mark.parametrize("minutes", [0, 4, 1441, -1])
def test_expiration_minutes_bounds(services: Services, enrolled: Enrolled, minutes: int) -> None:
    with (
        services.scope(enrolled.project_id, "test", "test") as scope,
        pytest.raises(AntechamberError) as refused,
    ):
        service.create_totp(
            scope,
            organization_id=enrolled.organization_id,
            member_id=enrolled.member_id,
            session_token=enrolled.session_token,
            expiration_minutes=minutes,
        )
    assert refused.value.error_type == "invalid_expiration"


def test_wrong_totp_codes_and_wrong_sms_codes_share_one_lock(
    services: Services, enrolled: Enrolled, aligned: FrozenClock
) -> None:
    threshold = services.settings.mfa_lockout_threshold
    assert attempt(services, enrolled, code_at(enrolled.secret, aligned)) == "ok"  # activated
    aligned.advance(seconds=30)
    row = member(services, enrolled.member_id)
    right = code_at(enrolled.secret, aligned)
    wrong = f"{(int(right) + 500_000) % 1_000_000:06d}"
    for i in range(threshold - 1):
        if i % 2:
            assert attempt(services, enrolled, wrong) == "unable_to_authenticate_totp"
        else:
            with services.scope(enrolled.project_id, "test", "test") as scope:
                sms_code = sms.issue_code(scope, row, "+12025550123").code
            with (
                pytest.raises(AntechamberError) as refused,
                services.scope(enrolled.project_id, "test", "test") as scope,
            ):
                sms.verify_code(scope, row, f"{(int(sms_code) + 1) % 1_000_000:06d}")
            assert refused.value.error_type == "otp_code_not_found"
    assert not member(services, enrolled.member_id).lock_expires_at
    assert attempt(services, enrolled, wrong) == "unable_to_authenticate_totp"  # the last straw
    assert member(services, enrolled.member_id).lock_expires_at is not None
    assert attempt(services, enrolled, right) == "member_locked"
    assert recover(services, enrolled, enrolled.recovery_codes[0]) == "member_locked"


def test_recovery_codes_need_an_active_registration(services: Services, enrolled: Enrolled) -> None:
    code = enrolled.recovery_codes[0]
    assert recover(services, enrolled, code) == "no_active_recovery_code_backed_factor"


def test_a_recovery_code_works_once(
    services: Services, enrolled: Enrolled, aligned: FrozenClock
) -> None:
    assert attempt(services, enrolled, code_at(enrolled.secret, aligned)) == "ok"
    first = enrolled.recovery_codes[0]
    # Typed in capitals with spaces instead of dashes: the same code.
    assert recover(services, enrolled, first.upper().replace("-", " ")) == 9
    assert recover(services, enrolled, first) == "unable_to_authenticate_recovery_code"
    assert member(services, enrolled.member_id).mfa_failed_attempts == 1  # counted
    assert recover(services, enrolled, enrolled.recovery_codes[1]) == 8


def test_codes_sent_to_the_wrong_call(
    services: Services, enrolled: Enrolled, aligned: FrozenClock
) -> None:
    code = code_at(enrolled.secret, aligned)
    assert attempt(services, enrolled, enrolled.recovery_codes[0]) == (
        "recovery_code_used_as_totp_code"
    )
    assert attempt(services, enrolled, code) == "ok"
    assert recover(services, enrolled, code) == "totp_code_used_as_recovery_code"
    assert attempt(services, enrolled, "12345") == "invalid_code"
    assert member(services, enrolled.member_id).mfa_failed_attempts == 0


def test_rotation_kills_the_old_codes(
    services: Services, enrolled: Enrolled, aligned: FrozenClock
) -> None:
    assert attempt(services, enrolled, code_at(enrolled.secret, aligned)) == "ok"
    with services.scope(enrolled.project_id, "test", "test") as scope:
        rotated = recovery.rotate_recovery_codes(
            scope, organization_id=enrolled.organization_id, member_id=enrolled.member_id
        )
    assert len(rotated.recovery_codes) == 10
    assert not set(rotated.recovery_codes) & set(enrolled.recovery_codes)
    assert recover(services, enrolled, enrolled.recovery_codes[0]) == (
        "unable_to_authenticate_recovery_code"
    )
    assert recover(services, enrolled, rotated.recovery_codes[0]) == 9


def test_recovery_codes_have_at_least_112_bits_and_are_stored_keyed() -> None:
    made = codes.new_recovery_codes()
    assert len(made) == 10 == len(set(made))
    for code in made:
        plain = code.replace("-", "")
        assert len(plain) * 5 >= 112
        assert codes.normalised_recovery_code(code) == plain


def test_deleting_the_member_totp(
    services: Services, enrolled: Enrolled, aligned: FrozenClock
) -> None:
    assert attempt(services, enrolled, code_at(enrolled.secret, aligned), set_default_mfa=True) == (
        "ok"
    )
    assert member(services, enrolled.member_id).default_mfa_method == "totp"
    with services.scope(enrolled.project_id, "test", "test") as scope:
        _, row = service.delete_member_totp(scope, enrolled.organization_id, enrolled.member_id)
        assert row.totp_registration_id == ""
        assert row.default_mfa_method == ""
    with services.sessions() as s:
        assert s.scalars(select(TotpRegistration)).all() == []
        assert s.scalars(select(TotpRecoveryCode)).all() == []
    aligned.advance(seconds=30)
    assert attempt(services, enrolled, code_at(enrolled.secret, aligned)) == "totp_not_found"


def test_a_login_finished_with_totp_takes_no_orm_object(
    services: Services, enrolled: Enrolled, aligned: FrozenClock
) -> None:
    """The hot path of a TOTP login (an IST waiting for MFA) reads and writes with Core
    statements: its unit of work ends with nothing in the Session's identity map, so its commit
    is the connection's alone (`units.Unit.commit`)."""
    assert attempt(services, enrolled, code_at(enrolled.secret, aligned)) == "ok"
    with services.scope(enrolled.project_id, "test", "test") as scope:
        org = scope.db.get(Organization, enrolled.organization_id)
        assert org is not None
        org.mfa_policy = "REQUIRED_FOR_ALL"
    with services.scope(enrolled.project_id, "test", "test") as scope:
        person = scope.db.get_one(Member, enrolled.member_id)
        proof = [
            factors.magic_link("test", enrolled.project_id, person.email_address, aligned.now())
        ]
        _row, token = intermediate.issue(scope, email=person.email_address, factors=proof)
        claimed = intermediate.claim(scope, token)
        org = scope.db.get_one(Organization, enrolled.organization_id)
        pending = login.conclude(scope, org, person, claimed.factors, ist=(claimed, token))
        assert pending.mfa_required
    aligned.advance(seconds=30)
    with services.scope(enrolled.project_id, "test", "test") as scope:
        result = service.authenticate_totp(
            scope,
            organization_id=enrolled.organization_id,
            member_id=enrolled.member_id,
            code=code_at(enrolled.secret, aligned),
            intermediate_session_token=pending.intermediate_session_token,
        )
        assert result.member_authenticated
        assert not scope.db.identity_map
        assert not scope.db.new
        assert units._orm_free(scope.db)
