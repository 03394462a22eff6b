"""Roles a SAML connection and its IdP groups imply (Stytch's `sso_connection` and
`sso_connection_group` sources): listed on the member, held only in sessions holding a factor
of that connection; and who may change them."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event
from starlette.testclient import TestClient
from stytch.b2b.models.sessions import AuthorizationCheck
from stytch.b2b.models.sso import GetConnectionsRequestOptions
from stytch.core.response_base import StytchError
from stytch.shared.method_options import Authorization
from stytch.shared.rbac_local import RBACPermissionError

from antechamber.members.models import Member
from antechamber.mfa import policy
from antechamber.organizations.models import Organization
from antechamber.organizations.service import get_organization
from antechamber.rbac import service as rbac
from antechamber.services import Services
from antechamber.sessions import factors
from antechamber.sessions import service as sessions
from antechamber.sso import provisioning, saml_connections
from antechamber.sso.models import SsoRegistration
from antechamber.sso.provisioning import VerifiedIdentity
from tests.conftest import Credentials
from tests.dbsnap import snapshot
from tests.factories import make_org, start_session
from tests.rbac.helpers import as_member, check, org_policy_path, person
from tests.saml.idp import DEFAULT_USERS, IdpUser, SimpleSamlIdp
from tests.sso import fake_idp
from tests.sso.conftest import callback, sso_token_of, start

SESSION_CLAIM = "https://stytch.com/session"
CONNECTION_TABLES = ("sso_saml_connections", "sso_oidc_connections", "sso_registrations")
AUDITOR = {
    "role_id": "auditor",
    "description": "Reads the member list",
    "permissions": [{"resource_id": "stytch.member", "actions": ["search"]}],
}
CAROL = IdpUser(
    "carol",
    "carol-password",
    "carol@example.com",
    "Carol Example",
    extra={"groups": ("admins", "staff")},
)


@pytest.fixture(scope="module")
def group_idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleSamlIdp]:
    """SimpleSAMLphp whose user carol is in the IdP groups `admins` and `staff`."""
    if not SimpleSamlIdp.available():
        pytest.skip("SimpleSAMLphp is not installed (scripts/test installs it)")
    with SimpleSamlIdp.start(
        tmp_path_factory.mktemp("simplesamlphp-groups"), users=(*DEFAULT_USERS, CAROL)
    ) as idp:
        yield idp


@pytest.fixture
def example(services: Services, project: Credentials, api: TestClient) -> Organization:
    org = make_org(
        services,
        project.project_id,
        organization_name="Example",
        organization_slug="example",
        email_allowed_domains=["example.com"],
    )
    answer = api.put(org_policy_path(org.id), json={"org_policy": {"roles": [AUDITOR]}})
    assert answer.status_code == 200, answer.text
    return org


def _jwt_roles(jwt: str) -> list[str]:
    payload = jwt.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return list(claims[SESSION_CLAIM]["roles"])


def _roles(member: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {r["role_id"]: r["sources"] for r in member["roles"]}


def _saml_connection(api: TestClient, org: Organization, idp: SimpleSamlIdp) -> str:
    cid = api.post(f"/v1/b2b/sso/saml/{org.id}", json={"display_name": "IdP"}).json()["connection"][
        "connection_id"
    ]
    by_url = api.put(
        f"/v1/b2b/sso/saml/{org.id}/connections/{cid}/url", json={"metadata_url": idp.metadata_url}
    ).json()
    assert by_url["status_code"] == 200, by_url
    done = api.put(
        f"/v1/b2b/sso/saml/{org.id}/connections/{cid}",
        json={
            "attribute_mapping": {"email": "email", "full_name": "name", "groups": "groups"},
            "saml_connection_implicit_role_assignments": [{"role_id": "auditor"}],
            "saml_group_implicit_role_assignments": [
                {"role_id": "stytch_admin", "group": "admins"},
                {"role_id": "stytch_admin", "group": "finance"},
            ],
        },
    ).json()
    assert done["status_code"] == 200, done
    connection = done["connection"]
    idp.add_sp(connection["audience_uri"], connection["acs_url"])
    return str(cid)


def _saml_login(
    api: TestClient, idp: SimpleSamlIdp, public_token: str, cid: str, user: IdpUser
) -> dict[str, Any]:
    started = api.get(
        "/v1/public/sso/start",
        params={"public_token": public_token, "connection_id": cid},
        follow_redirects=False,
    )
    assert started.status_code == 302, started.text
    posted = idp.login(started.headers["location"], user.username, user.password)
    form = {"SAMLResponse": posted.saml_response}
    if posted.relay_state is not None:
        form["RelayState"] = posted.relay_state
    answer = api.post(f"/v1/b2b/sso/callback/{cid}", data=form, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    body = api.post(
        "/v1/b2b/sso/authenticate", json={"sso_token": sso_token_of(answer.headers["location"])}
    ).json()
    assert body["member_authenticated"] is True, body
    return dict(body)


def test_a_saml_login_holds_its_connections_and_groups_roles(
    api: TestClient,
    services: Services,
    project: Credentials,
    group_idp: SimpleSamlIdp,
    public_token: str,
    example: Organization,
) -> None:
    cid = _saml_connection(api, example, group_idp)
    body = _saml_login(api, group_idp, public_token, cid, CAROL)

    by_connection = [{"type": "sso_connection", "details": {"connection_id": cid}}]
    by_group = [
        {"type": "sso_connection_group", "details": {"connection_id": cid, "group": "admins"}}
    ]
    roles = _roles(body["member"])
    assert roles["auditor"] == by_connection
    assert roles["stytch_admin"] == by_group  # carol is not in `finance`
    assert body["member"]["is_admin"] is True
    assert body["member_session"]["roles"] == ["stytch_member", "auditor", "stytch_admin"]
    assert _jwt_roles(body["session_jwt"]) == ["stytch_member", "auditor", "stytch_admin"]

    allowed = check(api, body["session_token"], example.id, "stytch.sso", "update").json()
    assert allowed["status_code"] == 200, allowed
    assert allowed["verdict"] == {"authorized": True, "granting_roles": ["stytch_admin"]}
    search = check(api, body["session_token"], example.id, "stytch.member", "search").json()
    assert set(search["verdict"]["granting_roles"]) == {"auditor", "stytch_admin"}
    # The session's roles act on management calls too.
    listed = api.get(f"/v1/b2b/sso/{example.id}", headers=as_member(body["session_token"]))
    assert listed.status_code == 200, listed.text

    # The same member signed in by an email magic link: the roles stay on the member object
    # (Stytch lists them for every SAML registration) but the session does not hold them.
    member_id = body["member"]["member_id"]
    with services.scope(project.project_id, "test", "test") as scope:
        member = scope.db.get(Member, member_id)
        assert member is not None
    _, token, jwt = start_session(services, project.project_id, example, member)
    assert _jwt_roles(jwt) == ["stytch_member"]
    refused = check(api, token, example.id, "stytch.sso", "update").json()
    assert refused["status_code"] == 403
    assert refused["error_type"] == "session_authorization_error"
    plain = api.post("/v1/b2b/sessions/authenticate", json={"session_token": token}).json()
    assert plain["member_session"]["roles"] == ["stytch_member"]
    assert set(_roles(plain["member"])) == {"stytch_member", "auditor", "stytch_admin"}
    denied = api.get(f"/v1/b2b/sso/{example.id}", headers=as_member(token)).json()
    assert denied["error_type"] == "session_authorization_error"


# Crafted at the domain level (the assertion checks are the SAML flow tests').


def _registered(
    services: Services,
    project: Credentials,
    org: Organization,
    email: str,
    groups: list[str],
    connection_id: str,
) -> tuple[str, str]:
    """Member `email`, registered at `connection_id` with IdP `groups`: (member id,
    registration id)."""
    with services.scope(project.project_id, "test", "test") as scope:
        row_org = get_organization(scope, org.id)
        identity = VerifiedIdentity(
            connection_id=connection_id,
            external_id=email,
            email=email,
            email_verified=None,
            name="",
            attributes={"groups": groups},
        )
        member, registration = provisioning.provision(scope, row_org, identity)
        return member.id, registration.id


def _sso_session(
    services: Services,
    project: Credentials,
    org: Organization,
    member_id: str,
    kind: str,
    connection_id: str,
) -> tuple[str, str]:
    with services.scope(project.project_id, "test", "test") as scope:
        row_org = get_organization(scope, org.id)
        member = scope.db.get(Member, member_id)
        assert member is not None
        registration = (
            scope.db.query(SsoRegistration)
            .filter_by(member_id=member_id, connection_id=connection_id)
            .one()
        )
        factor = factors.sso(
            kind, registration.id, connection_id, registration.external_id, scope.clock.now()
        )
        started = sessions.start(scope, row_org, member, [factor])
        return started.session_token, started.session_jwt


@pytest.fixture
def saml_id(services: Services, project: Credentials, corp: Organization) -> str:
    with services.scope(project.project_id, "test", "test") as scope:
        connection = saml_connections.create_saml(scope, corp.id, display_name="Okta")
        saml_connections.update_saml(
            scope,
            corp.id,
            connection.id,
            {
                "attribute_mapping": {"email": "email", "full_name": "name", "groups": "groups"},
                "saml_connection_implicit_role_assignments": [{"role_id": "stytch_admin"}],
                "saml_group_implicit_role_assignments": [
                    {"role_id": "stytch_admin", "group": "it"}
                ],
            },
        )
        return connection.id


def test_an_oidc_login_holds_no_saml_connections_roles(
    api: TestClient,
    services: Services,
    project: Credentials,
    corp: Organization,
    saml_id: str,
    connection_id: str,
    idp: fake_idp.FakeIdp,
    public_token: str,
) -> None:
    """OIDC connections imply no roles (Stytch: SAML only, and its OIDC connection has no
    assignment fields); a member registered at both holds the SAML connection's roles only in
    a session from that connection."""
    member_id, _ = _registered(services, project, corp, "grace@acme.example", ["it"], saml_id)
    started = start(api, public_token, connection_id=connection_id)
    idp.queue(idp.sign(idp.claims(started.nonce)))  # grace@acme.example, email verified
    answer = callback(api, connection_id, started.state)
    assert answer.status_code == 302, answer.text
    body = api.post(
        "/v1/b2b/sso/authenticate", json={"sso_token": sso_token_of(answer.headers["location"])}
    ).json()
    assert body["member"]["member_id"] == member_id, body
    assert body["member_session"]["roles"] == ["stytch_member"]
    assert _jwt_roles(body["session_jwt"]) == ["stytch_member"]
    assert set(_roles(body["member"])) == {"stytch_member", "stytch_admin"}  # listed, not held
    denied = check(api, body["session_token"], corp.id, "stytch.sso", "get").json()
    assert denied["error_type"] == "session_authorization_error"

    saml_token, saml_jwt = _sso_session(services, project, corp, member_id, "saml", saml_id)
    assert _jwt_roles(saml_jwt) == ["stytch_member", "stytch_admin"]
    allowed = check(api, saml_token, corp.id, "stytch.sso", "get").json()
    assert allowed["verdict"]["granting_roles"] == ["stytch_admin"]
    assert _roles(allowed["member"])["stytch_admin"] == [
        {"type": "sso_connection", "details": {"connection_id": saml_id}},
        {"type": "sso_connection_group", "details": {"connection_id": saml_id, "group": "it"}},
    ]


def test_removing_an_assignment_takes_effect_at_the_next_check(
    api: TestClient, services: Services, project: Credentials, corp: Organization, saml_id: str
) -> None:
    member_id, _ = _registered(services, project, corp, "eve@acme.example", [], saml_id)
    token, _ = _sso_session(services, project, corp, member_id, "saml", saml_id)
    assert check(api, token, corp.id, "stytch.sso", "get").json()["status_code"] == 200
    cleared = api.put(
        f"/v1/b2b/sso/saml/{corp.id}/connections/{saml_id}",
        json={"saml_connection_implicit_role_assignments": []},
    ).json()
    assert cleared["status_code"] == 200, cleared
    after = check(api, token, corp.id, "stytch.sso", "get").json()
    assert after["error_type"] == "session_authorization_error"
    again = api.post("/v1/b2b/sessions/authenticate", json={"session_token": token}).json()
    assert again["member_session"]["roles"] == ["stytch_member"]


def test_a_role_the_connection_implies_can_require_mfa(
    services: Services, project: Credentials, corp: Organization, saml_id: str
) -> None:
    """`mfa_required_roles` counts the roles the login's SAML connection implies."""
    member_id, registration_id = _registered(
        services, project, corp, "fay@acme.example", [], saml_id
    )
    with services.scope(project.project_id, "test", "test") as scope:
        org = get_organization(scope, corp.id)
        org.mfa_required_roles = ["stytch_admin"]
        member = scope.db.get(Member, member_id)
        assert member is not None
        factor = factors.sso(
            "saml", registration_id, saml_id, "fay@acme.example", scope.clock.now()
        )
        email = factors.magic_link(
            scope.environment, project.project_id, "fay@acme.example", scope.clock.now()
        )
        assert policy.mfa_required(scope.db, org, member, [factor]) is True
        assert policy.mfa_required(scope.db, org, member, [email]) is False


