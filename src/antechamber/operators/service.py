"""The operators organization and its members.

The first `add_operator` creates an internal project (`internal_purpose="operators"`, no API
secrets) holding one organization, slug `operators`, with `mfa_policy=REQUIRED_FOR_ALL`. Each
operator is a member there, enrolled in MFA with the phone given at creation, so the first
sign-in already needs a code sent to a phone the person running the CLI vouched for (nobody
can enrol a phone of their own choosing with just a stolen mailbox).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from antechamber.clock import Clock
from antechamber.emails import canonical_email
from antechamber.members import service as members
from antechamber.members.errors import DuplicateMemberEmail
from antechamber.members.models import Member
from antechamber.operators.errors import OperatorExists, OperatorNotFound
from antechamber.organizations import service as organizations
from antechamber.organizations.models import Organization
from antechamber.projects import service as projects
from antechamber.projects.models import Project
from antechamber.scope import Scope
from antechamber.settings import Settings

PURPOSE = "operators"
PROJECT_NAME = "Antechamber operators"
ORG_NAME = "Operators"
ORG_SLUG = "operators"


@dataclass(frozen=True)
class Home:
    """Where operators live: the internal project and its one organization."""

    project_id: str
    organization: Organization

    def scope(self, db: Session, actor: str, clock: Clock, settings: Settings) -> Scope:
        return Scope(db, self.project_id, "live", actor, clock, settings)


def find_home(db: Session) -> Home | None:
    """The operators project and organization, or None before the first operator exists."""
    row = db.execute(
        select(Project.id, Organization)
        .join(Organization, Organization.project_id == Project.id)
        .where(Project.internal_purpose == PURPOSE, Organization.slug == ORG_SLUG)
    ).first()
    return None if row is None else Home(row[0], row[1])


def ensure_home(db: Session, *, actor: str, clock: Clock, settings: Settings) -> Home:
    """The operators project and organization, created on first use."""
    home = find_home(db)
    if home is not None:
        return home
    try:
        # A savepoint: if another process creates them at the same moment (PostgreSQL), the
        # unique internal_purpose refuses ours and we use theirs.
        with db.begin_nested():
            project = projects.create_internal_project(
                db, name=PROJECT_NAME, purpose=PURPOSE, actor=actor, clock=clock, settings=settings
            )
            scope = Scope(db, project.id, "live", actor, clock, settings)
            org = organizations.create_organization(
                scope,
                {
                    "organization_name": ORG_NAME,
                    "organization_slug": ORG_SLUG,
                    "mfa_policy": "REQUIRED_FOR_ALL",
                },
            )
        return Home(project.id, org)
    except IntegrityError:
        home = find_home(db)
        if home is None:
            raise
        return home


def add_operator(
    db: Session,
    *,
    email: str,
    phone: str,
    name: str = "",
    actor: str,
    clock: Clock,
    settings: Settings,
) -> Member:
    """Make `email` an operator whose second factor is an SMS code to `phone` (E.164)."""
    home = ensure_home(db, actor=actor, clock=clock, settings=settings)
    scope = home.scope(db, actor, clock, settings)
    try:
        return members.create_member(
            scope,
            home.organization,
            {"email_address": email, "name": name, "mfa_phone_number": phone, "mfa_enrolled": True},
        )
    except DuplicateMemberEmail:
        raise OperatorExists() from None


def list_operators(db: Session) -> Sequence[Member]:
    """Every operator, by email address."""
    home = find_home(db)
    if home is None:
        return []
    return db.scalars(
        select(Member)
        .where(Member.organization_id == home.organization.id)
        .order_by(Member.email_address)
    ).all()


def get_operator(db: Session, ref: str) -> Member:
    """An operator by email address or member id."""
    home = find_home(db)
    if home is None:
        raise OperatorNotFound()
    which = Member.email_address == canonical_email(ref) if "@" in ref else Member.id == ref
    member = db.scalar(select(Member).where(Member.organization_id == home.organization.id, which))
    if member is None:
        raise OperatorNotFound()
    return member


def remove_operator(db: Session, ref: str, *, actor: str, clock: Clock, settings: Settings) -> str:
    """Remove an operator (by email or id); their console sessions end with them."""
    operator = get_operator(db, ref)
    home = find_home(db)
    assert home is not None  # get_operator found one
    return members.delete_member(
        home.scope(db, actor, clock, settings), home.organization, operator.id
    )


def is_operator(db: Session, member_id: str) -> bool:
    home = find_home(db)
    if home is None:
        return False
    found = db.scalar(
        select(Member.id).where(
            Member.id == member_id, Member.organization_id == home.organization.id
        )
    )
    return found is not None


def operator_emails(db: Session) -> dict[str, str]:
    """member id → email of every operator (to show `operator:<id>` actors by name)."""
    return {m.id: m.email_address for m in list_operators(db)}
