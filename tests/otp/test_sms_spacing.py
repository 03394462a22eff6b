"""A used code does not hold back the next login's code; an unused one still does, and the
hourly caps keep counting (SMS pumping gains nothing)."""

from __future__ import annotations

import pytest

from antechamber.errors import AntechamberError, TooManyRequests
from antechamber.members.models import Member
from antechamber.otp import dispatch, sms
from antechamber.services import Services
from tests.conftest import Credentials
from tests.factories import last_code, make_member, make_org, sms_ids

PHONE = "+12025550123"
OTHER = "+12025550188"


@pytest.fixture
def member(services: Services, project: Credentials) -> Member:
    org = make_org(services, project.project_id)
    return make_member(services, project.project_id, org, mfa_phone_number=PHONE)


def _send(services: Services, member: Member, phone: str = PHONE) -> bool:
    with services.scope(member.project_id, "test", "test") as scope:
        return dispatch.send_code(scope, member, phone, locale="en", automatic=True)


def _send_and_use(services: Services, member: Member) -> None:
    seen = sms_ids(services, PHONE)
    assert _send(services, member)
    code = last_code(services, PHONE, seen=seen)
    with services.scope(member.project_id, "test", "test") as scope:
        sms.verify_code(scope, member, code)


def test_sign_out_and_back_in_within_30_seconds_gets_a_code(
    services: Services, member: Member
) -> None:
    _send_and_use(services, member)
    # The next login, seconds later: a new code is sent (no 429), and it works.
    _send_and_use(services, member)


def test_an_unused_code_still_spaces_the_next_send(services: Services, member: Member) -> None:
    assert _send(services, member)
    # Same number: the code on its way stays the one to use (nothing new sent).
    assert not _send(services, member)
    # Another number within 30 seconds: the member's spacing refuses it.
    with pytest.raises(TooManyRequests) as refused:
        _send(services, member, OTHER)
    assert refused.value.details == {"limit": "sms:member"}


def test_a_wrong_guess_releases_nothing(services: Services, member: Member) -> None:
    assert _send(services, member)
    code = last_code(services, PHONE)
    with (
        pytest.raises(AntechamberError),
        services.scope(member.project_id, "test", "test") as scope,
    ):
        sms.verify_code(scope, member, f"{(int(code) + 1) % 1_000_000:06d}")
    with pytest.raises(TooManyRequests):
        _send(services, member, OTHER)


def test_the_hourly_cap_keeps_counting(services: Services, member: Member) -> None:
    # Default: 5 an hour to one member and one number, used or not.
    for _ in range(5):
        _send_and_use(services, member)
    with pytest.raises(TooManyRequests):
        _send(services, member)
