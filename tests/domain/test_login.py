"""The login choke point and `complete_mfa`, the entry point of the MFA calls (next issue)."""

from __future__ import annotations

from typing import Any

import pytest

from antechamber.members.models import Member
from antechamber.mfa import policy
from antechamber.organizations.models import Organization
from antechamber.services import Services
from antechamber.sessions import errors, factors, intermediate, login
from antechamber.sessions import service as sessions
from tests.conftest import Credentials
from tests.factories import make_member, make_org


def sms(member: Member, services: Services) -> dict[str, Any]:
    return factors.sms_otp("phone-number-test-1", "+12025550123", services.clock.now())


def loaded(scope: Any, org: Organization, member: Member) -> tuple[Organization, Member]:
    """The organization and member as rows of this unit of work (what callers must pass)."""
    o, m = scope.db.get(Organization, org.id), scope.db.get(Member, member.id)
    assert o is not None
    assert m is not None
    return o, m


def pending_login(
    services: Services, project_id: str, org: Organization, member: Member
) -> login.AuthResult:
    """A discovery IST exchanged into `org`, left waiting for MFA."""
    with services.scope(project_id, "test", "test") as scope:
        proof = [factors.magic_link("test", project_id, member.email_address, scope.clock.now())]
        _row, token = intermediate.issue(scope, email=member.email_address, factors=proof)
        claimed = intermediate.claim(scope, token)
        result = login.conclude(scope, org, member, claimed.factors, ist=(claimed, token))
    assert result.mfa_required
    assert not result.member_authenticated
    return result


@pytest.fixture
def strict(services: Services, project: Credentials) -> tuple[Organization, Member]:
    org = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    return org, make_member(services, project.project_id, org, email_address="ada@acme.example")


def test_complete_mfa_consumes_the_ist_and_starts_a_session(
    services: Services, project: Credentials, strict: tuple[Organization, Member]
) -> None:
    org, member = strict
    ist = pending_login(services, project.project_id, org, member).intermediate_session_token
    with services.scope(project.project_id, "test", "test") as scope:
        checked = intermediate.pending_for(scope, ist, org.id, member.id)  # before the code
        assert checked.consumed_at is None
        o, m = loaded(scope, org, member)
        result = login.complete_mfa(scope, ist, o, m, sms(m, services), session_duration_minutes=30)
        assert result.member_authenticated
        assert result.session is not None
        assert factors.types(result.session.factors) == ["magic_link", "otp"]
        assert result.intermediate_session_token == ""
        assert m.mfa_enrolled is True  # REQUIRED_FOR_ALL enrolls on success
    with (
        services.scope(project.project_id, "test", "test") as scope,
        pytest.raises(errors.IntermediateSessionNotFound),
    ):
        login.complete_mfa(scope, ist, *loaded(scope, org, member), sms(member, services))


def test_complete_mfa_refuses_another_organization_or_member(
    services: Services, project: Credentials, strict: tuple[Organization, Member]
) -> None:
    org, member = strict
    other_org = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    other_member = make_member(
        services, project.project_id, other_org, email_address="ada@acme.example"
    )
    colleague = make_member(services, project.project_id, org, email_address="bob@acme.example")
    ist = pending_login(services, project.project_id, org, member).intermediate_session_token
    refused = pytest.raises(errors.InvalidIntermediateSessionForOrganization)
    for target_org, target_member in ((other_org, other_member), (org, colleague)):
        # The error leaves the unit of work, which rolls back, as a request's would.
        with refused, services.scope(project.project_id, "test", "test") as scope:
            intermediate.pending_for(scope, ist, target_org.id, target_member.id)
        with refused, services.scope(project.project_id, "test", "test") as scope:
            login.complete_mfa(
                scope, ist, *loaded(scope, target_org, target_member), sms(member, services)
            )
    # The refusals consumed nothing: the right login can still finish.
    with services.scope(project.project_id, "test", "test") as scope:
        result = login.complete_mfa(scope, ist, *loaded(scope, org, member), sms(member, services))
        assert result.member_authenticated


def test_complete_mfa_needs_a_bound_ist_and_a_second_factor(
    services: Services, project: Credentials, strict: tuple[Organization, Member]
) -> None:
    org, member = strict
    with services.scope(project.project_id, "test", "test") as scope:
        proof = [
            factors.magic_link("test", project.project_id, member.email_address, scope.clock.now())
        ]
        _, unbound = intermediate.issue(scope, email=member.email_address, factors=proof)
    with (
        pytest.raises(errors.InvalidIntermediateSessionForOrganization),
        services.scope(project.project_id, "test", "test") as scope,
    ):
        login.complete_mfa(scope, unbound, *loaded(scope, org, member), sms(member, services))
    ist = pending_login(services, project.project_id, org, member).intermediate_session_token
    with (
        pytest.raises(errors.InsufficientFactors),
        services.scope(project.project_id, "test", "test") as scope,
    ):
        login.complete_mfa(scope, ist, *loaded(scope, org, member), proof[0])


