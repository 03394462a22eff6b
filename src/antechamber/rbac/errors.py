"""RBAC refusals. Stytch's `error_type` strings where Stytch has one (stytch-b2b-api-more.md §5)."""

from antechamber.errors import BadRequest, Conflict, Forbidden


class InvalidPolicy(BadRequest):
    """A policy or an organization's roles that break a rule (the message says which)."""

    error_type = "invalid_rbac_policy"
    default_message = "The RBAC policy is invalid."


class InvalidStytchPrefixedResource(InvalidPolicy):
    error_type = "invalid_stytch_prefixed_resource"
    default_message = (
        "A custom resource_id may not start with 'stytch'; the stytch.* resources are "
        "Stytch's and cannot be redefined."
    )


class InvalidRoleId(BadRequest):
    """A role that neither the project's policy nor the organization's roles define."""

    error_type = "invalid_rbac_role_id"
    default_message = "Unknown role: the project's policy and the organization define no such role."


class CannotAssignDefaultRole(BadRequest):
    error_type = "cannot_assign_default_rbac_role_id"
    default_message = "stytch_member is held by every member; it is not assigned."


class SessionAuthorizationError(Forbidden):
    """The member's roles do not grant the permission (403, as Stytch)."""

    error_type = "session_authorization_error"
    default_message = "The member's roles do not grant permission for this action."


class SessionAuthorizationTenancyError(SessionAuthorizationError):
    """A member acting on, or checked against, an organization that is not theirs."""

    error_type = "session_authorization_tenancy_error"
    default_message = "The member's session belongs to another organization."


class UnauthorizedRoleAssignment(SessionAuthorizationError):
    """A member granting or taking away a role with permissions it does not hold itself."""

    error_type = "invalid_rbac_role_assignment"
    default_message = (
        "A member may assign or remove only roles whose every permission it holds itself."
    )


class FieldNotAllowedWithMemberSession(SessionAuthorizationError):
    """A field only the application's backend may set (trusted metadata and the like)."""

    error_type = "unauthorized_action"
    default_message = "This field cannot be changed with a member's session."


class CannotUpdateTrustedMetadata(FieldNotAllowedWithMemberSession):
    error_type = "cannot_update_trusted_metadata"
    default_message = "trusted_metadata cannot be changed with a member's session."


class MemberCannotUpdateOwnEmail(SessionAuthorizationError):
    error_type = "member_cannot_update_their_email_address"
    default_message = "Members cannot update their own email address."


class LastRoleManager(Conflict):
    """The change would leave the organization with nobody who can manage roles."""

    error_type = "last_role_manager"
    default_message = (
        "This would leave the organization without any member who can manage roles "
        "(stytch.member: update.settings.roles). Give that permission to another member first."
    )
