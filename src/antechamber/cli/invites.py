"""`antechamber members invite | resend | revoke`: invitations into an organization.

Registered on the `members` command group; each is audited with the CLI as the actor.
"""

from __future__ import annotations

import typer

from antechamber.api import serializers
from antechamber.cli.context import JSON_OPTION, PROJECT_OPTION, emit, project_scope
from antechamber.cli.members import ORG_ARG, app
from antechamber.email_auth import links
from antechamber.members import service as members
from antechamber.organizations.service import get_organization


@app.command(help="Invite someone into an organization: an invited member and an email link.")
def invite(
    org: str = ORG_ARG,
    email: str = typer.Argument(..., help="Email address of the person to invite."),
    name: str = typer.Option(None, "--name", help="Their display name."),
    redirect_url: str = typer.Option(
        None,
        "--redirect-url",
        help="Where the link leads (a registered invite URL; default: the project's default).",
    ),
    project: str = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    with project_scope(project) as scope:
        sent = links.invite(
            scope,
            organization_id=org,
            email_address=email,
            name=name,
            invite_redirect_url=redirect_url,
        )
        data = serializers.member(scope.db, sent.member, scope.clock.now())
    emit(data, as_json, f"invited {data['email_address']} ({data['member_id']})")


@app.command(help="Send an invited member a new invitation link (the earlier link stops working).")
def resend(
    org: str = ORG_ARG,
    member: str = typer.Argument(..., help="Member id or email address of the invited member."),
    project: str = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    with project_scope(project) as scope:
        o = get_organization(scope, org)
        found = members.get_member(scope, o, **_ref(member))
        sent = links.resend_invite(scope, organization_id=o.id, member_id=found.id)
        data = serializers.member(scope.db, sent.member, scope.clock.now())
    emit(data, as_json, f"invitation sent again to {data['email_address']}")


@app.command(help="Withdraw an open invitation: the invited member and every link sent go.")
def revoke(
    org: str = ORG_ARG,
    member: str = typer.Argument(..., help="Member id or email address of the invited member."),
    project: str = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    with project_scope(project) as scope:
        o = get_organization(scope, org)
        found = members.get_member(scope, o, **_ref(member))
        member_id = links.revoke_invite(scope, organization_id=o.id, member_id=found.id)
    emit({"member_id": member_id}, as_json, f"invitation revoked ({member_id})")


def _ref(ref: str) -> dict[str, str]:
    return {"email": ref} if "@" in ref else {"member_id": ref}