def test_unknown_roles_in_assignments_are_refused_and_change_nothing(
    api: TestClient, engine: Engine, corp: Organization, saml_id: str
) -> None:
    before = snapshot(engine, CONNECTION_TABLES)
    for field, value in (
        ("saml_connection_implicit_role_assignments", [{"role_id": "no_such_role"}]),
        ("saml_group_implicit_role_assignments", [{"role_id": "no_such_role", "group": "it"}]),
    ):
        answer = api.put(
            f"/v1/b2b/sso/saml/{corp.id}/connections/{saml_id}", json={field: value}
        ).json()
        assert answer["status_code"] == 400, answer
        assert answer["error_type"] == "invalid_rbac_role_id"
    assert snapshot(engine, CONNECTION_TABLES) == before


SSO_KEEPER = {
    "role_id": "sso_keeper",
    "description": "Manages SSO connections and member roles, not the organization",
    "permissions": [
        {"resource_id": "stytch.sso", "actions": ["*"]},
        {"resource_id": "stytch.member", "actions": ["*"]},
    ],
}
SSO_ONLY = {
    "role_id": "sso_only",
    "description": "Manages SSO connections only",
    "permissions": [{"resource_id": "stytch.sso", "actions": ["*"]}],
}


@pytest.fixture
def custom_roles(services: Services, project: Credentials, corp: Organization) -> None:
    with services.scope(project.project_id, "test", "test") as scope:
        rbac.set_org_roles(
            scope, get_organization(scope, corp.id), {"roles": [SSO_KEEPER, SSO_ONLY]}
        )


