"""The tutorial's nine endpoints as actions: input in, a `Reply` or a `Failure` out.

Framework-free on purpose: `webapp.api` parses the request and renders the reply (JSON, or a
redirect for a form post), pages reuse `signed_in` and `login_in_progress`. Rules every action
keeps (seed-app.md §4):

- who the member is and which organization they are in come from the session cookie (a JWT
  checked locally, refreshed through the server when expired) or from the signed
  pending-login cookie, never from the request body or the URL;
- an SMS code is sent only for a login in progress that waits for MFA (its IST);
- the MFA step offers only the second factors the member has and the organization allows
  (`mfa_choices`); an authenticator app is added, and recovery codes renewed, only by the
  signed-in member with a session checked with the server at that moment;
- MFA opt-in/out only for the signed-in member, only where the organization's policy leaves
  it to them, checked with the server at that moment (a revoked session is refused at once);
- no answer carries a token;
- every refusal is a `Failure` with a real status code and a sentence for people.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response

from antechamber.errors import AntechamberError, TooManyRequests
from antechamber.phones import masked
from antechamber.webapp import cookies, enrolment
from antechamber.webapp.backend import (
    JSON,
    OPTIONAL,
    REQUIRED_FOR_ALL,
    BackendError,
    LoginStep,
    Membership,
    TotpSetup,
)
from antechamber.webapp.config import Webapp
from antechamber.webapp.cookies import Pending
from antechamber.webapp.errors import TOTP_CODES, CookieOp, Failure, from_backend
from antechamber.webapp.sessions import JwtExpired, JwtInvalid, has_second_factor
from antechamber.webapp.views import (
    discovered_json,
    member_json,
    method_allowed,
    mfa_status,
    organization_json,
)

MAX_EMAIL_LENGTH = 254
MAX_TOKEN_LENGTH = 256
MAX_ID_LENGTH = 128
MIN_ORG_NAME, MAX_ORG_NAME = 3, 128
_PHONE = re.compile(r"\+[1-9][0-9]{6,14}")
_PHONE_NOISE = re.compile(r"[\s().\-]")
_CODE = re.compile(r"[0-9]{6}")
#: What a person may type as a recovery code (the server normalises case and dashes).
_RECOVERY_CODE = re.compile(r"[A-Za-z0-9 \-]{16,64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

START_LIMIT_NAME = "webapp:start"
#: The token type of invitation and organization login links (Stytch's).
ORGANIZATION_LINK = "multi_tenant_magic_links"


@dataclass(frozen=True)
class Call:
    """What an action may know of the request: its cookies and the client's address."""

    cookies: Mapping[str, str]
    client: str = "unknown"


@dataclass
class Reply:
    """A successful answer: the tutorial's `message`, where to go next (`redirectPath`),
    extra fields, and cookies to set or clear."""

    message: str
    redirect: str | None = None
    fields: JSON = field(default_factory=dict)
    cookie_ops: list[CookieOp] = field(default_factory=list)


# -- input ------------------------------------------------------------------------------------


def text(body: Mapping[str, Any], key: str, code: str, *, max_length: int) -> str:
    """A required string field, stripped; `Failure(code)` if missing, not a string, too long or
    carrying control characters."""
    value = body.get(key)
    if not isinstance(value, str):
        raise Failure(code)
    value = value.strip()
    if not value or len(value) > max_length or _CONTROL.search(value):
        raise Failure(code)
    return value


def flag(body: Mapping[str, Any], key: str, code: str, *, default: bool | None = None) -> bool:
    """A boolean field: JSON true/false, or a form's "true"/"false"/"on"/"1"/"0"."""
    value = body.get(key)
    if value is None or value == "":
        if default is None:
            raise Failure(code)
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "on", "1", "yes"):
        return True
    if isinstance(value, str) and value.lower() in ("false", "off", "0", "no"):
        return False
    raise Failure(code)


def phone_number(raw: str) -> str:
    """E.164 from what a person typed (spaces, dashes, dots and brackets allowed)."""
    value = _PHONE_NOISE.sub("", raw)
    if not _PHONE.fullmatch(value):
        raise Failure("invalid_phone")
    return value


# -- sessions -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signed:
    """The signed-in member, as the session cookie proves.

    `membership` is set when the server was asked (a refresh or a fresh check), so callers
    need not ask again; `cookie_ops` re-set the cookie with a refreshed JWT.
    """

    member_id: str
    organization_id: str
    factors: list[JSON]
    membership: Membership | None = None
    cookie_ops: list[CookieOp] = field(default_factory=list)
    #: The session JWT as it stands now (refreshed if it was): for calls made with the session.
    session_jwt: str = ""


