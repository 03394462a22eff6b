"""Connections managed through the official Python SDK (stytch 15.3.0): every answer parses."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from stytch.core.response_base import StytchError

from antechamber.organizations.models import Organization
from antechamber.organizations.service import get_organization
from antechamber.rbac import service as rbac
from antechamber.services import Services
from tests.conftest import Credentials
from tests.sso import fake_idp

ATTRIBUTES = {"email": "email", "full_name": "name"}


def idp_certificate() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp.example")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def error_type(exc: pytest.ExceptionInfo[StytchError]) -> str | None:
    return exc.value.details.error_type


def test_saml_connection_lifecycle(
    sdk: Any, corp: Organization, services: Services, project: Credentials
) -> None:
    # Role assignments name roles the project or the organization defines.
    with services.scope(project.project_id, "test", "test") as scope:
        rbac.set_org_roles(
            scope,
            get_organization(scope, corp.id),
            {"roles": [{"role_id": "editor", "description": "Edits", "permissions": []}]},
        )
    created = sdk.sso.saml.create_connection(
        organization_id=corp.id, display_name="Okta", identity_provider="okta"
    ).connection
    assert created.status == "pending"
    assert created.connection_id.startswith("saml-connection-test-")
    assert created.acs_url == created.audience_uri
    assert created.acs_url.endswith(f"/v1/b2b/sso/callback/{created.connection_id}")
    assert [c.issuer for c in created.signing_certificates] == ["Stytch"]
    assert created.nameid_format == "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"

    with pytest.raises(StytchError) as exc:
        sdk.sso.saml.update_connection(
            organization_id=corp.id,
            connection_id=created.connection_id,
            attribute_mapping=ATTRIBUTES,
            saml_group_implicit_role_assignments=[{"role_id": "editor", "group": "eng"}],
        )
    assert error_type(exc) == "saml_connection_attribute_mapping_missing_groups_key"
    partial = sdk.sso.saml.update_connection(
        organization_id=corp.id,
        connection_id=created.connection_id,
        idp_entity_id="https://idp.example/entity",
        idp_sso_url="https://idp.example/sso",
        attribute_mapping={**ATTRIBUTES, "groups": "groups"},
    ).connection
    assert partial.status == "pending"  # no verification certificate yet
    with_groups = sdk.sso.saml.update_connection(
        organization_id=corp.id,
        connection_id=created.connection_id,
        x509_certificate=idp_certificate(),
        saml_connection_implicit_role_assignments=[{"role_id": "stytch_member"}],
        saml_group_implicit_role_assignments=[{"role_id": "editor", "group": "eng"}],
    ).connection
    assert with_groups.status == "active"
    assert with_groups.saml_group_implicit_role_assignments[0].group == "eng"

    org = sdk.organizations.get(organization_id=corp.id).organization
    assert [
        (c.connection_id, c.display_name, c.identity_provider) for c in org.sso_active_connections
    ] == [(created.connection_id, "Okta", "okta")]

    listed = sdk.sso.get_connections(organization_id=corp.id)
    assert [c.connection_id for c in listed.saml_connections] == [created.connection_id]
    assert listed.oidc_connections == []
    assert listed.external_connections == []

    certificate_id = with_groups.verification_certificates[0].certificate_id
    with pytest.raises(StytchError) as exc:
        sdk.sso.saml.delete_verification_certificate(
            organization_id=corp.id,
            connection_id=created.connection_id,
            certificate_id=certificate_id,
        )
    assert error_type(exc) == "cannot_delete_last_sso_verification_key"

    deleted = sdk.sso.delete_connection(
        organization_id=corp.id, connection_id=created.connection_id
    )
    assert deleted.connection_id == created.connection_id
    with pytest.raises(StytchError) as exc:
        sdk.sso.delete_connection(organization_id=corp.id, connection_id=created.connection_id)
    assert error_type(exc) == "sso_connection_not_found"
    assert exc.value.details.status_code == 404
    assert sdk.organizations.get(organization_id=corp.id).organization.sso_active_connections == []


def test_saml_signing_and_encryption_keys(sdk: Any, corp: Organization) -> None:
    created = sdk.sso.saml.create_connection(organization_id=corp.id).connection
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pkcs1 = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    updated = sdk.sso.saml.update_connection(
        organization_id=corp.id,
        connection_id=created.connection_id,
        signing_private_key=pkcs1,
        saml_encryption_private_key=pkcs1,
    ).connection
    assert (
        updated.signing_certificates[0].certificate != created.signing_certificates[0].certificate
    )
    (encryption_key,) = updated.encryption_private_keys
    assert encryption_key.private_key == ""  # never sent back
    deleted = sdk.sso.saml.delete_encryption_private_key(
        organization_id=corp.id,
        connection_id=created.connection_id,
        private_key_id=encryption_key.private_key_id,
    )
    assert deleted.private_key_id == encryption_key.private_key_id

    pkcs8 = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    with pytest.raises(StytchError) as exc:
        sdk.sso.saml.update_connection(
            organization_id=corp.id, connection_id=created.connection_id, signing_private_key=pkcs8
        )
    assert error_type(exc) == "saml_signing_private_key_format_not_supported"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"x509_certificate": "not a certificate"}, "invalid_x509_certificate"),
        ({"idp_sso_url": "ftp://idp.example/sso"}, "saml_connection_idp_sso_url_invalid_format"),
        ({"attribute_mapping": {"email": "mail"}}, "saml_connection_attribute_mapping_required"),
        (
            {"attribute_mapping": {"email": {"nested": 1}}},
            "saml_connection_no_nested_keys_in_attribute_mapping",
        ),
        ({"identity_provider": "myspace"}, "invalid_sso_idp"),
    ],
)
def test_saml_update_refusals(
    sdk: Any, corp: Organization, fields: dict[str, Any], expected: str
) -> None:
    created = sdk.sso.saml.create_connection(organization_id=corp.id).connection
    with pytest.raises(StytchError) as exc:
        sdk.sso.saml.update_connection(
            organization_id=corp.id, connection_id=created.connection_id, **fields
        )
    assert error_type(exc) == expected
    again = sdk.sso.get_connections(organization_id=corp.id).saml_connections[0]
    assert again.idp_sso_url == ""
    assert again.attribute_mapping == {}


def test_oidc_connection_with_discovery(
    sdk: Any, corp: Organization, idp: fake_idp.FakeIdp
) -> None:
    created = sdk.sso.oidc.create_connection(
        organization_id=corp.id, display_name="Corp OIDC"
    ).connection
    assert created.status == "pending"
    assert created.redirect_url.endswith(f"/v1/b2b/sso/callback/{created.connection_id}")

    # The fake provider has no discovery document: the update succeeds with a warning.
    answer = sdk.sso.oidc.update_connection(
        organization_id=corp.id,
        connection_id=created.connection_id,
        issuer=idp.issuer,
        client_id="client-1",
        client_secret="secret-1",
    )
    assert answer.warning
    assert "openid-configuration" in answer.warning
    assert answer.connection.status == "pending"

    done = sdk.sso.oidc.update_connection(
        organization_id=corp.id,
        connection_id=created.connection_id,
        authorization_url=f"{idp.issuer}/authorize",
        token_url=f"{idp.issuer}/token",
        userinfo_url=f"{idp.issuer}/userinfo",
        jwks_url=f"{idp.issuer}/jwks",
        custom_scopes="openid email",
    ).connection
    assert done.status == "active"
    assert done.client_secret == "secret-1"
    org = sdk.organizations.update(
        organization_id=corp.id, sso_default_connection_id=created.connection_id
    ).organization
    assert org.sso_default_connection_id == created.connection_id
    assert org.sso_active_connections[0].connection_id == created.connection_id


def test_organization_sso_settings_name_its_own_connections(sdk: Any, corp: Organization) -> None:
    with pytest.raises(StytchError) as exc:
        sdk.organizations.update(
            organization_id=corp.id, sso_default_connection_id="oidc-connection-test-nope"
        )
    assert error_type(exc) == "invalid_sso_default_connection_id"
    with pytest.raises(StytchError) as exc:
        sdk.organizations.update(organization_id=corp.id, sso_jit_provisioning="RESTRICTED")
    assert error_type(exc) == "invalid_restricted_sso_setting"


def test_another_organizations_connection_is_not_found(
    sdk: Any, corp: Organization, acme: Organization
) -> None:
    created = sdk.sso.saml.create_connection(organization_id=corp.id).connection
    with pytest.raises(StytchError) as exc:
        sdk.sso.delete_connection(organization_id=acme.id, connection_id=created.connection_id)
    assert error_type(exc) == "sso_connection_not_found"
    with pytest.raises(StytchError) as exc:
        sdk.sso.saml.update_connection(
            organization_id=acme.id, connection_id=created.connection_id, display_name="x"
        )
    assert error_type(exc) == "saml_connection_not_found"


def test_oidc_issuer_discovery_fills_the_endpoint_urls(
    sdk: Any, corp: Organization, idp: fake_idp.FakeIdp
) -> None:
    idp.discovery = True
    created = sdk.sso.oidc.create_connection(organization_id=corp.id).connection
    answer = sdk.sso.oidc.update_connection(
        organization_id=corp.id,
        connection_id=created.connection_id,
        issuer=idp.issuer,
        client_id="client-1",
        client_secret="secret-1",
        token_url=f"{idp.issuer}/custom-token",  # an explicit value wins
    )
    assert answer.warning is None
    done = answer.connection
    assert done.status == "active"
    assert done.authorization_url == f"{idp.issuer}/authorize"
    assert done.jwks_url == f"{idp.issuer}/jwks"
    assert done.token_url == f"{idp.issuer}/custom-token"