def _update(api: TestClient, org_id: str, cid: str, token: str, **fields: Any) -> Any:
    return api.put(
        f"/v1/b2b/sso/saml/{org_id}/connections/{cid}", json=fields, headers=as_member(token)
    ).json()


def test_a_member_cannot_give_roles_through_a_connection_it_does_not_hold(
    api: TestClient,
    services: Services,
    project: Credentials,
    engine: Engine,
    corp: Organization,
    saml_id: str,
    custom_roles: None,
) -> None:
    _, keeper, _ = person(services, project.project_id, corp, "k@acme.example", "sso_keeper")
    _, sso_only, _ = person(services, project.project_id, corp, "s@acme.example", "sso_only")
    _, plain, _ = person(services, project.project_id, corp, "p@acme.example")
    before = snapshot(engine, CONNECTION_TABLES)

    # Holds stytch.sso and stytch.member, not stytch_admin's stytch.organization: it may not
    # take stytch_admin from the connection, move it to another IdP group, or drop it.
    for field, value in (
        ("saml_connection_implicit_role_assignments", []),
        ("saml_group_implicit_role_assignments", [{"role_id": "stytch_admin", "group": "x"}]),
        ("saml_group_implicit_role_assignments", []),
    ):
        refused = _update(api, corp.id, saml_id, keeper, **{field: value})
        assert refused["error_type"] == "invalid_rbac_role_assignment", refused
    # stytch.sso alone does not let one change roles.
    refused = _update(api, corp.id, saml_id, sso_only, saml_connection_implicit_role_assignments=[])
    assert refused["error_type"] == "session_authorization_error", refused
    # Deleting the connection takes stytch_admin from its members: the same rule.
    for token, error in (
        (sso_only, "session_authorization_error"),
        (keeper, "invalid_rbac_role_assignment"),
    ):
        gone = api.delete(f"/v1/b2b/sso/{corp.id}/connections/{saml_id}", headers=as_member(token))
        assert gone.json()["error_type"] == error, gone.text
    # A plain member may not even look.
    assert _update(api, corp.id, saml_id, plain, display_name="x")["status_code"] == 403
    answer = api.get(f"/v1/b2b/sso/{corp.id}", headers=as_member(plain)).json()
    assert answer["error_type"] == "session_authorization_error"
    created = api.post(
        f"/v1/b2b/sso/oidc/{corp.id}", json={"display_name": "x"}, headers=as_member(plain)
    ).json()
    assert created["error_type"] == "session_authorization_error"
    deleted = api.delete(
        f"/v1/b2b/sso/{corp.id}/connections/{saml_id}", headers=as_member(plain)
    ).json()
    assert deleted["error_type"] == "session_authorization_error"
    assert snapshot(engine, CONNECTION_TABLES) == before

    # What it holds, it may give (stytch_admin stays as it was); renaming needs stytch.sso.
    given = _update(
        api,
        corp.id,
        saml_id,
        keeper,
        saml_connection_implicit_role_assignments=[
            {"role_id": "stytch_admin"},
            {"role_id": "sso_keeper"},
        ],
    )
    assert given["status_code"] == 200, given
    renamed = _update(api, corp.id, saml_id, sso_only, display_name="Okta (prod)")
    assert renamed["status_code"] == 200, renamed