def signed_in(web: Webapp, call: Call, *, fresh: bool = False) -> Signed:
    """The member of the session cookie, or `Failure` (401) with the cookie cleared.

    The JWT is checked locally; the server is asked when it has expired (a fresh JWT comes
    back and the cookie is re-set) or when `fresh` is asked for: before any change, so that a
    session revoked elsewhere is refused at once rather than within the JWT's five minutes.
    """
    config = web.config
    token = cookies.session_jwt(config, dict(call.cookies))
    forget: list[CookieOp] = [lambda r: cookies.clear_session(config, r)]
    if not token:
        raise Failure("not_signed_in", redirect="/?error=not_signed_in")
    try:
        local = web.verifier.verify(token)
    except JwtInvalid:
        raise Failure(
            "session_expired", redirect="/?error=session_expired", cookie_ops=forget
        ) from None
    except JwtExpired:
        fresh = True
    else:
        if not fresh:
            return Signed(local.member_id, local.organization_id, local.factors, session_jwt=token)
    try:
        check = web.backend.authenticate_session(token)
    except BackendError as exc:
        failure = from_backend(exc)
        if failure.code == "session_expired":
            failure.cookie_ops = forget
        raise failure from exc
    refreshed = check.session_jwt

    def keep(response: Response) -> None:
        cookies.set_session(config, response, refreshed, check.expires_at)

    return Signed(
        member_id=str(check.member.get("member_id", "")),
        organization_id=str(check.organization.get("organization_id", "")),
        factors=check.factors,
        membership=Membership(check.organization, check.member),
        cookie_ops=[keep] if refreshed and refreshed != token else [],
        session_jwt=refreshed or token,
    )


def membership_of(web: Webapp, signed: Signed) -> Membership:
    """The signed-in member and organization as the server has them now. A member or
    organization deleted since the JWT was signed ends the session here (cookie forgotten)."""
    if signed.membership is not None:
        return signed.membership
    try:
        found = web.backend.get_member(signed.organization_id, signed.member_id)
    except BackendError as exc:
        failure = from_backend(exc)
        if exc.error_type in ("member_not_found", "organization_not_found"):
            config = web.config
            failure = Failure(
                "session_expired",
                redirect="/?error=session_expired",
                cookie_ops=[lambda r: cookies.clear_session(config, r)],
            )
        raise failure from exc
    if found.member.get("status") == "deactivated":
        # Deprovisioned by the organization's directory (SCIM): the server has revoked the
        # session already; a read trusting the JWT must not outlive that by five minutes.
        config = web.config
        raise Failure(
            "session_expired",
            redirect="/?error=session_expired",
            cookie_ops=[lambda r: cookies.clear_session(config, r)],
        )
    return found


def login_in_progress(web: Webapp, call: Call, *, waiting_for_mfa: bool = False) -> Pending:
    """The login in the pending-login cookie, or `Failure` (401, back to the email step)."""
    login = cookies.pending(web.config, dict(call.cookies))
    if login is None:
        raise Failure("login_expired", redirect="/?error=login_expired")
    if waiting_for_mfa and not login.waiting_for_mfa:
        raise Failure("no_pending_mfa", redirect="/discovery")
    return login


def _session_cookie(web: Webapp, step: LoginStep) -> list[CookieOp]:
    config = web.config
    expires = step.session_expires_at or config.clock.now()
    return [
        lambda r: cookies.set_session(config, r, step.session_jwt, expires),
        lambda r: cookies.clear_pending(config, r),
    ]


def conclude(web: Webapp, login: Pending, step: LoginStep, done: str, mfa: str) -> Reply:
    """After entering an organization: a session (`done`), the SMS step (`mfa`), or a
    refusal (an organization that wants a first factor this app does not offer)."""
    config = web.config
    org = step.organization
    organization_id = str(org.get("organization_id", ""))
    fields = {"organizationId": organization_id}
    if step.authenticated:
        return Reply(
            done, redirect="/dashboard", fields=fields, cookie_ops=_session_cookie(web, step)
        )
    if step.primary_required or not step.mfa_required:
        raise Failure("primary_required", redirect="/discovery")
    member = step.member
    phone = step.mfa_phone_number or str(member.get("mfa_phone_number") or "")
    auto = step.secondary_auth_initiated == "sms_otp"
    waiting = Pending(
        ist=step.intermediate_session_token or login.ist,
        email=login.email,
        organization_id=organization_id,
        member_id=str(member.get("member_id", "")),
        organization_name=str(org.get("organization_name", ""))[:128],
        phone=masked(phone) if phone else "",
        phone_verified=bool(member.get("mfa_phone_number_verified")),
        sent_at=int(config.clock.now().timestamp()) if auto else 0,
        totp=bool(step.totp_registration_id or member.get("totp_registration_id")),
        default_method=str(member.get("default_mfa_method") or "")[:16],
        sms_allowed=method_allowed(org, "sms_otp"),
        totp_allowed=method_allowed(org, "totp"),
    )
    return Reply(
        mfa,
        redirect="/smsmfa?sent=true" if auto else "/smsmfa",
        fields=fields,
        cookie_ops=[
            lambda r: cookies.set_pending(config, r, waiting),
            lambda r: cookies.clear_session(config, r),
        ],
    )


