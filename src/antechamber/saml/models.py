"""The values the SAML library consumes and produces. Plain frozen dataclasses: the sso domain
builds them from its connection rows and stores what it needs of an `Assertion`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

NAMEID_EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
NAMEID_UNSPECIFIED = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
NAMEID_PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"


@dataclass(frozen=True)
class ServiceProvider:
    """Us, for one connection. `entity_id` is the audience the IdP must put in
    AudienceRestriction (Stytch's `audience_uri`); `acs_url` is where the IdP posts the
    SAMLResponse (Stytch's `acs_url`), checked against Destination and Recipient.
    `name_id_format`, when set, is asked for in the AuthnRequest's NameIDPolicy.

    `signing_key` (PEM RSA private key) and `signing_certificate` (its PEM certificate, what
    Stytch lists as the connection's `signing_certificates`), when both are set, sign every
    AuthnRequest (HTTP-Redirect binding signature, RSA-SHA256) and appear in `sp_metadata`.
    `signing_keys.new_signing_key()` / `signing_certificate()` make them.

    `decryption_keys` (PEM RSA private keys, Stytch's `encryption_private_keys`; several
    during a rotation) decrypt EncryptedAssertions; `encryption_certificate` (PEM) is what
    `sp_metadata` offers IdPs to encrypt to (a certificate of one of those keys).

    `alternative_audience` and `alternative_acs_url` are Stytch's `alternative_audience_uri`
    and `alternative_acs_url`: also accepted as Audience and as Destination/Recipient."""

    entity_id: str
    acs_url: str
    name_id_format: str | None = None
    signing_key: str | None = field(default=None, repr=False)
    signing_certificate: str | None = None
    decryption_keys: tuple[str, ...] = field(default=(), repr=False)
    encryption_certificate: str | None = None
    alternative_audience: str | None = None
    alternative_acs_url: str | None = None

    @property
    def audiences(self) -> tuple[str, ...]:
        """`entity_id` and Stytch's `alternative_audience_uri` (a migration from another SP)."""
        return tuple(a for a in (self.entity_id, self.alternative_audience) if a)

    @property
    def acs_urls(self) -> tuple[str, ...]:
        """`acs_url` and Stytch's `alternative_acs_url` (the app proxies it to us during a
        migration): a response addressed to either is for us. AuthnRequests name `acs_url`."""
        return tuple(u for u in (self.acs_url, self.alternative_acs_url) if u)


@dataclass(frozen=True)
class IdentityProvider:
    """The customer's IdP as configured on a connection. `certificates` are PEM X.509 signing
    certificates; a signature is accepted only if one of them verifies it (several during a
    rotation). A certificate inside a message is never trusted."""

    entity_id: str
    sso_url: str
    certificates: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Assertion:
    """What a validated SAMLResponse proves, read only from signed XML.

    `assertion_id` is the Assertion's ID: store it until `not_on_or_after` and refuse it a
    second time (replay; `validate_response` cannot, it has no storage). `attributes` maps each
    Attribute's Name to its values in document order. `in_response_to` is None for an
    IdP-initiated response. `not_on_or_after` is the earliest expiry among the Conditions and
    the bearer SubjectConfirmationData: the assertion is useless after it, so a replay store
    may forget the id then (plus the skew)."""

    assertion_id: str
    issuer: str
    name_id: str
    name_id_format: str | None
    attributes: Mapping[str, tuple[str, ...]]
    not_on_or_after: datetime
    in_response_to: str | None
    session_index: str | None
