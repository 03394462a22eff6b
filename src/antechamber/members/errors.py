from antechamber.errors import BadRequest, Conflict, NotFound


class MemberNotFound(NotFound):
    error_type = "member_not_found"
    default_message = "Member could not be found."


class DuplicateMemberEmail(Conflict):
    error_type = "duplicate_member_email"
    default_message = "A member with this email address already exists in the organization."


class DuplicateMemberPhoneNumber(Conflict):
    error_type = "duplicate_member_phone_number"
    default_message = "Another member of the organization uses this phone number."


class DuplicateMemberExternalId(Conflict):
    error_type = "duplicate_member_external_id"
    default_message = "Another member of the organization uses this external id."


class InvalidMemberGetFields(BadRequest):
    error_type = "invalid_member_get_fields"
    default_message = "Give exactly one of member_id and email_address."


class InvalidRole(BadRequest):
    error_type = "invalid_rbac_role_id"
    default_message = "Unknown role. Roles are stytch_member and stytch_admin."


class InvalidDefaultMfaMethod(BadRequest):
    error_type = "invalid_mfa_default_method"
    default_message = "default_mfa_method must be sms_otp or totp."


class DefaultMfaMissingFactor(BadRequest):
    error_type = "default_mfa_member_missing_factor"
    default_message = "The member has no such MFA factor to make the default."


class MfaEnrollmentRequired(BadRequest):
    """Opting out of MFA where the organization requires it of this member."""

    error_type = "mfa_enrollment_required_by_policy"
    default_message = "The organization requires MFA of this member, so MFA cannot be turned off."


class InvalidMemberSearch(BadRequest):
    error_type = "member_search_filter_name_not_recognized"
    default_message = "The search query names a filter this server does not know."


class MemberSearchOrganizationIdsEmpty(BadRequest):
    error_type = "member_search_organization_ids_empty"
    default_message = "organization_ids must name at least one organization."
