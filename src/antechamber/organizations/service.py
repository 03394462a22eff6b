"""Organizations: create, read, update, delete, search. Every function is scoped to a project."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, bindparam, delete, func, or_, select

from antechamber import db, metadata, pagination, rows, text
from antechamber.audit import service as audit
from antechamber.audit.events import EventType
from antechamber.ids import new_id
from antechamber.members.models import Member
from antechamber.organizations import domains, errors, rules
from antechamber.organizations.models import Organization, OrganizationDomain
from antechamber.rbac import service as rbac
from antechamber.scope import Scope
from antechamber.sso import organization_settings

# Request fields that map one-to-one onto a column after validation.
_ENUM_COLUMNS = tuple(rules.ENUM_FIELDS)
_LIST_COLUMNS = {
    "allowed_auth_methods": rules.AUTH_METHOD_NAMES,
    "allowed_mfa_methods": rules.MFA_METHOD_NAMES,
}
_PLAIN_LIST_COLUMNS = (
    "allowed_first_party_connected_apps",
    "allowed_third_party_connected_apps",
    "claimed_email_domains",
)


@dataclass(frozen=True)
class Page:
    organizations: Sequence[Organization]
    total: int
    next_cursor: str | None


def create_organization(scope: Scope, fields: Mapping[str, Any]) -> Organization:
    """Create an organization from Stytch's create fields (`organization_name` required)."""
    now = scope.clock.now()
    org_name = rules.name(fields.get("organization_name") or "")
    slug = fields.get("organization_slug")
    org = Organization(
        id=new_id("organization", scope.environment),
        project_id=scope.project_id,
        name=org_name,
        slug=rules.slug(slug) if slug else _free_slug(scope, rules.slug_from_name(org_name)),
        logo_url="",
        external_id=None,
        trusted_metadata={},
        created_at=now,
        updated_at=now,
        email_allowed_domains=[],
        domains=[],
    )
    # Stytch: invites default to ALL_ALLOWED unless auth settings were given.
    auth_given = any(k in fields for k in ("email_jit_provisioning", "email_allowed_domains"))
    for column in _ENUM_COLUMNS:
        setattr(org, column, rules.ENUM_FIELDS[column][0])
    org.email_invites = "NOT_ALLOWED" if auth_given else "ALL_ALLOWED"
    for column in (
        *_LIST_COLUMNS,
        *_PLAIN_LIST_COLUMNS,
        "mfa_required_roles",
        "rbac_email_implicit_role_assignments",
        "custom_roles",
    ):
        setattr(org, column, [])
    org.allowed_oauth_tenants = {}
    _apply(scope, org, fields)
    _ensure_unique(scope, org)
    scope.db.add(org)
    scope.db.flush()
    audit.record(
        scope,
        EventType.ORGANIZATION_CREATED,
        organization_id=org.id,
        slug=org.slug,
        mfa_policy=org.mfa_policy,
    )
    return org


# How a reference names an organization (`get_organization`): by id, else by slug (compared
# lowercase) or external id; within the project. Built once, as ORM statements for the objects
# of the unit of work and as Core statements for transient ones (`rows`).
_ORGS = rows.Columns(Organization)
_orgs = cast(Table, Organization.__table__)


def _by_id(table: Any) -> ColumnElement[bool]:
    return and_(table.project_id == bindparam("p_project"), table.id == bindparam("p_ref"))


def _by_name(table: Any) -> ColumnElement[bool]:
    return and_(
        table.project_id == bindparam("p_project"),
        or_(table.slug == bindparam("p_slug"), table.external_id == bindparam("p_ref")),
    )


_BY_ID = select(Organization).where(_by_id(Organization))
_BY_NAME = select(Organization).where(_by_name(Organization))
_ROW_BY_ID = select(*_ORGS.columns).where(_by_id(_orgs.c))
_ROW_BY_NAME = select(*_ORGS.columns).where(_by_name(_orgs.c))


def get_organization(scope: Scope, ref: str) -> Organization:
    """By id, slug or external id (Stytch accepts all three), within the scope's project only.
    An object of the unit of work: what a caller changes in it is written (`read_organization`
    for a caller that only reads it)."""
    params = _reference(scope, ref)
    org = scope.db.scalar(_BY_ID, params)
    if org is None:
        org = scope.db.scalar(_BY_NAME, params)
    if org is None:
        raise errors.OrganizationNotFound()
    return org


