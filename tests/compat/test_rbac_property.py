"""Property: for random policies, organization roles, role assignments and checks, the
official Python SDK's local verdict (`authenticate_jwt` with `authorization_check`, no call
to the server) and the server's (`sessions.authenticate` with `authorization_check`) agree."""

from __future__ import annotations

from typing import Any

import stytch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from stytch.b2b.models.sessions import AuthorizationCheck
from stytch.core.response_base import StytchError
from stytch.shared.rbac_local import RBACPermissionError, TenancyError

from antechamber.rbac.defaults import STYTCH_RESOURCES
from antechamber.services import Services
from tests.conftest import Credentials, LiveServer
from tests.factories import make_org
from tests.rbac.helpers import person, set_policy

APP_RESOURCES = ("documents", "invoices", "reports")
APP_ACTIONS = ("read", "write", "delete", "share")


def _permissions(data: st.DataObject, resources: dict[str, list[str]]) -> list[dict[str, Any]]:
    chosen = data.draw(st.lists(st.sampled_from(sorted(resources)), max_size=3))
    permissions = []
    for rid in chosen:
        actions = data.draw(
            st.one_of(
                st.just(["*"]),
                st.lists(st.sampled_from(resources[rid]), min_size=1, max_size=3, unique=True),
            )
        )
        permissions.append({"resource_id": rid, "actions": actions})
    return permissions


def _role(data: st.DataObject, role_id: str, resources: dict[str, list[str]]) -> dict[str, Any]:
    return {"role_id": role_id, "description": "", "permissions": _permissions(data, resources)}


def _server_verdict(client: Any, token: str, check: AuthorizationCheck) -> bool:
    try:
        answer = client.sessions.authenticate(
            session_token=token, authorization_check=check.model_dump()
        )
    except StytchError as refused:
        status: int = refused.details.status_code
        if status != 403:
            raise
        return False
    assert answer.verdict is not None
    assert answer.verdict.granting_roles
    return True


def _forget_organizations(services: Services, project_id: str) -> None:
    from antechamber.organizations import service as organizations
    from antechamber.organizations.models import Organization

    with services.scope(project_id, "test", "test") as scope:
        for org in scope.db.query(Organization).filter_by(project_id=project_id).all():
            organizations.delete_organization(scope, org.id)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_local_and_server_verdicts_agree(
    data: st.DataObject, live_server: LiveServer, project: Credentials, services: Services
) -> None:
    pid = project.project_id
    _forget_organizations(services, pid)  # each example starts from a project without any
    app = data.draw(st.lists(st.sampled_from(APP_RESOURCES), unique=True, max_size=3))
    resources: dict[str, list[str]] = {
        rid: data.draw(st.lists(st.sampled_from(APP_ACTIONS), min_size=1, unique=True))
        for rid in app
    }
    everything = {**resources, **{k: list(v[1]) for k, v in STYTCH_RESOURCES.items()}}
    custom = data.draw(st.lists(st.sampled_from(["r1", "r2", "r3"]), unique=True, max_size=3))
    set_policy(
        services,
        pid,
        {
            "resources": [
                {"resource_id": rid, "description": "", "actions": acts}
                for rid, acts in resources.items()
            ],
            "roles": [
                _role(data, rid, everything) for rid in ("stytch_member", "stytch_admin", *custom)
            ],
        },
    )
    org = make_org(services, pid)
    org_roles = data.draw(st.lists(st.sampled_from(["o1", "o2"]), unique=True, max_size=2))
    client = stytch.B2BClient(pid, project.secret, environment=live_server.url)
    client.rbac.organizations.set_org_policy(
        org.id, org_policy={"roles": [_role(data, r, everything) for r in org_roles]}
    )
    assignable = ["stytch_admin", *custom, *org_roles]
    held = data.draw(st.lists(st.sampled_from(assignable), unique=True))
    implied = data.draw(st.lists(st.sampled_from(assignable), unique=True, max_size=2))
    if implied:  # roles the member's email domain implies, on top of the direct ones
        client.organizations.update(
            org.id,
            rbac_email_implicit_role_assignments=[
                {"domain": "example.com", "role_id": r} for r in implied
            ],
        )
    _, token, jwt = person(services, pid, org, f"p{len(held)}@example.com", *held)
    other = make_org(services, pid)

    checks = st.tuples(
        st.sampled_from([*sorted(everything), "unknown"]),
        st.sampled_from([*APP_ACTIONS, "*", "delete", "update.settings.roles", "create"]),
        st.booleans(),
    )
    for resource_id, action, same_org in data.draw(st.lists(checks, min_size=1, max_size=5)):
        check = AuthorizationCheck(
            organization_id=org.id if same_org else other.id,
            resource_id=resource_id,
            action=action,
        )
        try:
            client.sessions.authenticate_jwt(jwt, authorization_check=check)
            local = True
        except (RBACPermissionError, TenancyError):
            local = False
        remote = _server_verdict(client, token, check)
        assert local == remote, (resource_id, action, same_org, held)
        event(f"allowed={local}")
