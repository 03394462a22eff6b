"""The answers' organization, member and member session: the same whether the rows were read as
transient objects (the login paths) or loaded by the ORM and expired since (a flush or commit),
and a session's answer the same whether or not the caller passes its JWT's session claim."""

from __future__ import annotations

from sqlalchemy import select

from antechamber import rows
from antechamber.api import serializers
from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.services import Services
from antechamber.sessions import factors
from antechamber.sessions import service as sessions
from antechamber.sessions.models import MemberSession
from tests.conftest import Credentials
from tests.factories import make_member, make_org


def test_expired_and_transient_rows_answer_alike(services: Services, project: Credentials) -> None:
    org = make_org(services, project.project_id, mfa_required_roles=["stytch_admin"])
    member = make_member(services, project.project_id, org, name="Ada", roles=["stytch_admin"])
    with services.scope(project.project_id, "test", "test") as scope:
        now = scope.clock.now()
        found = scope.db.execute(
            select(*rows.Columns(Organization).columns).where(Organization.id == org.id)
        ).one()
        transient_org = rows.Columns(Organization).make(found)
        found = scope.db.execute(
            select(*rows.Columns(Member).columns).where(Member.id == member.id)
        ).one()
        transient_member = rows.Columns(Member).make(found)
        loaded_org = scope.db.get(Organization, org.id)
        loaded_member = scope.db.get(Member, member.id)
        assert loaded_org is not None
        assert loaded_member is not None
        scope.db.expire(loaded_org)
        scope.db.expire(loaded_member, ["name", "roles", "created_at"])
        assert "name" not in loaded_org.__dict__  # the attributes' own reads load them

        assert serializers.organization(loaded_org) == serializers.organization(transient_org)
        assert serializers.member(scope.db, loaded_member, now, loaded_org) == serializers.member(
            scope.db, transient_member, now, transient_org
        )
        answer = serializers.member(scope.db, transient_member, now, transient_org)
        assert answer["name"] == "Ada"
        assert [r["role_id"] for r in answer["roles"]] == ["stytch_member", "stytch_admin"]


def test_member_session_with_or_without_the_claim(services: Services, project: Credentials) -> None:
    org = make_org(services, project.project_id)
    member = make_member(services, project.project_id, org, roles=["stytch_admin"])
    with services.scope(project.project_id, "test", "test") as scope:
        row_org = scope.db.get(Organization, org.id)
        row_member = scope.db.get(Member, member.id)
        assert row_org is not None
        assert row_member is not None
        factor = factors.magic_link(
            scope.environment, project.project_id, row_member.email_address, scope.clock.now()
        )
        started = sessions.start(scope, row_org, row_member, [factor])
        assert started.claim is not None
        with_claim = serializers.member_session(
            scope.db, started.session, row_member, row_org, started.claim
        )
        without = serializers.member_session(scope.db, started.session, row_member, row_org)
        assert with_claim == without
        assert with_claim["roles"] == ["stytch_member", "stytch_admin"]
        assert with_claim["started_at"] == with_claim["last_accessed_at"]
        stored = scope.db.get(MemberSession, started.session.id)
        assert stored is not None
        scope.db.expire(stored)
        assert serializers.member_session(scope.db, stored, row_member, row_org) == with_claim
