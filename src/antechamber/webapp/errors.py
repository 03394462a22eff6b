"""The app's one mapping from failures to what people see.

Every failure has a `code`. `MESSAGES` holds the sentence a person reads for each code and the
HTTP status it is answered with; `BACKEND_CODES` says which code each server `error_type` gets.
A JSON caller receives `{"message": …, "redirectPath": …}` with that status; a form post
without JavaScript is sent (303) to the page it came from with `?error=<code>`, and the page
shows the same sentence. So the message a page shows never comes from the URL, only its code.

`webapp.routing.WebappRoute` applies this to every route of the app, and turns anything
unexpected into a 500 with a plain message (logged with its traceback, never sent).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.responses import Response

from antechamber.webapp.backend import NOT_CONFIGURED, SMS_UNAVAILABLE, UNREACHABLE, BackendError

log = logging.getLogger("antechamber.webapp")

CookieOp = Callable[[Response], None]

#: code → (HTTP status, what a person reads).
MESSAGES: dict[str, tuple[int, str]] = {
    # the organization admin section (webapp.admin_section)
    "not_permitted": (403, "Your role in this organization does not allow that."),
    "last_admin": (
        409,
        "Your organization needs at least one admin. Make someone else an admin first.",
    ),
    # input
    "bad_request": (400, "That didn't work. Check what you entered and try again."),
    "invalid_body": (400, "The request could not be read. Send a JSON object."),
    "unsupported_media_type": (415, "Send the request as JSON or as a form."),
    "too_large": (413, "The request is too large."),
    "invalid_email": (400, "Enter a valid email address, like name@example.com."),
    "invalid_organization_name": (
        400,
        "Give the organization a name of 3 to 128 characters.",
    ),
    "invalid_organization_id": (400, "Choose an organization from the list."),
    "invalid_require_mfa": (400, "Require MFA must be true or false."),
    "invalid_mfa_opt_in": (400, "Say whether to opt in (true) or out (false) of MFA."),
    "invalid_phone": (
        400,
        "Enter your mobile number in international format: a plus sign, the country code and "
        "the number, for example +1 202 555 0123.",
    ),
    "invalid_code": (400, "Enter the 6-digit code from the text message."),
    "unsupported_link": (
        400,
        "This link isn't a sign-in link this app understands. Ask for a new sign-in link.",
    ),
    # the magic link
    "link_invalid": (401, "This sign-in link isn't valid. Ask for a new one below."),
    "link_expired": (
        401,
        "This sign-in link has expired or was already used. Ask for a new one below.",
    ),
    # the login in progress and the session
    "login_expired": (
        401,
        "Your sign-in has expired (it lasts 10 minutes). Enter your email to get a new link.",
    ),
    "not_signed_in": (401, "You're not signed in. Enter your email to get a sign-in link."),
    "session_expired": (401, "Your session has ended. Sign in again to continue."),
    "no_pending_mfa": (
        401,
        "Choose an organization first. If it asks for MFA, we'll text you a code then.",
    ),
    "other_login_pending": (
        409,
        "You're already signing in to another organization. Finish that first, or start over.",
    ),
    "not_for_create": (
        409,
        "You're in the middle of signing in to an organization. Finish that first, or start "
        "over to create a new one.",
    ),
    "organization_not_found": (404, "That organization doesn't exist any more."),
    "cannot_join": (
        403,
        "You can't join this organization with your email address. Ask one of its admins "
        "for an invitation.",
    ),
    "primary_required": (
        403,
        "This organization requires a sign-in method this app doesn't offer (such as SSO).",
    ),
    "duplicate_organization": (
        409,
        "An organization with this name already exists. Choose another name.",
    ),
    # SMS codes
    "phone_mismatch": (
        400,
        "Use the phone number already on your account. To change it, ask an admin to remove "
        "the old number.",
    ),
    "phone_taken": (409, "Another member of this organization already uses that number."),
    "phone_region": (400, "We can't send text messages to numbers in that country."),
    "phone_type": (400, "That number can't receive our text messages. Use a mobile number."),
    "phone_missing": (400, "Add your mobile number first."),
    "sms_not_allowed": (403, "Your organization doesn't allow codes by text message."),
    "sms_unavailable": (503, "This server can't send text-message codes yet."),
    "wrong_code": (401, "That code isn't right. Check the text message and try again."),
    "code_expired": (
        401,
        "That code has expired or was already used. Send a new code and enter that one.",
    ),
    "locked": (
        423,
        "Too many wrong codes. For your safety, signing in to this organization is paused "
        "for a while. Try again later.",
    ),
    "resend_wait": (429, "Wait a moment before asking for another code."),
    # authenticator apps (TOTP) and recovery codes
    "invalid_totp_code": (400, "Enter the 6-digit code your authenticator app shows."),
    "totp_wrong": (
        401,
        "That code isn't right. Enter the code your authenticator app shows now (it changes "
        "every 30 seconds).",
    ),
    "totp_code_used": (
        400,
        "That code was already used. Wait for your authenticator app to show the next one "
        "and enter that.",
    ),
    "recovery_code_as_totp": (
        400,
        'That looks like a recovery code. Choose "Use a recovery code" to sign in with it.',
    ),
    "invalid_recovery_code": (
        400,
        "Enter one of your recovery codes: four groups of six letters and digits, like "
        "abcdef-ghijkl-mnopqr-234567.",
    ),
    "totp_code_as_recovery": (
        400,
        "That's a 6-digit code from an app, not a recovery code. Choose \"Use your "
        'authenticator app" to sign in with it.',
    ),
    "recovery_wrong": (
        401,
        "That recovery code isn't right, or it was already used: each one works once.",
    ),
    "totp_not_set_up": (
        404,
        "There's no authenticator app set up for you here. Use another way to verify.",
    ),
    "totp_setup_expired": (
        400,
        "That setup has expired or was replaced. Start setting up your authenticator app again.",
    ),
    "totp_exists": (
        409,
        "You already have an authenticator app. To replace it, ask an admin to remove the old "
        "one first.",
    ),
    "totp_needs_mfa": (
        403,
        "To add an authenticator app, first sign in again with a code from your phone.",
    ),
    "totp_not_allowed": (403, "Your organization doesn't allow authenticator apps."),
    "no_mfa_method": (
        403,
        "Your organization only allows authenticator apps, and you haven't set one up. Ask an "
        "admin of your organization for help.",
    ),
    "recovery_codes_need_mfa": (
        403,
        "To get new recovery codes, first sign in again with your authenticator app or a "
        "recovery code.",
    ),
    # MFA settings
    "mfa_required_by_policy": (
        403,
        "Your organization requires MFA for every member, so it can't be turned off.",
    ),
    "mfa_not_optional": (
        403,
        "Your organization decides MFA for everyone; it can't be changed here.",
    ),
    "mfa_recent_factor_needed": (
        403,
        "To turn MFA off, sign in again with a code from your phone first.",
    ),
    # requests and the server
    "cross_site": (
        403,
        "This request came from another site and was refused. Reload the page and try again.",
    ),
    "rate_limited": (429, "Too many attempts. Wait a few minutes and try again."),
    "not_found": (404, "There's nothing here."),
    # single sign-on (webapp/sso.py)
    "sso_organization_required": (
        400,
        "Enter your work email or your organization's slug to sign in with SSO.",
    ),
    "sso_no_connection_for_email": (
        404,
        "We found no single sign-on for that email address. Check it, enter your "
        "organization's slug instead, or sign in by email above.",
    ),
    "sso_not_configured": (
        400,
        "Single sign-on isn't set up for that organization. Check the slug, or sign in by email.",
    ),
    "sso_failed": (401, "Single sign-on didn't finish. Try again, or sign in by email."),
    "method_not_allowed": (405, "This address doesn't accept that kind of request."),
    "not_configured": (503, "This app isn't set up yet: it has no project to sign people into."),
    "callback_not_registered": (
        503,
        "This app can't send sign-in links yet: its address isn't registered with the "
        "authentication server.",
    ),
    "unreachable": (
        502,
        "The sign-in service can't be reached right now. Try again in a moment.",
    ),
    "unavailable": (503, "The service is busy right now. Try again in a moment."),
    "server_error": (500, "Something went wrong on our side. Try again in a moment."),
    # members and invitations (webapp.admin_section)
    "not_invited": (400, "That person has no open invitation."),
    "invite_not_allowed": (
        403,
        "Your organization's settings don't allow inviting this email address.",
    ),
    "already_member": (409, "That person is already a member of your organization."),
    # email codes (webapp.email_code)
    "invalid_email_code": (400, "Enter the 6-digit code from the email."),
    "wrong_email_code": (401, "That code isn't right. Check the email and try again."),
    "email_code_expired": (
        401,
        "That code has expired or was already used. Ask for a new code and enter that one.",
    ),
}

#: Notices (not failures) a page may show after a redirect: `?info=<code>`.
NOTICES: dict[str, str] = {
    # the organization admin section (webapp.admin_section)
    "role_changed": "The member's role was changed.",
    "org_mfa_saved": "The organization's MFA setting was saved.",
    "org_domains_saved": "The organization's allowed email domains were saved.",
    "signed_out": "You're signed out.",
    "code_sent": "We sent you a new code. Use the newest one: earlier codes no longer work.",
    "mfa_on": "MFA is on. Next time you sign in, you'll also enter a code sent to your phone.",
    "mfa_off": "MFA is off. Next time you sign in, the email link is enough.",
    "recovery_used": (
        "You signed in with a recovery code. It won't work again; if you're running low, "
        "get a new set below."
    ),
    "invite_sent": "Invitation sent. It names you and works for a week.",
    "invite_resent": "Invitation sent again. Only the newest link works.",
    "invite_revoked": "Invitation revoked. Its link no longer works.",
    "recovery_none_left": (
        "You signed in with your last recovery code. Get a new set below now, in case you "
        "lose your authenticator app."
    ),
}

#: Server error_type → code. Types not listed get a code by their HTTP status (`_by_status`).
BACKEND_CODES: dict[str, str] = {
    # RBAC: the member's roles do not allow it (webapp.admin_section)
    "session_authorization_error": "not_permitted",
    "session_authorization_tenancy_error": "not_permitted",
    "invalid_rbac_role_assignment": "not_permitted",
    "last_role_manager": "last_admin",
    "invalid_email": "invalid_email",
    "invalid_email_address": "invalid_email",
    "magic_link_not_found": "link_invalid",
    "unable_to_auth_magic_link": "link_expired",
    "pkce_mismatch": "link_invalid",
    "pkce_expected_code_verifier": "link_invalid",
    "intermediate_session_not_found": "login_expired",
    "invalid_intermediate_session_token_for_organization": "other_login_pending",
    "organization_not_found": "organization_not_found",
    "member_not_found": "session_expired",
    "email_jit_provisioning_not_allowed": "cannot_join",
    "invalid_email_for_jit_provisioning": "cannot_join",
    "invalid_organization_name": "invalid_organization_name",
    "organization_slug_already_used": "duplicate_organization",
    "invalid_organization_slug": "invalid_organization_name",
    "invalid_phone_number": "invalid_phone",
    "invalid_phone_number_country_code": "phone_region",
    "unsupported_phone_number_type": "phone_type",
    "mfa_phone_number_mismatch": "phone_mismatch",
    "duplicate_member_phone_number": "phone_taken",
    "member_phone_number_not_found": "phone_missing",
    "operation_restricted_by_organization_mfa_methods": "sms_not_allowed",
    "otp_code_not_found": "wrong_code",
    "unable_to_auth_otp_code": "code_expired",
    "invalid_code": "invalid_code",
    "member_locked": "locked",
    "session_not_found": "session_expired",
    "unable_to_parse_session_jwt": "session_expired",
    "mfa_enrollment_required_by_policy": "mfa_required_by_policy",
    "too_many_requests": "rate_limited",
    "unable_to_authenticate_totp": "totp_wrong",
    "totp_code_already_authenticated": "totp_code_used",
    "recovery_code_used_as_totp_code": "recovery_code_as_totp",
    "totp_code_used_as_recovery_code": "totp_code_as_recovery",
    "unable_to_authenticate_recovery_code": "recovery_wrong",
    "totp_not_found": "totp_not_set_up",
    "no_active_recovery_code_backed_factor": "totp_not_set_up",
    "active_totp_exists": "totp_exists",
    "totp_enrollment_requires_mfa": "totp_needs_mfa",
    "no_match_for_provided_magic_link_url": "callback_not_registered",
    "invalid_discovery_redirect_url": "callback_not_registered",
    "no_discovery_redirect_urls_set": "callback_not_registered",
    "invalid_email_for_invites": "invite_not_allowed",
    "duplicate_member_email": "already_member",
    "member_not_invited": "not_invited",
    "no_invite_redirect_urls_set": "callback_not_registered",
    "invalid_invite_redirect_url": "callback_not_registered",
    NOT_CONFIGURED: "not_configured",
    SMS_UNAVAILABLE: "sms_unavailable",
    UNREACHABLE: "unreachable",
}

#: The same server error_type means something else for an authenticator app than for SMS.
TOTP_CODES: dict[str, str] = {
    "operation_restricted_by_organization_mfa_methods": "totp_not_allowed",
    "invalid_code": "invalid_totp_code",
}

#: The same server error_type means something else for an emailed code than for SMS.
EMAIL_CODES: dict[str, str] = {
    "otp_code_not_found": "wrong_email_code",
    "unable_to_auth_otp_code": "email_code_expired",
    "invalid_code": "invalid_email_code",
}

#: Failures after which the login must start again from the email: sent to the sign-in page.
RESTART = frozenset({"link_invalid", "link_expired", "login_expired", "not_signed_in"})
SIGNED_OUT = frozenset({"session_expired", "not_signed_in"})


@dataclass
class Failure(Exception):
    """A request that did not succeed, as the app answers it (see the module docstring).

    `redirect` is where the person should go now (the JSON `redirectPath`); None keeps them on
    the page they are on. `message` overrides the code's sentence in JSON answers (for details
    such as seconds to wait). `cookie_ops` run on the response (forget a dead session).
    """

    code: str
    redirect: str | None = None
    message: str | None = None
    retry_after: int | None = None
    cookie_ops: list[CookieOp] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.code)

    @property
    def status(self) -> int:
        return MESSAGES.get(self.code, MESSAGES["server_error"])[0]

    @property
    def text(self) -> str:
        return self.message or message_of(self.code)


def message_of(code: str) -> str:
    return MESSAGES.get(code, MESSAGES["server_error"])[1]


def from_backend(exc: BackendError, overrides: dict[str, str] | None = None) -> Failure:
    """A server refusal as the app's failure; `overrides` (such as `TOTP_CODES`) first."""
    code = (
        (overrides or {}).get(exc.error_type)
        or BACKEND_CODES.get(exc.error_type)
        or _by_status(exc.status_code)
    )
    if code in ("server_error", "callback_not_registered", "not_configured", "unreachable"):
        log.warning("authentication server failure: %s", exc)
    else:
        log.info("authentication server refused: %s %s", exc.status_code, exc.error_type)
    redirect = None
    if code in RESTART or code in SIGNED_OUT:
        redirect = f"/?error={code}"
    failure = Failure(code, redirect=redirect, retry_after=exc.retry_after)
    if code == "rate_limited" and exc.message and exc.error_type == "too_many_requests":
        # The server's own sentence says which limit ("to this address", "to this number").
        failure.message = exc.message
    return failure


def _by_status(status: int) -> str:
    if status == 429:
        return "rate_limited"
    if status in (401, 403):
        return "bad_request"
    if status == 404:
        return "not_found"
    if 400 <= status < 500:
        return "bad_request"
    if status in (502, 504):
        return "unreachable"
    if status == 503:
        return "unavailable"
    return "server_error"