def read_organization(scope: Scope, ref: str) -> Organization:
    """The organization `get_organization` finds, as a transient object (`rows`: read by
    pre-built Core statements, not in the unit of work; changing it writes nothing, and its
    `domains` are not loaded): for a caller that only reads its columns (GET organization)."""
    params = _reference(scope, ref)
    connection = db.connection(scope.db)
    row = connection.execute(_ROW_BY_ID, params).first()
    if row is None:
        row = connection.execute(_ROW_BY_NAME, params).first()
    if row is None:
        raise errors.OrganizationNotFound()
    return _ORGS.make(row)


def _reference(scope: Scope, ref: str) -> dict[str, str]:
    """The parameters of the statements finding `ref`; `OrganizationNotFound` for no ref."""
    if not ref or ref in ("undefined", "null"):
        raise errors.OrganizationNotFound()
    return {"p_project": scope.project_id, "p_ref": ref, "p_slug": ref.lower()}


def update_organization(scope: Scope, ref: str, fields: Mapping[str, Any]) -> Organization:
    """Apply the given fields; nothing changes unless every field and the result are valid."""
    org = get_organization(scope, ref)
    before = _snapshot(org)
    if "organization_name" in fields:
        org.name = rules.name(fields["organization_name"] or "")
    if fields.get("organization_slug"):
        org.slug = rules.slug(fields["organization_slug"])
    _apply(scope, org, fields)
    _ensure_unique(scope, org)
    org.updated_at = scope.clock.now()
    changed = sorted(k for k, v in _snapshot(org).items() if before[k] != v)
    if "rbac_email_implicit_role_assignments" in changed:
        rbac.ensure_role_manager(scope, org)
    audit.record(scope, EventType.ORGANIZATION_UPDATED, organization_id=org.id, changed=changed)
    scope.db.flush()
    return org


def delete_organization(scope: Scope, ref: str) -> str:
    """Delete the organization and, with it, every member (and what hangs off them)."""
    org = get_organization(scope, ref)
    scope.db.execute(delete(Member).where(Member.organization_id == org.id))
    scope.db.delete(org)
    audit.record(scope, EventType.ORGANIZATION_DELETED, organization_id=org.id, slug=org.slug)
    scope.db.flush()
    return org.id


def search_organizations(
    scope: Scope, query: Mapping[str, Any] | None, cursor: str | None, limit: int | None
) -> Page:
    """Stytch's organization search: `{operator, operands: [{filter_name, filter_value}]}`."""
    condition = _search_condition(scope, query)
    base = select(Organization).where(Organization.project_id == scope.project_id, condition)
    return Page(
        *pagination.page(scope.db, base, Organization.created_at, Organization.id, cursor, limit)
    )


def organizations_by_ids(scope: Scope, ids: Sequence[str]) -> dict[str, Organization]:
    rows = scope.db.scalars(
        select(Organization).where(
            Organization.project_id == scope.project_id, Organization.id.in_(ids)
        )
    )
    return {org.id: org for org in rows}