# -- the nine endpoints -------------------------------------------------------------------------


def start_email(web: Webapp, call: Call, body: Mapping[str, Any]) -> str:
    """The email a sign-in start (link or code) asks for, once it looks like one and the
    client is within its start limit (counted here)."""
    email = text(body, "email", "invalid_email", max_length=MAX_EMAIL_LENGTH)
    if "@" not in email:
        raise Failure("invalid_email")
    limiter = web.config.limiter
    if limiter is not None:
        try:
            limiter.hit(START_LIMIT_NAME, call.client, limit=web.config.start_limit)
        except TooManyRequests as exc:
            raise Failure("rate_limited", retry_after=exc.retry_after) from None
        except AntechamberError:
            raise Failure("unavailable") from None
    return email


def start(web: Webapp, call: Call, body: Mapping[str, Any]) -> Reply:
    """1. `POST /api/discovery/start {email}`: email a sign-in link."""
    email = start_email(web, call, body)
    web.backend.send_discovery_email(email, web.config.callback_url)
    config = web.config
    return Reply(
        "Email sent",
        redirect="/check-email",
        cookie_ops=[lambda r: cookies.set_hint(config, r, email)],
    )


def callback(web: Webapp, call: Call, body: Mapping[str, Any]) -> Reply:
    """2. `POST /api/auth/callback {token, stytch_token_type}`: redeem the link.

    Answers the email and the discovered organizations, trimmed; the IST goes into the
    pending-login cookie only (seed-app.md §4 item 5).
    """
    kind = body.get("stytch_token_type", "discovery")
    if kind not in ("discovery", ORGANIZATION_LINK, None, ""):
        raise Failure("unsupported_link", redirect="/?error=unsupported_link")
    token = text(body, "token", "link_invalid", max_length=MAX_TOKEN_LENGTH)
    if kind == ORGANIZATION_LINK:
        return organization_link(web, call, token)
    found = web.backend.authenticate_discovery_link(token)
    config = web.config
    _end_previous_session(web, call)
    login = Pending(ist=found.intermediate_session_token, email=found.email_address)
    return Reply(
        "Signed in",
        redirect="/discovery",
        fields={
            "email_address": found.email_address,
            "discovered_organizations": [discovered_json(d) for d in found.organizations],
        },
        cookie_ops=[
            lambda r: cookies.set_pending(config, r, login),
            lambda r: cookies.clear_session(config, r),
        ],
    )


def organization_link(web: Webapp, call: Call, token: str) -> Reply:
    """An invitation or an organization login link (`multi_tenant_magic_links`): it names its
    organization, so there is no discovery step: the member is in (accepting an invitation
    makes them active), or at the MFA step of that organization."""
    step = web.backend.authenticate_link(token)
    _end_previous_session(web, call)
    login = Pending(ist="", email=str(step.member.get("email_address", ""))[:MAX_EMAIL_LENGTH])
    return conclude(web, login, step, "Auth complete", "2FA started")


def create(web: Webapp, call: Call, body: Mapping[str, Any]) -> Reply:
    """3. `POST /api/discovery/create {organizationName, requireMfa}`.

    The creator becomes the organization's admin (stytch_admin); people at the creator's
    email domain may then join it (JIT RESTRICTED), except for webmail domains.
    """
    login = login_in_progress(web, call)
    if login.waiting_for_mfa:
        raise Failure("not_for_create")
    name = text(body, "organizationName", "invalid_organization_name", max_length=MAX_ORG_NAME)
    if len(name) < MIN_ORG_NAME:
        raise Failure("invalid_organization_name")
    require_mfa = flag(body, "requireMfa", "invalid_require_mfa", default=False)
    step = web.backend.create_organization(
        login.ist, name=name, mfa_policy=REQUIRED_FOR_ALL if require_mfa else OPTIONAL
    )
    return conclude(
        web, login, step, "Organization created", "Organization created. Proceed for MFA"
    )


