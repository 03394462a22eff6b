"""Errors of invitations, organization login links and email one-time codes."""

from antechamber.errors import BadRequest, NotFound, Unauthorized


class InvalidEmailForInvites(BadRequest):
    """The organization's `email_invites` refuses this address (RESTRICTED to its
    `email_allowed_domains`, or NOT_ALLOWED at all). Stytch's `invalid_email_for_invites`."""

    error_type = "invalid_email_for_invites"
    default_message = (
        "The organization's email_invites setting does not allow inviting this email address."
    )


class InviterNotFound(NotFound):
    error_type = "member_not_found"
    default_message = "invited_by_member_id is not a member of this organization."


class OperationRestrictedByAuthMethods(BadRequest):
    error_type = "operation_restricted_by_organization_auth_methods"
    default_message = (
        "The organization's allowed_auth_methods do not include this way of signing in."
    )


class InvalidOtpExpiration(BadRequest):
    error_type = "invalid_expiration"
    default_message = "Email code expirations must be between 2 and 15 minutes."


class InviteRevoked(Unauthorized):
    """The link's member is gone (deleted, so the invitation was revoked) or changed."""

    error_type = "unable_to_auth_magic_link"
    default_message = (
        "The magic link could not be authenticated because the invitation or login it was "
        "sent for was revoked."
    )


class MemberNotInvited(BadRequest):
    """Resending or revoking an invitation of a member who is not `invited`."""

    error_type = "member_not_invited"
    default_message = (
        "This member has no open invitation (their status is not invited); delete the member "
        "instead to remove them."
    )
