"""A SAML connection filled from its identity provider's metadata URL (Stytch's update_by_url).

The fetch (timeout, size limit, no redirects, no private addresses unless
`ANTECHAMBER_SSO_ALLOW_PRIVATE_ADDRESSES`) and the parsing are the SAML library's; the face
calls `fetch` with no unit of work open (no lock held while the network answers), then
`apply` in one.
"""

from __future__ import annotations

from antechamber import saml
from antechamber.scope import Scope
from antechamber.settings import Settings
from antechamber.sso import saml_connections
from antechamber.sso.models import SamlConnection

MAX_METADATA_BYTES = 512 * 1024


def fetch(settings: Settings, metadata_url: str) -> saml.IdentityProvider:
    body = saml.fetch_idp_metadata(
        metadata_url,
        timeout=settings.sso_http_timeout_seconds,
        max_bytes=MAX_METADATA_BYTES,
        allow_private=settings.sso_allow_private_addresses,
    )
    return saml.parse_idp_metadata(body)


def apply(
    scope: Scope, organization_ref: str, connection_id: str, idp: saml.IdentityProvider
) -> SamlConnection:
    return saml_connections.apply_idp_metadata(
        scope,
        organization_ref,
        connection_id,
        entity_id=idp.entity_id,
        sso_url=idp.sso_url,
        certificates=list(idp.certificates),
    )


def parse(xml: bytes) -> saml.IdentityProvider:
    """Metadata pasted or uploaded as XML (no DTDs, no entities: the SAML library's parser)."""
    return saml.parse_idp_metadata(xml)
