"""The tutorial's nine endpoints as actions: input in, a `Reply` or a `Failure` out.

Framework-free on purpose: `webapp.api` parses the request and renders the reply (JSON, or a
redirect for a form post). Who an action acts for (the signed-in member, the login in
progress: `identity`, which pages reuse), the body's fields (`inputs`) and the authenticator
app and recovery codes (`totp_actions`) are in modules of their own. Rules every action keeps
(seed-app.md §4):

- who the member is and which organization they are in come from the session cookie (a JWT
  checked locally, refreshed through the server when expired) or from the signed
  pending-login cookie, never from the request body or the URL;
- an SMS code is sent only for a login in progress that waits for MFA (its IST);
- the MFA step offers only the second factors the member has and the organization allows
  (`totp_actions.mfa_choices`); an authenticator app is added, and recovery codes renewed,
  only by the signed-in member with a session checked with the server at that moment;
- MFA opt-in/out only for the signed-in member, only where the organization's policy leaves
  it to them, checked with the server at that moment (a revoked session is refused at once);
- no answer carries a token;
- every refusal is a `Failure` with a real status code and a sentence for people.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from antechamber.errors import AntechamberError, TooManyRequests
from antechamber.phones import masked
from antechamber.webapp import cookies, identity, inputs
from antechamber.webapp.backend import (
    JSON,
    OPTIONAL,
    REQUIRED_FOR_ALL,
    BackendError,
    LoginStep,
    Membership,
)
from antechamber.webapp.config import Webapp
from antechamber.webapp.cookies import Pending
from antechamber.webapp.errors import CookieOp, Failure, from_backend
from antechamber.webapp.inputs import Call
from antechamber.webapp.sessions import JwtExpired, JwtInvalid, has_second_factor
from antechamber.webapp.views import (
    discovered_json,
    member_json,
    method_allowed,
    mfa_status,
    organization_json,
)

START_LIMIT_NAME = "webapp:start"
#: The token type of invitation and organization login links (Stytch's).
ORGANIZATION_LINK = "multi_tenant_magic_links"


@dataclass
class Reply:
    """A successful answer: the tutorial's `message`, where to go next (`redirectPath`),
    extra fields, and cookies to set or clear."""

    message: str
    redirect: str | None = None
    fields: JSON = field(default_factory=dict)
    cookie_ops: list[CookieOp] = field(default_factory=list)


# -- entering an organization -------------------------------------------------------------------


def session_cookie(web: Webapp, step: LoginStep) -> list[CookieOp]:
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
            done, redirect="/dashboard", fields=fields, cookie_ops=session_cookie(web, step)
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
    email = inputs.text(body, "email", "invalid_email", max_length=inputs.MAX_EMAIL_LENGTH)
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
    token = inputs.text(body, "token", "link_invalid", max_length=inputs.MAX_TOKEN_LENGTH)
    if kind == ORGANIZATION_LINK:
        return organization_link(web, call, token)
    found = web.backend.authenticate_discovery_link(token)
    config = web.config
    end_previous_session(web, call)
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
    end_previous_session(web, call)
    login = Pending(
        ist="", email=str(step.member.get("email_address", ""))[: inputs.MAX_EMAIL_LENGTH]
    )
    return conclude(web, login, step, "Auth complete", "2FA started")


def create(web: Webapp, call: Call, body: Mapping[str, Any]) -> Reply:
    """3. `POST /api/discovery/create {organizationName, requireMfa}`.

    The creator becomes the organization's admin (stytch_admin); people at the creator's
    email domain may then join it (JIT RESTRICTED), except for webmail domains.
    """
    login = identity.login_in_progress(web, call)
    if login.waiting_for_mfa:
        raise Failure("not_for_create")
    name = inputs.text(
        body, "organizationName", "invalid_organization_name", max_length=inputs.MAX_ORG_NAME
    )
    if len(name) < inputs.MIN_ORG_NAME:
        raise Failure("invalid_organization_name")
    require_mfa = inputs.flag(body, "requireMfa", "invalid_require_mfa", default=False)
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
    signed = identity.signed_in(web, call)
    membership = identity.membership_of(web, signed)
    return _membership_reply("Org retrieved successfully", membership, signed.cookie_ops)


def select_organization(web: Webapp, call: Call, body: Mapping[str, Any]) -> Reply:
    """5. `POST /api/discovery/select-organization {organizationId}`: enter an organization."""
    login = identity.login_in_progress(web, call)
    organization_id = inputs.text(body, "organizationId", "invalid_organization_id", max_length=128)
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
    login = identity.login_in_progress(web, call, waiting_for_mfa=True)
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
        phone = inputs.phone_number(
            inputs.text(body, "phoneNumber", "invalid_phone", max_length=40)
        )
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
    login = identity.login_in_progress(web, call, waiting_for_mfa=True)
    raw = body.get("code")
    code = raw.replace(" ", "").strip() if isinstance(raw, str) else ""
    if not inputs.CODE.fullmatch(code):
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
        cookie_ops=session_cookie(web, step),
    )


def update_mfa(web: Webapp, call: Call, body: Mapping[str, Any]) -> Reply:
    """8. `POST /api/mfa/update {mfaOptIn}`: the signed-in member opts in or out of MFA.

    Only the member themself (the body's `organizationId`/`memberId` are ignored), only where
    the organization leaves MFA to its members, checked with the server now. Opting out of a
    factor that is in use (a verified phone) needs a session that passed MFA, so someone who
    holds only the member's mailbox cannot turn MFA off (a verified phone or an
    authenticator app).
    """
    opt_in = inputs.flag(body, "mfaOptIn", "invalid_mfa_opt_in")
    signed = identity.signed_in(web, call, fresh=True)
    current = identity.membership_of(web, signed)
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


def end_previous_session(web: Webapp, call: Call) -> None:
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
