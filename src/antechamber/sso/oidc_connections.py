"""OIDC connections: create one, update it, its endpoints read from the issuer's OpenID
configuration where the request leaves them out (stytch-b2b-api-more §3.3). What both kinds
share (reading, deleting, the organization's active list): `sso.connections`."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from antechamber import crypto
from antechamber.organizations.models import Organization
from antechamber.organizations.service import get_organization
from antechamber.scope import Scope
from antechamber.settings import Settings
from antechamber.sso import errors, rules
from antechamber.sso.connections import SEAL_CLIENT_SECRET, changed, check_room, recorded
from antechamber.sso.events import SsoEvent
from antechamber.sso.models import OidcConnection
from antechamber.sso.outbound import OutboundError, get_json


def create_oidc(
    scope: Scope,
    organization_ref: str,
    *,
    display_name: str | None = None,
    identity_provider: str | None = None,
) -> OidcConnection:
    org = get_organization(scope, organization_ref)
    check_room(scope, org)
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
    recorded(scope, org, connection, SsoEvent.CONNECTION_CREATED, kind="oidc")
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
    recorded(
        scope, org, connection, SsoEvent.CONNECTION_UPDATED, kind="oidc", changed=changed(fields)
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


def _oidc(scope: Scope, org: Organization, connection_id: str) -> OidcConnection:
    found = scope.db.get(OidcConnection, connection_id)
    if found is None or found.project_id != scope.project_id or found.organization_id != org.id:
        raise errors.OidcConnectionNotFound()
    return found
