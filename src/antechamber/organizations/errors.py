from antechamber.errors import BadRequest, Conflict, NotFound


class OrganizationNotFound(NotFound):
    error_type = "organization_not_found"
    default_message = "Organization could not be found."


class InvalidOrganizationName(BadRequest):
    error_type = "invalid_organization_name"
    default_message = "organization_name must be 1 to 128 characters."


class InvalidOrganizationSlug(BadRequest):
    error_type = "invalid_organization_slug"
    default_message = (
        "The organization_slug must be at least 2 characters long and may only contain "
        "alphanumerics and the reserved characters '-', '.', '_', or '~'. At least one "
        "character must be alphanumeric."
    )


class SlugAlreadyUsed(Conflict):
    error_type = "organization_slug_already_used"
    default_message = "Another organization in this project already uses that slug."


class ExternalIdAlreadyUsed(Conflict):
    error_type = "organization_external_id_already_used"
    default_message = "Another organization in this project already uses that external id."


class InvalidSetting(BadRequest):
    """An organization setting with a value outside its enumeration."""

    error_type = "invalid_organization_setting"


class InvalidMfaPolicy(InvalidSetting):
    error_type = "invalid_organization_mfa_policy"
    default_message = "mfa_policy must be OPTIONAL or REQUIRED_FOR_ALL."


class InvalidRestrictedEmailSetting(BadRequest):
    error_type = "invalid_restricted_email_setting"
    default_message = (
        "email_jit_provisioning or email_invites is RESTRICTED, which needs at least one "
        "domain in email_allowed_domains."
    )


class AllowedAuthMethodsRequired(BadRequest):
    error_type = "allowed_auth_methods_required_for_restricted"
    default_message = "auth_methods RESTRICTED needs a non-empty allowed_auth_methods."


class AllowedMfaMethodsRequired(BadRequest):
    error_type = "allowed_mfa_methods_required_for_restricted"
    default_message = "mfa_methods RESTRICTED needs a non-empty allowed_mfa_methods."


class InvalidLogoUrl(BadRequest):
    error_type = "organization_logo_url_too_long"
    default_message = "organization_logo_url must be an http(s) URL of at most 2048 characters."


class InvalidExternalId(BadRequest):
    error_type = "invalid_external_id"
    default_message = "An external id is at most 128 of: letters, digits, '.', '_', '-', '|'."


class InvalidSearchQuery(BadRequest):
    error_type = "organization_search_filter_name_not_recognized"
    default_message = "The search query names a filter this server does not know."