def _apply(scope: Scope, org: Organization, fields: Mapping[str, Any]) -> None:
    # Refused here, not by the database: PostgreSQL refuses NUL, SQLite would store it.
    text.refuse_nul(fields)
    for column in _ENUM_COLUMNS:
        if fields.get(column):
            setattr(org, column, rules.enum(column, fields[column]))
    for column, allowed in _LIST_COLUMNS.items():
        if fields.get(column) is not None:
            setattr(org, column, rules.names(column, fields[column], allowed))
    for column in _PLAIN_LIST_COLUMNS:
        if fields.get(column) is not None:
            setattr(org, column, [str(v) for v in fields[column]])
    if fields.get("mfa_required_roles") is not None:
        wanted = [str(r) for r in dict.fromkeys(fields["mfa_required_roles"])]
        unknown = rbac.unknown_role_ids(scope, org, wanted)
        if unknown:
            raise errors.InvalidSetting(
                f"mfa_required_roles has unknown values {unknown}; roles are those of the "
                "project's RBAC policy and the organization's custom roles."
            )
        org.mfa_required_roles = wanted
    if fields.get("rbac_email_implicit_role_assignments") is not None:
        assignments = rules.role_assignments(fields["rbac_email_implicit_role_assignments"])
        # The roles exist, and an acting member may give (or take) each (rbac).
        unknown = rbac.unknown_role_ids(scope, org, [a["role_id"] for a in assignments])
        if unknown:
            raise errors.InvalidSetting(f"Unknown role {unknown[0]!r}.")
        rbac.check_implicit_roles(
            scope, org, list(org.rbac_email_implicit_role_assignments or []), assignments
        )
        org.rbac_email_implicit_role_assignments = assignments
    if fields.get("allowed_oauth_tenants") is not None:
        org.allowed_oauth_tenants = metadata.checked(
            fields["allowed_oauth_tenants"], "allowed_oauth_tenants"
        )
    if "organization_logo_url" in fields:
        org.logo_url = rules.logo_url(fields["organization_logo_url"] or "")
    if fields.get("organization_external_id"):
        org.external_id = rules.external_id(fields["organization_external_id"])
    if fields.get("trusted_metadata") is not None:
        org.trusted_metadata = metadata.merged(
            org.trusted_metadata, fields["trusted_metadata"], "trusted_metadata"
        )
    if fields.get("email_allowed_domains") is not None:
        wanted = domains.allowed_domains(fields["email_allowed_domains"])
        if wanted != org.email_allowed_domains:
            org.email_allowed_domains = wanted
            # Replacing the rows loads the old ones first; an autoflush then would write
            # changes not yet checked (a slug `_ensure_unique` is about to refuse).
            with scope.db.no_autoflush:
                org.domains = [
                    OrganizationDomain(domain=d, project_id=scope.project_id, position=i)
                    for i, d in enumerate(wanted)
                ]
    _check_combination(org)
    _apply_sso(scope, org, fields)


def _apply_sso(scope: Scope, org: Organization, fields: Mapping[str, Any]) -> None:
    """The SSO settings, which must name the organization's own connections (`sso/`)."""
    sso_fields = (
        "sso_default_connection_id",
        "sso_jit_provisioning_allowed_connections",
        "sso_jit_provisioning",
    )
    if not any(fields.get(k) is not None for k in sso_fields):
        return
    if fields.get("sso_default_connection_id") is not None:
        org.sso_default_connection_id = str(fields["sso_default_connection_id"]) or None
    if fields.get("sso_jit_provisioning_allowed_connections") is not None:
        org.sso_jit_provisioning_allowed_connections = list(
            dict.fromkeys(str(v) for v in fields["sso_jit_provisioning_allowed_connections"])
        )
    with scope.db.no_autoflush:
        organization_settings.check(scope, org)


def _check_combination(org: Organization) -> None:
    restricted = "RESTRICTED" in (org.email_jit_provisioning, org.email_invites)
    if restricted and not org.email_allowed_domains:
        raise errors.InvalidRestrictedEmailSetting()
    if org.auth_methods == "RESTRICTED" and not org.allowed_auth_methods:
        raise errors.AllowedAuthMethodsRequired()
    if org.mfa_methods == "RESTRICTED" and not org.allowed_mfa_methods:
        raise errors.AllowedMfaMethodsRequired()


def _ensure_unique(scope: Scope, org: Organization) -> None:
    """One reference names one organization.

    Wherever an organization is named (`get_organization`), its id, its slug (compared
    lowercase) and its external id are all accepted. So a slug may not equal another
    organization's slug, external id (lowercased) or id, and an external id may not equal another
    organization's external id, slug or id: otherwise someone who may pick a slug (discovery
    create) could make a victim organization's external id resolve to their own organization.
    """
    others = and_(Organization.project_id == scope.project_id, Organization.id != org.id)
    with scope.db.no_autoflush:
        if scope.db.scalar(select(Organization.id).where(others, _names(org.slug))):
            raise errors.SlugAlreadyUsed()
        if org.external_id and scope.db.scalar(
            select(Organization.id).where(
                others,
                or_(
                    Organization.external_id == org.external_id,
                    Organization.slug == org.external_id.lower(),
                    Organization.id == org.external_id,
                ),
            )
        ):
            raise errors.ExternalIdAlreadyUsed()


