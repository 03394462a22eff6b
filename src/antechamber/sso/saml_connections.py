"""SAML connections: create one, update it (its IdP's details, certificates and keys, from a
request or from the IdP's metadata), delete a certificate or a key (stytch-b2b-api-more §3.2).
What both kinds share (reading, deleting, the organization's active list): `sso.connections`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import serialization

from antechamber.audit import service as audit
from antechamber.keys import service as keys
from antechamber.organizations.models import Organization
from antechamber.organizations.service import get_organization
from antechamber.rbac import service as rbac
from antechamber.scope import Scope
from antechamber.sso import errors, rules, saml_keys
from antechamber.sso.connections import (
    assignment_pairs,
    changed,
    check_room,
    recorded,
    status,
)
from antechamber.sso.events import SsoEvent
from antechamber.sso.models import SamlCertificate, SamlConnection, SamlEncryptionKey

DEFAULT_NAMEID_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
MAX_VERIFICATION_CERTIFICATES = 5


def create_saml(
    scope: Scope,
    organization_ref: str,
    *,
    display_name: str | None = None,
    identity_provider: str | None = None,
) -> SamlConnection:
    """A new `pending` SAML connection with its own signing key pair (certificate issuer
    "Stytch", as the SDKs expect); the admin then adds the IdP's details."""
    org = get_organization(scope, organization_ref)
    check_room(scope, org)
    now = scope.clock.now()
    connection_id = f"saml-connection-{scope.environment}-{uuid.uuid4()}"
    key = keys.new_private_key()
    connection = SamlConnection(
        id=connection_id,
        project_id=scope.project_id,
        organization_id=org.id,
        display_name=rules.display_name(display_name),
        identity_provider=rules.idp(identity_provider),
        idp_entity_id="",
        idp_sso_url="",
        attribute_mapping={},
        nameid_format=DEFAULT_NAMEID_FORMAT,
        alternative_audience_uri="",
        alternative_acs_url="",
        idp_initiated_auth_disabled=False,
        allow_gateway_callback=False,
        connection_role_assignments=[],
        group_role_assignments=[],
        signing_certificate=saml_keys.self_signed(key, connection_id, now),
        signing_private_key=saml_keys.seal_key(scope, key),
        created_at=now,
        updated_at=now,
        certificates=[],
        encryption_keys=[],
    )
    scope.db.add(connection)
    recorded(scope, org, connection, SsoEvent.CONNECTION_CREATED, kind="saml")
    return connection


def update_saml(
    scope: Scope, organization_ref: str, connection_id: str, fields: Mapping[str, Any]
) -> SamlConnection:
    """Apply Stytch's update fields (§3.2). `x509_certificate` adds a verification
    certificate; `signing_private_key` replaces the signing pair; `saml_encryption_private_key`
    adds a decryption key. Nothing changes unless every field is valid."""
    org = get_organization(scope, organization_ref)
    connection = _saml(scope, org, connection_id)
    now = scope.clock.now()
    if fields.get("display_name") is not None:
        connection.display_name = rules.display_name(fields["display_name"])
    if fields.get("identity_provider"):
        connection.identity_provider = rules.idp(fields["identity_provider"])
    if fields.get("idp_entity_id") is not None:
        connection.idp_entity_id = rules.entity_id(fields["idp_entity_id"])
    if fields.get("idp_sso_url") is not None:
        connection.idp_sso_url = rules.https_url(
            scope, fields["idp_sso_url"], errors.InvalidIdpSsoUrl, allow_empty=True
        )
    if fields.get("attribute_mapping") is not None:
        connection.attribute_mapping = rules.attribute_mapping(fields["attribute_mapping"])
    if fields.get("nameid_format"):
        connection.nameid_format = rules.short(fields["nameid_format"], 256)
    for name in ("alternative_audience_uri", "alternative_acs_url"):
        if fields.get(name) is not None:
            setattr(connection, name, rules.short(fields[name], 2048))
    for name in ("idp_initiated_auth_disabled", "allow_gateway_callback"):
        if fields.get(name) is not None:
            setattr(connection, name, bool(fields[name]))
    before = assignment_pairs(connection)
    if fields.get("saml_connection_implicit_role_assignments") is not None:
        connection.connection_role_assignments = rules.role_assignments(
            fields["saml_connection_implicit_role_assignments"], groups=False
        )
    if fields.get("saml_group_implicit_role_assignments") is not None:
        connection.group_role_assignments = rules.role_assignments(
            fields["saml_group_implicit_role_assignments"], groups=True
        )
    if connection.group_role_assignments and "groups" not in connection.attribute_mapping:
        raise errors.GroupsKeyRequired()
    # Roles exist, and a member's session gives or takes only roles it holds (the unit of
    # work rolls back what was set above on a refusal).
    rbac.check_assignment_change(scope, org, before, assignment_pairs(connection))
    if fields.get("x509_certificate"):
        add_verification_certificate(scope, connection, fields["x509_certificate"])
    if fields.get("signing_private_key"):
        key = rules.pkcs1_key(fields["signing_private_key"])
        connection.signing_private_key = saml_keys.seal_key(scope, key)
        connection.signing_certificate = saml_keys.self_signed(key, connection.id, now)
    if fields.get("saml_encryption_private_key"):
        key = rules.pkcs1_key(fields["saml_encryption_private_key"])
        connection.encryption_keys.append(
            SamlEncryptionKey(
                id=f"saml-encryption-key-{scope.environment}-{uuid.uuid4()}",
                private_key=saml_keys.seal_key(scope, key),
                created_at=now,
            )
        )
    connection.updated_at = now
    recorded(
        scope, org, connection, SsoEvent.CONNECTION_UPDATED, kind="saml", changed=changed(fields)
    )
    return connection


