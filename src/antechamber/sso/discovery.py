"""Which SSO connections an email address may sign in through (stytch-b2b-api-more.md §3.9).

The frontend SDK's `sso.discoverConnections(email)` asks this before any sign-in, with the
project's public token only, so the caller is anonymous. Stytch's answer, and ours:

1. the active connections of the organizations where the address is a member (active,
   pending or invited: those `provisioning.decide` lets in), oldest organization first;
2. if that finds none, the active connections through which the address could be created by
   JIT: organizations that vouch for its domain (`email_allowed_domains`), where it has no
   membership (there the callback would find the member, not create one), whose
   `sso_jit_provisioning` lets that connection create members
   (`provisioning.jit_connection_allowed`, the rule the callback applies).

What an anonymous caller learns is exactly that list: each connection's id, display name and
identity provider (`ActiveConnection`), never an organization, a member or which of the two
rules matched. It does tell whether an address is a member of an organization that allows no
JIT (Stytch's answer does too), so every lookup counts against the client address's
`sso_discovery:ip` limit before anything is read (`client_limits.count_sso_discovery`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import select

from antechamber import client_limits
from antechamber.emails import canonical_email, domain_of
from antechamber.members import service as members
from antechamber.organizations import service as organizations
from antechamber.organizations.models import Organization, OrganizationDomain
from antechamber.scope import Scope
from antechamber.sso import provisioning

#: Whether an organization's connection is in the answer.
_Allowed = Callable[[Organization, str], bool]


@dataclass(frozen=True)
class ActiveConnection:
    """Stytch's `SSOActiveConnection`: all the discovery answer says of a connection."""

    connection_id: str
    display_name: str
    identity_provider: str


def connections_for_email(scope: Scope, email_address: object) -> list[ActiveConnection]:
    """The connections `email_address` may sign in through (module docstring), each once.

    Counts one lookup for the client address first (`TooManyRequests` beyond the limit);
    `InvalidEmail` for anything that is not an address."""
    client_limits.count_sso_discovery(scope)
    email = canonical_email(email_address)
    memberships = members.members_with_email(scope, email)
    usable = sorted(
        {m.organization_id for m in memberships if m.status in provisioning.USABLE_STATUSES}
    )
    as_member = _ordered(organizations.organizations_by_ids(scope, usable).values())
    found = _connections(as_member, lambda org, connection_id: True)
    if found:
        return found
    joinable = scope.db.scalars(
        select(Organization)
        .join(OrganizationDomain, OrganizationDomain.organization_id == Organization.id)
        .where(
            OrganizationDomain.project_id == scope.project_id,
            OrganizationDomain.domain == domain_of(email),
            Organization.sso_jit_provisioning != "NOT_ALLOWED",
            Organization.id.not_in([m.organization_id for m in memberships]),
        )
        .order_by(Organization.created_at, Organization.id)
    )
    # The callback's own JIT rule, both halves (the query found the domain by its index).
    return _connections(
        joinable,
        lambda org, connection_id: (
            provisioning.jit_domain_allowed(org, email)
            and provisioning.jit_connection_allowed(org, connection_id)
        ),
    )


def _ordered(orgs: Iterable[Organization]) -> list[Organization]:
    return sorted(orgs, key=lambda org: (org.created_at, org.id))


def _connections(orgs: Iterable[Organization], allowed: _Allowed) -> list[ActiveConnection]:
    found: dict[str, ActiveConnection] = {}
    for org in orgs:
        for listed in org.sso_active_connections or []:
            connection_id = str(listed.get("connection_id", ""))
            if connection_id and connection_id not in found and allowed(org, connection_id):
                found[connection_id] = ActiveConnection(
                    connection_id=connection_id,
                    display_name=str(listed.get("display_name", "")),
                    identity_provider=str(listed.get("identity_provider", "")),
                )
    return list(found.values())
