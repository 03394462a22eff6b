"""Request bodies of the Stytch-compatible API.

Unknown keys are ignored (the Python SDK repeats path parameters in bodies). Types are checked
here; meaning (enumerations, formats, combinations) is checked by the domain.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore")

    def fields(self) -> dict[str, Any]:
        """Only what the caller sent (an omitted field is not a field set to its default)."""
        return self.model_dump(exclude_unset=True)


class OrganizationSettings(Body):
    organization_name: str | None = None
    organization_slug: str | None = None
    organization_logo_url: str | None = None
    organization_external_id: str | None = None
    trusted_metadata: dict[str, Any] | None = None
    sso_jit_provisioning: str | None = None
    sso_jit_provisioning_allowed_connections: list[str] | None = None
    sso_default_connection_id: str | None = None
    email_allowed_domains: list[str] | None = None
    email_jit_provisioning: str | None = None
    email_invites: str | None = None
    auth_methods: str | None = None
    allowed_auth_methods: list[str] | None = None
    mfa_policy: str | None = None
    mfa_methods: str | None = None
    allowed_mfa_methods: list[str] | None = None
    mfa_required_roles: list[str] | None = None
    rbac_email_implicit_role_assignments: list[dict[str, Any]] | None = None
    oauth_tenant_jit_provisioning: str | None = None
    allowed_oauth_tenants: dict[str, Any] | None = None
    claimed_email_domains: list[str] | None = None
    first_party_connected_apps_allowed_type: str | None = None
    allowed_first_party_connected_apps: list[str] | None = None
    third_party_connected_apps_allowed_type: str | None = None
    allowed_third_party_connected_apps: list[str] | None = None


class SearchQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    operator: str = "AND"
    operands: list[dict[str, Any]] = []


class OrganizationSearch(Body):
    cursor: str | None = None
    limit: int | None = None
    query: SearchQuery | None = None


class MemberFields(Body):
    email_address: str | None = None
    name: str | None = None
    trusted_metadata: dict[str, Any] | None = None
    untrusted_metadata: dict[str, Any] | None = None
    create_member_as_pending: bool | None = None
    is_breakglass: bool | None = None
    mfa_phone_number: str | None = None
    mfa_enrolled: bool | None = None
    roles: list[str] | None = None
    external_id: str | None = None
    default_mfa_method: str | None = None
    preserve_existing_sessions: bool | None = None


class MemberSearch(Body):
    organization_ids: list[str]
    cursor: str | None = None
    limit: int | None = None
    query: SearchQuery | None = None


class DiscoverySend(Body):
    email_address: str
    discovery_redirect_url: str | None = None
    pkce_code_challenge: str | None = None
    login_template_id: str | None = None
    locale: str | None = None
    discovery_expiration_minutes: int | None = None


class DiscoveryAuthenticate(Body):
    discovery_magic_links_token: str
    pkce_code_verifier: str | None = None


class DiscoveryList(Body):
    intermediate_session_token: str | None = None
    session_token: str | None = None
    session_jwt: str | None = None


class SessionFields(Body):
    session_duration_minutes: int | None = None
    session_custom_claims: dict[str, Any] | None = None


class DiscoveryCreate(OrganizationSettings, SessionFields):
    intermediate_session_token: str

    def organization_fields(self) -> dict[str, Any]:
        """The organization settings only (what organizations.create would take)."""
        return {k: v for k, v in self.fields().items() if k in OrganizationSettings.model_fields}


class IntermediateSessionExchange(SessionFields):
    intermediate_session_token: str
    organization_id: str
    locale: str | None = None


class SessionAuthenticate(SessionFields):
    session_token: str | None = None
    session_jwt: str | None = None
    authorization_check: dict[str, Any] | None = None


class SessionRevoke(Body):
    member_session_id: str | None = None
    session_token: str | None = None
    session_jwt: str | None = None
    member_id: str | None = None


class SessionExchange(SessionFields):
    organization_id: str
    session_token: str | None = None
    session_jwt: str | None = None
    locale: str | None = None


class SmsSend(Body):
    organization_id: str
    member_id: str
    mfa_phone_number: str | None = None
    locale: str | None = None
    intermediate_session_token: str | None = None
    session_token: str | None = None
    session_jwt: str | None = None


class SmsAuthenticate(SessionFields):
    organization_id: str
    member_id: str
    code: str
    intermediate_session_token: str | None = None
    session_token: str | None = None
    session_jwt: str | None = None
    set_mfa_enrollment: str | None = None
    set_default_mfa: bool | None = None


class TotpCreate(Body):
    organization_id: str
    member_id: str
    expiration_minutes: int | None = None
    intermediate_session_token: str | None = None
    session_token: str | None = None
    session_jwt: str | None = None


class TotpAuthenticate(SessionFields):
    organization_id: str
    member_id: str
    code: str
    intermediate_session_token: str | None = None
    session_token: str | None = None
    session_jwt: str | None = None
    set_mfa_enrollment: str | None = None
    set_default_mfa: bool | None = None


class RecoveryCodeRecover(SessionFields):
    organization_id: str
    member_id: str
    recovery_code: str
    intermediate_session_token: str | None = None
    session_token: str | None = None
    session_jwt: str | None = None


class RecoveryCodesRotate(Body):
    organization_id: str
    member_id: str


class MagicLinkInvite(Body):
    organization_id: str
    email_address: str
    invite_redirect_url: str | None = None
    invited_by_member_id: str | None = None
    name: str | None = None
    trusted_metadata: dict[str, Any] | None = None
    untrusted_metadata: dict[str, Any] | None = None
    invite_template_id: str | None = None
    locale: str | None = None
    roles: list[str] | None = None
    invite_expiration_minutes: int | None = None


class MagicLinkLoginOrSignup(Body):
    organization_id: str
    email_address: str
    login_redirect_url: str | None = None
    signup_redirect_url: str | None = None
    pkce_code_challenge: str | None = None
    login_template_id: str | None = None
    signup_template_id: str | None = None
    locale: str | None = None
    login_expiration_minutes: int | None = None
    signup_expiration_minutes: int | None = None


class MagicLinkAuthenticate(SessionFields):
    magic_links_token: str
    pkce_code_verifier: str | None = None
    session_token: str | None = None
    session_jwt: str | None = None
    intermediate_session_token: str | None = None
    locale: str | None = None


class EmailOtpLoginOrSignup(Body):
    organization_id: str
    email_address: str
    login_template_id: str | None = None
    signup_template_id: str | None = None
    locale: str | None = None
    login_expiration_minutes: int | None = None
    signup_expiration_minutes: int | None = None


class EmailOtpAuthenticate(SessionFields):
    organization_id: str
    email_address: str
    code: str
    session_token: str | None = None
    session_jwt: str | None = None
    intermediate_session_token: str | None = None
    locale: str | None = None


class EmailOtpDiscoverySend(Body):
    email_address: str
    login_template_id: str | None = None
    locale: str | None = None
    discovery_expiration_minutes: int | None = None


class EmailOtpDiscoveryAuthenticate(Body):
    email_address: str
    code: str