def test_another_organizations_member_is_refused_on_a_connection(
    api: TestClient,
    services: Services,
    project: Credentials,
    engine: Engine,
    corp: Organization,
    saml_id: str,
) -> None:
    other = make_org(
        services, project.project_id, organization_name="Other", organization_slug="other-org"
    )
    _, admin, jwt = person(services, project.project_id, other, "a@other.example", "stytch_admin")
    before = snapshot(engine, CONNECTION_TABLES)
    for headers in (as_member(admin), {"X-Stytch-Member-SessionJWT": jwt}):
        calls = (
            api.get(f"/v1/b2b/sso/{corp.id}", headers=headers),
            api.put(
                f"/v1/b2b/sso/saml/{corp.id}/connections/{saml_id}",
                json={"saml_connection_implicit_role_assignments": []},
                headers=headers,
            ),
            api.post(f"/v1/b2b/sso/saml/{corp.id}", json={}, headers=headers),
            api.delete(f"/v1/b2b/sso/{corp.id}/connections/{saml_id}", headers=headers),
        )
        for answer in calls:
            assert answer.json()["error_type"] == "session_authorization_tenancy_error", answer.text
    assert snapshot(engine, CONNECTION_TABLES) == before


def test_an_admin_session_manages_connections_and_their_roles(
    api: TestClient, services: Services, project: Credentials, corp: Organization, saml_id: str
) -> None:
    _, admin, _ = person(services, project.project_id, corp, "boss@acme.example", "stytch_admin")
    updated = _update(
        api,
        corp.id,
        saml_id,
        admin,
        saml_group_implicit_role_assignments=[{"role_id": "stytch_admin", "group": "ops"}],
    )
    assert updated["status_code"] == 200, updated
    assert updated["connection"]["saml_group_implicit_role_assignments"] == [
        {"role_id": "stytch_admin", "group": "ops"}
    ]
    deleted = api.delete(f"/v1/b2b/sso/{corp.id}/connections/{saml_id}", headers=as_member(admin))
    assert deleted.json()["status_code"] == 200, deleted.text


