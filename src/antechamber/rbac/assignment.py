"""Which roles a member holds, and why (Stytch's `roles[].sources`), pure.

- `stytch_member`: every member, always;
- `direct_assignment`: `roles` on member create / update (and invite);
- `email_assignment`: the organization's `rbac_email_implicit_role_assignments` entry whose
  domain is the member's email domain, whatever their login method;
- `scim_connection_group`: the SCIM connection's `scim_group_implicit_role_assignments`
  entry for a SCIM group the member is in (`details`: `connection_id`, `group_id`), read from
  `Member.scim_group_roles`, which `scim.group_roles.refresh` keeps (empty while the directory
  has the member deactivated);
- `sso_connection`, `sso_connection_group`: implied by a SAML connection the member is
  registered with, and by its IdP groups there (`rbac.sso_grants` finds them; passed in as
  `sso`, so this module stays pure). The member object lists them all; a session holds only
  those of the connections its factors came from;

A role the policy no longer defines may still be listed (a policy import does not rewrite
members); it grants nothing, by the rule of `rbac.policy.is_authorized`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.rbac.defaults import ADMIN_ROLE, MEMBER_ROLE

DIRECT = "direct_assignment"
EMAIL = "email_assignment"
SSO_CONNECTION = "sso_connection"
SSO_CONNECTION_GROUP = "sso_connection_group"
SCIM_CONNECTION_GROUP = "scim_connection_group"
SOURCE_TYPES = (DIRECT, EMAIL, SSO_CONNECTION, SSO_CONNECTION_GROUP, SCIM_CONNECTION_GROUP)


def email_domain(email: str) -> str:
    return email.rpartition("@")[2].lower()


def role_sources(
    org: Organization | None,
    member: Member,
    sso: Iterable[tuple[str, dict[str, Any]]] = (),
) -> dict[str, list[dict[str, Any]]]:
    """Every role of `member` with its sources, `stytch_member` first, then direct roles in
    the order given, then roles implied by the email domain, then by SCIM groups, then `sso`'s
    (role, source) pairs (`rbac.sso_grants.grants`). `org` is the member's organization (None:
    implicit roles are left out)."""
    found: dict[str, list[dict[str, Any]]] = {MEMBER_ROLE: [{"type": DIRECT, "details": {}}]}
    for role in member.roles or []:
        if role != MEMBER_ROLE:
            found.setdefault(role, []).append({"type": DIRECT, "details": {}})
    if org is not None and member.email_address:
        domain = email_domain(member.email_address)
        for entry in org.rbac_email_implicit_role_assignments or []:
            if str(entry.get("domain", "")).lower() == domain:
                role = str(entry.get("role_id", ""))
                sources = found.setdefault(role, [])
                source = {"type": EMAIL, "details": {"domain": domain}}
                if source not in sources:
                    sources.append(source)
    if org is not None:
        for entry in member.scim_group_roles or []:
            role = str(entry.get("role_id", ""))
            source = {
                "type": SCIM_CONNECTION_GROUP,
                "details": {
                    "connection_id": str(entry.get("connection_id", "")),
                    "group_id": str(entry.get("group_id", "")),
                },
            }
            sources = found.setdefault(role, [])
            if source not in sources:
                sources.append(source)
        for role, source in sso:
            if role:
                sources = found.setdefault(role, [])
                if source not in sources:
                    sources.append(source)
    return found


def role_ids(
    org: Organization | None, member: Member, sso: Iterable[tuple[str, dict[str, Any]]] = ()
) -> list[str]:
    """The roles a session of `member` carries (the JWT's `roles` claim); `sso`: the grants
    of the session's SAML connections (`rbac.sso_grants.session_grants`)."""
    return list(role_sources(org, member, sso))


def direct_role_ids(roles: list[str]) -> list[str]:
    """What is stored as directly assigned: once each, without `stytch_member`."""
    return [r for r in dict.fromkeys(roles) if r != MEMBER_ROLE]


def is_admin(org: Organization | None, member: Member) -> bool:
    return ADMIN_ROLE in role_sources(org, member)
