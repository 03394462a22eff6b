"""`antechamber orgs …`: organizations and their authentication policies."""

from __future__ import annotations

from typing import Any

import typer

from antechamber.api import serializers
from antechamber.cli.context import JSON_OPTION, PROJECT_OPTION, emit, project_scope
from antechamber.organizations import service

app = typer.Typer(help="Manage organizations and their policies.", no_args_is_help=True)

ORG_ARG = typer.Argument(..., help="Organization id, slug or external id.")


def _settings(
    name: str | None,
    slug: str | None,
    mfa_policy: str | None,
    domains: list[str],
    email_jit: str | None,
    mfa_methods: list[str],
    mfa_roles: list[str],
) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if name is not None:
        fields["organization_name"] = name
    if slug:
        fields["organization_slug"] = slug
    if mfa_policy:
        fields["mfa_policy"] = mfa_policy.upper()
    if domains:
        fields["email_allowed_domains"] = [] if domains == ["-"] else domains
    if email_jit:
        fields["email_jit_provisioning"] = email_jit.upper()
    if mfa_methods:
        if mfa_methods == ["all"]:
            fields["mfa_methods"] = "ALL_ALLOWED"
        else:
            fields["mfa_methods"] = "RESTRICTED"
            fields["allowed_mfa_methods"] = mfa_methods
    if mfa_roles:
        fields["mfa_required_roles"] = [] if mfa_roles == ["-"] else mfa_roles
    return fields


def _summary(org: dict[str, Any]) -> str:
    return (
        f"{org['organization_id']}  {org['organization_slug']}  {org['organization_name']!r}  "
        f"mfa={org['mfa_policy']}  domains={','.join(org['email_allowed_domains']) or '-'}"
    )


SLUG = typer.Option(None, help="URL-safe unique name (default: derived from the name).")
POLICY = typer.Option(None, "--mfa-policy", help="OPTIONAL or REQUIRED_FOR_ALL.")
DOMAINS = typer.Option(
    [],
    "--allowed-domain",
    help="Email domain whose people may join (repeatable; '-' clears).",
    show_default=False,
)
JIT = typer.Option(None, "--email-jit", help="RESTRICTED (join by allowed domain) or NOT_ALLOWED.")
METHODS = typer.Option(
    [],
    "--mfa-method",
    help="Allowed MFA method: sms_otp, totp, or 'all' (repeatable).",
    show_default=False,
)
ROLES = typer.Option(
    [],
    "--mfa-required-role",
    help="Role whose members must use MFA even under OPTIONAL, e.g. stytch_admin "
    "(repeatable; '-' clears).",
    show_default=False,
)


@app.command(help="Create an organization.")
def create(
    name: str = typer.Argument(..., help="Display name, 1-128 characters."),
    slug: str = SLUG,
    mfa_policy: str = POLICY,
    allowed_domain: list[str] = DOMAINS,
    email_jit: str = JIT,
    mfa_method: list[str] = METHODS,
    mfa_required_role: list[str] = ROLES,
    project: str = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    fields = _settings(
        name, slug, mfa_policy, allowed_domain, email_jit, mfa_method, mfa_required_role
    )
    with project_scope(project) as scope:
        org = serializers.organization(service.create_organization(scope, fields))
    emit(org, as_json, _summary(org))


@app.command("list", help="List organizations (newest last); --search filters by name.")
def list_(
    search: str = typer.Option(None, help="Part of the name (3+ characters)."),
    limit: int = typer.Option(100, help="At most this many.", min=1, max=1000),
    project: str = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    query = None
    if search:
        query = {
            "operator": "AND",
            "operands": [{"filter_name": "organization_name_fuzzy", "filter_value": search}],
        }
    with project_scope(project) as scope:
        page = service.search_organizations(scope, query, None, limit)
        orgs = [serializers.organization(o) for o in page.organizations]
    emit(orgs, as_json, "\n".join(_summary(o) for o in orgs) or "no organizations")


@app.command(help="Show one organization and all its settings.")
def show(org: str = ORG_ARG, project: str = PROJECT_OPTION, as_json: bool = JSON_OPTION) -> None:
    with project_scope(project) as scope:
        data = serializers.organization(service.get_organization(scope, org))
    emit(data, as_json)


@app.command(help="Change an organization's name, slug or policies.")
def update(
    org: str = ORG_ARG,
    name: str = typer.Option(None, help="New display name."),
    slug: str = typer.Option(None, help="New slug."),
    mfa_policy: str = POLICY,
    allowed_domain: list[str] = DOMAINS,
    email_jit: str = JIT,
    mfa_method: list[str] = METHODS,
    mfa_required_role: list[str] = ROLES,
    project: str = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    fields = _settings(
        name, slug, mfa_policy, allowed_domain, email_jit, mfa_method, mfa_required_role
    )
    with project_scope(project) as scope:
        data = serializers.organization(service.update_organization(scope, org, fields))
    emit(data, as_json, _summary(data))


@app.command(help="Delete an organization and all its members.")
def delete(
    org: str = ORG_ARG,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    project: str = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    if not yes:
        typer.confirm(f"Delete {org} and all its members?", abort=True)
    with project_scope(project) as scope:
        deleted = service.delete_organization(scope, org)
    emit({"organization_id": deleted}, as_json, f"deleted {deleted}")
