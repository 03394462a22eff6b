"""Roles a member holds through SSO (Stytch's `sso_connection` / `sso_connection_group`).

Stytch (`MemberRoleSource` docstring, stytch-b2b-api-more.md §5.3):
- only SAML connections imply roles (an OIDC connection has no implicit role assignments);
- the member object lists a connection's roles when the member has a SAML registration with
  that connection, and its group roles when the registration's IdP groups (the registration's
  `sso_attributes["groups"]`, from the connection's `groups` attribute mapping) include the
  assignment's group;
- for authorization (`sessions/authenticate`'s `authorization_check`, member-session
  management calls, the session's `roles` and JWT claim) the member holds them only in a
  session holding a `saml_sso_factor` whose `provider_id` is that connection.

Read live from the connection and the registration rather than copied onto the session, so
removing an assignment (or a group at the IdP, at the next login) takes effect at the next
check. The cost stays off ordinary sessions: a session without a SAML factor, or a member
without registrations, reads nothing; otherwise two primary-key reads per connection, once
per unit of work (`_kept`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from antechamber.members.models import Member
from antechamber.sso.models import SamlConnection, SsoRegistration

SSO_CONNECTION = "sso_connection"
SSO_CONNECTION_GROUP = "sso_connection_group"

Grant = tuple[str, dict[str, Any]]  # (role_id, source)


def saml_connections(factors: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    """The SAML connections a session's factors were issued by (`provider_id`)."""
    found = set()
    for factor in factors:
        if factor.get("type") != "sso":
            continue
        sub = factor.get("saml_sso_factor")
        if isinstance(sub, dict) and isinstance(sub.get("provider_id"), str):
            found.add(sub["provider_id"])
    return frozenset(found)


def grants(db: Session, member: Member, only: Collection[str] | None = None) -> list[Grant]:
    """Every role `member` holds through its SAML registrations, with Stytch's source shapes;
    `only`: the connections to consider (a session's, `saml_connections`), None for all (the
    member object)."""
    found: list[Grant] = []
    if only is not None and not only:
        return found
    for registration in member.sso_registrations or []:
        connection_id = registration.get("connection_id")
        if not isinstance(connection_id, str) or (only is not None and connection_id not in only):
            continue
        connection = _kept(db, db.get(SamlConnection, connection_id))
        if connection is None or connection.organization_id != member.organization_id:
            continue  # an OIDC connection, or one deleted since
        details = {"connection_id": connection_id}
        for entry in connection.connection_role_assignments or []:
            found.append(
                (str(entry.get("role_id", "")), {"type": SSO_CONNECTION, "details": details})
            )
        if connection.group_role_assignments:
            groups = _groups(db, member, registration)
            for entry in connection.group_role_assignments:
                group = str(entry.get("group", ""))
                if group in groups:
                    source = {
                        "type": SSO_CONNECTION_GROUP,
                        "details": {"connection_id": connection_id, "group": group},
                    }
                    found.append((str(entry.get("role_id", "")), source))
    return found


_T = TypeVar("_T")


def _kept(db: Session, row: _T) -> _T:
    """Hold `row` for the rest of the unit of work: the identity map keeps only weak
    references, and a session check computes the roles three times (JWT claim, session and
    member answers), so without this each would read the rows again."""
    if row is not None:
        db.info.setdefault("rbac_sso_rows", []).append(row)
    return row


def _groups(db: Session, member: Member, registration: dict[str, Any]) -> set[str]:
    found = _kept(db, db.get(SsoRegistration, str(registration.get("registration_id", ""))))
    if found is None or found.member_id != member.id:
        return set()
    groups = (found.sso_attributes or {}).get("groups")
    if isinstance(groups, str):
        return {groups}
    if isinstance(groups, list):
        return {g for g in groups if isinstance(g, str)}
    return set()


def session_grants(
    db: Session | None, member: Member, factors: Iterable[Mapping[str, Any]]
) -> list[Grant]:
    """The SSO grants a session (or a login) with `factors` holds: those of its SAML
    connections only. Nothing is read when no factor is a SAML one."""
    connections = saml_connections(factors)
    if db is None or not connections:
        return []
    return grants(db, member, connections)


def member_grants(db: Session | None, member: Member) -> list[Grant]:
    """Every SSO grant listed on the member object (no session needed)."""
    if db is None or not member.sso_registrations:
        return []
    return grants(db, member)