def get_organization(web: Webapp, call: Call, body: Mapping[str, Any]) -> Reply:
    """4. `POST /api/discovery/get-organization`: the signed-in member and their organization.

    The body (`organizationId`, `memberEmail`) is ignored: both come from the session.
    """
    signed = signed_in(web, call)
    membership = membership_of(web, signed)
    return _membership_reply("Org retrieved successfully", membership, signed.cookie_ops)


def select_organization(web: Webapp, call: Call, body: Mapping[str, Any]) -> Reply:
    """5. `POST /api/discovery/select-organization {organizationId}`: enter an organization."""
    login = login_in_progress(web, call)
    organization_id = text(body, "organizationId", "invalid_organization_id", max_length=128)
    if login.waiting_for_mfa and organization_id != login.organization_id:
        raise Failure("other_login_pending", redirect="/smsmfa")
    if login.waiting_for_mfa:
        return Reply(
            "2FA started",
            redirect="/smsmfa?sent=true" if login.sent_at else "/smsmfa",
            fields={"organizationId": organization_id},
        )
    step = web.backend.exchange(login.ist, organization_id)
    return conclude(web, login, step, "Auth complete", "2FA started")


def send_code(web: Webapp, call: Call, body: Mapping[str, Any]) -> Reply:
    """6. `POST /api/mfa/send {phoneNumber?}`: text a code, for the login waiting for MFA.

    Without a pending login (its IST) nothing is sent: 401. The organization and member are
    the login's; `phoneNumber` may be left out when the member already has one.
    """
    login = login_in_progress(web, call, waiting_for_mfa=True)
    config = web.config
    now = int(config.clock.now().timestamp())
    wait = resend_wait(web, login)
    if wait > 0:
        raise Failure(
            "resend_wait",
            message=f"Wait {wait} seconds before asking for another code.",
            retry_after=wait,
        )
    raw = body.get("phoneNumber")
    phone = None
    if raw not in (None, ""):
        phone = phone_number(text(body, "phoneNumber", "invalid_phone", max_length=40))
    if phone is None and not login.phone:
        raise Failure("phone_missing")
    web.backend.send_sms_code(
        organization_id=login.organization_id,
        member_id=login.member_id,
        intermediate_session_token=login.ist,
        phone_number=phone,
    )
    sent = login.sent(now, masked(phone) if phone else None)
    return Reply(
        "OTP sent",
        # A resend says so: the code in hand before no longer works.
        redirect="/smsmfa?sent=true&info=code_sent" if login.sent_at else "/smsmfa?sent=true",
        fields={"phoneNumber": sent.phone, "retryAfter": config.resend_cooldown_seconds},
        cookie_ops=[lambda r: cookies.set_pending(config, r, sent)],
    )


def authenticate_code(web: Webapp, call: Call, body: Mapping[str, Any]) -> Reply:
    """7. `POST /api/mfa/authenticate {code}`: finish the login with the texted code."""
    login = login_in_progress(web, call, waiting_for_mfa=True)
    raw = body.get("code")
    code = raw.replace(" ", "").strip() if isinstance(raw, str) else ""
    if not _CODE.fullmatch(code):
        raise Failure("invalid_code")
    step = web.backend.authenticate_sms_code(
        organization_id=login.organization_id,
        member_id=login.member_id,
        intermediate_session_token=login.ist,
        code=code,
    )
    if not step.authenticated:  # cannot happen with a right code; never a silent success
        raise Failure("server_error")
    return Reply(
        "OTP Authentication successful",
        redirect="/dashboard",
        cookie_ops=_session_cookie(web, step),
    )


def update_mfa(web: Webapp, call: Call, body: Mapping[str, Any]) -> Reply:
    """8. `POST /api/mfa/update {mfaOptIn}`: the signed-in member opts in or out of MFA.

    Only the member themself (the body's `organizationId`/`memberId` are ignored), only where
    the organization leaves MFA to its members, checked with the server now. Opting out of a
    factor that is in use (a verified phone) needs a session that passed MFA, so someone who
    holds only the member's mailbox cannot turn MFA off (a verified phone or an
    authenticator app).
    """
    opt_in = flag(body, "mfaOptIn", "invalid_mfa_opt_in")
    signed = signed_in(web, call, fresh=True)
    current = membership_of(web, signed)
    status = mfa_status(current.organization, current.member)
    if status.required:
        raise Failure("mfa_required_by_policy" if not opt_in else "mfa_not_optional")
    if status.policy != OPTIONAL:
        raise Failure("mfa_not_optional")
    if (
        not opt_in
        and status.enrolled
        and status.has_factor
        and not has_second_factor(signed.factors)
    ):
        raise Failure("mfa_recent_factor_needed")
    updated = web.backend.set_mfa_enrollment(
        signed.organization_id, signed.member_id, enrolled=opt_in
    )
    reply = _membership_reply("MFA opt-in updated successfully", updated, signed.cookie_ops)
    reply.redirect = "/dashboard?info=" + ("mfa_on" if opt_in else "mfa_off")
    return reply


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
    login = login_in_progress(web, call, waiting_for_mfa=True)
    typed = _typed_code(body, "code")
    code = typed.replace(" ", "")
    if not _CODE.fullmatch(code):
        # A recovery code typed here: say where it goes (the server would refuse it too).
        raise Failure(
            "recovery_code_as_totp" if _RECOVERY_CODE.fullmatch(typed) else "invalid_totp_code"
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
        cookie_ops=_session_cookie(web, step),
    )


