"""SSO connections of an organization: create, update, list, delete (stytch-b2b-api-more §3.1–3.5).

A connection is `pending` until it has what a login needs, then `active`:
SAML: `idp_sso_url`, `idp_entity_id`, `attribute_mapping` and at least one verification
certificate; OIDC: `issuer`, `client_id`, `client_secret` and the four endpoint URLs.
The organization's `sso_active_connections` lists the active ones (kept on the organization's
row, rewritten here whenever a connection changes, so reading an organization costs no join).

The URLs an organization's IT admin enters in their identity provider are generated, never
stored: `<public base URL>/v1/b2b/sso/callback/<connection_id>` is the SAML ACS URL and the
audience (SP entity id), and the OIDC redirect URL.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from antechamber import crypto
from antechamber.audit import service as audit
from antechamber.clock import as_utc
from antechamber.keys import service as keys
from antechamber.organizations.models import Organization
from antechamber.organizations.service import get_organization
from antechamber.rbac import service as rbac
from antechamber.scope import Scope
from antechamber.settings import Settings
from antechamber.sso import errors, rules, saml_keys
from antechamber.sso.events import SsoEvent
from antechamber.sso.models import (
    OidcConnection,
    SamlCertificate,
    SamlConnection,
    SamlEncryptionKey,
)
from antechamber.sso.outbound import OutboundError, get_json

IDENTITY_PROVIDERS = rules.IDENTITY_PROVIDERS
DEFAULT_NAMEID_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
MAX_CONNECTIONS = 50
MAX_VERIFICATION_CERTIFICATES = 5
SIGNING_ISSUER = saml_keys.SIGNING_ISSUER
SEAL_CLIENT_SECRET = "sso-oidc-client-secret"  # noqa: S105 (a seal purpose)

Connection = SamlConnection | OidcConnection


# --- what the customer's IT admin enters ---------------------------------------------------


def callback_url(scope: Scope, connection_id: str) -> str:
    """The ACS URL, audience (SP entity id) and OIDC redirect URL of a connection."""
    return f"{scope.settings.public_base_url}/v1/b2b/sso/callback/{connection_id}"


def status(connection: Connection) -> str:
    if isinstance(connection, SamlConnection):
        ready = all(
            (
                connection.idp_sso_url,
                connection.idp_entity_id,
                connection.attribute_mapping,
                connection.certificates,
            )
        )
    else:
        ready = all(
            (
                connection.issuer,
                connection.client_id,
                connection.client_secret,
                connection.authorization_url,
                connection.token_url,
                connection.userinfo_url,
                connection.jwks_url,
            )
        )
    return "active" if ready else "pending"


def client_secret(scope: Scope, connection: OidcConnection) -> str:
    if not connection.client_secret:
        return ""
    return crypto.unseal(
        scope.settings.key_bytes(), SEAL_CLIENT_SECRET, connection.client_secret
    ).decode()


def saml_private_key(scope: Scope, sealed: str) -> bytes:
    return saml_keys.unseal(scope, sealed)


# --- reading -------------------------------------------------------------------------------


def list_connections(
    scope: Scope, organization_ref: str
) -> tuple[Organization, list[SamlConnection], list[OidcConnection]]:
    org = get_organization(scope, organization_ref)
    return org, _of(scope, SamlConnection, org.id), _of(scope, OidcConnection, org.id)


def get_connection(scope: Scope, connection_id: str) -> Connection:
    """Any connection of this project by id (the callback knows no organization yet)."""
    found: Connection | None
    if connection_id.startswith("saml-connection-"):
        found = scope.db.get(SamlConnection, connection_id)
    elif connection_id.startswith("oidc-connection-"):
        found = scope.db.get(OidcConnection, connection_id)
    else:
        found = None
    if found is None or found.project_id != scope.project_id:
        raise errors.SsoConnectionNotFound()
    return found


def connection_of(scope: Scope, org: Organization, connection_id: str) -> Connection:
    try:
        found = get_connection(scope, connection_id)
    except errors.SsoConnectionNotFound:
        raise errors.SsoConnectionNotFound() from None
    if found.organization_id != org.id:
        raise errors.SsoConnectionNotFound()
    return found


# --- SAML ----------------------------------------------------------------------------------


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
    _check_room(scope, org)
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
    _recorded(scope, org, connection, SsoEvent.CONNECTION_CREATED, kind="saml")
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
    before = _assignment_pairs(connection)
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
    rbac.check_assignment_change(scope, org, before, _assignment_pairs(connection))
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
    _recorded(
        scope, org, connection, SsoEvent.CONNECTION_UPDATED, kind="saml", changed=_changed(fields)
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
    _recorded(
        scope, org, connection, SsoEvent.CONNECTION_UPDATED, kind="saml", changed=["metadata"]
    )
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
    _recorded(scope, org, connection, SsoEvent.CERTIFICATE_DELETED, certificate_id=certificate_id)
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


# --- OIDC ----------------------------------------------------------------------------------


def create_oidc(
    scope: Scope,
    organization_ref: str,
    *,
    display_name: str | None = None,
    identity_provider: str | None = None,
) -> OidcConnection:
    org = get_organization(scope, organization_ref)
    _check_room(scope, org)
    now = scope.clock.now()
    connection = OidcConnection(
        id=f"oidc-connection-{scope.environment}-{uuid.uuid4()}",
        project_id=scope.project_id,
        organization_id=org.id,
        display_name=rules.display_name(display_name),
        identity_provider=rules.idp(identity_provider),
        client_id="",
        client_secret="",
        issuer="",
        authorization_url="",
        token_url="",
        userinfo_url="",
        jwks_url="",
        custom_scopes="",
        attribute_mapping={},
        created_at=now,
        updated_at=now,
    )
    scope.db.add(connection)
    _recorded(scope, org, connection, SsoEvent.CONNECTION_CREATED, kind="oidc")
    return connection


_OIDC_URLS = ("authorization_url", "token_url", "userinfo_url", "jwks_url")
_DISCOVERY_KEYS = {
    "authorization_url": "authorization_endpoint",
    "token_url": "token_endpoint",
    "userinfo_url": "userinfo_endpoint",
    "jwks_url": "jwks_uri",
}


def update_oidc(
    scope: Scope,
    organization_ref: str,
    connection_id: str,
    fields: Mapping[str, Any],
    discovery: Discovery | None = None,
) -> tuple[OidcConnection, str | None]:
    """Apply Stytch's update fields (§3.3). When `issuer` changes, the provider's
    `/.well-known/openid-configuration` (read beforehand by `discover`, passed as `discovery`)
    fills the endpoint URLs the request leaves out; if it could not be read the update still
    succeeds and the second value, `warning`, says why."""
    org = get_organization(scope, organization_ref)
    connection = _oidc(scope, org, connection_id)
    warning = None
    if fields.get("display_name") is not None:
        connection.display_name = rules.display_name(fields["display_name"])
    if fields.get("identity_provider"):
        connection.identity_provider = rules.idp(fields["identity_provider"])
    if fields.get("client_id") is not None:
        connection.client_id = rules.short(fields["client_id"], 512)
    if fields.get("client_secret") is not None:
        secret = str(fields["client_secret"])
        if len(secret) > 1024:
            raise errors.ClientSecretTooLong()
        connection.client_secret = (
            crypto.seal(scope.settings.key_bytes(), SEAL_CLIENT_SECRET, secret.encode())
            if secret
            else ""
        )
    if fields.get("custom_scopes") is not None:
        connection.custom_scopes = rules.short(fields["custom_scopes"], 1024)
    if fields.get("attribute_mapping") is not None:
        connection.attribute_mapping = rules.flat_mapping(fields["attribute_mapping"])
    for name in _OIDC_URLS:
        if fields.get(name) is not None:
            setattr(
                connection,
                name,
                rules.https_url(scope, fields[name], errors.InvalidOidcUrl, allow_empty=True),
            )
    issuer = fields.get("issuer")
    if issuer is not None and issuer != connection.issuer:
        connection.issuer = rules.https_url(scope, issuer, errors.InvalidOidcUrl, allow_empty=True)
        missing = [n for n in _OIDC_URLS if fields.get(n) is None]
        if connection.issuer and missing:
            warning = _apply_discovery(scope, connection, missing, discovery)
    connection.updated_at = scope.clock.now()
    _recorded(
        scope, org, connection, SsoEvent.CONNECTION_UPDATED, kind="oidc", changed=_changed(fields)
    )
    return connection, warning


@dataclass(frozen=True)
class Discovery:
    """An issuer's OpenID Provider Metadata, read before the unit of work (`discover`), or
    why it could not be (`warning`)."""

    issuer: str
    document: dict[str, Any] | None
    warning: str | None = None


def discover(settings: Settings, issuer: str) -> Discovery:
    """Read `{issuer}/.well-known/openid-configuration` (the network: call it with no unit of
    work open). Never raises for the provider's failings: they become the warning."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        document = get_json(url, settings)
    except OutboundError as exc:
        return Discovery(
            issuer,
            None,
            f"The OpenID configuration at {url} could not be read ({exc}); set the URLs.",
        )
    if not isinstance(document, dict) or document.get("issuer") != issuer:
        return Discovery(
            issuer, None, f"The OpenID configuration at {url} names another issuer; set the URLs."
        )
    return Discovery(issuer, document)


