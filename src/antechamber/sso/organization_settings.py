"""The organization's SSO settings name its own connections.

Its own module, below `sso.connections`: `organizations.service` calls it when an organization
is created or updated, and `sso.connections` builds on `organizations`, not the reverse.
"""

from __future__ import annotations

from sqlalchemy import select, union_all

from antechamber.organizations.models import Organization
from antechamber.scope import Scope
from antechamber.sso import errors
from antechamber.sso.models import OidcConnection, SamlConnection


def check(scope: Scope, org: Organization) -> None:
    """`sso_default_connection_id` and `sso_jit_provisioning_allowed_connections` name this
    organization's connections; RESTRICTED JIT names at least one."""
    ids = set(
        scope.db.scalars(
            union_all(
                select(SamlConnection.id).where(
                    SamlConnection.project_id == scope.project_id,
                    SamlConnection.organization_id == org.id,
                ),
                select(OidcConnection.id).where(
                    OidcConnection.project_id == scope.project_id,
                    OidcConnection.organization_id == org.id,
                ),
            )
        )
    )
    if org.sso_default_connection_id and org.sso_default_connection_id not in ids:
        raise errors.InvalidSsoDefaultConnection()
    allowed = org.sso_jit_provisioning_allowed_connections or []
    if any(c not in ids for c in allowed):
        raise errors.InvalidRestrictedSsoSetting()
    if org.sso_jit_provisioning == "RESTRICTED" and not allowed:
        raise errors.InvalidRestrictedSsoSetting()
