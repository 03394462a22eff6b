from antechamber.errors import BadRequest, NotFound, Unauthorized


class ActiveTotpExists(BadRequest):
    error_type = "active_totp_exists"
    default_message = (
        "Cannot create a new TOTP for the member since the member already has an active TOTP. "
        "Members may only have one active TOTP at a time; delete it first."
    )


class TotpNotFound(NotFound):
    """No registration the call could use: none, or a pending one that expired."""

    error_type = "totp_not_found"
    default_message = "The member has no usable TOTP registration."


class UnableToAuthenticateTotp(Unauthorized):
    """A wrong TOTP code (counted towards the member's lock)."""

    error_type = "unable_to_authenticate_totp"
    default_message = "The TOTP code could not be authenticated."


class TotpCodeAlreadyAuthenticated(BadRequest):
    """A right code for a time step already used (RFC 6238 §5.2: accept a code once)."""

    error_type = "totp_code_already_authenticated"
    default_message = (
        "This TOTP code was already used. Wait for the authenticator app to show the next one."
    )


class RecoveryCodeUsedAsTotpCode(BadRequest):
    error_type = "recovery_code_used_as_totp_code"
    default_message = (
        "A recovery code was sent as a TOTP code; use recovery_codes/recover for recovery codes."
    )


class TotpCodeUsedAsRecoveryCode(BadRequest):
    error_type = "totp_code_used_as_recovery_code"
    default_message = (
        "A TOTP code was sent as a recovery code; use totp/authenticate for TOTP codes."
    )


class UnableToAuthenticateRecoveryCode(Unauthorized):
    """A wrong, used or rotated recovery code (counted towards the member's lock)."""

    error_type = "unable_to_authenticate_recovery_code"
    default_message = "The recovery code could not be authenticated: it is wrong or was used."


class NoActiveRecoveryCodeBackedFactor(BadRequest):
    error_type = "no_active_recovery_code_backed_factor"
    default_message = "The member has no active TOTP registration, so no recovery codes."


class RecoveryCodesNotRetrievable(BadRequest):
    """Ours: recovery codes are stored hashed, so they cannot be shown again."""

    error_type = "recovery_codes_not_retrievable"
    default_message = (
        "Recovery codes are shown once, when the TOTP registration is created or the codes are "
        "rotated; they are stored hashed and cannot be retrieved. Rotate them "
        "(recovery_codes/rotate) to get a new set."
    )


class TotpEnrollmentRequiresMfa(BadRequest):
    """Ours: enrolling another factor needs a session that passed MFA (enrolment hijack)."""

    error_type = "totp_enrollment_requires_mfa"
    default_message = (
        "The member already has an MFA factor: create the TOTP registration with a session "
        "that passed MFA, not with an intermediate session token."
    )


class InvalidTotpExpiration(BadRequest):
    error_type = "invalid_expiration"
    default_message = "expiration_minutes must be between 5 and 1440."


class InvalidTotpCode(BadRequest):
    error_type = "invalid_code"
    default_message = "The TOTP code must be 6 digits."
