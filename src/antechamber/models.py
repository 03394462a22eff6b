"""Every table, imported in one place for Alembic and `Base.metadata`."""

from antechamber.audit.models import AuditEvent
from antechamber.delivery.models import OutboxMessage
from antechamber.members.models import Member
from antechamber.operators.models import ConsoleSession
from antechamber.organizations.models import Organization, OrganizationDomain
from antechamber.otp.models import SmsOtp
from antechamber.projects.models import Project, ProjectSecret

__all__ = [
    "AuditEvent",
    "ConsoleSession",
    "Member",
    "Organization",
    "OrganizationDomain",
    "OutboxMessage",
    "Project",
    "ProjectSecret",
    "SmsOtp",
]
