"""SSO request bodies, Stytch JSON shapes of connections, and their documented responses
(stytch-b2b-api-more.md §3.1–3.7, §7). Kept beside schemas.py / serializers.py / responses.py
so the SSO face is one place."""

from __future__ import annotations

from typing import Any

from antechamber.api.responses import AuthResultResponse, Envelope, Shape
from antechamber.api.schemas import Body, SessionFields
from antechamber.clock import rfc3339
from antechamber.scope import Scope
from antechamber.sso import connections
from antechamber.sso.models import OidcConnection, SamlConnection

# --- requests ------------------------------------------------------------------------------


class ConnectionCreate(Body):
    display_name: str | None = None
    identity_provider: str | None = None


class SamlUpdate(Body):
    idp_entity_id: str | None = None
    display_name: str | None = None
    attribute_mapping: dict[str, Any] | None = None
    x509_certificate: str | None = None
    idp_sso_url: str | None = None
    saml_connection_implicit_role_assignments: list[dict[str, Any]] | None = None
    saml_group_implicit_role_assignments: list[dict[str, Any]] | None = None
    alternative_audience_uri: str | None = None
    identity_provider: str | None = None
    signing_private_key: str | None = None
    nameid_format: str | None = None
    alternative_acs_url: str | None = None
    idp_initiated_auth_disabled: bool | None = None
    saml_encryption_private_key: str | None = None
    allow_gateway_callback: bool | None = None


class SamlUpdateByUrl(Body):
    metadata_url: str


class OidcUpdate(Body):
    display_name: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    issuer: str | None = None
    authorization_url: str | None = None
    token_url: str | None = None
    userinfo_url: str | None = None
    jwks_url: str | None = None
    identity_provider: str | None = None
    custom_scopes: str | None = None
    attribute_mapping: dict[str, Any] | None = None


class SsoAuthenticate(SessionFields):
    sso_token: str
    pkce_code_verifier: str | None = None
    session_token: str | None = None
    session_jwt: str | None = None
    locale: str | None = None
    intermediate_session_token: str | None = None


# --- Stytch shapes -------------------------------------------------------------------------


def saml_connection(scope: Scope, c: SamlConnection) -> dict[str, Any]:
    """Every key the SDKs require (§7). Private keys never leave the server: an encryption
    key is shown by its id, `private_key` is "" (Stytch's value is not documented)."""
    url = connections.callback_url(scope, c.id)
    return {
        "organization_id": c.organization_id,
        "connection_id": c.id,
        "status": connections.status(c),
        "idp_entity_id": c.idp_entity_id,
        "display_name": c.display_name,
        "idp_sso_url": c.idp_sso_url,
        "acs_url": url,
        "audience_uri": url,
        "signing_certificates": [
            {
                "certificate_id": "",
                "certificate": c.signing_certificate,
                "issuer": connections.SIGNING_ISSUER,
                "created_at": rfc3339(c.created_at),
                "updated_at": rfc3339(c.updated_at),
            }
        ],
        "verification_certificates": [
            {
                "certificate_id": v.id,
                "certificate": v.certificate,
                "issuer": v.issuer,
                "created_at": rfc3339(v.created_at),
                "expires_at": rfc3339(v.expires_at) if v.expires_at else None,
            }
            for v in c.certificates
        ],
        "encryption_private_keys": [
            {"private_key_id": k.id, "private_key": "", "created_at": rfc3339(k.created_at)}
            for k in c.encryption_keys
        ],
        "saml_connection_implicit_role_assignments": list(c.connection_role_assignments),
        "saml_group_implicit_role_assignments": list(c.group_role_assignments),
        "alternative_audience_uri": c.alternative_audience_uri,
        "identity_provider": c.identity_provider,
        "nameid_format": c.nameid_format,
        "alternative_acs_url": c.alternative_acs_url,
        "idp_initiated_auth_disabled": c.idp_initiated_auth_disabled,
        "allow_gateway_callback": c.allow_gateway_callback,
        "attribute_mapping": dict(c.attribute_mapping),
    }


def oidc_connection(scope: Scope, c: OidcConnection) -> dict[str, Any]:
    """As Stytch answers it, `client_secret` included in clear (the SDK model requires it;
    only callers holding the project secret see it)."""
    return {
        "organization_id": c.organization_id,
        "connection_id": c.id,
        "status": connections.status(c),
        "display_name": c.display_name,
        "redirect_url": connections.callback_url(scope, c.id),
        "client_id": c.client_id,
        "client_secret": connections.client_secret(scope, c),
        "issuer": c.issuer,
        "authorization_url": c.authorization_url,
        "token_url": c.token_url,
        "userinfo_url": c.userinfo_url,
        "jwks_url": c.jwks_url,
        "identity_provider": c.identity_provider,
        "custom_scopes": c.custom_scopes,
        "attribute_mapping": dict(c.attribute_mapping),
    }


# --- documented responses ------------------------------------------------------------------


class Certificate(Shape):
    certificate_id: str
    certificate: str
    issuer: str
    created_at: str | None = None
    expires_at: str | None = None
    updated_at: str | None = None


class EncryptionKey(Shape):
    private_key_id: str
    private_key: str
    created_at: str | None = None


class SamlConnectionShape(Shape):
    organization_id: str
    connection_id: str
    status: str
    idp_entity_id: str
    display_name: str
    idp_sso_url: str
    acs_url: str
    audience_uri: str
    signing_certificates: list[Certificate]
    verification_certificates: list[Certificate]
    encryption_private_keys: list[EncryptionKey]
    saml_connection_implicit_role_assignments: list[dict[str, Any]]
    saml_group_implicit_role_assignments: list[dict[str, Any]]
    alternative_audience_uri: str
    identity_provider: str
    nameid_format: str
    alternative_acs_url: str
    idp_initiated_auth_disabled: bool
    allow_gateway_callback: bool
    attribute_mapping: dict[str, Any] | None


class OidcConnectionShape(Shape):
    organization_id: str
    connection_id: str
    status: str
    display_name: str
    redirect_url: str
    client_id: str
    client_secret: str
    issuer: str
    authorization_url: str
    token_url: str
    userinfo_url: str
    jwks_url: str
    identity_provider: str
    custom_scopes: str
    attribute_mapping: dict[str, Any] | None


class SamlConnectionResponse(Envelope):
    connection: SamlConnectionShape | None


class OidcConnectionResponse(Envelope):
    connection: OidcConnectionShape | None
    warning: str | None = None


class ConnectionsResponse(Envelope):
    saml_connections: list[SamlConnectionShape]
    oidc_connections: list[OidcConnectionShape]
    external_connections: list[dict[str, Any]]


class ConnectionDeleteResponse(Envelope):
    connection_id: str


class CertificateDeleteResponse(Envelope):
    certificate_id: str


class EncryptionKeyDeleteResponse(Envelope):
    private_key_id: str


class SsoAuthenticateResponse(AuthResultResponse):
    reset_session: bool
    organization_id: str
