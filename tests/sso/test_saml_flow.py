"""The SAML browser flow through a real identity provider (SimpleSAMLphp, tests/saml/idp.py):
metadata by URL, start (a signed AuthnRequest), the IdP's login, the ACS, sso/authenticate;
and the refusals the sso domain owns (the XML checks are the SAML library's, tested there)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import Engine, update
from starlette.testclient import TestClient

from antechamber.organizations.models import Organization
from antechamber.services import Services
from antechamber.sso import connections
from antechamber.sso.models import SsoLogin
from tests.conftest import Credentials
from tests.dbsnap import LOGIN_TABLES, snapshot
from tests.factories import make_org
from tests.saml.idp import SimpleSamlIdp
from tests.sso.conftest import SIGNUP_URL, sso_token_of

SSO_TABLES = (
    *LOGIN_TABLES,
    "sso_tokens",
    "sso_registrations",
    "sso_logins",
    "sso_saml_assertion_uses",
)
MAPPING = {"email": "email", "full_name": "name"}


def saml_connection(api: TestClient, org: Organization, idp: SimpleSamlIdp) -> dict[str, Any]:
    """A SAML connection made through the API as an admin would: create, metadata URL,
    attribute mapping; then the IdP is told our ACS URL and audience."""
    created = api.post(f"/v1/b2b/sso/saml/{org.id}", json={"display_name": "SimpleSAMLphp"})
    connection_id = created.json()["connection"]["connection_id"]
    by_url = api.put(
        f"/v1/b2b/sso/saml/{org.id}/connections/{connection_id}/url",
        json={"metadata_url": idp.metadata_url},
    ).json()
    assert by_url["status_code"] == 200, by_url
    assert by_url["connection"]["idp_entity_id"] == idp.entity_id
    done = api.put(
        f"/v1/b2b/sso/saml/{org.id}/connections/{connection_id}",
        json={"attribute_mapping": MAPPING},
    ).json()["connection"]
    assert done["status"] == "active"
    idp.add_sp(done["audience_uri"], done["acs_url"])
    return dict(done)


@pytest.fixture
def example(services: Services, project: Credentials) -> Organization:
    """The organization of SimpleSAMLphp's users (alice@example.com)."""
    return make_org(
        services,
        project.project_id,
        organization_name="Example",
        organization_slug="example",
        email_allowed_domains=["example.com"],
    )


def _start(api: TestClient, public_token: str, connection_id: str) -> str:
    response = api.get(
        "/v1/public/sso/start",
        params={"public_token": public_token, "connection_id": connection_id},
        follow_redirects=False,
    )
    assert response.status_code == 302, response.text
    return str(response.headers["location"])


def _post(api: TestClient, connection_id: str, saml_response: str, relay_state: str | None) -> Any:
    form = {"SAMLResponse": saml_response}
    if relay_state is not None:
        form["RelayState"] = relay_state
    return api.post(f"/v1/b2b/sso/callback/{connection_id}", data=form, follow_redirects=False)


def test_a_member_signs_in_through_simplesamlphp(
    api: TestClient,
    saml_idp: SimpleSamlIdp,
    public_token: str,
    example: Organization,
) -> None:
    connection = saml_connection(api, example, saml_idp)
    cid = connection["connection_id"]
    redirect = _start(api, public_token, cid)
    query = parse_qs(urlsplit(redirect).query)
    assert redirect.startswith(saml_idp.sso_url)
    assert "SAMLRequest" in query
    assert "Signature" in query  # our AuthnRequests are signed with the connection's key

    posted = saml_idp.login(redirect, "alice", "alice-password")
    assert posted.acs_url == connection["acs_url"]
    answer = _post(api, cid, posted.saml_response, posted.relay_state)

    assert answer.status_code == 302, answer.text
    assert answer.headers["location"].startswith(SIGNUP_URL)
    body = api.post(
        "/v1/b2b/sso/authenticate", json={"sso_token": sso_token_of(answer.headers["location"])}
    ).json()
    assert body["member_authenticated"] is True, body
    assert body["member"]["email_address"] == "alice@example.com"
    assert body["member"]["name"] == "Alice Example"
    factor = body["member_session"]["authentication_factors"][0]
    assert factor["delivery_method"] == "sso_saml"
    assert factor["saml_sso_factor"]["provider_id"] == cid
    assert factor["saml_sso_factor"]["external_id"] == "alice@example.com"


def test_an_assertion_is_never_accepted_twice(
    api: TestClient,
    saml_idp: SimpleSamlIdp,
    public_token: str,
    example: Organization,
    services: Services,
    engine: Engine,
) -> None:
    cid = saml_connection(api, example, saml_idp)["connection_id"]
    posted = saml_idp.login(_start(api, public_token, cid), "alice", "alice-password")
    assert _post(api, cid, posted.saml_response, posted.relay_state).status_code == 302
    # The same posted form again: the login it answers is finished.
    again = _post(api, cid, posted.saml_response, posted.relay_state)
    assert again.status_code == 400
    assert "unsolicited_saml_response" in again.text
    # Even if that login were open again, the assertion id is remembered.
    with services.sessions() as session, session.begin():
        session.execute(update(SsoLogin).values(used_at=None))
    before = snapshot(engine, SSO_TABLES)
    replay = _post(api, cid, posted.saml_response, posted.relay_state)
    assert replay.status_code == 401
    assert "duplicate_saml_response" in replay.text
    assert snapshot(engine, SSO_TABLES) == before


