"""SSO refusals, with Stytch's `error_type` names (stytch-b2b-api-more.md §3.6, §3.7, §3.10)."""

from __future__ import annotations

from antechamber.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized

# --- connections ---------------------------------------------------------------------------


class SsoConnectionNotFound(NotFound):
    error_type = "sso_connection_not_found"
    default_message = "The organization has no such SSO connection."


class SamlConnectionNotFound(NotFound):
    error_type = "saml_connection_not_found"
    default_message = "The organization has no such SAML connection."


class OidcConnectionNotFound(NotFound):
    error_type = "oidc_connection_not_found"
    default_message = "The organization has no such OIDC connection."


class TooManySsoConnections(BadRequest):
    error_type = "too_many_sso_connections"
    default_message = "An organization has at most 50 SSO connections."


class InvalidSsoIdp(BadRequest):
    error_type = "invalid_sso_idp"
    default_message = "identity_provider is not one of the known identity providers."


class InvalidX509Certificate(BadRequest):
    error_type = "invalid_x509_certificate"
    default_message = "x509_certificate must be one PEM-encoded X.509 certificate."


class TooManyVerificationCertificates(BadRequest):
    error_type = "too_many_sso_verification_certificates"
    default_message = "A SAML connection holds at most 5 verification certificates."


class CannotDeleteLastVerificationKey(BadRequest):
    error_type = "cannot_delete_last_sso_verification_key"
    default_message = "An active SAML connection keeps at least one verification certificate."


class VerificationKeyNotFound(NotFound):
    error_type = "sso_verification_key_not_found"
    default_message = "The connection has no such verification certificate."


class EncryptionKeyNotFound(NotFound):
    error_type = "sso_encryption_key_not_found"
    default_message = "The connection has no such encryption private key."


class InvalidIdpEntityId(BadRequest):
    error_type = "invalid_idp_entity_id"
    default_message = "idp_entity_id must be a URI of at most 1024 characters."


class InvalidIdpSsoUrl(BadRequest):
    error_type = "saml_connection_idp_sso_url_invalid_format"
    default_message = "idp_sso_url must be an absolute https URL."


class InvalidAttributeMapping(BadRequest):
    error_type = "saml_connection_attribute_mapping_required"
    default_message = (
        "attribute_mapping maps names to strings and needs email, and full_name or first_name "
        "and last_name."
    )


class NestedAttributeMapping(BadRequest):
    error_type = "saml_connection_no_nested_keys_in_attribute_mapping"
    default_message = "attribute_mapping values must be strings."


class GroupsKeyRequired(BadRequest):
    error_type = "saml_connection_attribute_mapping_missing_groups_key"
    default_message = "Group role assignments need a groups key in attribute_mapping."


class InvalidPrivateKey(BadRequest):
    error_type = "saml_signing_private_key_invalid"
    default_message = "The key must be a PKCS#1 RSA private key (-----BEGIN RSA PRIVATE KEY-----)."


class PrivateKeyFormatNotSupported(BadRequest):
    error_type = "saml_signing_private_key_format_not_supported"
    default_message = (
        "Only PKCS#1 RSA private keys (-----BEGIN RSA PRIVATE KEY-----) are supported."
    )


class InvalidRoleAssignments(BadRequest):
    error_type = "invalid_rbac_role_id"
    default_message = "Role assignments are lists of {role_id} (and group for group assignments)."


class InvalidSamlMetadataUrl(BadRequest):
    error_type = "invalid_saml_metadata_url"
    default_message = "metadata_url must be an https (or allowed http) URL that can be fetched."


class InvalidSamlMetadata(BadRequest):
    error_type = "saml_connection_metadata_invalid_format"
    default_message = "The identity provider's metadata could not be read."


class InvalidOidcUrl(BadRequest):
    error_type = "oidc_connection_url_invalid_format"
    default_message = "OIDC URLs must be absolute https URLs."


class ClientSecretTooLong(BadRequest):
    error_type = "client_secret_too_long"
    default_message = "client_secret is at most 1024 characters."


class InvalidSsoDefaultConnection(BadRequest):
    error_type = "invalid_sso_default_connection_id"
    default_message = "sso_default_connection_id must name an SSO connection of the organization."


class InvalidRestrictedSsoSetting(BadRequest):
    error_type = "invalid_restricted_sso_setting"
    default_message = (
        "sso_jit_provisioning RESTRICTED needs sso_jit_provisioning_allowed_connections, each a "
        "connection of the organization."
    )


# --- the browser flow ----------------------------------------------------------------------


class PublicTokenRequired(BadRequest):
    error_type = "public_token_required"
    default_message = "public_token is required."


class PublicTokenNotFound(NotFound):
    error_type = "public_token_not_found"
    default_message = "No project has this public token."


class MissingConnectionLocator(BadRequest):
    error_type = "missing_sso_connection_locator"
    default_message = "Give connection_id or organization_id."


class TooManyConnectionLocators(BadRequest):
    error_type = "too_many_sso_connection_locators"
    default_message = "Give connection_id or organization_id, not both."


class IndeterminateConnection(BadRequest):
    error_type = "indeterminate_sso_connection_for_organization"
    default_message = (
        "The organization has several active SSO connections and no default one; give "
        "connection_id."
    )


