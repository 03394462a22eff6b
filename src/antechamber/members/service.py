"""Members of an organization: create, read, update, delete, search.

Emails are canonicalised by `emails` and unique within an organization; phone numbers
are E.164 and unique within an organization.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, String, and_, bindparam, cast, delete, or_, select

from antechamber import json_columns, metadata, pagination, text
from antechamber.audit import service as audit
from antechamber.audit.events import EventType
from antechamber.clock import as_utc
from antechamber.emails import canonical_email
from antechamber.ids import new_id
from antechamber.members import deleted, errors
from antechamber.members.models import Member
from antechamber.mfa import lockout, policy
from antechamber.organizations import rules
from antechamber.organizations.models import Organization
from antechamber.organizations.service import get_organization
from antechamber.otp.errors import MfaPhoneNumberMismatch
from antechamber.otp.models import SmsOtp
from antechamber.phones import canonical_phone
from antechamber.rbac import assignment
from antechamber.rbac import service as rbac
from antechamber.scope import Scope

STATUSES = ("active", "pending", "invited")


@dataclass(frozen=True)
class Page:
    members: Sequence[Member]
    total: int
    next_cursor: str | None


def create_member(
    scope: Scope,
    org: Organization,
    fields: Mapping[str, Any],
    *,
    verified: bool = False,
    status: str | None = None,
) -> Member:
    """Add a member to `org`. `verified` marks the email as proven (discovery, JIT).

    `status` is `active` (default), `pending` (also `create_member_as_pending`) or `invited`
    (an invitation, `email_auth.links.invite`).
    """
    now = scope.clock.now()
    member = Member(
        id=new_id("member", scope.environment),
        project_id=scope.project_id,
        organization_id=org.id,
        email_address=canonical_email(fields.get("email_address")),
        email_address_verified=verified,
        status=status or ("pending" if fields.get("create_member_as_pending") else "active"),
        name="",
        trusted_metadata={},
        untrusted_metadata={},
        roles=[],
        mfa_enrolled=False,
        mfa_phone_number="",
        mfa_phone_number_verified=False,
        default_mfa_method="",
        is_breakglass=False,
        created_at=now,
        updated_at=now,
    )
    if _find_by_email(scope, org.id, member.email_address) is not None:
        raise errors.DuplicateMemberEmail()
    _apply(scope, org, member, fields)
    scope.db.add(member)
    scope.db.flush()
    audit.record(
        scope,
        EventType.MEMBER_CREATED,
        organization_id=org.id,
        member_id=member.id,
        roles=policy.role_ids(scope.db, member, org),
    )
    return member


def get_member(
    scope: Scope, org: Organization, *, member_id: str | None = None, email: str | None = None
) -> Member:
    """By id or by email (exactly one), within `org` only."""
    member_id = None if member_id in (None, "", "undefined", "null") else member_id
    email = None if email in (None, "", "undefined", "null") else email
    if (member_id is None) == (email is None):
        raise errors.InvalidMemberGetFields()
    if member_id is not None:
        member = scope.db.get(Member, member_id)
        if member is None or member.organization_id != org.id:
            raise errors.MemberNotFound()
        return member
    found = _find_by_email(scope, org.id, canonical_email(email))
    if found is None:
        raise errors.MemberNotFound()
    return found


def update_member(
    scope: Scope, org: Organization, member_id: str, fields: Mapping[str, Any]
) -> Member:
    member = get_member(scope, org, member_id=member_id)
    before = _snapshot(member)
    if fields.get("email_address"):
        email = canonical_email(fields["email_address"])
        if email != member.email_address:
            if _find_by_email(scope, org.id, email) is not None:
                raise errors.DuplicateMemberEmail()
            implied_before = policy.role_ids(scope.db, member, org)
            member.email_address = email
            member.email_address_verified = False
            # A new domain may imply other roles: only who could give them may do that.
            rbac.check_implied_change(
                scope, org, implied_before, policy.role_ids(scope.db, member, org)
            )
    _apply(scope, org, member, fields)
    member.updated_at = scope.clock.now()
    changed = sorted(k for k, v in _snapshot(member).items() if before[k] != v)
    if "roles" in changed or "email_address" in changed:
        # A member's session may not leave the organization without a manager of roles.
        rbac.ensure_role_manager(scope, org)
    audit.record(
        scope,
        EventType.MEMBER_UPDATED,
        organization_id=org.id,
        member_id=member.id,
        changed=changed,
    )
    scope.db.flush()
    return member


def delete_member(scope: Scope, org: Organization, member_id: str) -> str:
    """Remove the member (sessions, codes and authenticator app go with them); a copy is kept
    for `reactivate_member` (`members.deleted`)."""
    member = get_member(scope, org, member_id=member_id)
    rbac.ensure_role_manager(scope, org, without=member.id)
    deleted.remember(scope, member)
    scope.db.delete(member)
    audit.record(scope, EventType.MEMBER_DELETED, organization_id=org.id, member_id=member_id)
    scope.db.flush()
    return member_id


def reactivate_member(scope: Scope, org: Organization, member_id: str) -> Member:
    """A deleted member of `org` back, active, under the same id (`members.deleted`)."""
    return deleted.reactivate(scope, org, member_id)


def set_status(scope: Scope, member: Member, status: str) -> Member:
    """Move a member to `status` (`active`, `pending`, `invited`); audited when it changes.

    `active` also marks the email verified: every path here has just proven it (a redeemed
    invite or login link, an email code).
    """
    if status not in STATUSES:
        raise ValueError(f"unknown member status {status!r}")
    changed = member.status != status
    if status == "active" and not member.email_address_verified:
        member.email_address_verified = True
        changed = True
    if member.status != status:
        audit.record(
            scope,
            EventType.MEMBER_STATUS_CHANGED,
            organization_id=member.organization_id,
            member_id=member.id,
            before=member.status,
            after=status,
        )
        member.status = status
    if changed:
        member.updated_at = scope.clock.now()
        scope.db.flush()
    return member


def roles_with_admin(member: Member, is_admin: bool) -> list[str]:
    """The member's direct roles with `stytch_admin` given (True) or taken away (False)."""
    # Direct roles only (no organization, no session): nothing to read.
    others = [r for r in assignment.role_ids(None, member, []) if r != "stytch_admin"]
    return [*others, "stytch_admin"] if is_admin else others