def test_the_python_sdk_sees_the_same_roles_locally_and_on_the_server(
    sdk: Any, services: Services, project: Credentials, corp: Organization, saml_id: str
) -> None:
    """The SDK's local check reads the JWT's roles; the server's checks read the session's:
    both allow the SAML session and refuse the email-link session of the same member."""
    member_id, _ = _registered(services, project, corp, "hal@acme.example", [], saml_id)
    saml_token, saml_jwt = _sso_session(services, project, corp, member_id, "saml", saml_id)
    with services.scope(project.project_id, "test", "test") as scope:
        member = scope.db.get(Member, member_id)
        assert member is not None
    _, email_token, email_jwt = start_session(services, project.project_id, corp, member)
    check_sso = AuthorizationCheck(organization_id=corp.id, resource_id="stytch.sso", action="get")

    local = sdk.sessions.authenticate_jwt(saml_jwt, authorization_check=check_sso)
    assert local.member_session.roles == ["stytch_member", "stytch_admin"]
    with pytest.raises(RBACPermissionError):
        sdk.sessions.authenticate_jwt(email_jwt, authorization_check=check_sso)

    def listed(token: str) -> Any:
        options = GetConnectionsRequestOptions(authorization=Authorization(session_token=token))
        return sdk.sso.get_connections(organization_id=corp.id, method_options=options)

    assert [c.connection_id for c in listed(saml_token).saml_connections] == [saml_id]
    with pytest.raises(StytchError) as refused:
        listed(email_token)
    assert refused.value.details.error_type == "session_authorization_error"