def _apply_discovery(
    scope: Scope, connection: OidcConnection, missing: list[str], found: Discovery | None
) -> str | None:
    if found is None or found.issuer != connection.issuer:
        return "The issuer's OpenID configuration was not read; set the URLs."
    if found.document is None:
        return found.warning
    for name in missing:
        value = found.document.get(_DISCOVERY_KEYS[name])
        if isinstance(value, str):
            try:
                setattr(connection, name, rules.https_url(scope, value, errors.InvalidOidcUrl))
            except errors.InvalidOidcUrl:
                return f"The OpenID configuration's {_DISCOVERY_KEYS[name]} is not usable."
    return None


# --- both ----------------------------------------------------------------------------------


def delete_connection(scope: Scope, organization_ref: str, connection_id: str) -> str:
    """Delete a SAML or OIDC connection. Members keep their accounts; their registrations at
    this connection go (the next SSO login through another connection makes a new one), and
    with them the roles the connection implied (a member's session that deletes it must hold
    those roles, `rbac.service.check_assignment_change`). The organization's default and JIT
    lists forget it."""
    from antechamber.sso.provisioning import forget_connection  # provisioning imports us

    org = get_organization(scope, organization_ref)
    connection = connection_of(scope, org, connection_id)
    if isinstance(connection, SamlConnection):
        # Deleting takes the roles it implies away: a member's session needs to hold them.
        rbac.check_assignment_change(scope, org, _assignment_pairs(connection), set())
    forget_connection(scope, connection.id)
    scope.db.delete(connection)
    scope.db.flush()
    if org.sso_default_connection_id == connection.id:
        org.sso_default_connection_id = None
    listed = org.sso_jit_provisioning_allowed_connections or []
    allowed = [c for c in listed if c != connection.id]
    if allowed != listed:
        org.sso_jit_provisioning_allowed_connections = allowed
    audit.record(
        scope,
        SsoEvent.CONNECTION_DELETED,
        organization_id=org.id,
        connection_id=connection.id,
    )
    refresh_organization(scope, org)
    return connection.id


