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