def unlock_member(scope: Scope, org: Organization, member_id: str) -> Member:
    """End a member's MFA lockout now and forget their run of failures (an operator vouched
    for them). Idempotent; the audit event says whether a lock was in force."""
    member = get_member(scope, org, member_id=member_id)
    expires = member.lock_expires_at
    was_locked = expires is not None and as_utc(expires) > scope.clock.now()
    lockout.unlock(scope, member)
    member.updated_at = scope.clock.now()
    audit.record(
        scope,
        EventType.MEMBER_UNLOCKED,
        organization_id=org.id,
        member_id=member.id,
        was_locked=was_locked,
    )
    scope.db.flush()
    return member


def reset_sms_phone(scope: Scope, org: Organization, member: Member) -> Member:
    """Forget the member's MFA phone (a lost or changed phone; Stytch's
    `members/mfa_phone_numbers` delete): number, verified flag, phone id and any live code go,
    and `default_mfa_method` if it was `sms_otp`. `mfa_enrolled` stays, so the member's next
    login that needs MFA enrols a phone afresh; sessions already started stay. Idempotent.
    """
    if member.organization_id != org.id:
        raise errors.MemberNotFound()
    phone_id = member.phone_id
    was_verified = member.mfa_phone_number_verified
    had_phone = bool(member.mfa_phone_number)
    _set_phone(scope, member, "")
    if member.default_mfa_method == "sms_otp":
        member.default_mfa_method = ""
    audit.record(
        scope,
        EventType.MEMBER_MFA_PHONE_RESET,
        organization_id=org.id,
        member_id=member.id,
        had_phone=had_phone,
        phone_id=phone_id,
        was_verified=was_verified,
    )
    scope.db.flush()
    return member


def search_members(
    scope: Scope,
    organization_ids: Sequence[str],
    query: Mapping[str, Any] | None,
    cursor: str | None,
    limit: int | None,
) -> Page:
    if not organization_ids:
        raise errors.MemberSearchOrganizationIdsEmpty()
    org_ids = [get_organization(scope, ref).id for ref in organization_ids]
    base = select(Member).where(
        Member.project_id == scope.project_id,
        Member.organization_id.in_(org_ids),
        _search_condition(query),
    )
    return Page(*pagination.page(scope.db, base, Member.created_at, Member.id, cursor, limit))


