"""A value with a trailing newline is malformed: `$` matches before a final newline, so every
format check uses `fullmatch`. A malformed code is refused as such and never counted."""

from __future__ import annotations

import pytest

from antechamber.errors import AntechamberError
from antechamber.members.models import Member
from antechamber.organizations import domains, rules
from antechamber.otp import sms
from antechamber.services import Services
from antechamber.totp import codes
from tests.conftest import Credentials
from tests.factories import make_member, make_org


@pytest.fixture
def member(services: Services, project: Credentials) -> Member:
    org = make_org(services, project.project_id)
    return make_member(services, project.project_id, org)


def _verify(services: Services, member: Member, code: str) -> str:
    try:
        with services.scope(member.project_id, "test", "test") as scope:
            sms.verify_code(scope, member, code)
    except AntechamberError as exc:
        return exc.error_type
    return "ok"


def test_an_sms_code_with_a_newline_is_invalid_and_not_counted(
    services: Services, member: Member
) -> None:
    with services.scope(member.project_id, "test", "test") as scope:
        code = sms.issue_code(scope, member, "+12025550123").code
    # More tries than the per-code limit (5): none of them may count against the code.
    for _ in range(6):
        assert _verify(services, member, code + "\n") == "invalid_code"
        assert _verify(services, member, "000000\n") == "invalid_code"
    assert _verify(services, member, code) == "ok"


def test_totp_and_recovery_codes_with_a_newline_are_not_code_shaped() -> None:
    assert not codes.is_code_shaped("123456\n")
    assert codes.normalised_recovery_code("abcdefghijklmnopqrstuvwx") is not None
    # The separators rule removes whitespace first, so a newline is no worse than a space there.
    assert codes.normalised_recovery_code("abcdefghijklmnopqrstuvwx\n") is not None


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (rules.slug, "acme\n"),
        (rules.external_id, "ext-1\n"),
        (domains.canonical_domain, "acme\n.example"),
    ],
)
def test_organization_fields_with_a_newline_are_refused(check: object, value: str) -> None:
    with pytest.raises(AntechamberError):
        check(value)  # type: ignore[operator]


def test_a_pkce_challenge_with_a_newline_is_refused() -> None:
    from antechamber.magic_links import service as magic_links

    assert magic_links._challenge("a" * 43) == "a" * 43
    with pytest.raises(AntechamberError):
        magic_links._challenge("a" * 43 + "\n")