class NoConnectionForOrganization(BadRequest):
    error_type = "no_sso_connection_exists_for_organization"
    default_message = "The organization has no active SSO connection."


class RequiresActiveConnection(BadRequest):
    error_type = "requires_active_sso_connection"
    default_message = "The SSO connection is not active yet: finish its setup first."


class InvalidLoginSsoUrl(BadRequest):
    error_type = "invalid_login_sso_url"
    default_message = "login_redirect_url is not a valid URL."


class InvalidSignupSsoUrl(BadRequest):
    error_type = "invalid_signup_sso_url"
    default_message = "signup_redirect_url is not a valid URL."


class NoMatchForSsoUrl(BadRequest):
    error_type = "no_match_for_provided_sso_url"
    default_message = "The redirect URL is not one of the project's registered redirect URLs."


class NoRedirectUrlSet(BadRequest):
    error_type = "no_login_redirect_urls_set"
    default_message = (
        "No redirect URL was given and the project has no default login/signup redirect URL. "
        "Register one with: antechamber redirect-urls add URL --type login (and signup)"
    )


class InvalidPkceCodeChallenge(BadRequest):
    error_type = "invalid_pkce_code_challenge"
    default_message = "pkce_code_challenge must be a base64url SHA-256 (43 characters)."


class SsoLoginNotFound(BadRequest):
    """The identity provider answered for a login this server did not start, or one already
    finished or expired (unknown or replayed state / RelayState)."""

    error_type = "unsolicited_oidc_response"
    default_message = "This sign-in was not started here, or has expired. Start again."


class UnsolicitedSamlResponse(SsoLoginNotFound):
    error_type = "unsolicited_saml_response"


class CsrfCookieMismatch(BadRequest):
    error_type = "oidc_csrf_cookie_mismatch"
    default_message = "This sign-in was started in another browser. Start again."


class MissingState(BadRequest):
    error_type = "missing_oidc_state_param"
    default_message = "The identity provider's answer has no state."


class OidcAuthCodeError(BadRequest):
    error_type = "oidc_auth_code_error"
    default_message = "The identity provider refused to exchange the authorization code."


class IdTokenInvalid(Unauthorized):
    error_type = "id_token_invalid"
    default_message = "The identity provider's ID token is not valid."


class IdTokenExpired(IdTokenInvalid):
    error_type = "id_token_expired"
    default_message = "The identity provider's ID token has expired."


class IdTokenIncorrectAudience(IdTokenInvalid):
    error_type = "id_token_incorrect_audience"
    default_message = "The ID token was not issued for this connection's client."


class IdTokenNonceInvalid(IdTokenInvalid):
    error_type = "id_token_nonce_invalid"
    default_message = "The ID token does not answer this sign-in (nonce)."


class IdTokenIssuerInvalid(IdTokenInvalid):
    error_type = "id_token_issuer_invalid"
    default_message = "The ID token was not issued by this connection's issuer."


class EmailMissing(BadRequest):
    error_type = "oidc_response_email_missing"
    default_message = "The identity provider did not send an email address."


class SubjectMissing(BadRequest):
    error_type = "oidc_response_subject_missing"
    default_message = "The identity provider did not send a subject."


class SubjectMismatch(BadRequest):
    error_type = "oidc_response_subject_mismatch"
    default_message = "The user info answer is about someone else than the ID token."


class IdentityProviderUnavailable(BadRequest):
    error_type = "identity_provider_unavailable"
    default_message = "The identity provider could not be reached. Try again shortly."


class SamlResponseInvalid(Unauthorized):
    """A SAML response the protocol library refused; `error_type` carries its reason."""

    error_type = "failed_saml_response"
    default_message = "The identity provider's SAML response was refused."


class DuplicateSamlResponse(Unauthorized):
    error_type = "duplicate_saml_response"
    default_message = "This SAML assertion has already been used."


# --- sso/authenticate ----------------------------------------------------------------------


class SsoTokenNotFound(NotFound):
    error_type = "sso_token_not_found"
    default_message = "The SSO token is unknown, used or expired."


class InvalidConnectionForJit(Forbidden):
    error_type = "invalid_connection_for_jit_provisioning"
    default_message = (
        "The organization does not let this connection create members; ask an admin to add you."
    )


class UnverifiedEmail(Forbidden):
    error_type = "oidc_response_unverified_email"
    default_message = (
        "The identity provider says this email address is not verified, so it cannot create a "
        "member."
    )


class EmailNotInVerifiedDomains(Forbidden):
    error_type = "invalid_email_for_jit_provisioning"
    default_message = (
        "The email's domain is not one of the organization's allowed domains, so the identity "
        "provider cannot create a member with it."
    )


class MemberInactive(Forbidden):
    error_type = "member_inactive"
    default_message = "This member has been deactivated."


class AuthMethodNotAllowed(Forbidden):
    error_type = "operation_restricted_by_organization_auth_methods"
    default_message = "The organization does not allow sign-in by SSO."


class SsoRegistrationConflict(Conflict):
    error_type = "sso_registration_conflict"
    default_message = "Another member already holds this identity at this connection."


class ConnectionCheckFailed(BadRequest):
    """`antechamber sso test`: at least one check failed (each is listed above the error)."""

    error_type = "sso_connection_check_failed"
    default_message = "The connection is not ready: see the failed checks."
