"""An organization's own email links: invitations, and login (or sign-up) links.

    invite(org, email)          ──▶ member `invited` + link (kind invite) in the outbox
    login_or_signup(org, email) ──▶ link (kind login for an active member, signup otherwise;
                                    a new member is created `pending` where JIT allows it)
    authenticate_link(token)    ──▶ the member becomes `active`; a session, or the MFA step
                                    (`sessions.login.conclude`, exactly as a discovery login)

Contract:
- Tokens are 256 random bits, stored as SHA-256 (`magic_links.service.issue`), carried in the
  link `<redirect>?stytch_token_type=multi_tenant_magic_links&token=…` and redeemed once by one
  atomic conditional UPDATE, so of concurrent redemptions exactly one succeeds.
- One live link per address and organization: a re-invite or a new login link ends the older
  unused ones (refused afterwards with "a newer link was sent").
- Deleting a member revokes their invitation: redemption looks the member up again by id and
  refuses a link whose member is gone (a member re-created with the same email is another id).
- Every refusal raises, which rolls the whole unit of work back: the link stays unused.
- Members are created through `members.service.create_member`, the one place a member comes
  to exist (roles and their rules live there).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from antechamber.audit import service as audit
from antechamber.audit.events import EventType
from antechamber.delivery import outbox
from antechamber.discovery import errors as discovery_errors
from antechamber.email_auth import errors
from antechamber.emails import canonical_email, domain_of
from antechamber.magic_links import service as magic_links
from antechamber.magic_links.service import INVITE, LOGIN, ORGANIZATION_KINDS, SIGNUP
from antechamber.members import service as members
from antechamber.members.errors import DuplicateMemberEmail
from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.organizations.service import get_organization
from antechamber.ratelimit import Check
from antechamber.rbac.errors import FieldNotAllowedWithMemberSession
from antechamber.redirects import service as redirects
from antechamber.scope import Scope
from antechamber.sessions import errors as session_errors
from antechamber.sessions import factors, intermediate, login
from antechamber.sessions import service as sessions
from antechamber.sessions.factors import Factor
from antechamber.sessions.login import AuthResult
from antechamber.sessions.models import IntermediateSession

#: The `stytch_token_type` of every organization link (invite, login, signup).
TOKEN_TYPE = "multi_tenant_magic_links"  # noqa: S105 - a URL parameter value, not a secret
INVITE_TEMPLATE = "invite_magic_link"
LOGIN_TEMPLATE = "login_magic_link"
INVITE_DEFAULT_MINUTES = 10080  # one week, as Stytch
LOGIN_DEFAULT_MINUTES = 60


@dataclass(frozen=True)
class Sent:
    """What a send answers: the organization, the member the link went to, and whether the
    member was created by this call."""

    organization: Organization
    member: Member
    member_created: bool = False


@dataclass(frozen=True)
class LinkLogin:
    """A redeemed organization link: the login's outcome and the email's method id."""

    result: AuthResult
    method_id: str


def invite(
    scope: Scope,
    *,
    organization_id: str,
    email_address: object,
    invite_redirect_url: str | None = None,
    invited_by_member_id: str | None = None,
    name: str | None = None,
    trusted_metadata: Mapping[str, Any] | None = None,
    untrusted_metadata: Mapping[str, Any] | None = None,
    roles: list[str] | None = None,
    locale: str | None = None,
    invite_expiration_minutes: int | None = None,
) -> Sent:
    """Invite `email_address` into the organization and email them the invitation.

    A new member is created `invited`; a `pending` one becomes `invited`; an `invited` one is
    invited again (their earlier link stops working). An `active` member is refused
    (`duplicate_member_email`). The organization's `email_invites` decides who may be invited
    (`invalid_email_for_invites`). Limits: per inviter, per organization, per recipient
    (`invite:*`), then the outbox's email limits. Consumes nothing.
    """
    org = get_organization(scope, organization_id)
    email = canonical_email(email_address)
    redirect_url = redirects.resolve(scope, INVITE, invite_redirect_url)
    minutes = magic_links.expiration(
        invite_expiration_minutes, INVITE_DEFAULT_MINUTES, "invite_expiration_minutes"
    )
    language = magic_links.locale(locale)
    if scope.acting_member_id is not None:
        # Made with a member's session: the email names that member, whoever the call names.
        if invited_by_member_id and invited_by_member_id != scope.acting_member_id:
            raise FieldNotAllowedWithMemberSession(
                "invited_by_member_id must be the member whose session makes the call."
            )
        invited_by_member_id = scope.acting_member_id
    inviter = _inviter(scope, org, invited_by_member_id)
    check_invitable(org, email)
    existing = _member(scope, org, email)
    if existing is not None and existing.status == "active":
        raise DuplicateMemberEmail(
            "This email address is already an active member of the organization."
        )
    _count_invite(scope, org, email, inviter)
    fields: dict[str, Any] = {
        "email_address": email,
        "name": name,
        "trusted_metadata": trusted_metadata,
        "untrusted_metadata": untrusted_metadata,
        "roles": roles,
    }
    created = existing is None
    if existing is None:
        member = members.create_member(scope, org, fields, status="invited")
    else:
        changes = {k: v for k, v in fields.items() if v is not None and k != "email_address"}
        member = members.update_member(scope, org, existing.id, changes) if changes else existing
        members.set_status(scope, member, "invited")
    _, token = magic_links.issue(
        scope,
        kind=INVITE,
        email=email,
        redirect_url=redirect_url,
        minutes=minutes,
        organization_id=org.id,
        member_id=member.id,
    )
    outbox.enqueue(
        scope,
        channel="email",
        recipient=email,
        template=INVITE_TEMPLATE,
        context={
            "url": magic_links.link_url(redirect_url, TOKEN_TYPE, token),
            "organization_name": org.name,
            "inviter": _inviter_label(inviter),
            "expiration_minutes": minutes,
        },
        locale=language,
    )
    audit.record(
        scope,
        EventType.MEMBER_INVITED,
        organization_id=org.id,
        member_id=member.id,
        invited_by_member_id=inviter.id if inviter else None,
        reinvite=not created,
        expiration_minutes=minutes,
    )
    return Sent(org, member, created)


def resend_invite(
    scope: Scope, *, organization_id: str, member_id: str, locale: str | None = None
) -> Sent:
    """Invite an `invited` member again (a new link; the earlier one ends), with the project's
    default invite URL and lifetime. `member_not_invited` for any other status."""
    org = get_organization(scope, organization_id)
    member = members.get_member(scope, org, member_id=member_id)
    if member.status != "invited":
        raise errors.MemberNotInvited()
    return invite(scope, organization_id=org.id, email_address=member.email_address, locale=locale)


def revoke_invite(scope: Scope, *, organization_id: str, member_id: str) -> str:
    """Withdraw an open invitation: the `invited` member is deleted, which kills every link
    sent to them (see the module docstring). `member_not_invited` for any other status, so a
    slip never removes an active member. Returns the member id."""
    org = get_organization(scope, organization_id)
    member = members.get_member(scope, org, member_id=member_id)
    if member.status != "invited":
        raise errors.MemberNotInvited()
    audit.record(
        scope, EventType.MEMBER_INVITE_REVOKED, organization_id=org.id, member_id=member.id
    )
    return members.delete_member(scope, org, member.id)


def check_invitable(org: Organization, email: str) -> None:
    """The organization's `email_invites` rule for the canonical `email`."""
    if org.email_invites == "NOT_ALLOWED":
        raise errors.InvalidEmailForInvites(
            "The organization does not allow invitations (email_invites is NOT_ALLOWED)."
        )
    if org.email_invites == "RESTRICTED" and domain_of(email) not in org.email_allowed_domains:
        raise errors.InvalidEmailForInvites(
            "The organization allows invitations only to its email_allowed_domains, and this "
            "email address's domain is not one of them."
        )


