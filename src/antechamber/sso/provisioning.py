"""Which member an identity from a connection becomes (stytch-b2b-api-more.md §3.7, §3.8).

In this order, first match wins:

1. the member holding an SSO registration (connection, external id): the IdP's own id for the
   person, stable across email changes;
2. the organization's member with that email — an existing membership always wins over any
   domain rule — unless an OIDC provider says the email is not verified;
3. a new member (JIT), when all of: `sso_jit_provisioning` is ALL_ALLOWED, or RESTRICTED and
   the connection is listed in `sso_jit_provisioning_allowed_connections`; the provider does
   not say `email_verified: false`; and the email's domain is one of the organization's
   `email_allowed_domains` (the domains the organization vouches for: an IdP is trusted to
   create members only with addresses of those domains).

`decide` checks without writing (the callback uses it to pick the login or signup redirect
URL and to refuse early); `provision` applies the decision (at `sso/authenticate`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from antechamber.audit import service as audit
from antechamber.emails import canonical_email, domain_of
from antechamber.errors import InvalidEmail
from antechamber.members import service as members
from antechamber.members.errors import DuplicateMemberEmail
from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.scope import Scope
from antechamber.sso import errors
from antechamber.sso.events import SsoEvent
from antechamber.sso.models import SsoRegistration


@dataclass(frozen=True)
class VerifiedIdentity:
    """What a connection vouched for. `email_verified` is None when the protocol does not say
    (SAML); False only when an OIDC provider said so."""

    connection_id: str
    external_id: str
    email: str
    email_verified: bool | None
    name: str
    attributes: dict[str, Any]


@dataclass(frozen=True)
class Decision:
    member: Member | None  # None: a member will be created (JIT)
    registration: SsoRegistration | None


def decide(scope: Scope, org: Organization, identity: VerifiedIdentity) -> Decision:
    registration = scope.db.scalar(
        select(SsoRegistration).where(
            SsoRegistration.connection_id == identity.connection_id,
            SsoRegistration.external_id == identity.external_id,
        )
    )
    if registration is not None and registration.organization_id == org.id:
        member = scope.db.get(Member, registration.member_id)
        if member is not None:
            return Decision(_usable(member), registration)
    try:
        email = canonical_email(identity.email)
    except InvalidEmail:
        raise errors.EmailMissing() from None
    member = scope.db.scalar(
        select(Member).where(Member.organization_id == org.id, Member.email_address == email)
    )
    if identity.email_verified is False:
        raise errors.UnverifiedEmail()
    if member is not None:
        return Decision(_usable(member), None)
    _check_jit(org, identity.connection_id, email)
    return Decision(None, None)


def provision(
    scope: Scope, org: Organization, identity: VerifiedIdentity
) -> tuple[Member, SsoRegistration]:
    """The member and their registration at the connection, made as `decide` says.

    A JIT member is created in a savepoint: a concurrent login of the same person may create
    them first, and then that member is used."""
    decision = decide(scope, org, identity)
    member = decision.member
    if member is None:
        email = canonical_email(identity.email)
        try:
            with scope.db.begin_nested():
                member = members.create_member(
                    scope, org, {"email_address": email, "name": identity.name}, verified=True
                )
        except (IntegrityError, DuplicateMemberEmail):
            member = scope.db.scalar(
                select(Member).where(
                    Member.organization_id == org.id, Member.email_address == email
                )
            )
            if member is None:  # pragma: no cover - the conflict was another row
                raise
        else:
            audit.record(
                scope,
                SsoEvent.MEMBER_JIT_PROVISIONED,
                organization_id=org.id,
                member_id=member.id,
                connection_id=identity.connection_id,
            )
    registration = decision.registration or _register(scope, org, member, identity)
    registration.sso_attributes = dict(identity.attributes)
    return member, registration


def _register(
    scope: Scope, org: Organization, member: Member, identity: VerifiedIdentity
) -> SsoRegistration:
    registration = SsoRegistration(
        id=f"registration-{scope.environment}-{uuid.uuid4()}",
        project_id=scope.project_id,
        organization_id=org.id,
        member_id=member.id,
        connection_id=identity.connection_id,
        external_id=identity.external_id,
        sso_attributes=dict(identity.attributes),
        created_at=scope.clock.now(),
    )
    try:
        with scope.db.begin_nested():
            scope.db.add(registration)
            scope.db.flush()
    except IntegrityError:
        # A concurrent first login of the same person registered them: use theirs.
        existing = scope.db.scalar(
            select(SsoRegistration).where(
                SsoRegistration.connection_id == identity.connection_id,
                SsoRegistration.external_id == identity.external_id,
            )
        )
        if existing is None or existing.member_id != member.id:
            raise errors.SsoRegistrationConflict() from None
        return existing
    member.sso_registrations = [
        *(member.sso_registrations or []),
        {
            "connection_id": identity.connection_id,
            "external_id": identity.external_id,
            "registration_id": registration.id,
        },
    ]
    return registration


def forget_connection(scope: Scope, connection_id: str) -> None:
    """Remove every registration at a connection being deleted, from the members too."""
    for registration in scope.db.scalars(
        select(SsoRegistration).where(SsoRegistration.connection_id == connection_id)
    ):
        member = scope.db.get(Member, registration.member_id)
        if member is not None:
            member.sso_registrations = [
                r for r in member.sso_registrations or [] if r.get("connection_id") != connection_id
            ]
        scope.db.delete(registration)


#: Member statuses an SSO login accepts (an invited or pending member becomes active).
USABLE_STATUSES = ("active", "pending", "invited")


def _usable(member: Member) -> Member:
    if member.status not in USABLE_STATUSES:
        raise errors.MemberInactive()
    return member


def jit_connection_allowed(org: Organization, connection_id: str) -> bool:
    """Whether the organization's `sso_jit_provisioning` lets this connection create members
    (the email's domain is the other half of the rule: `jit_domain_allowed`)."""
    policy = org.sso_jit_provisioning
    allowed = org.sso_jit_provisioning_allowed_connections or []
    return policy == "ALL_ALLOWED" or (policy == "RESTRICTED" and connection_id in allowed)


def jit_domain_allowed(org: Organization, email: str) -> bool:
    """Whether the organization vouches for the (canonical) email's domain."""
    return domain_of(email) in (org.email_allowed_domains or [])


def _check_jit(org: Organization, connection_id: str, email: str) -> None:
    if not jit_connection_allowed(org, connection_id):
        raise errors.InvalidConnectionForJit()
    if not jit_domain_allowed(org, email):
        raise errors.EmailNotInVerifiedDomains()