def recover(web: Webapp, call: Call, body: Mapping[str, Any]) -> Reply:
    """`POST /api/mfa/recover {recoveryCode}`: finish the login with one of the member's
    recovery codes, which is then used up. The dashboard says so (and when none are left)."""
    login = login_in_progress(web, call, waiting_for_mfa=True)
    typed = _typed_code(body, "recoveryCode")
    if _CODE.fullmatch(typed.replace(" ", "")):
        raise Failure("totp_code_as_recovery")
    if not _RECOVERY_CODE.fullmatch(typed):
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
        cookie_ops=_session_cookie(web, step),
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
    signed = signed_in(web, call, fresh=True)
    membership = membership_of(web, signed)
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
    signed = signed_in(web, call, fresh=True)
    membership = membership_of(web, signed)
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
    if not _CODE.fullmatch(code):
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
    signed = signed_in(web, call, fresh=True)
    membership = membership_of(web, signed)
    if not mfa_status(membership.organization, membership.member).totp:
        raise Failure("totp_not_set_up", redirect="/dashboard")
    if not has_second_factor(signed.factors):
        raise Failure("recovery_codes_need_mfa", redirect="/dashboard")
    with _totp_failures(redirect="/dashboard"):
        fresh = web.backend.rotate_recovery_codes(signed.organization_id, signed.member_id)
    return NewCodes(membership, fresh, list(signed.cookie_ops))


def logout(web: Webapp, call: Call) -> Reply:
    """9. `POST` (and the tutorial's `GET`) `/api/auth/logout`: revoke the session, forget both
    cookies. 401 when there was no session to end; the revocation is awaited."""
    config = web.config
    token = cookies.session_jwt(config, dict(call.cookies))
    forget: list[CookieOp] = [
        lambda r: cookies.clear_session(config, r),
        lambda r: cookies.clear_pending(config, r),
    ]
    if not token:
        raise Failure("not_signed_in", redirect="/?error=not_signed_in", cookie_ops=forget)
    try:
        web.verifier.verify(token)
    except JwtExpired:
        pass  # still revocable: the server checks the session behind it
    except JwtInvalid:
        # Not a JWT of ours: nothing to revoke, but nothing is signed in here any more.
        return Reply("Logged out", redirect="/?info=signed_out", cookie_ops=forget)
    try:
        web.backend.revoke_session(token)
    except BackendError as exc:
        failure = from_backend(exc)
        if failure.code != "session_expired":  # already ended: the goal is reached
            failure.cookie_ops = forget
            raise failure from exc
    return Reply("Logged out", redirect="/?info=signed_out", cookie_ops=forget)


def _end_previous_session(web: Webapp, call: Call) -> None:
    """A new login replaces the browser's session: end the old one on the server too
    (ASVS 7.2.4), not only forget its cookie. Best effort: it ends by itself anyway."""
    previous = cookies.session_jwt(web.config, dict(call.cookies))
    if not previous:
        return
    try:
        web.verifier.verify(previous)
    except JwtExpired:
        pass
    except (JwtInvalid, BackendError):
        return
    with contextlib.suppress(BackendError):
        web.backend.revoke_session(previous)


def _membership_reply(message: str, membership: Membership, ops: list[CookieOp]) -> Reply:
    return Reply(
        message,
        fields={
            "organization": organization_json(membership.organization),
            "member": member_json(membership.member),
            "mfa": mfa_status(membership.organization, membership.member).as_json(),
        },
        cookie_ops=list(ops),
    )


def resend_wait(web: Webapp, login: Pending) -> int:
    """Seconds before another code may be asked for (0: now)."""
    now = int(web.config.clock.now().timestamp())
    return max(0, login.sent_at + web.config.resend_cooldown_seconds - now) if login.sent_at else 0
