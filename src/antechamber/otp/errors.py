from antechamber.errors import BadRequest, NotFound, Unauthorized


class OtpCodeNotFound(NotFound):
    """A wrong code (Stytch answers 404 for it)."""

    error_type = "otp_code_not_found"
    default_message = "The passcode is incorrect."


class UnableToAuthOtpCode(Unauthorized):
    error_type = "unable_to_auth_otp_code"
    default_message = (
        "The passcode could not be authenticated because it was either already used or "
        "expired. Send another passcode to this user."
    )


class MemberLocked(Unauthorized):
    error_type = "member_locked"
    default_message = "Too many failed attempts; this member is locked for a while."


class InvalidCodeFormat(BadRequest):
    error_type = "invalid_code"
    default_message = "The code must be 6 digits."


class MfaPhoneNumberMismatch(BadRequest):
    """A send names a number other than the member's (see docs/mfa.md for the rule)."""

    error_type = "mfa_phone_number_mismatch"
    default_message = (
        "The member already has a verified phone number and mfa_phone_number differs from it. "
        "Delete the member's MFA phone number first to enrol another one."
    )


class MfaPhoneNumberRequired(BadRequest):
    error_type = "invalid_phone_number"
    default_message = (
        "The member has no phone number yet: give mfa_phone_number in E.164, for example "
        "+12025550123."
    )


class MemberPhoneNumberNotFound(NotFound):
    error_type = "member_phone_number_not_found"
    default_message = "The member has no MFA phone number."


class OperationRestrictedByMfaMethods(BadRequest):
    error_type = "operation_restricted_by_organization_mfa_methods"
    default_message = "The organization's allowed_mfa_methods do not include sms_otp."


class ActionAvailableOnlyForActiveMembers(BadRequest):
    error_type = "action_available_only_for_active_members"
    default_message = (
        "You may not attach an MFA factor to a member that is not active. A pending or invited "
        "member can get a code while logging in: pass the login's intermediate_session_token."
    )


class PrimaryAuthenticationNotMet(BadRequest):
    error_type = "action_available_only_once_primary_authentication_is_met"
    default_message = (
        "You must complete the primary authentication requirements for an organization before "
        "completing an MFA flow."
    )


class InvalidSessionForMember(BadRequest):
    """A session passed along belongs to another member or organization."""

    error_type = "invalid_session_for_member"
    default_message = "The session belongs to another member or organization."


class InvalidSmsLocale(BadRequest):
    error_type = "invalid_locale"
    default_message = "locale must be one of en, es, pt-br, fr."


class InvalidMfaEnrollment(BadRequest):
    error_type = "invalid_argument"
    default_message = "set_mfa_enrollment must be enroll or unenroll."
