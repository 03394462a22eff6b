"""SSO connections of an organization: list, read, delete (stytch-b2b-api-more §3.1, §3.5);
creating and updating one is its kind's (`saml_connections`, `oidc_connections`, §3.2–3.3).

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

from collections.abc import Mapping
from typing import Any, TypeVar

from sqlalchemy import select

from antechamber import crypto
from antechamber.audit import service as audit
from antechamber.clock import as_utc
from antechamber.organizations.models import Organization
from antechamber.organizations.service import get_organization
from antechamber.rbac import service as rbac
from antechamber.scope import Scope
from antechamber.sso import errors, rules, saml_keys
from antechamber.sso.events import SsoEvent
from antechamber.sso.models import OidcConnection, SamlConnection

IDENTITY_PROVIDERS = rules.IDENTITY_PROVIDERS
MAX_CONNECTIONS = 50
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
    return org, of_kind(scope, SamlConnection, org.id), of_kind(scope, OidcConnection, org.id)


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


# --- both kinds ----------------------------------------------------------------------------


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
        rbac.check_assignment_change(scope, org, assignment_pairs(connection), set())
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
        *of_kind(scope, SamlConnection, org.id),
        *of_kind(scope, OidcConnection, org.id),
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


# --- what the kinds' modules share --------------------------------------------------------


_C = TypeVar("_C", SamlConnection, OidcConnection)


def of_kind(scope: Scope, kind: type[_C], organization_id: str) -> list[_C]:
    """The organization's connections of one kind, oldest first."""
    return list(
        scope.db.scalars(
            select(kind)
            .where(kind.project_id == scope.project_id, kind.organization_id == organization_id)
            .order_by(kind.created_at, kind.id)
        )
    )


def recorded(
    scope: Scope, org: Organization, connection: Connection, event: str, **details: Any
) -> None:
    """Flush a connection's change, audit it and rewrite the organization's active list."""
    scope.db.flush()
    audit.record(scope, event, organization_id=org.id, connection_id=connection.id, **details)
    refresh_organization(scope, org)


def changed(fields: Mapping[str, Any]) -> list[str]:
    """The update fields a request set (for the audit event)."""
    return sorted(k for k, v in fields.items() if v is not None and k != "organization_id")


def check_room(scope: Scope, org: Organization) -> None:
    if (
        len(of_kind(scope, SamlConnection, org.id)) + len(of_kind(scope, OidcConnection, org.id))
        >= MAX_CONNECTIONS
    ):
        raise errors.TooManySsoConnections()


def assignment_pairs(connection: SamlConnection) -> set[tuple[str, str]]:
    """The connection's implicit role assignments as (what grants, role) pairs: the
    connection itself ("") or an IdP group ("group:<name>")."""
    pairs = {("", str(a.get("role_id", ""))) for a in connection.connection_role_assignments or []}
    pairs |= {
        (f"group:{a.get('group', '')}", str(a.get("role_id", "")))
        for a in connection.group_role_assignments or []
    }
    return pairs
