"""The SSO tables. Every row belongs to one project; connections to one organization.

Secrets kept here: the OIDC client secret and the SAML private keys are sealed
(`crypto.seal`, AES-GCM under the server key); SSO tokens and login states are stored only as
SHA-256 digests. Public tokens are not secrets (they name a project in a browser URL).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from antechamber.db import Base


class SamlConnection(Base):
    """A SAML connection of an organization (Stytch's SAMLConnection).

    `acs_url` and `audience_uri` are not stored: both derive from the server's public base
    URL and the connection id (`connections.acs_url`). The signing key pair is made with the
    connection, its private key sealed.
    """

    __tablename__ = "sso_saml_connections"
    __table_args__ = (Index("ix_sso_saml_connections_org", "organization_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(96), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    display_name: Mapped[str] = mapped_column(String(256), default="")
    identity_provider: Mapped[str] = mapped_column(String(32), default="generic")
    idp_entity_id: Mapped[str] = mapped_column(String(1024), default="")
    idp_sso_url: Mapped[str] = mapped_column(String(2048), default="")
    attribute_mapping: Mapped[dict[str, Any]] = mapped_column(default=dict)
    nameid_format: Mapped[str] = mapped_column(String(256))
    alternative_audience_uri: Mapped[str] = mapped_column(String(2048), default="")
    alternative_acs_url: Mapped[str] = mapped_column(String(2048), default="")
    idp_initiated_auth_disabled: Mapped[bool] = mapped_column(default=False)
    allow_gateway_callback: Mapped[bool] = mapped_column(default=False)
    # Stytch's shapes: [{role_id}] and [{role_id, group}].
    connection_role_assignments: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    group_role_assignments: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    signing_certificate: Mapped[str] = mapped_column(Text)
    signing_private_key: Mapped[str] = mapped_column(Text)  # sealed PEM
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    certificates: Mapped[list[SamlCertificate]] = relationship(
        cascade="all, delete-orphan", order_by="SamlCertificate.created_at"
    )
    encryption_keys: Mapped[list[SamlEncryptionKey]] = relationship(
        cascade="all, delete-orphan", order_by="SamlEncryptionKey.created_at"
    )


class SamlCertificate(Base):
    """An identity provider certificate a SAML connection verifies signatures with (max 5)."""

    __tablename__ = "sso_saml_certificates"

    id: Mapped[str] = mapped_column(String(96), primary_key=True)
    connection_id: Mapped[str] = mapped_column(
        ForeignKey("sso_saml_connections.id", ondelete="CASCADE"), index=True
    )
    certificate: Mapped[str] = mapped_column(Text)
    issuer: Mapped[str] = mapped_column(String(512), default="")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]


class SamlEncryptionKey(Base):
    """A private key that decrypts encrypted assertions of a SAML connection (sealed)."""

    __tablename__ = "sso_saml_encryption_keys"

    id: Mapped[str] = mapped_column(String(96), primary_key=True)
    connection_id: Mapped[str] = mapped_column(
        ForeignKey("sso_saml_connections.id", ondelete="CASCADE"), index=True
    )
    private_key: Mapped[str] = mapped_column(Text)  # sealed PEM
    created_at: Mapped[datetime]


class OidcConnection(Base):
    """An OpenID Connect connection of an organization (Stytch's OIDCConnection)."""

    __tablename__ = "sso_oidc_connections"
    __table_args__ = (Index("ix_sso_oidc_connections_org", "organization_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(96), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    display_name: Mapped[str] = mapped_column(String(256), default="")
    identity_provider: Mapped[str] = mapped_column(String(32), default="generic")
    client_id: Mapped[str] = mapped_column(String(512), default="")
    client_secret: Mapped[str] = mapped_column(Text, default="")  # sealed, "" when unset
    issuer: Mapped[str] = mapped_column(String(2048), default="")
    authorization_url: Mapped[str] = mapped_column(String(2048), default="")
    token_url: Mapped[str] = mapped_column(String(2048), default="")
    userinfo_url: Mapped[str] = mapped_column(String(2048), default="")
    jwks_url: Mapped[str] = mapped_column(String(2048), default="")
    custom_scopes: Mapped[str] = mapped_column(String(1024), default="")
    attribute_mapping: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SsoLogin(Base):
    """A login started at `/v1/public/sso/start`, waiting for the identity provider's answer.

    `state_digest` is the SHA-256 of the OIDC `state` / SAML `RelayState` handed to the
    provider; `request_id` the SAML AuthnRequest ID the response must answer (InResponseTo).
    `nonce` and `code_verifier` (ours, for PKCE with the provider) travel only to that
    provider. Single use: `used_at` set by one conditional UPDATE. Lives 10 minutes.
    """

    __tablename__ = "sso_logins"

    id: Mapped[str] = mapped_column(String(96), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    connection_id: Mapped[str] = mapped_column(String(96), index=True)
    state_digest: Mapped[str] = mapped_column(String(64), unique=True)
    request_id: Mapped[str] = mapped_column(String(96), default="")
    nonce: Mapped[str] = mapped_column(String(128), default="")
    code_verifier: Mapped[str] = mapped_column(String(128), default="")
    pkce_code_challenge: Mapped[str | None] = mapped_column(String(128))
    login_redirect_url: Mapped[str] = mapped_column(String(2048))
    signup_redirect_url: Mapped[str] = mapped_column(String(2048))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class SsoToken(Base):
    """The token an SSO login ends with, redeemed by `sso/authenticate` (Stytch's sso_token).

    Stored only as its SHA-256 digest; single use (`used_at`, one conditional UPDATE); lives
    `SSO_TOKEN_MINUTES`. Holds the identity the provider vouched for: `external_id` (SAML
    NameID / OIDC `sub`), the email, and the attributes, so that redeeming it needs no second
    trip to the provider. `pkce_code_challenge` is the app's, from the start request.
    """

    __tablename__ = "sso_tokens"

    id: Mapped[str] = mapped_column(String(96), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    connection_id: Mapped[str] = mapped_column(String(96))
    kind: Mapped[str] = mapped_column(String(8))  # saml | oidc
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    external_id: Mapped[str] = mapped_column(String(1024))
    email_address: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(256), default="")
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    pkce_code_challenge: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class SsoRegistration(Base):
    """A member's identity at one connection (Stytch's `sso_registrations[]` entry).

    One (connection, external id) names one member: the next login through that connection
    finds the member by it, whatever the email says then.
    """

    __tablename__ = "sso_registrations"
    __table_args__ = (
        UniqueConstraint("connection_id", "external_id", name="uq_sso_registrations_external"),
    )

    id: Mapped[str] = mapped_column(String(96), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    connection_id: Mapped[str] = mapped_column(String(96))
    external_id: Mapped[str] = mapped_column(String(1024))
    sso_attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class SamlAssertionUse(Base):
    """A SAML assertion ID already accepted on a connection: never accepted again.

    Kept until the assertion's own `NotOnOrAfter` (plus the skew) has passed; after that the
    assertion is refused as expired anyway.
    """

    __tablename__ = "sso_saml_assertion_uses"

    connection_id: Mapped[str] = mapped_column(String(96), primary_key=True)
    assertion_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    expires_at: Mapped[datetime]


class PublicToken(Base):
    """A project's public token (`public-token-<env>-<uuid>`): names the project in browser
    flows (`/v1/public/sso/start`). Not a secret, so stored as is."""

    __tablename__ = "project_public_tokens"

    id: Mapped[str] = mapped_column(String(96), primary_key=True)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
