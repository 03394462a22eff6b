"""`antechamber members …`: the members of an organization."""

from __future__ import annotations

from typing import Any

import typer

from antechamber.api import serializers
from antechamber.cli.context import JSON_OPTION, PROJECT_OPTION, emit, project_scope
from antechamber.members import service
from antechamber.organizations.service import get_organization
from antechamber.totp import service as totp

app = typer.Typer(help="Manage the members of an organization.", no_args_is_help=True)

ORG_ARG = typer.Argument(..., help="Organization id, slug or external id.")
MEMBER_ARG = typer.Argument(..., help="Member id or email address.")


def _summary(m: dict[str, Any]) -> str:
    flags = [m["status"]]
    if m["is_admin"]:
        flags.append("admin")
    if m["mfa_enrolled"]:
        flags.append("mfa")
    if m["is_locked"]:
        flags.append("locked")
    return f"{m['member_id']}  {m['email_address']}  {m['name']!r}  {' '.join(flags)}"


def _fields(
    name: str | None, admin: bool | None, phone: str | None, mfa: bool | None
) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if name is not None:
        fields["name"] = name
    if phone:
        fields["mfa_phone_number"] = phone
    if mfa is not None:
        fields["mfa_enrolled"] = mfa
    return fields


NAME = typer.Option(None, help="Display name.")
ADMIN = typer.Option(None, "--admin/--no-admin", help="Give or take the stytch_admin role.")
PHONE = typer.Option(None, "--phone", help="MFA phone number in E.164 (+12025550123).")
MFA = typer.Option(None, "--mfa/--no-mfa", help="Opt the member in or out of MFA.")


def _member_ref(ref: str) -> dict[str, str]:
    return {"email": ref} if "@" in ref else {"member_id": ref}


@app.command(help="Add a member to an organization.")
def create(
    org: str = ORG_ARG,
    email: str = typer.Argument(..., help="Email address."),
    name: str = NAME,
    admin: bool = ADMIN,
    phone: str = PHONE,
    mfa: bool = MFA,
    project: str = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    fields = {"email_address": email, **_fields(name, admin, phone, mfa)}
    if admin:
        fields["roles"] = ["stytch_admin"]
    with project_scope(project) as scope:
        o = get_organization(scope, org)
        data = serializers.member(
            scope.db, service.create_member(scope, o, fields), scope.clock.now()
        )
    emit(data, as_json, _summary(data))


@app.command("list", help="List an organization's members; --search filters by email.")
def list_(
    org: str = ORG_ARG,
    search: str = typer.Option(None, help="Part of the email address (3+ characters)."),
    limit: int = typer.Option(100, help="At most this many.", min=1, max=1000),
    project: str = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    query = None
    if search:
        query = {"operands": [{"filter_name": "member_email_fuzzy", "filter_value": search}]}
    with project_scope(project) as scope:
        page = service.search_members(scope, [org], query, None, limit)
        now = scope.clock.now()
        rows = [serializers.member(scope.db, m, now) for m in page.members]
    emit(rows, as_json, "\n".join(_summary(m) for m in rows) or "no members")


@app.command(help="Show one member.")
def show(
    org: str = ORG_ARG,
    member: str = MEMBER_ARG,
    project: str = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    with project_scope(project) as scope:
        o = get_organization(scope, org)
        data = serializers.member(
            scope.db, service.get_member(scope, o, **_member_ref(member)), scope.clock.now()
        )
    emit(data, as_json)


@app.command(help="Change a member's name, admin role, phone or MFA opt-in.")
def update(
    org: str = ORG_ARG,
    member: str = MEMBER_ARG,
    name: str = NAME,
    admin: bool = ADMIN,
    phone: str = PHONE,
    mfa: bool = MFA,
    project: str = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    fields = _fields(name, admin, phone, mfa)
    with project_scope(project) as scope:
        o = get_organization(scope, org)
        m = service.get_member(scope, o, **_member_ref(member))
        if admin is not None:
            fields["roles"] = service.roles_with_admin(m, admin)
        data = serializers.member(
            scope.db, service.update_member(scope, o, m.id, fields), scope.clock.now()
        )
    emit(data, as_json, _summary(data))


@app.command(help="Remove a member from an organization.")
def delete(
    org: str = ORG_ARG,
    member: str = MEMBER_ARG,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    project: str = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    if not yes:
        typer.confirm(f"Remove {member} from {org}?", abort=True)
    with project_scope(project) as scope:
        o = get_organization(scope, org)
        m = service.get_member(scope, o, **_member_ref(member))
        deleted = service.delete_member(scope, o, m.id)
    emit({"member_id": deleted}, as_json, f"deleted {deleted}")


@app.command(
    help="End a member's MFA lockout now (after too many wrong codes) and forget their "
    "failed attempts."
)
def unlock(
    org: str = ORG_ARG,
    member: str = MEMBER_ARG,
    project: str = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    with project_scope(project) as scope:
        o = get_organization(scope, org)
        m = service.get_member(scope, o, **_member_ref(member))
        data = serializers.member(
            scope.db, service.unlock_member(scope, o, m.id), scope.clock.now()
        )
    emit(data, as_json, _summary(data))


@app.command(
    "reset-phone",
    help="Forget a member's MFA phone (lost or changed phone): the number, its verification "
    "and any code already sent. Their next MFA login enrols a phone again.",
)
def reset_phone(
    org: str = ORG_ARG,
    member: str = MEMBER_ARG,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    project: str = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    if not yes:
        typer.confirm(f"Reset the SMS phone of {member} in {org}?", abort=True)
    with project_scope(project) as scope:
        o = get_organization(scope, org)
        m = service.get_member(scope, o, **_member_ref(member))
        data = serializers.member(scope.db, service.reset_sms_phone(scope, o, m), scope.clock.now())
    emit(data, as_json, _summary(data))


@app.command(
    "reset-totp",
    help="Remove a member's authenticator app (TOTP) and its recovery codes (lost device). "
    "Sessions already started stay; their next MFA login uses another factor or enrols again.",
)
def reset_totp(
    org: str = ORG_ARG,
    member: str = MEMBER_ARG,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    project: str = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    if not yes:
        typer.confirm(f"Remove the authenticator app of {member} in {org}?", abort=True)
    with project_scope(project) as scope:
        o = get_organization(scope, org)
        m = service.get_member(scope, o, **_member_ref(member))
        _, updated = totp.delete_member_totp(scope, o.id, m.id)
        data = serializers.member(scope.db, updated, scope.clock.now())
    emit(data, as_json, _summary(data))
