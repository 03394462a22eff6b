"""SAML refusals. Every one is an `Unauthorized` (the message was not acceptable proof of
identity) or a `BadRequest` (the input was not a SAML message we can read, or metadata was
unusable), with a stable `error_type`: Stytch's SSO error names where Stytch has one
(`invalid_signature_saml_response`, `expired_saml_response`, …), our own otherwise.

Messages are fixed sentences: they never repeat anything from the XML (an attacker controls it,
and it would end up in logs and pages). `details` carries only our own words (`reason`)."""

from __future__ import annotations

from antechamber.errors import BadRequest, Unauthorized


class SamlResponseError(Unauthorized):
    """Base of every refusal of a SAMLResponse by `validate_response`."""

    error_type = "xml_validation_saml_unknown_error"
    default_message = "The SAML response could not be validated."


class InvalidSamlResponseXml(SamlResponseError):
    """Not base64, not well-formed XML, a DTD or entity, not a samlp:Response, not exactly one
    assertion, or a required element missing."""

    error_type = "invalid_xml_saml_response"
    default_message = "The SAML response is not a well-formed SAML 2.0 Response."


class SamlResponseTooLarge(SamlResponseError):
    error_type = "saml_response_too_large"
    default_message = "The SAML response is too large."


class MissingSamlSignature(SamlResponseError):
    error_type = "missing_signature_saml_response"
    default_message = "The SAML response is not signed: the Response or the Assertion must be."


class InvalidSamlSignature(SamlResponseError):
    """The signature does not verify, or it does not cover the element it sits in (signature
    wrapping)."""

    error_type = "invalid_signature_saml_response"
    default_message = "The SAML response's signature is invalid."


class SamlCertificateMismatch(SamlResponseError):
    """The signature does not verify with any of the connection's certificates, and the message
    names a different certificate: most often the IdP's certificate was rotated and the
    connection still has the old one."""

    error_type = "saml_certificate_mismatch"
    default_message = (
        "The SAML response was not signed with a certificate of this connection. "
        "Upload the identity provider's current signing certificate."
    )


class EncryptedSamlAssertionUnsupported(SamlResponseError):
    """The assertion is encrypted and the connection has no decryption key."""

    error_type = "encrypted_saml_assertion_not_supported"
    default_message = (
        "The SAML assertion is encrypted and this connection has no decryption key. Add an "
        "encryption private key to the connection, or turn off assertion encryption in the "
        "identity provider for this application."
    )


class InvalidSamlEncryption(SamlResponseError):
    """The encrypted assertion could not be decrypted, or (in an unsigned Response) what it
    decrypted to is not a signed assertion: whatever the reason, one error and one message
    (a padding or parsing oracle needs to tell failures apart)."""

    error_type = "invalid_encrypted_saml_assertion"
    default_message = (
        "The encrypted SAML assertion could not be decrypted and verified with this "
        "connection's keys and certificates."
    )


class FailedSamlResponse(SamlResponseError):
    """The IdP answered with a status other than Success (the user cancelled, is not assigned
    to the app, …). `details["status"]` is the top-level StatusCode if it is a SAML-defined one."""

    error_type = "failed_saml_response"
    default_message = "The identity provider did not authenticate the user."


class InvalidSamlIssuer(SamlResponseError):
    error_type = "invalid_issuer_saml_response"
    default_message = "The SAML response was issued by another identity provider."


class InvalidSamlAudience(SamlResponseError):
    error_type = "invalid_audience_saml_response"
    default_message = "The SAML assertion is not meant for this service provider (audience)."


class InvalidSamlRecipient(SamlResponseError):
    error_type = "invalid_recipient_saml_response"
    default_message = "The SAML assertion is meant for another endpoint (recipient)."


class InvalidSamlDestination(SamlResponseError):
    error_type = "invalid_destination_saml_response"
    default_message = "The SAML response was sent to another endpoint (destination)."


class InvalidSamlInResponseTo(SamlResponseError):
    """InResponseTo names another login than the one expected (or any login, when an
    IdP-initiated response was expected)."""

    error_type = "invalid_in_response_to_saml_response"
    default_message = "The SAML response answers another sign-in request."


class UnsolicitedSamlResponse(SamlResponseError):
    """A login was started here, but the response does not say it answers it (IdP-initiated)."""

    error_type = "unsolicited_saml_response"
    default_message = "The SAML response does not answer the sign-in request that was made."


class ExpiredSamlResponse(SamlResponseError):
    error_type = "expired_saml_response"
    default_message = "The SAML assertion has expired."


class NotYetValidSamlResponse(SamlResponseError):
    error_type = "not_yet_valid_saml_response"
    default_message = "The SAML assertion is not valid yet. Check the identity provider's clock."


class InvalidSamlSubjectConfirmation(SamlResponseError):
    error_type = "invalid_subject_confirmation_saml_response"
    default_message = "The SAML assertion has no usable bearer subject confirmation."


class SamlMetadataError(BadRequest):
    """IdP metadata that cannot be used (not XML, no IdP, no signing certificate, no
    HTTP-Redirect SingleSignOnService)."""

    error_type = "saml_connection_metadata_invalid_format"
    default_message = "The SAML metadata is not valid identity provider metadata."


class SamlMetadataUrlError(BadRequest):
    """The metadata URL was refused or could not be fetched. `details["reason"]` is one of
    `invalid_url`, `private_address`, `unresolvable`, `redirect`, `http_status`, `too_large`,
    `timeout`, `connection`."""

    error_type = "invalid_saml_metadata_url"
    default_message = "The SAML metadata URL could not be used."


class InvalidSamlMetadataXml(SamlMetadataError):
    """The document fetched from a metadata URL is not usable metadata."""

    error_type = "invalid_xml_from_saml_metadata_url"
    default_message = "The SAML metadata URL does not serve valid identity provider metadata."
