"""What the reference app needs of an authentication server: one small interface, two
implementations.

- `inprocess.InProcessBackend` calls Antechamber's domain functions in this process (the
  default: `antechamber dev` and `serve` serve the app at `/`).
- `stytch_backend.StytchBackend` calls any Stytch-compatible server (a remote Antechamber, or
  Stytch) through the official `stytch` Python SDK (`antechamber webapp --backend stytch`).

Both speak in Stytch's JSON shapes: organizations, members and discovered organizations are the
dicts the Stytch B2B API returns (stytch-b2b-api.md §2.10), so the app reads them the same way
whichever server answered. Every failure is a `BackendError` carrying Stytch's `error_type`;
nothing else escapes a backend (the app maps error types to messages in `webapp.errors`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

JSON = dict[str, Any]
#: An RBAC permission: `(resource_id, action)`, e.g. `("stytch.member", "create")`.
Permission = tuple[str, str]

OPTIONAL = "OPTIONAL"
REQUIRED_FOR_ALL = "REQUIRED_FOR_ALL"


class BackendError(Exception):
    """A refusal or failure of the authentication server, in Stytch's terms.

    `error_type` is Stytch's (or Antechamber's) stable string, `status_code` the HTTP status the
    server answered with, `message` its developer-facing text (never shown to people as is).
    `retry_after` is set for rate limits when the server said how long to wait.
    """

    def __init__(
        self,
        error_type: str,
        status_code: int,
        message: str = "",
        *,
        retry_after: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{error_type} ({status_code}): {message}")
        self.error_type = error_type
        self.status_code = status_code
        self.message = message
        self.retry_after = retry_after
        self.details = details or {}


#: The server could not be reached or answered something that is not Stytch's API.
UNREACHABLE = "backend_unreachable"
#: The app is not set up (no project to sign into yet).
NOT_CONFIGURED = "webapp_not_configured"
#: SMS codes are not available from this server.
SMS_UNAVAILABLE = "sms_unavailable"


@dataclass(frozen=True)
class Discovery:
    """An email proven by a magic link, and the organizations it may enter.

    `intermediate_session_token` is set when the link was just redeemed, `""` for a listing.
    `organizations` are Stytch `discovered_organization` objects.
    """

    email_address: str
    organizations: list[JSON]
    intermediate_session_token: str = ""


@dataclass(frozen=True)
class LoginStep:
    """The outcome of entering an organization (Stytch's "authenticated vs mfa_required").

    Authenticated: `session_jwt` is set and `session_expires_at` says when the session ends.
    Pending: `intermediate_session_token` is the IST bound to this organization and member,
    with `mfa_required` or `primary_required` saying what is missing; when the server texted a
    code by itself, `secondary_auth_initiated` is `"sms_otp"` and `mfa_phone_number` is the
    number it went to. `totp_registration_id` is set when the member has an active
    authenticator app (Stytch's `member_options`), so the MFA step can offer it.

    After a recovery code, `recovery_codes_remaining` says how many the member has left.
    """

    organization: JSON
    member: JSON
    session_jwt: str = ""
    session_expires_at: datetime | None = None
    intermediate_session_token: str = ""
    mfa_required: bool = False
    primary_required: bool = False
    secondary_auth_initiated: str | None = None
    mfa_phone_number: str = ""
    totp_registration_id: str = ""
    recovery_codes_remaining: int | None = None

    @property
    def authenticated(self) -> bool:
        return bool(self.session_jwt)


@dataclass(frozen=True)
class TotpSetup:
    """A new, *pending* authenticator-app registration (Stytch's `totps.create` answer).

    `secret` (base32), `qr_code` (a `data:image/png;base64,…` URL of the otpauth URI) and the
    10 `recovery_codes` are the only copies there will be in clear: the server keeps the seed
    sealed and the recovery codes hashed. `uri` is the otpauth:// URI when the server gave it
    (Stytch's answer has none: `""`). The registration becomes active with its first code.
    """

    totp_registration_id: str
    secret: str
    qr_code: str
    recovery_codes: list[str]
    uri: str = ""


@dataclass(frozen=True)
class Membership:
    """A member and their organization, as Stytch objects."""

    organization: JSON
    member: JSON


@dataclass(frozen=True)
class SessionCheck:
    """A session the server vouched for just now, with a fresh JWT."""

    session_jwt: str
    expires_at: datetime
    organization: JSON
    member: JSON
    factors: list[JSON] = field(default_factory=list)


class Backend(Protocol):
    """The operations the app performs, each one Stytch B2B call unless noted.

    Every method raises `BackendError` and nothing else. Arguments are already shape-checked
    by the app (strings of sane length); meaning is the server's business.
    """

    def project_id(self) -> str:
        """The project the app signs people into (JWT audience and issuer)."""
        ...

    def send_discovery_email(self, email_address: str, redirect_url: str) -> None:
        """`magic_links.email.discovery.send`: email a sign-in link back to `redirect_url`."""
        ...

    def authenticate_discovery_link(self, token: str) -> Discovery:
        """`magic_links.discovery.authenticate`: redeem a link (once) for an IST and the orgs."""
        ...

    def list_discovered(self, intermediate_session_token: str) -> Discovery:
        """`discovery.organizations.list` with an IST (consumes nothing)."""
        ...

    def create_organization(
        self, intermediate_session_token: str, *, name: str, mfa_policy: str
    ) -> LoginStep:
        """`discovery.organizations.create` (the creator becomes its admin; invitations to any
        domain allowed, `email_invites: ALL_ALLOWED`), then
        `organizations.update` so that people at the creator's email domain may join
        (`email_allowed_domains` = [that domain], `email_jit_provisioning: RESTRICTED`), which
        is skipped for consumer webmail domains (`organization_settings_domain_too_common`).
        """
        ...

    def exchange(self, intermediate_session_token: str, organization_id: str) -> LoginStep:
        """`discovery.intermediate_sessions.exchange`: enter an organization."""
        ...

    def send_sms_code(
        self,
        *,
        organization_id: str,
        member_id: str,
        intermediate_session_token: str,
        phone_number: str | None,
    ) -> None:
        """`otps.sms.send` with the login's IST (to the member's number if none is given)."""
        ...

    def authenticate_sms_code(
        self, *, organization_id: str, member_id: str, intermediate_session_token: str, code: str
    ) -> LoginStep:
        """`otps.sms.authenticate` with the login's IST: a session when the code is right."""
        ...

    def create_totp(
        self,
        *,
        organization_id: str,
        member_id: str,
        intermediate_session_token: str = "",
        session_jwt: str = "",
    ) -> TotpSetup:
        """`totps.create` with the member's IST or session JWT (exactly one): a pending
        registration; a pending one of the member is replaced. A member with a verified phone
        needs a session that passed MFA (`totp_enrollment_requires_mfa`)."""
        ...

    def authenticate_totp(
        self,
        *,
        organization_id: str,
        member_id: str,
        code: str,
        intermediate_session_token: str = "",
        session_jwt: str = "",
        make_default: bool = False,
        enroll: bool = False,
    ) -> LoginStep:
        """`totps.authenticate` with the IST (finishes the login: a session) or the session JWT
        (confirms a pending registration and steps the session up: a fresh `session_jwt` for
        the same session). `make_default` sets `default_mfa_method: totp`, `enroll` sets
        `mfa_enrolled` (`set_mfa_enrollment: enroll`)."""
        ...

    def recover(
        self,
        *,
        organization_id: str,
        member_id: str,
        intermediate_session_token: str,
        recovery_code: str,
    ) -> LoginStep:
        """`recovery_codes.recover` with the login's IST: a session when the code is one of
        the member's unused recovery codes (it is then used up)."""
        ...

    def rotate_recovery_codes(self, organization_id: str, member_id: str) -> list[str]:
        """`recovery_codes.rotate`: a new set of 10; every earlier code stops working. The
        server authorises this with the project secret alone: the app checks the member's
        session (and its second factor) before calling."""
        ...

    def get_member(self, organization_id: str, member_id: str) -> Membership:
        """`organizations.members.get`."""
        ...

    def set_mfa_enrollment(
        self, organization_id: str, member_id: str, *, enrolled: bool
    ) -> Membership:
        """`organizations.members.update` with `mfa_enrolled`."""
        ...

    def sso_start_url(self, organization: str, redirect_url: str, pkce_code_challenge: str) -> str:
        """The server's SSO start URL for the organization (slug or id): its default SSO
        connection, coming back to `redirect_url` (login and signup alike)."""
        ...

    def sso_connection_start_url(
        self, connection_id: str, redirect_url: str, pkce_code_challenge: str
    ) -> str:
        """The server's SSO start URL for one connection (as `sso_start_url`)."""
        ...

    def sso_connections_for_email(self, email_address: str) -> list[JSON]:
        """The SSO connections `email_address` may sign in through, as the frontend SDK's
        `sso.discoverConnections` answers them: `{connection_id, display_name,
        identity_provider}` each (its organizations' connections, else those that could
        create it by its domain)."""
        ...

    def authenticate_sso(self, token: str, pkce_code_verifier: str) -> LoginStep:
        """Redeem the SSO token the server's redirect carried (single use)."""
        ...

    def authenticate_session(self, session_jwt: str) -> SessionCheck:
        """`sessions.authenticate`: the session behind a JWT (expired JWTs too), a fresh JWT."""
        ...

    def revoke_session(self, session_jwt: str) -> None:
        """`sessions.revoke`."""
        ...

    def jwks(self) -> list[JSON]:
        """`sessions.get_jwks`: the project's public keys, for checking JWTs locally."""
        ...

    # -- organization links and email codes (webapp.email_code) -------------------------------

    def send_discovery_code(self, email_address: str) -> None:
        """`otps.email.discovery.send`: email a six-digit sign-in code."""
        ...

    def authenticate_discovery_code(self, email_address: str, code: str) -> Discovery:
        """`otps.email.discovery.authenticate`: a right code (once) for an IST and the orgs."""
        ...

    def authenticate_link(self, token: str) -> LoginStep:
        """`magic_links.authenticate`: redeem an invitation or organization login link
        (once); the member becomes active, then a session or the MFA step."""
        ...

    # -- the dashboard's admin section (webapp.admin_section): every call is made *with the
    # member's session* (Stytch's `method_options` authorization), so the server's RBAC
    # decides, never the app. A refusal is `session_authorization_error` (403), or
    # `session_authorization_tenancy_error` for another organization; nothing is changed.

    def admin_allowed(
        self, session_jwt: str, organization_id: str, checks: Sequence[Permission]
    ) -> frozenset[Permission]:
        """Which of `checks` (`(resource_id, action)`) the server grants the member now:
        `sessions.authenticate` with an `authorization_check` per permission (the server's
        verdict, not the app's). Changes nothing; a dead session is `session_not_found`."""
        ...

    def admin_members(self, session_jwt: str, organization_id: str) -> list[JSON]:
        """`organizations.members.search` of the organization as the member (at most 200):
        refused unless their roles grant `stytch.member: search`."""
        ...

    def admin_invite(
        self,
        session_jwt: str,
        organization_id: str,
        email_address: str,
        *,
        name: str,
        invited_by_member_id: str,
        redirect_url: str,
    ) -> JSON:
        """`magic_links.email.invite` as the member (`stytch.member: create`): the invited
        member; inviting an `invited` member again sends a new link and ends the earlier one."""
        ...

    def admin_revoke_invite(self, session_jwt: str, organization_id: str, member_id: str) -> None:
        """Withdraw an open invitation as the member: the `invited` member is deleted
        (`organizations.members.delete`, `stytch.member: delete`), which ends every link sent
        to them. Looks the member up with the session first (`stytch.member: search`); any
        status but `invited` is `member_not_invited` and nothing is deleted."""
        ...

    def admin_update_member(
        self, session_jwt: str, organization_id: str, member_id: str, fields: JSON
    ) -> JSON:
        """`organizations.members.update` as the member; the updated member."""
        ...

    def admin_update_organization(
        self, session_jwt: str, organization_id: str, fields: JSON
    ) -> JSON:
        """`organizations.update` as the member; the updated organization."""
        ...
