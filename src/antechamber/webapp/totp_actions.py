"""The authenticator app (TOTP) and recovery codes as actions: the MFA step's other methods
and the dashboard's setup and renewal (input in, a `Reply`, `Enrolment` or `NewCodes` out, or
a `Failure`).

- the MFA step offers only the second factors the member has and the organization allows
  (`mfa_choices`); a code from the app (`authenticate_totp`) or a recovery code (`recover`)
  finishes the login in progress, as `actions.authenticate_code` does with a texted one;
- an authenticator app is added (`begin_totp`, `opened_setup`, `confirm_totp`), and recovery
  codes renewed (`rotate_recovery_codes`), only by the signed-in member with a session checked
  with the server at that moment; renewal also needs a session that passed a second factor;
- server refusals come back in the words for an authenticator app (`errors.TOTP_CODES`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from antechamber.webapp import actions, cookies, enrolment, identity, inputs
from antechamber.webapp.actions import Reply
from antechamber.webapp.backend import BackendError, Membership, TotpSetup
from antechamber.webapp.config import Webapp
from antechamber.webapp.cookies import Pending
from antechamber.webapp.errors import TOTP_CODES, CookieOp, Failure, from_backend
from antechamber.webapp.inputs import Call
from antechamber.webapp.sessions import has_second_factor
from antechamber.webapp.views import mfa_status

# -- the MFA step's other methods: an authenticator app, a recovery code -----------------------

SMS, TOTP, RECOVERY = "sms", "totp", "recovery"


@dataclass(frozen=True)
class MfaChoices:
    """The second factors the MFA step offers a login, and the one it opens on.

    `sms`: the organization allows text-message codes. `totp`: the member has an authenticator
    app and the organization allows it (recovery codes come with it). `default` is `SMS`,
    `TOTP`, or `""` when there is nothing to offer.
    """

    sms: bool
    totp: bool
    default: str

    def shown(self, asked: str) -> str:
        """The method a page shows when `asked` for one: that one if offered, else the default."""
        if asked == SMS and self.sms:
            return SMS
        if asked in (TOTP, RECOVERY) and self.totp:
            return asked
        return self.default


def mfa_choices(login: Pending) -> MfaChoices:
    """What the MFA step offers (the server's rule for the automatic text, mirrored:
    docs/mfa.md). It opens on the authenticator app unless a code was texted already or the
    member made SMS their default with a verified phone."""
    sms = login.sms_allowed
    totp = login.totp and login.totp_allowed
    sms_preferred = sms and login.phone_verified and login.default_method == "sms_otp"
    if totp and not login.sent_at and not sms_preferred:
        default = TOTP
    elif sms:
        default = SMS
    else:
        default = TOTP if totp else ""
    return MfaChoices(sms=sms, totp=totp, default=default)


@contextlib.contextmanager
def _totp_failures(redirect: str | None = None) -> Iterator[None]:
    """Server refusals of the TOTP calls, in the words for an authenticator app."""
    try:
        yield
    except BackendError as exc:
        failure = from_backend(exc, TOTP_CODES)
        if failure.redirect is None and redirect is not None:
            failure.redirect = redirect
        raise failure from exc


def _typed_code(body: Mapping[str, Any], key: str) -> str:
    raw = body.get(key)
    if not isinstance(raw, str) or len(raw) > 128:
        return ""
    return raw.strip()


def authenticate_totp(web: Webapp, call: Call, body: Mapping[str, Any]) -> Reply:
    """`POST /api/mfa/totp/authenticate {code}`: finish the login with a code from the member's
    authenticator app (the organization and member are the pending login's)."""
    login = identity.login_in_progress(web, call, waiting_for_mfa=True)
    typed = _typed_code(body, "code")
    code = typed.replace(" ", "")
    if not inputs.CODE.fullmatch(code):
        # A recovery code typed here: say where it goes (the server would refuse it too).
        raise Failure(
            "recovery_code_as_totp"
            if inputs.RECOVERY_CODE.fullmatch(typed)
            else "invalid_totp_code"
        )
    with _totp_failures():
        step = web.backend.authenticate_totp(
            organization_id=login.organization_id,
            member_id=login.member_id,
            code=code,
            intermediate_session_token=login.ist,
        )
    if not step.authenticated:  # cannot happen with a right code; never a silent success
        raise Failure("server_error")
    return Reply(
        "TOTP Authentication successful",
        redirect="/dashboard",
        cookie_ops=actions.session_cookie(web, step),
    )


def recover(web: Webapp, call: Call, body: Mapping[str, Any]) -> Reply:
    """`POST /api/mfa/recover {recoveryCode}`: finish the login with one of the member's
    recovery codes, which is then used up. The dashboard says so (and when none are left)."""
    login = identity.login_in_progress(web, call, waiting_for_mfa=True)
    typed = _typed_code(body, "recoveryCode")
    if inputs.CODE.fullmatch(typed.replace(" ", "")):
        raise Failure("totp_code_as_recovery")
    if not inputs.RECOVERY_CODE.fullmatch(typed):
        raise Failure("invalid_recovery_code")
    with _totp_failures():
        step = web.backend.recover(
            organization_id=login.organization_id,
            member_id=login.member_id,
            intermediate_session_token=login.ist,
            recovery_code=typed,
        )
    if not step.authenticated:
        raise Failure("server_error")
    remaining = step.recovery_codes_remaining
    return Reply(
        "Recovery code accepted",
        redirect="/dashboard?info=" + ("recovery_none_left" if remaining == 0 else "recovery_used"),
        fields={"recoveryCodesRemaining": remaining},
        cookie_ops=actions.session_cookie(web, step),
    )


# -- the dashboard: adding an authenticator app, renewing recovery codes ------------------------


@dataclass
class Enrolment:
    """An authenticator-app setup to show (pending until confirmed): the server's secret, QR
    code and recovery codes, and the same sealed for the page's confirm form
    (`webapp.enrolment`)."""

    membership: Membership
    setup: TotpSetup
    sealed: str
    cookie_ops: list[CookieOp] = field(default_factory=list)
    session_jwt: str = ""


@dataclass
class NewCodes:
    """Recovery codes to show once, and the cookies to set (a session stepped up)."""

    membership: Membership
    recovery_codes: list[str]
    cookie_ops: list[CookieOp] = field(default_factory=list)


def begin_totp(web: Webapp, call: Call) -> Enrolment:
    """The signed-in member starts adding an authenticator app: a pending registration.

    Checked with the server first (a revoked session is refused now). The server refuses a
    member with a verified phone whose session did not pass MFA (`totp_needs_mfa`): someone
    holding only the mailbox must not add a factor.
    """
    signed = identity.signed_in(web, call, fresh=True)
    membership = identity.membership_of(web, signed)
    status = mfa_status(membership.organization, membership.member)
    if status.totp:
        raise Failure("totp_exists", redirect="/dashboard")
    if not status.totp_allowed:
        raise Failure("totp_not_allowed", redirect="/dashboard")
    with _totp_failures(redirect="/dashboard"):
        setup = web.backend.create_totp(
            organization_id=signed.organization_id,
            member_id=signed.member_id,
            session_jwt=signed.session_jwt,
        )
    sealed = enrolment.seal(web.config, signed.organization_id, signed.member_id, setup)
    return Enrolment(membership, setup, sealed, list(signed.cookie_ops))


def opened_setup(web: Webapp, call: Call, body: Mapping[str, Any]) -> Enrolment:
    """The setup the confirm form carries back, for this signed-in member; `Failure`
    (`totp_setup_expired`, back to the dashboard) if it is not theirs, is old, or was already
    confirmed."""
    signed = identity.signed_in(web, call, fresh=True)
    membership = identity.membership_of(web, signed)
    setup = enrolment.unseal(
        web.config, signed.organization_id, signed.member_id, body.get("setup")
    )
    active = str(membership.member.get("totp_registration_id") or "")
    if setup is None or (active and active == setup.totp_registration_id):
        raise Failure("totp_setup_expired", redirect="/dashboard")
    return Enrolment(
        membership, setup, str(body.get("setup")), list(signed.cookie_ops), signed.session_jwt
    )


def confirm_totp(web: Webapp, opened: Enrolment, body: Mapping[str, Any]) -> NewCodes:
    """Confirm the setup with the app's first code, with the member's session: the
    registration becomes active, the member's default method `totp` and MFA on
    (`set_mfa_enrollment: enroll`: an app set up is an app used), and the session is stepped
    up (a fresh JWT with the TOTP factor). A wrong code raises `Failure` without a redirect:
    the page shows the same setup again."""
    typed = _typed_code(body, "code")
    code = typed.replace(" ", "")
    if not inputs.CODE.fullmatch(code):
        raise Failure("invalid_totp_code")
    member = opened.membership.member
    organization_id = str(member.get("organization_id", ""))
    member_id = str(member.get("member_id", ""))
    with _totp_failures():
        step = web.backend.authenticate_totp(
            organization_id=organization_id,
            member_id=member_id,
            code=code,
            session_jwt=opened.session_jwt,
            make_default=True,
            enroll=True,
        )
    if not step.authenticated:
        raise Failure("server_error")
    config = web.config
    expires = step.session_expires_at or config.clock.now()
    return NewCodes(
        Membership(step.organization, step.member),
        list(opened.setup.recovery_codes),
        [lambda r: cookies.set_session(config, r, step.session_jwt, expires)],
    )


def rotate_recovery_codes(web: Webapp, call: Call) -> NewCodes:
    """A new set of recovery codes for the signed-in member; the old ones stop working.

    The server authorises rotation with the project secret alone, so the rule is here: the
    member's own session, checked with the server now, and one that passed a second factor
    (new codes are a new way in: holding the mailbox must not be enough).
    """
    signed = identity.signed_in(web, call, fresh=True)
    membership = identity.membership_of(web, signed)
    if not mfa_status(membership.organization, membership.member).totp:
        raise Failure("totp_not_set_up", redirect="/dashboard")
    if not has_second_factor(signed.factors):
        raise Failure("recovery_codes_need_mfa", redirect="/dashboard")
    with _totp_failures(redirect="/dashboard"):
        fresh = web.backend.rotate_recovery_codes(signed.organization_id, signed.member_id)
    return NewCodes(membership, fresh, list(signed.cookie_ops))
