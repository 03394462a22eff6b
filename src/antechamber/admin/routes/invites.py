"""Invitations in the console: invite someone into an organization, send an invitation again,
revoke it. Each goes through `email_auth.links` as the operator (audited with them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from pydantic import BaseModel
from starlette.responses import Response

from antechamber.admin import render
from antechamber.admin.errors import form_error
from antechamber.admin.routes import console_router
from antechamber.admin.routes.members import org_form
from antechamber.admin.security import ConsoleDep
from antechamber.email_auth import links
from antechamber.errors import AntechamberError

router = console_router()


class InviteForm(BaseModel):
    email_address: str = ""
    name: str = ""


@router.get("/projects/{project_id}/orgs/{org_id}/invite")
def invite_new(request: Request, console: ConsoleDep, project_id: str, org_id: str) -> Response:
    return org_form(request, console, project_id, org_id, "invites/new.html", InviteForm())


@router.post("/projects/{project_id}/orgs/{org_id}/invite")
def invite_send(
    request: Request,
    console: ConsoleDep,
    project_id: str,
    org_id: str,
    form: Annotated[InviteForm, Form()],
) -> Response:
    try:
        with console.project(project_id) as scope:
            sent = links.invite(
                scope,
                organization_id=org_id,
                email_address=form.email_address,
                name=form.name.strip() or None,
            )
            member_id, email = sent.member.id, sent.member.email_address
    except AntechamberError as exc:
        return org_form(
            request,
            console,
            project_id,
            org_id,
            "invites/new.html",
            form,
            error=form_error(exc),
            status_code=exc.status_code,
        )
    console.flash_next(f"Invitation sent to {email}.")
    return render.redirect(render.url("projects", project_id, "orgs", org_id, "members", member_id))


@router.post("/projects/{project_id}/orgs/{org_id}/members/{member_id}/resend-invite")
def invite_resend(
    request: Request, console: ConsoleDep, project_id: str, org_id: str, member_id: str
) -> Response:
    with console.project(project_id) as scope:
        email = links.resend_invite(
            scope, organization_id=org_id, member_id=member_id
        ).member.email_address
    console.flash_next(f"Invitation sent again to {email}; the earlier link no longer works.")
    return render.redirect(render.url("projects", project_id, "orgs", org_id, "members", member_id))


@router.post("/projects/{project_id}/orgs/{org_id}/members/{member_id}/revoke-invite")
def invite_revoke(
    request: Request, console: ConsoleDep, project_id: str, org_id: str, member_id: str
) -> Response:
    with console.project(project_id) as scope:
        links.revoke_invite(scope, organization_id=org_id, member_id=member_id)
    console.flash_next("Invitation revoked; its links no longer work.")
    return render.redirect(render.url("projects", project_id, "orgs", org_id))