def members_by_ids(scope: Scope, ids: Sequence[str]) -> dict[str, Member]:
    """The project's members among `ids` (missing ones, e.g. deleted, are left out)."""
    if not ids:
        return {}
    rows = scope.db.scalars(
        select(Member).where(Member.project_id == scope.project_id, Member.id.in_(ids))
    )
    return {m.id: m for m in rows}


_MEMBERSHIPS = (
    select(Member, Organization)
    .join(Organization, Organization.id == Member.organization_id)
    .where(
        Member.project_id == bindparam("p_project"), Member.email_address == bindparam("p_email")
    )
)


def memberships(scope: Scope, email: str) -> list[tuple[Member, Organization]]:
    """Every membership of a canonical email in the project, with its organization (one
    query; discovery)."""
    rows = scope.db.execute(_MEMBERSHIPS, {"p_project": scope.project_id, "p_email": email})
    return [(member, org) for member, org in rows]


def members_with_email(scope: Scope, email: str) -> Sequence[Member]:
    """Every membership of a canonical email in the project (discovery)."""
    return scope.db.scalars(
        select(Member).where(Member.project_id == scope.project_id, Member.email_address == email)
    ).all()


def _find_by_email(scope: Scope, org_id: str, email: str) -> Member | None:
    with scope.db.no_autoflush:
        return scope.db.scalar(
            select(Member).where(Member.organization_id == org_id, Member.email_address == email)
        )


def _apply(scope: Scope, org: Organization, member: Member, fields: Mapping[str, Any]) -> None:
    # Refused here, not by the database: PostgreSQL refuses NUL, SQLite would store it.
    text.refuse_nul(fields)
    if fields.get("name") is not None:
        member.name = str(fields["name"])[:256]
    for column in ("trusted_metadata", "untrusted_metadata"):
        if fields.get(column) is not None:
            setattr(
                member, column, metadata.merged(getattr(member, column), fields[column], column)
            )
    if fields.get("is_breakglass") is not None:
        member.is_breakglass = bool(fields["is_breakglass"])
    if fields.get("external_id"):
        member.external_id = rules.external_id(fields["external_id"])
        with scope.db.no_autoflush:
            clash = scope.db.scalar(
                select(Member.id).where(
                    Member.organization_id == org.id,
                    Member.external_id == member.external_id,
                    Member.id != member.id,
                )
            )
        if clash:
            raise errors.DuplicateMemberExternalId()
    if fields.get("roles") is not None:
        # Roles exist (project or organization) and an acting member may give them (rbac).
        member.roles = rbac.check_role_change(scope, org, list(member.roles), fields["roles"])
    if fields.get("mfa_phone_number"):
        phone = canonical_phone(fields["mfa_phone_number"])
        if phone != member.mfa_phone_number:
            if member.mfa_phone_number_verified:
                # As Stytch: a verified number is deleted first (mfa_phone_numbers), never
                # overwritten, so a second factor is never swapped in one step.
                raise MfaPhoneNumberMismatch()
            link_mfa_phone(scope, org, member, phone)
    if fields.get("mfa_enrolled") is not None:
        enrolled = bool(fields["mfa_enrolled"])
        if not enrolled and policy.required_by_policy(scope.db, org, member):
            raise errors.MfaEnrollmentRequired()
        member.mfa_enrolled = enrolled
    if fields.get("default_mfa_method") is not None:
        method = fields["default_mfa_method"]
        if method not in ("", "sms_otp", "totp"):
            raise errors.InvalidDefaultMfaMethod()
        if method == "sms_otp" and not member.mfa_phone_number:
            raise errors.DefaultMfaMissingFactor()
        if method == "totp" and not member.totp_registration_id:
            raise errors.DefaultMfaMissingFactor()
        member.default_mfa_method = method


def link_mfa_phone(scope: Scope, org: Organization, member: Member, phone: str) -> None:
    """Give `member` the canonical E.164 `phone`, unverified, with a new `phone_id`.

    A new number is a new authenticator: it stays unverified until a code sent to it is
    authenticated. Any live code of the member dies with the old number, so a code sent there
    can never verify this one. The caller decides who may do this (`otp.flows.send_sms_otp`).
    """
    _ensure_phone_free(scope, org, member, phone)
    _set_phone(scope, member, phone)


