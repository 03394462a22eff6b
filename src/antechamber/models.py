"""The registry: every table, imported in one place for what needs them all (Alembic's
environment, tests that create or read every table). `db.py` (the ground floor) never imports
it; import this module, then use `metadata`.
"""

from sqlalchemy import MetaData

from antechamber.audit.models import AuditEvent
from antechamber.db import Base
from antechamber.delivery.models import OutboxMessage
from antechamber.email_auth.models import EmailOtp
from antechamber.keys.models import SigningKey
from antechamber.magic_links.models import MagicLink
from antechamber.members.deleted import DeletedMember
from antechamber.members.models import Member
from antechamber.operators.models import ConsoleSession
from antechamber.organizations.models import Organization, OrganizationDomain
from antechamber.otp.models import SmsOtp
from antechamber.projects.models import Project, ProjectSecret
from antechamber.rbac.models import RbacPolicy
from antechamber.redirects.models import RedirectUrl
from antechamber.scim.models import (
    ScimConnection,
    ScimGroup,
    ScimGroupMember,
    ScimRequest,
    ScimUser,
)
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

#: `db.Base.metadata`, with every table registered (importing this module did that).
metadata: MetaData = Base.metadata

__all__ = [
    "AuditEvent",
    "ConsoleSession",
    "DeletedMember",
    "EmailOtp",
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
    "RbacPolicy",
    "RedirectUrl",
    "SamlAssertionUse",
    "SamlCertificate",
    "SamlConnection",
    "SamlEncryptionKey",
    "ScimConnection",
    "ScimGroup",
    "ScimGroupMember",
    "ScimRequest",
    "ScimUser",
    "SigningKey",
    "SmsOtp",
    "SsoLogin",
    "SsoRegistration",
    "SsoToken",
    "TotpRecoveryCode",
    "TotpRegistration",
    "metadata",
]
