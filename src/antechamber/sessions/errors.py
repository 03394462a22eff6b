from antechamber.errors import BadRequest, NotFound


class SessionNotFound(NotFound):
    """Unknown, revoked or expired session token, id or JWT session (one answer for all)."""

    error_type = "session_not_found"
    default_message = "Session could not be found."


class IntermediateSessionNotFound(NotFound):
    """Unknown, consumed or expired intermediate session token (one answer for all)."""

    error_type = "intermediate_session_not_found"
    default_message = (
        "Intermediate session could not be found. It may have been used or expired; "
        "authenticate again."
    )


class InvalidIntermediateSessionForOrganization(BadRequest):
    error_type = "invalid_intermediate_session_token_for_organization"
    default_message = (
        "The intermediate session token is bound to another organization or member; it can "
        "only finish the login it was issued for."
    )


class NoSessionArguments(BadRequest):
    error_type = "no_session_arguments"
    default_message = "Give one of session_token and session_jwt."


class TooManySessionArguments(BadRequest):
    error_type = "too_many_session_arguments"
    default_message = "Give only one of session_token and session_jwt."


class NoSessionRevokeArguments(BadRequest):
    error_type = "no_session_revoke_arguments"
    default_message = "Give one of member_session_id, session_token, session_jwt and member_id."


class TooManySessionRevokeArguments(BadRequest):
    error_type = "too_many_session_revoke_arguments"
    default_message = (
        "Give only one of member_session_id, session_token, session_jwt and member_id."
    )


class InvalidSessionDuration(BadRequest):
    error_type = "invalid_session_duration"
    default_message = "session_duration_minutes must be between 5 and 527040 (366 days)."


class InsufficientFactors(BadRequest):
    """A session was asked for without the factors the organization requires (a bug guard)."""

    error_type = "insufficient_factors"
    default_message = "The factors presented do not satisfy the organization's requirements."