def _set_phone(scope: Scope, member: Member, phone: str) -> None:
    member.mfa_phone_number = phone
    member.mfa_phone_number_verified = False
    member.phone_id = new_id("phone-number", scope.environment) if phone else None
    member.updated_at = scope.clock.now()
    scope.db.execute(delete(SmsOtp).where(SmsOtp.member_id == member.id))


def _ensure_phone_free(scope: Scope, org: Organization, member: Member, phone: str) -> None:
    with scope.db.no_autoflush:
        clash = scope.db.scalar(
            select(Member.id).where(
                Member.organization_id == org.id,
                Member.mfa_phone_number == phone,
                Member.id != member.id,
            )
        )
    if clash:
        raise errors.DuplicateMemberPhoneNumber()


def _snapshot(member: Member) -> dict[str, Any]:
    return {
        "email_address": member.email_address,
        "name": member.name,
        "trusted_metadata": dict(member.trusted_metadata),
        "untrusted_metadata": dict(member.untrusted_metadata),
        "is_breakglass": member.is_breakglass,
        "external_id": member.external_id,
        "roles": list(member.roles),
        "mfa_phone_number": member.mfa_phone_number,
        "mfa_enrolled": member.mfa_enrolled,
        "default_mfa_method": member.default_mfa_method,
    }


_SEARCH_FILTERS = {
    "member_ids",
    "member_emails",
    "member_email_fuzzy",
    "statuses",
    "member_is_breakglass",
    "member_mfa_phone_numbers",
    "member_roles",
}


def _search_condition(query: Mapping[str, Any] | None) -> ColumnElement[bool]:
    if not query or not query.get("operands"):
        return Member.id.is_not(None)
    operator = str(query.get("operator") or "AND").upper()
    if operator not in ("AND", "OR"):
        raise errors.InvalidMemberSearch("query.operator must be AND or OR.")
    parts = [_filter(op) for op in query["operands"]]
    return and_(*parts) if operator == "AND" else or_(*parts)


def _filter(operand: Any) -> ColumnElement[bool]:
    if not isinstance(operand, dict) or "filter_name" not in operand:
        raise errors.InvalidMemberSearch("Each operand needs filter_name and filter_value.")
    name, value = operand["filter_name"], operand.get("filter_value")
    if name not in _SEARCH_FILTERS:
        raise errors.InvalidMemberSearch(f"Unknown filter {name!r}.")
    if name == "member_is_breakglass":
        if not isinstance(value, bool):
            raise errors.InvalidMemberSearch("member_is_breakglass needs true or false.")
        return Member.is_breakglass.is_(value)
    if name == "member_email_fuzzy":
        if not isinstance(value, str) or len(value) < 3:
            raise errors.InvalidMemberSearch("member_email_fuzzy needs at least 3 characters.")
        # Escaped: % and _ in the filter match themselves, not every address.
        return Member.email_address.contains(value.lower(), autoescape=True)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise errors.InvalidMemberSearch(f"{name} needs a list of strings.")
    match name:
        case "member_ids":
            return Member.id.in_(value)
        case "member_emails":
            return Member.email_address.in_([v.lower() for v in value])
        case "statuses":
            return Member.status.in_(value)
        case "member_mfa_phone_numbers":
            return Member.mfa_phone_number.in_(value)
        case _:  # member_roles
            if "stytch_member" in value:
                return Member.id.is_not(None)
            if not value:
                return Member.id.is_(None)
            as_text = cast(Member.roles, String)
            # Roles its SCIM groups give count too ({"role_id": …}). The stored text is spelled
            # as `json.dumps` wrote it (rows from before) or as `json_columns.dumps` writes it
            # (compact, UTF-8): either matches.
            by_group = cast(Member.scim_group_roles, String)
            return or_(
                *(
                    as_text.contains(literal, autoescape=True)
                    for role in value
                    for literal in _spellings(role)
                ),
                *(
                    by_group.contains(f'"role_id":{sep}{literal}', autoescape=True)
                    for role in value
                    for literal in _spellings(role)
                    for sep in ("", " ")
                ),
            )


def _spellings(role: str) -> tuple[str, ...]:
    """The JSON string literals of `role` as either encoder stores it (`json_columns`): the
    same for the ASCII role ids that policies allow, two for anything else."""
    stdlib, compact = json.dumps(role), json_columns.dumps(role)
    return (stdlib,) if stdlib == compact else (stdlib, compact)