def test_a_role_dropped_later_does_not_block_other_edits(
    api: TestClient, services: Services, project: Credentials, corp: Organization, saml_id: str
) -> None:
    with services.scope(project.project_id, "test", "test") as scope:
        rbac.set_org_roles(scope, get_organization(scope, corp.id), {"roles": [AUDITOR]})
    path = f"/v1/b2b/sso/saml/{corp.id}/connections/{saml_id}"
    added = api.put(
        path, json={"saml_connection_implicit_role_assignments": [{"role_id": "auditor"}]}
    )
    assert added.json()["status_code"] == 200, added.text
    with services.scope(project.project_id, "test", "test") as scope:
        rbac.set_org_roles(scope, get_organization(scope, corp.id), {"roles": []})
    renamed = api.put(path, json={"display_name": "Okta (prod)"}).json()
    assert renamed["status_code"] == 200, renamed
    assert renamed["connection"]["saml_connection_implicit_role_assignments"] == [
        {"role_id": "auditor"}
    ]
    again = api.put(
        path, json={"saml_group_implicit_role_assignments": [{"role_id": "auditor", "group": "x"}]}
    ).json()
    assert again["error_type"] == "invalid_rbac_role_id"


def test_only_sso_sessions_read_the_sso_tables_on_a_session_check(
    api: TestClient,
    services: Services,
    project: Credentials,
    engine: Engine,
    corp: Organization,
    saml_id: str,
) -> None:
    """The session check's hot path: an email-link session reads nothing of SSO; a SAML
    session reads its connection and its registration once each (by primary key)."""
    member_id, _ = _registered(services, project, corp, "ivy@acme.example", ["it"], saml_id)
    saml_token, _ = _sso_session(services, project, corp, member_id, "saml", saml_id)
    _, plain, _ = person(services, project.project_id, corp, "joe@acme.example")
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", record)
    try:
        for token, reads in ((plain, 0), (saml_token, 2)):
            statements.clear()
            body = api.post("/v1/b2b/sessions/authenticate", json={"session_token": token}).json()
            assert body["status_code"] == 200, body
            sso_reads = [s for s in statements if "FROM sso_" in s]
            assert len(sso_reads) == reads, sso_reads
    finally:
        event.remove(engine, "before_cursor_execute", record)
