"""The operators organization: bootstrapped by the first operator, internal, MFA for all."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from antechamber import db
from antechamber.errors import AntechamberError
from antechamber.ids import environment_of
from antechamber.members.models import Member
from antechamber.operators import service as operators
from antechamber.operators.errors import OperatorExists, OperatorNotFound
from antechamber.projects import service as projects
from antechamber.projects.models import Project
from antechamber.services import Services
from tests.conftest import Credentials
from tests.factories import make_operator


def test_the_first_operator_creates_an_internal_project_and_an_mfa_organization(
    services: Services,
) -> None:
    member = make_operator(services, "Alice@Ops.Example", "+12025550123")
    assert member.email_address == "alice@ops.example"
    assert member.mfa_enrolled
    assert member.mfa_phone_number == "+12025550123"
    assert not member.mfa_phone_number_verified  # the first code sent to it verifies it
    with services.sessions() as session:
        home = operators.find_home(session)
        assert home is not None
        assert home.organization.slug == "operators"
        assert home.organization.mfa_policy == "REQUIRED_FOR_ALL"
        project = session.get(Project, home.project_id)
        assert project is not None
        assert project.internal_purpose == "operators"
        assert projects.live_secrets(project) == []  # nothing reaches it through the API


def test_later_operators_join_the_same_organization(services: Services) -> None:
    first = make_operator(services, "a@ops.example")
    second = make_operator(services, "b@ops.example", "+12025550124")
    assert first.organization_id == second.organization_id
    with services.sessions() as session:
        internal = session.scalars(select(Project).where(Project.internal_purpose.is_not(None)))
        assert len(internal.all()) == 1
        assert [m.email_address for m in operators.list_operators(session)] == [
            "a@ops.example",
            "b@ops.example",
        ]


def test_adding_an_operator_twice_is_refused(services: Services) -> None:
    make_operator(services, "a@ops.example")
    with pytest.raises(OperatorExists):
        make_operator(services, "A@ops.example", "+12025550124")


@pytest.mark.parametrize(
    ("email", "phone", "error_type"),
    [
        ("not-an-email", "+12025550123", "invalid_email"),
        ("a@ops.example", "555-0123", "invalid_phone_number"),
    ],
)
def test_bad_input_is_refused_and_creates_nothing(
    services: Services, email: str, phone: str, error_type: str
) -> None:
    with pytest.raises(AntechamberError) as caught:
        make_operator(services, email, phone)
    assert caught.value.error_type == error_type
    with services.sessions() as session:
        assert operators.find_home(session) is None


def test_the_internal_project_stays_out_of_customer_paths(
    services: Services, project: Credentials
) -> None:
    make_operator(services)
    with db.transaction(services.sessions) as session:
        home = operators.find_home(session)
        assert home is not None
        assert [p.id for p in projects.list_projects(session)] == [project.project_id]
        assert len(projects.list_projects(session, include_internal=True)) == 2
        with pytest.raises(projects.ProjectNotFound):
            projects.get_customer_project(session, home.project_id)
    with (
        pytest.raises(projects.InternalProjectHasNoSecrets),
        services.scope(home.project_id, environment_of(home.project_id), "cli") as scope,
    ):
        projects.add_secret(scope)


def test_get_and_remove_by_email_or_id(services: Services) -> None:
    a = make_operator(services, "a@ops.example")
    make_operator(services, "b@ops.example", "+12025550124")
    with db.transaction(services.sessions) as session:
        assert operators.get_operator(session, "A@OPS.example").id == a.id
        assert operators.get_operator(session, a.id).id == a.id
        assert operators.is_operator(session, a.id)
        operators.remove_operator(
            session, "a@ops.example", actor="cli", clock=services.clock, settings=services.settings
        )
    with db.transaction(services.sessions) as session:
        assert not operators.is_operator(session, a.id)
        assert session.get(Member, a.id) is None
        with pytest.raises(OperatorNotFound):
            operators.get_operator(session, "a@ops.example")
        assert list(operators.operator_emails(session).values()) == ["b@ops.example"]


def test_a_customer_member_is_not_an_operator(services: Services, project: Credentials) -> None:
    from tests.factories import make_member, make_org

    make_operator(services, "a@ops.example")
    org = make_org(services, project.project_id)
    customer = make_member(services, project.project_id, org, email_address="a@ops.example")
    with services.sessions() as session:
        assert not operators.is_operator(session, customer.id)
        with pytest.raises(OperatorNotFound):
            operators.get_operator(session, customer.id)


@pytest.mark.postgres_only
def test_concurrent_first_operators_share_one_home(services: Services) -> None:
    import threading

    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def add(n: int) -> None:
        barrier.wait()
        try:
            make_operator(services, f"op{n}@ops.example", f"+1202555012{n}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with services.sessions() as session:
        internal = session.scalars(select(Project).where(Project.internal_purpose.is_not(None)))
        assert len(internal.all()) == 1
        assert len(operators.list_operators(session)) == 4
