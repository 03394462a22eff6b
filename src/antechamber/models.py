"""Every table, imported in one place for Alembic and `Base.metadata`."""

from antechamber.audit.models import AuditEvent
from antechamber.delivery.models import OutboxMessage
from antechamber.keys.models import SigningKey
from antechamber.magic_links.models import MagicLink
from antechamber.members.models import Member
from antechamber.operators.models import ConsoleSession
from antechamber.organizations.models import Organization, OrganizationDomain
from antechamber.otp.models import SmsOtp
from antechamber.projects.models import Project, ProjectSecret
from antechamber.redirects.models import RedirectUrl
from antechamber.sessions.models import IntermediateSession, MemberSession
from antechamber.sso.models import (
    OidcConnection,
    PublicToken,
    SamlAssertionUse,
    SamlCertificate,
    SamlConnection,
    SamlEncryptionKey,
    SsoLogin,
    SsoRegistration,
    SsoToken,
)
from antechamber.totp.models import TotpRecoveryCode, TotpRegistration

__all__ = [
    "AuditEvent",
    "ConsoleSession",
    "IntermediateSession",
    "MagicLink",
    "Member",
    "MemberSession",
    "OidcConnection",
    "Organization",
    "OrganizationDomain",
    "OutboxMessage",
    "Project",
    "ProjectSecret",
    "PublicToken",
    "RedirectUrl",
    "SamlAssertionUse",
    "SamlCertificate",
    "SamlConnection",
    "SamlEncryptionKey",
    "SigningKey",
    "SmsOtp",
    "SsoLogin",
    "SsoRegistration",
    "SsoToken",
    "TotpRecoveryCode",
    "TotpRegistration",
]