def login_or_signup(
    scope: Scope,
    *,
    organization_id: str,
    email_address: object,
    login_redirect_url: str | None = None,
    signup_redirect_url: str | None = None,
    pkce_code_challenge: str | None = None,
    locale: str | None = None,
    login_expiration_minutes: int | None = None,
    signup_expiration_minutes: int | None = None,
) -> Sent:
    """Email an organization login link: a login link to an active member, a sign-up link to
    a pending or invited one, and to a new address where the organization's email JIT rules
    let its domain join (the member is created `pending`; else
    `email_jit_provisioning_not_allowed` / `invalid_email_for_jit_provisioning`). Refused with
    `operation_restricted_by_organization_auth_methods` where the organization's allowed auth
    methods leave out `magic_link`. The address's older unused link to this organization ends.
    """
    org = get_organization(scope, organization_id)
    email = canonical_email(email_address)
    check_auth_method(org, "magic_link")
    challenge = magic_links.challenge(pkce_code_challenge)
    language = magic_links.locale(locale)
    login_minutes = magic_links.expiration(
        login_expiration_minutes, LOGIN_DEFAULT_MINUTES, "login_expiration_minutes"
    )
    signup_minutes = magic_links.expiration(
        signup_expiration_minutes, LOGIN_DEFAULT_MINUTES, "signup_expiration_minutes"
    )
    member, created = member_for_login(scope, org, email)
    kind = LOGIN if member.status == "active" else SIGNUP
    requested = login_redirect_url if kind == LOGIN else signup_redirect_url
    redirect_url = redirects.resolve(scope, kind, requested)
    minutes = login_minutes if kind == LOGIN else signup_minutes
    _, token = magic_links.issue(
        scope,
        kind=kind,
        email=email,
        redirect_url=redirect_url,
        minutes=minutes,
        organization_id=org.id,
        member_id=member.id,
        pkce_code_challenge=challenge,
    )
    outbox.enqueue(
        scope,
        channel="email",
        recipient=email,
        template=LOGIN_TEMPLATE,
        context={
            "url": magic_links.link_url(redirect_url, TOKEN_TYPE, token),
            "organization_name": org.name,
            "signup": kind == SIGNUP,
            "expiration_minutes": minutes,
        },
        locale=language,
    )
    return Sent(org, member, created)


