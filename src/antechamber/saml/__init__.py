"""SAML 2.0 Web Browser SSO for a service provider: the protocol only.

No database, no HTTP framework. The `sso/` domain keeps connections, request ids, relay state
and the replay store, and calls:

- `parse_idp_metadata(xml) -> IdentityProvider`; `fetch_idp_metadata(url, …) -> bytes`
  (timeout, size limit, no redirects, no private addresses unless allowed);
- `sp_metadata(sp) -> str`, the XML a customer's IT admin may upload to their IdP;
- `new_request_id()` and `authn_request_redirect(sp, idp, …) -> str`, the URL to send the
  browser to (HTTP-Redirect binding; signed when `sp` has a signing key:
  `new_signing_key()`, `signing_certificate(key, now=…)`);
- `validate_response(saml_response_b64, sp, idp, …) -> Assertion`, or a `SamlResponseError`.

See docs/architecture.md (SAML) for the choice of signxml and the defences.
"""

from antechamber.saml.errors import (
    EncryptedSamlAssertionUnsupported,
    ExpiredSamlResponse,
    FailedSamlResponse,
    InvalidSamlAudience,
    InvalidSamlDestination,
    InvalidSamlEncryption,
    InvalidSamlInResponseTo,
    InvalidSamlIssuer,
    InvalidSamlMetadataXml,
    InvalidSamlRecipient,
    InvalidSamlResponseXml,
    InvalidSamlSignature,
    InvalidSamlSubjectConfirmation,
    MissingSamlSignature,
    NotYetValidSamlResponse,
    SamlCertificateMismatch,
    SamlMetadataError,
    SamlMetadataUrlError,
    SamlResponseError,
    SamlResponseTooLarge,
    UnsolicitedSamlResponse,
)
from antechamber.saml.metadata import fetch_idp_metadata, parse_idp_metadata, sp_metadata
from antechamber.saml.models import (
    NAMEID_EMAIL,
    NAMEID_PERSISTENT,
    NAMEID_UNSPECIFIED,
    Assertion,
    IdentityProvider,
    ServiceProvider,
)
from antechamber.saml.request import authn_request_redirect, new_request_id
from antechamber.saml.response import MAX_RESPONSE_BYTES, validate_response
from antechamber.saml.signing_keys import (
    InvalidSigningKey,
    load_signing_key,
    new_signing_key,
    signing_certificate,
)

__all__ = [
    "MAX_RESPONSE_BYTES",
    "NAMEID_EMAIL",
    "NAMEID_PERSISTENT",
    "NAMEID_UNSPECIFIED",
    "Assertion",
    "EncryptedSamlAssertionUnsupported",
    "ExpiredSamlResponse",
    "FailedSamlResponse",
    "IdentityProvider",
    "InvalidSamlAudience",
    "InvalidSamlDestination",
    "InvalidSamlEncryption",
    "InvalidSamlInResponseTo",
    "InvalidSamlIssuer",
    "InvalidSamlMetadataXml",
    "InvalidSamlRecipient",
    "InvalidSamlResponseXml",
    "InvalidSamlSignature",
    "InvalidSamlSubjectConfirmation",
    "InvalidSigningKey",
    "MissingSamlSignature",
    "NotYetValidSamlResponse",
    "SamlCertificateMismatch",
    "SamlMetadataError",
    "SamlMetadataUrlError",
    "SamlResponseError",
    "SamlResponseTooLarge",
    "ServiceProvider",
    "UnsolicitedSamlResponse",
    "authn_request_redirect",
    "fetch_idp_metadata",
    "load_signing_key",
    "new_request_id",
    "new_signing_key",
    "parse_idp_metadata",
    "signing_certificate",
    "sp_metadata",
    "validate_response",
]
