"""Single sign-on in the console: create SAML and OIDC connections, see what the customer's
IT admin enters, fill them (pasted metadata, fields), delete; the project's public token;
login/signup redirect URLs. Every change is in the audit trail."""

from __future__ import annotations

import re

from sqlalchemy import select

from antechamber.audit.models import AuditEvent
from antechamber.organizations.models import Organization
from antechamber.services import Services
from antechamber.sso.models import OidcConnection, SamlConnection
from tests.admin.conftest import Console
from tests.conftest import Credentials
from tests.sso.test_connections_sdk import idp_certificate


def _connection_path(response_location: str) -> str:
    assert "/sso/" in response_location, response_location
    return response_location


def test_a_saml_connection_from_creation_to_active(
    console: Console, project: Credentials, acme: Organization, services: Services
) -> None:
    base = f"/admin/projects/{project.project_id}/orgs/{acme.id}/sso"
    assert "No SSO connection yet" in console.get(base).text
    created = console.post(
        base,
        {"kind": "saml", "display_name": "Okta", "identity_provider": "okta"},
        csrf=console.csrf(base),
    )
    assert created.status_code == 303
    path = _connection_path(created.headers["location"])
    page = console.get(path).text
    connection_id = path.rsplit("/", 1)[1]
    acs = f"http://testserver/v1/b2b/sso/callback/{connection_id}"
    assert re.search(rf'id="acs-url">{re.escape(acs)}<', page)
    assert re.search(rf'id="audience">{re.escape(acs)}<', page)

    saved = console.post(
        path,
        {
            "display_name": "Okta",
            "idp_entity_id": "https://idp.example/entity",
            "idp_sso_url": "https://idp.example/sso",
            "x509_certificate": idp_certificate(),
            "email_attribute": "email",
            "name_attribute": "name",
        },
        csrf=console.csrf(path),
    )
    assert saved.status_code == 303, saved.text
    with services.sessions() as session:
        row = session.get(SamlConnection, connection_id)
        assert row is not None
        assert row.idp_sso_url == "https://idp.example/sso"
        assert row.attribute_mapping == {"email": "email", "full_name": "name"}
    assert "active" in console.get(base).text

    bad = console.post(path, {"x509_certificate": "nope"}, csrf=console.csrf(path))
    assert bad.status_code == 400
    assert "invalid_x509_certificate" in bad.text

    deleted = console.post(f"{path}/delete", {}, csrf=console.csrf(path))
    assert deleted.status_code == 303
    with services.sessions() as session:
        assert session.get(SamlConnection, connection_id) is None
        kinds = set(
            session.scalars(
                select(AuditEvent.event_type).where(AuditEvent.organization_id == acme.id)
            )
        )
    assert {"sso.connection_created", "sso.connection_updated", "sso.connection_deleted"} <= kinds


def test_an_oidc_connection_never_shows_its_secret(
    console: Console, project: Credentials, acme: Organization, services: Services
) -> None:
    base = f"/admin/projects/{project.project_id}/orgs/{acme.id}/sso"
    created = console.post(base, {"kind": "oidc", "display_name": "Corp"}, csrf=console.csrf(base))
    path = created.headers["location"]
    connection_id = path.rsplit("/", 1)[1]
    fields = {
        "client_id": "client-1",
        "client_secret": "very-secret-value",
        "authorization_url": "https://idp.example/authorize",
        "token_url": "https://idp.example/token",
        "userinfo_url": "https://idp.example/userinfo",
        "jwks_url": "https://idp.example/jwks",
    }
    assert console.post(path, fields, csrf=console.csrf(path)).status_code == 303
    page = console.get(path).text
    assert "very-secret-value" not in page
    assert f"http://testserver/v1/b2b/sso/callback/{connection_id}" in page
    with services.sessions() as session:
        row = session.get(OidcConnection, connection_id)
        assert row is not None
        assert row.client_id == "client-1"
        assert "very-secret-value" not in row.client_secret  # sealed


def test_public_token_and_sso_redirect_urls(console: Console, project: Credentials) -> None:
    page_path = f"/admin/projects/{project.project_id}"
    assert "None yet." in console.get(page_path).text
    made = console.post(f"{page_path}/public-token", {}, csrf=console.csrf(page_path))
    assert made.status_code == 303
    token = re.search(r"public-token-test-[0-9a-f-]+", console.get(page_path).text)
    assert token
    added = console.post(
        f"{page_path}/redirect-urls",
        {"url": "https://app.example/sso", "type": "login"},
        csrf=console.csrf(page_path),
    )
    assert added.status_code == 303
    assert re.search(
        r"https://app.example/sso</code>.*?</td>\s*<td>login</td>",
        console.get(page_path).text,
        re.S,
    )


def test_testing_an_oidc_connection_reports_each_check(
    console: Console, project: Credentials, acme: Organization, services: Services
) -> None:
    from tests.sso import fake_idp

    base = f"/admin/projects/{project.project_id}/orgs/{acme.id}/sso"
    services.settings.sso_allow_private_addresses = True
    try:
        with fake_idp.running() as idp:
            created = console.post(base, {"kind": "oidc"}, csrf=console.csrf(base))
            path = created.headers["location"]
            fields = {"issuer": idp.issuer, "jwks_url": f"{idp.issuer}/jwks"}
            assert console.post(path, fields, csrf=console.csrf(path)).status_code == 303
            tested = console.post(f"{path}/test", {}, csrf=console.csrf(path))
    finally:
        services.settings.sso_allow_private_addresses = False
    assert tested.status_code == 200
    # The fake provider has a JWKS but no discovery document.
    assert re.search(r"failed</span> <strong>discovery</strong>", tested.text)
    assert re.search(r"ok</span> <strong>jwks</strong>: 1 signing key", tested.text)