def apply_idp_metadata(
    scope: Scope,
    organization_ref: str,
    connection_id: str,
    *,
    entity_id: str,
    sso_url: str,
    certificates: list[str],
) -> SamlConnection:
    """Fill a SAML connection from its identity provider's metadata (already parsed by the
    SAML library): entity id, SSO URL and signing certificates not yet on the connection."""
    org = get_organization(scope, organization_ref)
    connection = _saml(scope, org, connection_id)
    connection.idp_entity_id = rules.entity_id(entity_id)
    connection.idp_sso_url = rules.https_url(scope, sso_url, errors.InvalidIdpSsoUrl)
    known = {c.certificate.strip() for c in connection.certificates}
    for pem in certificates:
        if pem.strip() not in known:
            add_verification_certificate(scope, connection, pem)
    connection.updated_at = scope.clock.now()
    recorded(scope, org, connection, SsoEvent.CONNECTION_UPDATED, kind="saml", changed=["metadata"])
    return connection


def add_verification_certificate(scope: Scope, connection: SamlConnection, pem: object) -> None:
    if len(connection.certificates) >= MAX_VERIFICATION_CERTIFICATES:
        raise errors.TooManyVerificationCertificates()
    certificate = rules.parse_certificate(pem)
    connection.certificates.append(
        SamlCertificate(
            id=f"saml-verification-key-{scope.environment}-{uuid.uuid4()}",
            certificate=certificate.public_bytes(serialization.Encoding.PEM).decode(),
            issuer=certificate.issuer.rfc4514_string()[:512],
            created_at=scope.clock.now(),
            expires_at=certificate.not_valid_after_utc,
        )
    )


def delete_verification_certificate(
    scope: Scope, organization_ref: str, connection_id: str, certificate_id: str
) -> str:
    org = get_organization(scope, organization_ref)
    connection = _saml(scope, org, connection_id)
    found = next((c for c in connection.certificates if c.id == certificate_id), None)
    if found is None:
        raise errors.VerificationKeyNotFound()
    if status(connection) == "active" and len(connection.certificates) == 1:
        raise errors.CannotDeleteLastVerificationKey()
    connection.certificates.remove(found)
    connection.updated_at = scope.clock.now()
    recorded(scope, org, connection, SsoEvent.CERTIFICATE_DELETED, certificate_id=certificate_id)
    return certificate_id


def delete_encryption_key(
    scope: Scope, organization_ref: str, connection_id: str, private_key_id: str
) -> str:
    org = get_organization(scope, organization_ref)
    connection = _saml(scope, org, connection_id)
    found = next((k for k in connection.encryption_keys if k.id == private_key_id), None)
    if found is None:
        raise errors.EncryptionKeyNotFound()
    connection.encryption_keys.remove(found)
    connection.updated_at = scope.clock.now()
    scope.db.flush()
    audit.record(
        scope,
        SsoEvent.ENCRYPTION_KEY_DELETED,
        organization_id=org.id,
        connection_id=connection.id,
        private_key_id=private_key_id,
    )
    return private_key_id


def _saml(scope: Scope, org: Organization, connection_id: str) -> SamlConnection:
    found = scope.db.get(SamlConnection, connection_id)
    if found is None or found.project_id != scope.project_id or found.organization_id != org.id:
        raise errors.SamlConnectionNotFound()
    return found