def member_for_login(scope: Scope, org: Organization, email: str) -> tuple[Member, bool]:
    """The member `email` logs in as, created `pending` if the organization's JIT rules let
    its domain join; (member, created)."""
    member = _member(scope, org, email)
    if member is not None:
        return member, False
    if org.email_jit_provisioning != "RESTRICTED":
        raise discovery_errors.EmailJitProvisioningNotAllowed()
    if domain_of(email) not in org.email_allowed_domains:
        raise discovery_errors.InvalidEmailForJitProvisioning()
    created = members.create_member(scope, org, {"email_address": email}, status="pending")
    audit.record(
        scope, EventType.MEMBER_JIT_PROVISIONED, organization_id=org.id, member_id=created.id
    )
    return created, True


def check_auth_method(org: Organization, method: str) -> None:
    """Refuse a primary method the organization's `allowed_auth_methods` leave out."""
    if org.auth_methods == "RESTRICTED" and method not in org.allowed_auth_methods:
        raise errors.OperationRestrictedByAuthMethods(
            f"The organization's allowed_auth_methods do not include {method}."
        )


def authenticate_link(
    scope: Scope,
    token: object,
    *,
    pkce_code_verifier: str | None = None,
    intermediate_session_token: str | None = None,
    session_token: str | None = None,
    session_jwt: str | None = None,
    session_duration_minutes: int | None = None,
    session_custom_claims: Any = None,
    locale: str | None = None,
) -> LinkLogin:
    """Redeem an invite, login or sign-up link (single use) and conclude the login.

    The member becomes `active` with a verified email, then `sessions.login.conclude` decides:
    a session, or an IST bound to (organization, member) with `mfa_required` /
    `primary_required`, exactly as a discovery login. With `intermediate_session_token` (of
    the same email, unbound or bound to this organization and member) its factors join the
    link's; with a live session of the same member its factors join too (no MFA asked again);
    another member's session is ignored. Raises `MagicLinkNotFound` (404: unknown, or a
    discovery token), `UnableToAuthMagicLink` (401: used, expired, superseded, revoked),
    the PKCE errors, and the IST's errors.
    """
    if session_token and session_jwt:
        raise session_errors.TooManySessionArguments()
    sessions.duration(session_duration_minutes)
    ist: IntermediateSession | None = None
    if intermediate_session_token:
        ist = intermediate.claim(scope, intermediate_session_token)
    link = magic_links.redeem(
        scope, token, ORGANIZATION_KINDS, pkce_code_verifier=pkce_code_verifier
    )
    org = scope.db.get(Organization, link.organization_id) if link.organization_id else None
    member = scope.db.get(Member, link.member_id) if link.member_id else None
    if (
        org is None
        or member is None
        or org.project_id != scope.project_id
        or member.organization_id != org.id
        or member.email_address != link.email_address
    ):
        raise errors.InviteRevoked()
    login_factors: list[Factor] = []
    if ist is not None:
        if ist.email_address != member.email_address:
            raise session_errors.InvalidIntermediateSessionForOrganization()
        intermediate.check_binding(ist, org.id, member.id)
        login_factors += ist.factors
    if session_token or session_jwt:
        current, current_member, _ = sessions.resolve(
            scope, session_token=session_token, session_jwt=session_jwt
        )
        if current_member.id == member.id:
            login_factors += current.factors
    if member.status != "active":
        members.set_status(scope, member, "active")
    now = scope.clock.now()
    login_factors.append(
        factors.magic_link(scope.environment, scope.project_id, link.email_address, now)
    )
    result = login.conclude(
        scope,
        org,
        member,
        latest_of_each(login_factors),
        ist=(ist, str(intermediate_session_token)) if ist is not None else None,
        session_duration_minutes=session_duration_minutes,
        session_custom_claims=session_custom_claims,
        locale=locale,
    )
    method_id = factors.email_id(scope.environment, scope.project_id, member.email_address)
    return LinkLogin(result, method_id)


