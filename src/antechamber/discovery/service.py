"""Discovery: redeem the emailed link, see the organizations, enter one or create one.

    magic link ──authenticate_magic_link──▶ IST + discovered organizations
    IST ──exchange(org)──▶ session, or the IST bound to (org, member) waiting for MFA
    IST ──create_organization(settings)──▶ the same two outcomes; the creator is stytch_admin

Discovered organizations of an email: those where it is an active, pending or invited member,
and (for an IST only) those whose `email_allowed_domains` hold its domain with
`email_jit_provisioning: RESTRICTED`; entering one of those creates the member (JIT).
An IST is consumed only when a session starts (`sessions.login.conclude`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, select, union
from sqlalchemy.exc import IntegrityError

from antechamber import db, rows
from antechamber.audit import service as audit
from antechamber.audit.events import EventType
from antechamber.discovery import errors
from antechamber.emails import domain_of
from antechamber.magic_links import service as magic_links
from antechamber.members import service as members
from antechamber.members.errors import DuplicateMemberEmail
from antechamber.members.models import Member
from antechamber.mfa import policy
from antechamber.organizations import domains
from antechamber.organizations import service as organizations
from antechamber.organizations.models import Organization, OrganizationDomain
from antechamber.otp import sms
from antechamber.scope import Scope
from antechamber.sessions import errors as session_errors
from antechamber.sessions import factors, intermediate, login
from antechamber.sessions import service as sessions
from antechamber.sessions.factors import Factor
from antechamber.sessions.login import AuthResult
from antechamber.sessions.models import IntermediateSession

MEMBERSHIP_TYPES = {
    "active": "active_member",
    "pending": "pending_member",
    "invited": "invited_member",
}
ELIGIBLE_BY_DOMAIN = "eligible_to_join_by_email_domain"

# The reads of the login paths, built once: Core statements on the unit of work's connection,
# whose rows become transient objects (`rows`; no identity map). The answers serialize the
# organization and member as they are; what a login changes in the member is written by
# explicit statements (`sessions.service.start`).
_ORGS = rows.Columns(Organization)
_MEMBERS = rows.Columns(Member)
_orgs = cast(Table, Organization.__table__)
_members = cast(Table, Member.__table__)
_domains = cast(Table, OrganizationDomain.__table__)
_MEMBER = select(*_MEMBERS.columns).where(
    _members.c.organization_id == bindparam("p_organization"),
    _members.c.email_address == bindparam("p_email"),
)
# An organization with the member of an email in it, if any.
_org_with_member = _orgs.outerjoin(
    _members,
    (_members.c.organization_id == _orgs.c.id) & (_members.c.email_address == bindparam("p_email")),
)
_ORGANIZATION_AND_MEMBER = (
    select(*_ORGS.columns, *_MEMBERS.columns)
    .select_from(_org_with_member)
    .where(_orgs.c.project_id == bindparam("p_project"), _orgs.c.id == bindparam("p_ref"))
)
# An exchange's one read: the live IST of the token, the organization it names by id and the
# member of the IST's email in it (organization and member columns None where there is none).
_ISTS = intermediate.ROWS
_ists = cast(Table, IntermediateSession.__table__)
_IST_ORGANIZATION_AND_MEMBER = (
    select(*_ISTS.columns, *_ORGS.columns, *_MEMBERS.columns, *sms.LIVE_CODE_COLUMNS)
    .select_from(
        _ists.outerjoin(
            _orgs,
            (_orgs.c.project_id == bindparam("p_project")) & (_orgs.c.id == bindparam("p_ref")),
        )
        .outerjoin(
            _members,
            (_members.c.organization_id == _orgs.c.id)
            & (_members.c.email_address == _ists.c.email_address),
        )
        # The member's live SMS code, for the code a login stopping for MFA texts
        # (`otp.dispatch.send_code`, which would read it otherwise).
        .outerjoin(*sms.LIVE_CODE_JOIN)
    )
    .where(intermediate.LIVE)
)
# The organizations an email may enter: those it is a member of (with the member) and, without
# a member, those that let its domain join (JIT). The subquery picks them by index (members by
# email, organization_domains by domain), so the cost does not grow with the project.
_DISCOVERABLE = (
    select(*_ORGS.columns, *_MEMBERS.columns)
    .select_from(_org_with_member)
    .where(
        # By primary key from the subquery's ids (the project is checked there, and again on
        # the rows): a condition on organizations.project_id here would let the planner walk
        # every organization of the project instead.
        _orgs.c.id.in_(
            union(
                select(_members.c.organization_id).where(
                    _members.c.project_id == bindparam("p_project"),
                    _members.c.email_address == bindparam("p_email"),
                ),
                select(_domains.c.organization_id).where(
                    _domains.c.project_id == bindparam("p_project"),
                    _domains.c.domain == bindparam("p_domain"),
                ),
            )
        ),
        _members.c.id.is_not(None) | (_orgs.c.email_jit_provisioning == "RESTRICTED"),
    )
)


def _organizations_and_members(
    scope: Scope, statement: Select[Any], params: dict[str, Any]
) -> list[tuple[Organization, Member | None]]:
    """The (organization, member or None) rows of `_ORGANIZATION_AND_MEMBER` or `_DISCOVERABLE`
    as transient objects."""
    found = db.connection(scope.db).execute(statement, params).all()
    n = len(_ORGS)
    return [(_ORGS.make(row[:n]), _MEMBERS.make_or_none(row[n:])) for row in found]


@dataclass(frozen=True)
class Discovered:
    """One organization an email may enter, and what entering it would take."""

    organization: Organization
    membership_type: str
    member: Member | None
    domain: str | None = None
    member_authenticated: bool = False
    primary_required: tuple[str, ...] | None = None
    mfa_required: bool = False


@dataclass(frozen=True)
class DiscoveryLogin:
    email_address: str
    intermediate_session_token: str
    intermediate_session_expires_at: datetime
    discovered_organizations: list[Discovered]


@dataclass(frozen=True)
class Listing:
    email_address: str
    discovered_organizations: list[Discovered]
    organization_id_hint: str | None


def authenticate_magic_link(
    scope: Scope, token: object, *, pkce_code_verifier: str | None = None
) -> DiscoveryLogin:
    """Redeem a discovery magic link (single use) for a new IST and the discovered orgs."""
    link = magic_links.redeem_discovery(scope, token, pkce_code_verifier=pkce_code_verifier)
    email = link.email_address
    proof = [factors.magic_link(scope.environment, scope.project_id, email, scope.clock.now())]
    row, ist_token = intermediate.issue(scope, email=email, factors=proof)
    return DiscoveryLogin(
        email_address=email,
        intermediate_session_token=ist_token,
        intermediate_session_expires_at=row.expires_at,
        discovered_organizations=discovered_organizations(scope, email, proof, eligible=True),
    )


def list_organizations(
    scope: Scope,
    *,
    intermediate_session_token: str | None = None,
    session_token: str | None = None,
    session_jwt: str | None = None,
) -> Listing:
    """The organizations of an IST's email (all kinds) or a session's (memberships only).

    Consumes nothing. Exactly one of the three arguments.
    """
    given = [v for v in (intermediate_session_token, session_token, session_jwt) if v]
    if not given:
        raise session_errors.NoSessionArguments(
            "Give one of intermediate_session_token, session_token and session_jwt."
        )
    if len(given) > 1:
        raise session_errors.TooManySessionArguments(
            "Give only one of intermediate_session_token, session_token and session_jwt."
        )
    if intermediate_session_token:
        ist = intermediate.peek(scope, intermediate_session_token)
        return Listing(
            ist.email_address,
            discovered_organizations(scope, ist.email_address, ist.factors, eligible=True),
            ist.organization_id,
        )
    session, member, _ = sessions.resolve(
        scope, session_token=session_token, session_jwt=session_jwt
    )
    found = discovered_organizations(
        scope,
        member.email_address,
        factors.primary_only(session.factors),
        eligible=False,
        authenticated_in=session.organization_id,
    )
    return Listing(member.email_address, found, None)


def exchange(
    scope: Scope,
    intermediate_session_token: str,
    organization_ref: str,
    *,
    session_duration_minutes: int | None = None,
    session_custom_claims: Any = None,
    locale: str | None = None,
) -> AuthResult:
    """Enter an organization with an IST: as its member, or by joining it by email domain.

    The IST is read (live) with the organization and member, then claimed when a session
    starts or bound when a factor is missing (`sessions.login.conclude`, `ist_claimed=False`):
    one conditional UPDATE either way, so concurrent exchanges of one IST yield at most one
    session. An IST bound to another organization is refused. See `sessions.login.conclude`
    for outcomes.
    """
    ist, org, member, sms_state = _ist_organization_and_member(
        scope, intermediate_session_token, organization_ref
    )
    intermediate.check_binding(ist, org.id, None)
    jit = member is None
    if member is None:
        member = _join_by_domain(scope, org, ist.email_address)
        sms_state = None
    intermediate.check_binding(ist, org.id, member.id)
    result = login.conclude(
        scope,
        org,
        member,
        ist.factors,
        ist=(ist, intermediate_session_token),
        ist_claimed=False,
        session_duration_minutes=session_duration_minutes,
        session_custom_claims=session_custom_claims,
        locale=locale,
        sms_state=sms_state,
    )
    audit.record(
        scope,
        EventType.INTERMEDIATE_SESSION_EXCHANGED,
        organization_id=org.id,
        member_id=member.id,
        intermediate_session_id=ist.id,
        jit_provisioned=jit,
        outcome=login.outcome(result),
    )
    return result


def create_organization(
    scope: Scope,
    intermediate_session_token: str,
    fields: Mapping[str, Any],
    *,
    session_duration_minutes: int | None = None,
    session_custom_claims: Any = None,
) -> AuthResult:
    """Create an organization from an IST; its email becomes the first member, an admin.

    `fields` are the organization's settings as in organizations.create (name and slug are
    derived from the email when absent). Under REQUIRED_FOR_ALL the answer is the MFA shape
    with the IST bound to the new organization and member. An IST already bound to an
    organization is refused: it may only finish that login.
    """
    ist = intermediate.claim(scope, intermediate_session_token)
    if ist.organization_id is not None:
        raise session_errors.InvalidIntermediateSessionForOrganization()
    sessions.duration(session_duration_minutes)
    email = ist.email_address
    settings = dict(fields)
    if not settings.get("organization_name"):
        settings["organization_name"] = default_organization_name(email)
    org = organizations.create_organization(scope, settings)
    member = members.create_member(
        scope, org, {"email_address": email, "roles": ["stytch_admin"]}, verified=True
    )
    audit.record(
        scope,
        EventType.DISCOVERY_ORGANIZATION_CREATED,
        organization_id=org.id,
        member_id=member.id,
        intermediate_session_id=ist.id,
    )
    return login.conclude(
        scope,
        org,
        member,
        ist.factors,
        ist=(ist, intermediate_session_token),
        session_duration_minutes=session_duration_minutes,
        session_custom_claims=session_custom_claims,
    )


def discovered_organizations(
    scope: Scope,
    email: str,
    proof: Sequence[Factor],
    *,
    eligible: bool,
    authenticated_in: str | None = None,
) -> list[Discovered]:
    """Memberships of `email` (oldest organization first), then, if `eligible`, the
    organizations it may join by domain. `authenticated_in` marks the session's organization.
    """
    domain = domain_of(email)
    if eligible:
        # One query for both kinds: the email's organizations, and those of its domain.
        params = {"p_project": scope.project_id, "p_email": email, "p_domain": domain}
        found_rows = [
            (org, m)
            for org, m in _organizations_and_members(scope, _DISCOVERABLE, params)
            if org.project_id == scope.project_id
        ]
        memberships = [(m, org) for org, m in found_rows if m is not None]
        joinable = sorted(
            (org for org, m in found_rows if m is None), key=lambda o: (o.created_at, o.id)
        )
    else:
        memberships, joinable = members.memberships(scope, email), []
    found: list[Discovered] = []
    for member, org in memberships:
        kind = MEMBERSHIP_TYPES.get(member.status)
        if kind is None:
            continue
        inside = org.id == authenticated_in  # the session's own organization: nothing missing
        found.append(
            Discovered(
                organization=org,
                membership_type=kind,
                member=member,
                member_authenticated=inside,
                primary_required=None if inside else login.primary_required(org, member, proof),
                mfa_required=not inside and login.mfa_pending(scope.db, org, member, proof),
            )
        )
    found.sort(key=lambda d: (d.organization.created_at, d.organization.id))
    for org in joinable:
        # What a new member would face: the organization's policy, no opt-in, no roles.
        newcomer = Member(organization_id=org.id, email_address=email, roles=[], mfa_enrolled=False)
        found.append(
            Discovered(
                organization=org,
                membership_type=ELIGIBLE_BY_DOMAIN,
                member=None,
                domain=domain,
                primary_required=login.primary_required(org, newcomer, proof),
                mfa_required=policy.mfa_required(scope.db, org, newcomer),
            )
        )
    return found


def default_organization_name(email: str) -> str:
    """Stytch's rule: from the email's domain, or its local part for webmail and .edu."""
    local, domain = email.rsplit("@", 1)
    if domains.is_common(domain) or domain.endswith(".edu"):
        base = local
    else:
        labels = [label for label in domain.split(".")[:-1] if label not in ("www", "mail")]
        base = labels[0] if labels else domain
    return base[:128]


def _ist_organization_and_member(
    scope: Scope, token: str, ref: str
) -> tuple[IntermediateSession, Organization, Member | None, sms.CodeState | None]:
    """The live IST of `token` (else `IntermediateSessionNotFound`, as `intermediate.peek`),
    the organization `ref` names, the member of the IST's email in it and that member's lock
    and live SMS code: one read when `ref` is an organization id, else as
    `_organization_and_member` (and no code state)."""
    params = {
        "p_digest": intermediate.digest_of(token),
        "p_project": scope.project_id,
        "p_now": scope.clock.now(),
        "p_ref": ref,
    }
    row = db.connection(scope.db).execute(_IST_ORGANIZATION_AND_MEMBER, params).first()
    ist = intermediate.live_of(scope, None if row is None else _ISTS.make(row[: len(_ISTS)]))
    assert row is not None
    n = len(_ISTS) + len(_ORGS)
    org = _ORGS.make_or_none(row[len(_ISTS) : n])
    if org is None:
        found, member = _organization_and_member(scope, ref, ist.email_address)
        return ist, found, member, None
    k = n + len(_MEMBERS)
    member = _MEMBERS.make_or_none(row[n:k])
    if member is None:
        return ist, org, None, None
    return ist, org, member, sms.CodeState(member.lock_expires_at, *row[k:])


def _organization_and_member(
    scope: Scope, ref: str, email: str
) -> tuple[Organization, Member | None]:
    """The organization `ref` names (as `organizations.get_organization`) and the member with
    `email` in it, if any: one query when `ref` is an organization id, the usual case."""
    params = {"p_project": scope.project_id, "p_ref": ref, "p_email": email}
    found = _organizations_and_members(scope, _ORGANIZATION_AND_MEMBER, params)
    if found:
        return found[0]
    org = organizations.get_organization(scope, ref)  # by slug or external id, or the error
    return org, _member(scope, org, email)


def _member(scope: Scope, org: Organization, email: str) -> Member | None:
    row = db.connection(scope.db).execute(_MEMBER, {"p_organization": org.id, "p_email": email})
    found = row.first()
    return None if found is None else _MEMBERS.make(found)


def _join_by_domain(scope: Scope, org: Organization, email: str) -> Member:
    """JIT: make `email` a member of `org` if the organization lets its domain join."""
    if org.email_jit_provisioning != "RESTRICTED":
        raise errors.EmailJitProvisioningNotAllowed()
    if domain_of(email) not in org.email_allowed_domains:
        raise errors.InvalidEmailForJitProvisioning()
    try:
        # A savepoint: another login of the same email may create the member concurrently.
        with scope.db.begin_nested():
            member = members.create_member(scope, org, {"email_address": email}, verified=True)
    except (IntegrityError, DuplicateMemberEmail):
        existing = _member(scope, org, email)
        if existing is None:  # pragma: no cover - the conflict was not this email after all
            raise
        return existing
    audit.record(
        scope, EventType.MEMBER_JIT_PROVISIONED, organization_id=org.id, member_id=member.id
    )
    return member