def _names(slug: str) -> ColumnElement[bool]:
    """An organization that `slug` would also name (by slug, external id or id)."""
    return or_(
        Organization.slug == slug,
        func.lower(Organization.external_id) == slug,
        Organization.id == slug,
    )


def _free_slug(scope: Scope, wanted: str) -> str:
    taken = scope.db.scalar(
        select(Organization.id).where(Organization.project_id == scope.project_id, _names(wanted))
    )
    return wanted if taken is None else f"{wanted[:119]}-{secrets.token_hex(4)}"


def _snapshot(org: Organization) -> dict[str, Any]:
    return {
        "organization_name": org.name,
        "organization_slug": org.slug,
        "organization_logo_url": org.logo_url,
        "organization_external_id": org.external_id,
        "trusted_metadata": dict(org.trusted_metadata),
        "email_allowed_domains": org.email_allowed_domains,
        **{c: getattr(org, c) for c in _ENUM_COLUMNS},
        **{c: list(getattr(org, c)) for c in (*_LIST_COLUMNS, *_PLAIN_LIST_COLUMNS)},
        "mfa_required_roles": list(org.mfa_required_roles),
        "rbac_email_implicit_role_assignments": list(org.rbac_email_implicit_role_assignments),
    }


_SEARCH_FILTERS = {
    "organization_ids",
    "organization_slugs",
    "organization_name_fuzzy",
    "organization_slug_fuzzy",
    "allowed_domains",
    "allowed_domain_fuzzy",
    "member_emails",
    "member_email_fuzzy",
    "mfa_policies",
    "organization_external_ids",
}


def _search_condition(scope: Scope, query: Mapping[str, Any] | None) -> ColumnElement[bool]:
    if not query or not query.get("operands"):
        return Organization.id.is_not(None)
    operator = str(query.get("operator") or "AND").upper()
    if operator not in ("AND", "OR"):
        raise errors.InvalidSearchQuery("query.operator must be AND or OR.")
    parts = [_filter(scope, op) for op in query["operands"]]
    return and_(*parts) if operator == "AND" else or_(*parts)


def _filter(scope: Scope, operand: Any) -> ColumnElement[bool]:
    if not isinstance(operand, dict) or "filter_name" not in operand:
        raise errors.InvalidSearchQuery("Each operand needs filter_name and filter_value.")
    name, value = operand["filter_name"], operand.get("filter_value")
    if name not in _SEARCH_FILTERS:
        raise errors.InvalidSearchQuery(f"Unknown filter {name!r}.")
    if name.endswith("_fuzzy"):
        if not isinstance(value, str) or len(value) < 3:
            raise errors.InvalidSearchQuery(
                f"{name} needs at least 3 characters.",
            )
        # `contains(autoescape=True)` escapes LIKE's % and _ : the filter matches its text.
        literal = value.lower()
    elif not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise errors.InvalidSearchQuery(f"{name} needs a list of strings.")
    in_project = OrganizationDomain.project_id == scope.project_id
    member_orgs = select(Member.organization_id).where(Member.project_id == scope.project_id)
    match name:
        case "organization_ids":
            return Organization.id.in_(value)
        case "organization_slugs":
            return Organization.slug.in_([v.lower() for v in value])
        case "organization_external_ids":
            return Organization.external_id.in_(value)
        case "organization_name_fuzzy":
            return func.lower(Organization.name).contains(literal, autoescape=True)
        case "organization_slug_fuzzy":
            return Organization.slug.contains(literal, autoescape=True)
        case "mfa_policies":
            return Organization.mfa_policy.in_(value)
        case "allowed_domains":
            return Organization.id.in_(
                select(OrganizationDomain.organization_id).where(
                    in_project, OrganizationDomain.domain.in_([v.lower() for v in value])
                )
            )
        case "allowed_domain_fuzzy":
            return Organization.id.in_(
                select(OrganizationDomain.organization_id).where(
                    in_project, OrganizationDomain.domain.contains(literal, autoescape=True)
                )
            )
        case "member_emails":
            return Organization.id.in_(
                member_orgs.where(Member.email_address.in_([v.lower() for v in value]))
            )
        case _:  # member_email_fuzzy
            return Organization.id.in_(
                member_orgs.where(Member.email_address.contains(literal, autoescape=True))
            )
