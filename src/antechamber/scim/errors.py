"""SCIM refusals: the connection management ones (Stytch's `error_type` strings, rendered in
Stytch's envelope by the API face) and the SCIM protocol ones, which carry the RFC 7644 §3.12
`scimType` the provider face (`scim_provider`) puts in a SCIM error body."""

from __future__ import annotations

from typing import ClassVar

from antechamber.errors import (
    AntechamberError,
    BadRequest,
    Conflict,
    NotFound,
    TooManyRequests,
    Unauthorized,
)

# --- Connection management (Stytch API) --------------------------------------------------


class ActiveScimConnectionExists(BadRequest):
    error_type = "active_scim_connection_exists"
    default_message = "This organization already has a SCIM connection; delete it first."


class ScimConnectionNotFound(NotFound):
    error_type = "scim_connection_not_found"
    default_message = "No SCIM connection with this id in this organization."


class InvalidScimIdp(BadRequest):
    error_type = "invalid_scim_idp"
    default_message = (
        "identity_provider must be one of generic, okta, microsoft-entra, cyberark, jumpcloud, "
        "onelogin, pingfederate, rippling."
    )


class InvalidScimDisplayName(BadRequest):
    error_type = "invalid_scim_display_name"
    default_message = "display_name must be at most 256 characters."


class ScimConnectionNotRotatingToken(BadRequest):
    error_type = "scim_connection_not_rotating_token"
    default_message = "No token rotation is in progress; start one first."


class ScimGroupRoleAssignmentMissingGroupId(BadRequest):
    error_type = "scim_group_role_assignment_does_not_contain_group_id"
    default_message = "Each SCIM group role assignment needs a group_id and a role_id."


class ScimGroupRoleAssignmentGroupDoesNotExist(BadRequest):
    error_type = "scim_group_role_assignment_group_does_not_exist"
    default_message = "A SCIM group role assignment names a group this connection does not have."


class ScimGroupRoleAssignmentInvalidRole(BadRequest):
    error_type = "invalid_role"
    default_message = "A SCIM group role assignment names a role that does not exist."


class MemberDeactivated(Unauthorized):
    """A login into an organization whose directory deactivated the member."""

    error_type = "member_deactivated"
    default_message = "This member was deactivated by the organization's directory."


# --- SCIM protocol (RFC 7644 §3.12) ------------------------------------------------------


class ScimError(AntechamberError):
    """A refusal of the SCIM provider; `scim_type` is RFC 7644's `scimType` ("" for none)."""

    scim_type: ClassVar[str] = ""


class ScimUnauthorized(ScimError):
    status_code = 401
    error_type = "scim_unauthorized"
    default_message = "Send this connection's bearer token in the Authorization header."


class ScimNotFound(ScimError):
    status_code = 404
    error_type = "scim_not_found"
    default_message = "Resource not found."


class ScimInvalidFilter(ScimError):
    status_code = 400
    scim_type = "invalidFilter"
    error_type = "scim_invalid_filter"
    default_message = "The filter is not valid or not supported."


class ScimInvalidSyntax(ScimError):
    status_code = 400
    scim_type = "invalidSyntax"
    error_type = "scim_invalid_syntax"
    default_message = "The request body is not a valid SCIM message."


class ScimInvalidValue(ScimError):
    status_code = 400
    scim_type = "invalidValue"
    error_type = "scim_invalid_value"
    default_message = "A value in the request is missing or not valid."


class ScimInvalidPath(ScimError):
    status_code = 400
    scim_type = "invalidPath"
    error_type = "scim_invalid_path"
    default_message = "The PATCH path is not valid."


class ScimNoTarget(ScimError):
    status_code = 400
    scim_type = "noTarget"
    error_type = "scim_no_target"
    default_message = "The PATCH path matched nothing."


class ScimMutability(ScimError):
    status_code = 400
    scim_type = "mutability"
    error_type = "scim_mutability"
    default_message = "The request changes an attribute that cannot be changed."


class ScimUniqueness(ScimError, Conflict):
    status_code = 409
    scim_type = "uniqueness"
    error_type = "scim_uniqueness"
    default_message = "A resource with this value already exists."


class ScimTooLarge(ScimError):
    status_code = 413
    scim_type = "tooLarge"
    error_type = "scim_too_large"
    default_message = "The request body is too large."


class ScimTooDeep(ScimError):
    status_code = 400
    scim_type = "invalidSyntax"
    error_type = "scim_too_deep"
    default_message = "The request body nests too deeply."


class ScimUnsupportedMediaType(ScimError):
    status_code = 415
    error_type = "scim_unsupported_media_type"
    default_message = "Send the request body as application/scim+json or application/json."


class ScimMethodNotAllowed(ScimError):
    status_code = 405
    error_type = "scim_method_not_allowed"
    default_message = "This method is not allowed on this endpoint."


class ScimNotImplemented(ScimError):
    status_code = 501
    error_type = "scim_not_implemented"
    default_message = "This SCIM feature is not implemented (see /ServiceProviderConfig)."


class ScimTooManyRequests(ScimError, TooManyRequests):
    status_code = 429
    error_type = "scim_too_many_requests"
    default_message = "Too many requests on this SCIM connection; slow down."