def test_an_assertion_for_one_organization_is_refused_on_anothers_connection(
    api: TestClient,
    saml_idp: SimpleSamlIdp,
    public_token: str,
    example: Organization,
    services: Services,
    project: Credentials,
    engine: Engine,
) -> None:
    other_org = make_org(
        services,
        project.project_id,
        organization_name="Other",
        email_allowed_domains=["example.com"],
    )
    ours = saml_connection(api, example, saml_idp)["connection_id"]
    theirs = saml_connection(api, other_org, saml_idp)["connection_id"]
    posted = saml_idp.login(_start(api, public_token, ours), "alice", "alice-password")
    other_login = parse_qs(urlsplit(_start(api, public_token, theirs)).query)["RelayState"][0]
    before = snapshot(engine, SSO_TABLES)

    # With our login's RelayState on their ACS: the login is not theirs.
    crossed = _post(api, theirs, posted.saml_response, posted.relay_state)
    assert crossed.status_code == 400
    # With their own login's RelayState: audience, destination, InResponseTo are ours.
    swapped = _post(api, theirs, posted.saml_response, other_login)
    assert swapped.status_code == 401
    assert snapshot(engine, SSO_TABLES) == before


@pytest.mark.parametrize("case", ["no_relay_state", "no_response", "garbage", "in_response_to"])
def test_a_bad_post_to_the_acs_is_refused_and_changes_nothing(
    api: TestClient,
    saml_idp: SimpleSamlIdp,
    public_token: str,
    example: Organization,
    engine: Engine,
    case: str,
) -> None:
    cid = saml_connection(api, example, saml_idp)["connection_id"]
    posted = saml_idp.login(_start(api, public_token, cid), "alice", "alice-password")
    relay_state: str | None = posted.relay_state
    saml_response = posted.saml_response
    if case == "no_relay_state":
        relay_state = None
    elif case == "no_response":
        saml_response = ""
    elif case == "garbage":
        saml_response = "PHhtbD48L3htbD4="
    elif case == "in_response_to":
        # A second login's RelayState: the response answers the first login's request.
        relay_state = parse_qs(urlsplit(_start(api, public_token, cid)).query)["RelayState"][0]
    before = snapshot(engine, SSO_TABLES)
    answer = _post(api, cid, saml_response, relay_state)
    assert answer.status_code in (400, 401), answer.text
    assert "location" not in answer.headers
    assert snapshot(engine, SSO_TABLES) == before


def test_metadata_from_a_private_address_is_refused_unless_allowed(
    api: TestClient, saml_idp: SimpleSamlIdp, example: Organization, services: Services
) -> None:
    cid = api.post(f"/v1/b2b/sso/saml/{example.id}", json={}).json()["connection"]["connection_id"]
    services.settings.sso_allow_private_addresses = False  # the app's settings object
    try:
        refused = api.put(
            f"/v1/b2b/sso/saml/{example.id}/connections/{cid}/url",
            json={"metadata_url": saml_idp.metadata_url},
        ).json()
    finally:
        services.settings.sso_allow_private_addresses = True
    assert refused["error_type"] == "invalid_saml_metadata_url"
    with services.scope(example.project_id, "test", "test") as scope:
        connection = connections.get_connection(scope, cid)
        assert connection.idp_entity_id == ""  # type: ignore[union-attr]


def test_an_idp_initiated_sign_in_lands_on_the_default_url_once(
    api: TestClient,
    saml_idp: SimpleSamlIdp,
    public_token: str,
    example: Organization,
    engine: Engine,
) -> None:
    connection = saml_connection(api, example, saml_idp)
    cid = connection["connection_id"]
    posted = saml_idp.login(
        saml_idp.idp_initiated_url(connection["audience_uri"]), "alice", "alice-password"
    )
    assert posted.relay_state in (None, "")
    answer = _post(api, cid, posted.saml_response, None)
    assert answer.status_code == 302, answer.text
    assert answer.headers["location"].startswith(SIGNUP_URL)
    body = api.post(
        "/v1/b2b/sso/authenticate", json={"sso_token": sso_token_of(answer.headers["location"])}
    ).json()
    assert body["member_authenticated"] is True
    before = snapshot(engine, SSO_TABLES)
    replay = _post(api, cid, posted.saml_response, None)
    assert "duplicate_saml_response" in replay.text
    assert snapshot(engine, SSO_TABLES) == before


def test_idp_initiated_sign_in_can_be_turned_off(
    api: TestClient,
    saml_idp: SimpleSamlIdp,
    public_token: str,
    example: Organization,
    engine: Engine,
) -> None:
    connection = saml_connection(api, example, saml_idp)
    cid = connection["connection_id"]
    api.put(
        f"/v1/b2b/sso/saml/{example.id}/connections/{cid}",
        json={"idp_initiated_auth_disabled": True},
    )
    posted = saml_idp.login(
        saml_idp.idp_initiated_url(connection["audience_uri"]), "alice", "alice-password"
    )
    before = snapshot(engine, SSO_TABLES)
    refused = _post(api, cid, posted.saml_response, None)
    assert refused.status_code == 400
    assert "unsolicited_saml_response" in refused.text
    assert snapshot(engine, SSO_TABLES) == before