def test_start_refuses_factors_that_do_not_meet_the_policy(
    services: Services, project: Credentials, strict: tuple[Organization, Member]
) -> None:
    org, member = strict
    now = services.clock.now()
    link = factors.magic_link("test", project.project_id, member.email_address, now)
    someone_else = factors.magic_link("test", project.project_id, "eve@acme.example", now)
    for attempt in ([], [link], [sms(member, services)], [someone_else, sms(member, services)]):
        with (
            services.scope(project.project_id, "test", "test") as scope,
            pytest.raises(errors.InsufficientFactors),
        ):
            sessions.start(scope, *loaded(scope, org, member), attempt)


def test_an_ist_read_live_is_bound_or_claimed_only_if_still_so(
    services: Services, project: Credentials, strict: tuple[Organization, Member]
) -> None:
    """`discovery.exchange` reads the IST, then binds (`bind_live`) or claims (`claim_for`) it
    with one conditional statement each: what happened in between decides (a refusal rolls
    its unit of work back)."""
    org, member = strict
    other = make_org(services, project.project_id)
    stranger = make_member(services, project.project_id, other, email_address="ada@acme.example")
    pid = project.project_id
    with services.scope(pid, "test", "test") as scope:
        proof = [factors.magic_link("test", pid, member.email_address, scope.clock.now())]
        row, token = intermediate.issue(scope, email=member.email_address, factors=proof)
        read = intermediate.peek(scope, token)
    with services.scope(pid, "test", "test") as scope:  # bound elsewhere since the read
        intermediate.bind_live(scope, intermediate.peek(scope, token), other.id, stranger.id)
    with (
        pytest.raises(errors.InvalidIntermediateSessionForOrganization),
        services.scope(pid, "test", "test") as scope,
    ):
        intermediate.bind_live(scope, read, org.id, member.id)
    with (
        pytest.raises(errors.InvalidIntermediateSessionForOrganization),
        services.scope(pid, "test", "test") as scope,
    ):
        intermediate.claim_for(scope, token, org.id, member.id)
    with services.scope(pid, "test", "test") as scope:  # the same pair again: still live
        intermediate.bind_live(scope, read, other.id, stranger.id)
        assert intermediate.pending_for(scope, token, other.id, stranger.id).id == row.id
    with services.scope(pid, "test", "test") as scope:  # consumed since the read
        intermediate.claim_for(scope, token, other.id, stranger.id)
    for attempt in (
        lambda scope: intermediate.bind_live(scope, read, other.id, stranger.id),
        lambda scope: intermediate.claim_for(scope, token, other.id, stranger.id),
    ):
        with (
            pytest.raises(errors.IntermediateSessionNotFound),
            services.scope(pid, "test", "test") as scope,
        ):
            attempt(scope)


def test_a_login_works_its_roles_out_once(
    services: Services, project: Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The roles that decide MFA (`mfa_required_roles`) are the session's: `conclude` reads
    them once and `start` takes them, and they are what the JWT's claim holds."""
    implied = [{"domain": "acme.example", "role_id": "stytch_admin"}]
    org = make_org(services, project.project_id, rbac_email_implicit_role_assignments=implied)
    member = make_member(services, project.project_id, org, email_address="ada@acme.example")
    calls: list[str] = []
    role_ids = policy.role_ids

    def counted(*args: Any, **kwargs: Any) -> list[str]:
        calls.append("role_ids")
        return role_ids(*args, **kwargs)

    monkeypatch.setattr(policy, "role_ids", counted)
    with services.scope(project.project_id, "test", "test") as scope:
        proof = [
            factors.magic_link("test", project.project_id, member.email_address, scope.clock.now())
        ]
        result = login.conclude(scope, *loaded(scope, org, member), proof)
    assert result.member_authenticated
    assert result.session_claim is not None
    assert result.session_claim["roles"] == ["stytch_member", "stytch_admin"]
    assert calls == ["role_ids"]
    # The same roles decide MFA: required of an admin once the organization says so.
    with services.scope(project.project_id, "test", "test") as scope:
        o, m = loaded(scope, org, member)
        o.mfa_required_roles = ["stytch_admin"]
        proof = [
            factors.magic_link("test", project.project_id, member.email_address, scope.clock.now())
        ]
        pending = login.conclude(scope, o, m, proof)
    assert pending.mfa_required
    assert pending.session is None
