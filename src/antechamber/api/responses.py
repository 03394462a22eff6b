"""The documented shapes of `/v1/b2b` responses (stytch-b2b-api.md §2.2, §2.3, §2.10).

Documentation only: handlers build their answers with `api.serializers` and return a
`JSONResponse`, which FastAPI sends as it is, so declaring these models (`response_model=`)
changes no byte the SDKs receive. They are what the OpenAPI document promises, and the fuzzing
(`tests/security/test_fuzz_openapi.py`) and a walk through every flow
(`tests/security/test_documented_responses.py`) hold every answer to them. Every model forbids
unknown keys, so a key added to a serializer must be documented here too.

Required keys of Stytch's objects are present with their type (`""` rather than null where
Stytch has a string), hence no defaults below except in the error envelope's
`error_details`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Envelope(Shape):
    request_id: str
    status_code: int


class ErrorEnvelope(Envelope):
    """Every refusal, whatever the route: 4xx for the caller's requests, 5xx otherwise."""

    error_type: str
    error_message: str
    error_url: str
    error_details: dict[str, Any] | None = None


# --- Objects --------------------------------------------------------------------------------


class Organization(Shape):
    organization_id: str
    organization_name: str
    organization_logo_url: str
    organization_slug: str
    organization_external_id: str
    trusted_metadata: dict[str, Any]
    sso_jit_provisioning: str
    sso_jit_provisioning_allowed_connections: list[str]
    sso_active_connections: list[dict[str, Any]]
    sso_default_connection_id: str | None
    scim_active_connection: dict[str, Any] | None
    email_allowed_domains: list[str]
    email_jit_provisioning: str
    email_invites: str
    auth_methods: str
    allowed_auth_methods: list[str]
    mfa_policy: str
    mfa_methods: str
    allowed_mfa_methods: list[str]
    mfa_required_roles: list[str]
    rbac_email_implicit_role_assignments: list[dict[str, Any]]
    oauth_tenant_jit_provisioning: str
    allowed_oauth_tenants: dict[str, Any]
    claimed_email_domains: list[str]
    first_party_connected_apps_allowed_type: str
    allowed_first_party_connected_apps: list[str]
    third_party_connected_apps_allowed_type: str
    allowed_third_party_connected_apps: list[str]
    custom_roles: list[dict[str, Any]]
    created_at: str
    updated_at: str


class RoleSource(Shape):
    type: str
    details: dict[str, Any]


class MemberRole(Shape):
    role_id: str
    sources: list[RoleSource]


class Member(Shape):
    organization_id: str
    member_id: str
    email_address: str
    status: str
    name: str
    sso_registrations: list[dict[str, Any]]
    is_breakglass: bool
    member_password_id: str
    oauth_registrations: list[dict[str, Any]]
    email_address_verified: bool
    mfa_phone_number_verified: bool
    is_admin: bool
    totp_registration_id: str
    retired_email_addresses: list[dict[str, Any]]
    is_locked: bool
    lock_created_at: str | None
    lock_expires_at: str | None
    mfa_enrolled: bool
    mfa_phone_number: str
    default_mfa_method: str
    roles: list[MemberRole]
    trusted_metadata: dict[str, Any]
    untrusted_metadata: dict[str, Any]
    external_id: str
    created_at: str
    updated_at: str


class MemberSession(Shape):
    member_session_id: str
    member_id: str
    started_at: str
    last_accessed_at: str
    expires_at: str
    authentication_factors: list[dict[str, Any]]
    organization_id: str
    roles: list[str]
    organization_slug: str
    custom_claims: dict[str, Any]


class MemberOptions(Shape):
    mfa_phone_number: str
    totp_registration_id: str


class MfaRequired(Shape):
    member_options: MemberOptions | None
    secondary_auth_initiated: str | None


class PrimaryRequired(Shape):
    allowed_auth_methods: list[str]


class MembershipDetails(Shape):
    domain: str


class Membership(Shape):
    type: str
    details: MembershipDetails | None
    member: Member | None


class DiscoveredOrganization(Shape):
    member_authenticated: bool
    organization: Organization
    membership: Membership
    primary_required: PrimaryRequired | None
    mfa_required: MfaRequired | None


class ResultsMetadata(Shape):
    total: int
    next_cursor: str | None


class Jwk(Shape):
    alg: str
    kid: str
    kty: str
    use: str
    key_ops: list[str]
    n: str
    e: str
    x5c: list[str]
    x5tS256: str  # noqa: N815 - the JWK member name (RFC 7517)


# --- Responses, by route --------------------------------------------------------------------


class OrganizationResponse(Envelope):
    organization: Organization


class OrganizationSearchResponse(Envelope):
    organizations: list[Organization]
    results_metadata: ResultsMetadata


class OrganizationDeleteResponse(Envelope):
    organization_id: str


class MemberResponse(Envelope):
    member_id: str
    member: Member
    organization: Organization


class MemberSearchResponse(Envelope):
    members: list[Member]
    results_metadata: ResultsMetadata
    organizations: dict[str, Organization]


class MemberDeleteResponse(Envelope):
    member_id: str