def refresh_organization(scope: Scope, org: Organization) -> None:
    """Rewrite the organization's `sso_active_connections` from its connections."""
    every: list[Connection] = [
        *_of(scope, SamlConnection, org.id),
        *_of(scope, OidcConnection, org.id),
    ]
    active = [
        {
            "connection_id": c.id,
            "display_name": c.display_name,
            "identity_provider": c.identity_provider,
        }
        for c in sorted(every, key=lambda c: (as_utc(c.created_at), c.id))
        if status(c) == "active"
    ]
    if active != org.sso_active_connections:
        org.sso_active_connections = active
    scope.db.flush()


def _saml(scope: Scope, org: Organization, connection_id: str) -> SamlConnection:
    found = scope.db.get(SamlConnection, connection_id)
    if found is None or found.project_id != scope.project_id or found.organization_id != org.id:
        raise errors.SamlConnectionNotFound()
    return found


def _oidc(scope: Scope, org: Organization, connection_id: str) -> OidcConnection:
    found = scope.db.get(OidcConnection, connection_id)
    if found is None or found.project_id != scope.project_id or found.organization_id != org.id:
        raise errors.OidcConnectionNotFound()
    return found


_C = TypeVar("_C", SamlConnection, OidcConnection)


def _of(scope: Scope, kind: type[_C], organization_id: str) -> list[_C]:
    """The organization's connections of one kind, oldest first."""
    return list(
        scope.db.scalars(
            select(kind)
            .where(kind.project_id == scope.project_id, kind.organization_id == organization_id)
            .order_by(kind.created_at, kind.id)
        )
    )


def _recorded(
    scope: Scope, org: Organization, connection: Connection, event: str, **details: Any
) -> None:
    """Flush a connection's change, audit it and rewrite the organization's active list."""
    scope.db.flush()
    audit.record(scope, event, organization_id=org.id, connection_id=connection.id, **details)
    refresh_organization(scope, org)


def _changed(fields: Mapping[str, Any]) -> list[str]:
    """The update fields a request set (for the audit event)."""
    return sorted(k for k, v in fields.items() if v is not None and k != "organization_id")


def _check_room(scope: Scope, org: Organization) -> None:
    if (
        len(_of(scope, SamlConnection, org.id)) + len(_of(scope, OidcConnection, org.id))
        >= MAX_CONNECTIONS
    ):
        raise errors.TooManySsoConnections()


def _assignment_pairs(connection: SamlConnection) -> set[tuple[str, str]]:
    """The connection's implicit role assignments as (what grants, role) pairs: the
    connection itself ("") or an IdP group ("group:<name>")."""
    pairs = {("", str(a.get("role_id", ""))) for a in connection.connection_role_assignments or []}
    pairs |= {
        (f"group:{a.get('group', '')}", str(a.get("role_id", "")))
        for a in connection.group_role_assignments or []
    }
    return pairs