def latest_of_each(login_factors: list[Factor]) -> list[Factor]:
    """One factor per (type, delivery method): the newest (last) wins."""
    kept: dict[tuple[str, str], Factor] = {}
    for factor in login_factors:
        kept[(str(factor.get("type")), str(factor.get("delivery_method")))] = factor
    return list(kept.values())


def _member(scope: Scope, org: Organization, email: str) -> Member | None:
    return scope.db.scalar(
        select(Member).where(Member.organization_id == org.id, Member.email_address == email)
    )


def _inviter(scope: Scope, org: Organization, member_id: str | None) -> Member | None:
    if not member_id:
        return None
    inviter = scope.db.get(Member, member_id)
    if inviter is None or inviter.organization_id != org.id or inviter.status != "active":
        raise errors.InviterNotFound()
    return inviter


def _inviter_label(inviter: Member | None) -> str:
    if inviter is None:
        return ""
    if inviter.name:
        return f"{inviter.name} ({inviter.email_address})"
    return inviter.email_address


def _count_invite(scope: Scope, org: Organization, email: str, inviter: Member | None) -> None:
    """The invitation limits, all counted or none (`ratelimit.RateLimiter.hit_all`).

    The inviter is the `invited_by` member, else the operator or CLI that asked; an API call
    naming nobody has no inviter to count (one API secret serves every admin of an app), and
    the organization's and the recipient's limits still hold.
    """
    if scope.limiter is None:
        raise RuntimeError("this Scope has no rate limiter; build it with Services.scope")
    checks = [Check("invite:organization", org.id), Check("invite:recipient", email)]
    who = f"member:{inviter.id}" if inviter is not None else scope.actor
    if not who.startswith("secret:"):
        checks.append(Check("invite:inviter", f"{scope.project_id}:{who}"))
    scope.limiter.hit_all(checks)