class EmptyResponse(Envelope):
    """Sends and revocations answer with the envelope alone."""


class DiscoveryAuthenticateResponse(Envelope):
    intermediate_session_token: str
    intermediate_session_token_expires_at: str
    email_address: str
    discovered_organizations: list[DiscoveredOrganization]


class DiscoveryListResponse(Envelope):
    email_address: str
    discovered_organizations: list[DiscoveredOrganization]
    organization_id_hint: str | None


class AuthResultResponse(Envelope):
    """A session, or what the login still needs (`mfa_required`, `primary_required`)."""

    member_id: str
    member_authenticated: bool
    session_token: str
    session_jwt: str
    member_session: MemberSession | None
    intermediate_session_token: str
    intermediate_session_token_expires_at: str | None
    mfa_required: MfaRequired | None
    primary_required: PrimaryRequired | None
    member: Member
    organization: Organization


class SmsAuthenticateResponse(AuthResultResponse):
    """Stytch's SMS authenticate adds `member_device` (always null here)."""

    member_device: dict[str, Any] | None


class MagicLinkSendResponse(Envelope):
    """An organization login link or email code was sent (`member_created` says if the member
    is new)."""

    member_id: str
    member_created: bool
    member: Member
    organization: Organization


class MagicLinkAuthenticateResponse(SmsAuthenticateResponse):
    """`magic_links.authenticate`: the shared login shape plus the email's method id, the
    organization id and Stytch's deprecated `reset_sessions` (always false)."""

    method_id: str
    organization_id: str
    reset_sessions: bool


class EmailOtpAuthenticateResponse(SmsAuthenticateResponse):
    """`otps.email.authenticate`: the shared login shape plus the email's method id and the
    organization id."""

    method_id: str
    organization_id: str


class TotpCreateResponse(Envelope):
    """The secret, QR code and recovery codes are shown this once."""

    member_id: str
    totp_registration_id: str
    secret: str
    qr_code: str
    recovery_codes: list[str]
    member: Member
    organization: Organization


class TotpAuthenticateResponse(SmsAuthenticateResponse):
    """Same shape as SMS authenticate."""


class RecoveryCodeRecoverResponse(SmsAuthenticateResponse):
    recovery_codes_remaining: int


class RecoveryCodesResponse(Envelope):
    """Rotate's answer (the new codes, shown once); `get` has the same shape in Stytch but is
    refused here (codes are stored hashed)."""

    member_id: str
    member: Member
    organization: Organization
    recovery_codes: list[str]


class SessionAuthenticateResponse(Envelope):
    member_session: MemberSession
    session_token: str
    session_jwt: str
    member: Member
    organization: Organization
    verdict: dict[str, Any] | None


class SessionListResponse(Envelope):
    member_sessions: list[MemberSession]


class JwksResponse(Envelope):
    keys: list[Jwk]


# --- OpenAPI links: where an answer's ids lead (schemathesis follows them statefully) --------


def _link(path: str, method: str, **parameters: str) -> dict[str, Any]:
    pointer = path.replace("~", "~0").replace("/", "~1")
    return {"operationRef": f"#/paths/{pointer}/{method}", "parameters": parameters}


_ORG = "/v1/b2b/organizations/{organization_id}"
_MEMBER = "/v1/b2b/organizations/{organization_id}/members/{member_id}"
_ORG_ID = "$response.body#/organization/organization_id"
_MEMBER_ORG_ID = "$response.body#/member/organization_id"
_MEMBER_ID = "$response.body#/member_id"

ORGANIZATION_LINKS: dict[int | str, dict[str, Any]] = {
    200: {
        "links": {
            "GetOrganization": _link(_ORG, "get", organization_id=_ORG_ID),
            "UpdateOrganization": _link(_ORG, "put", organization_id=_ORG_ID),
            "DeleteOrganization": _link(_ORG, "delete", organization_id=_ORG_ID),
            "CreateMember": _link(f"{_ORG}/members", "post", organization_id=_ORG_ID),
        }
    }
}
MEMBER_LINKS: dict[int | str, dict[str, Any]] = {
    200: {
        "links": {
            "GetMember": _link(
                f"{_ORG}/member", "get", organization_id=_MEMBER_ORG_ID, member_id=_MEMBER_ID
            ),
            "UpdateMember": _link(
                _MEMBER, "put", organization_id=_MEMBER_ORG_ID, member_id=_MEMBER_ID
            ),
            "DeleteMember": _link(
                _MEMBER, "delete", organization_id=_MEMBER_ORG_ID, member_id=_MEMBER_ID
            ),
            "ListSessions": _link(
                "/v1/b2b/sessions", "get", organization_id=_MEMBER_ORG_ID, member_id=_MEMBER_ID
            ),
        }
    }
}

#: Added to every `/v1/b2b` operation by `api.install`: refusals come from one place
#: (`api.errors`, `api.guard`), in one envelope, whatever the route.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorEnvelope, "description": "Refused: Stytch's error envelope."},
    "5XX": {"model": ErrorEnvelope, "description": "Failed or unavailable; the same envelope."},
}
