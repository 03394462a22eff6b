"""The one place that decides whether a member must pass a second factor.

Used by organization create and IST exchange (discovery), session exchange, member updates
(opt-out) and the OTP calls (docs/mfa.md). Rules:
- `REQUIRED_FOR_ALL`: every member, always;
- beyond Stytch, `mfa_required_roles`: members holding one of those roles, even when OPTIONAL;
- otherwise: members who opted in (`mfa_enrolled`).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.rbac import assignment, sso_grants
from antechamber.sessions import factors as factor_kinds
from antechamber.sessions.factors import Factor


def role_ids(
    db: Session, member: Member, org: Organization | None = None, factors: Iterable[Factor] = ()
) -> list[str]:
    """Every member has `stytch_member`, then the roles assigned directly and, given the
    member's organization, those its email domain implies and those the SAML connections of
    `factors` (a session's or a login's) imply (`rbac.assignment`, `rbac.sso_grants`, which
    reads the connections from `db`: `member` may be in no unit of work, as a session
    check's is)."""
    sso = sso_grants.session_grants(db, member, factors)
    return assignment.role_ids(org, member, sso)


def required_by_policy(
    db: Session, org: Organization, member: Member, factors: Iterable[Factor] = ()
) -> bool:
    """MFA the member cannot opt out of; `factors`: the login's, whose SAML connection may
    imply a role listed in `mfa_required_roles`."""
    return policy_decision(db, org, member, factors)[0]


def policy_decision(
    db: Session, org: Organization, member: Member, factors: Iterable[Factor] = ()
) -> tuple[bool, list[str] | None]:
    """`required_by_policy`, and the roles (`role_ids` of the member, organization and
    `factors`) if deciding it read them: None under REQUIRED_FOR_ALL, which needs none. A login
    that goes on to start a session hands them on (`sessions.service.start`'s `roles`), so
    they are worked out once per step."""
    if org.mfa_policy == "REQUIRED_FOR_ALL":
        return True, None
    roles = role_ids(db, member, org, factors)
    return required_by_roles(org, roles), roles


def required_by_roles(org: Organization, roles: Iterable[str]) -> bool:
    """`required_by_policy` of a member holding `roles` (`role_ids`, with the login's
    factors)."""
    return org.mfa_policy == "REQUIRED_FOR_ALL" or any(
        role in org.mfa_required_roles for role in roles
    )


def mfa_required(
    db: Session, org: Organization, member: Member, factors: Iterable[Factor] = ()
) -> bool:
    """Whether a login of `member` into `org` with `factors` needs a second factor before a
    session."""
    return mfa_decision(db, org, member, factors)[0]


def mfa_decision(
    db: Session, org: Organization, member: Member, factors: Iterable[Factor] = ()
) -> tuple[bool, list[str] | None]:
    """`mfa_required`, and the roles if deciding it read them (`policy_decision`)."""
    required, roles = policy_decision(db, org, member, factors)
    return required or member.mfa_enrolled, roles


def mfa_required_of(org: Organization, member: Member, roles: Iterable[str]) -> bool:
    """`mfa_required` of a login whose roles (`role_ids` of the member, organization and
    factors) the caller has already read."""
    return required_by_roles(org, roles) or member.mfa_enrolled


def method_allowed(org: Organization, method: str) -> bool:
    """Whether the org's `mfa_methods` setting lets members use `method` (sms_otp, totp)."""
    return org.mfa_methods != "RESTRICTED" or method in org.allowed_mfa_methods


def mfa_satisfied(org: Organization, login_factors: Iterable[Factor]) -> bool:
    """Whether the factors hold a second factor of a method the organization allows (an SMS
    code, a TOTP code or a TOTP recovery code; RESTRICTED `mfa_methods` narrow the list)."""
    return any(method_allowed(org, m) for m in factor_kinds.mfa_methods(login_factors))


def sms_sent_automatically(org: Organization, member: Member) -> bool:
    """Whether a login that stops for MFA texts the member a code at once (Stytch's
    `secondary_auth_initiated: "sms_otp"`).

    Only to a *verified* phone (a number nobody has proven is never texted unasked), only where
    the organization allows SMS, and only when SMS is the member's default MFA method or their
    only one: a member whose default is `totp`, or who has an active TOTP registration and no
    default, is not texted (they will open their authenticator app).
    """
    if not (
        member.mfa_phone_number
        and member.mfa_phone_number_verified
        and method_allowed(org, "sms_otp")
    ):
        return False
    if member.default_mfa_method == "sms_otp":
        return True
    return member.default_mfa_method == "" and not member.totp_registration_id
