"""An organization's page (settings and members), and everything done to one member: create,
make or remove admin, unlock, reset the SMS phone, delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from pydantic import BaseModel
from starlette.responses import Response

from antechamber.admin import render
from antechamber.admin.errors import FormError, form_error
from antechamber.admin.forms import MemberForm
from antechamber.admin.routes import console_router
from antechamber.admin.security import Console, ConsoleDep
from antechamber.api import serializers
from antechamber.audit import queries as audit
from antechamber.errors import AntechamberError
from antechamber.members import service as members
from antechamber.operators import service as operators
from antechamber.organizations import service as organizations
from antechamber.projects import service as projects
from antechamber.sessions import service as sessions
from antechamber.sessions.models import MemberSession
from antechamber.totp import service as totp

router = console_router()

PAGE_SIZE = 50


def member_query(text: str) -> dict[str, Any] | None:
    """The console's one search box: part of the email address."""
    text = text.strip()
    if not text:
        return None
    return {"operands": [{"filter_name": "member_email_fuzzy", "filter_value": text}]}


@router.get("/projects/{project_id}/orgs/{org_id}")
def org_page(
    request: Request,
    console: ConsoleDep,
    project_id: str,
    org_id: str,
    q: str = "",
    cursor: str = "",
) -> Response:
    error: FormError | None = None
    rows: list[dict[str, Any]] = []
    total, next_cursor = 0, None
    with console.project(project_id) as scope:
        project = projects.get_project(scope.db, project_id)
        org = organizations.get_organization(scope, org_id)
        now = scope.clock.now()
        try:
            page = members.search_members(
                scope, [org.id], member_query(q), cursor or None, PAGE_SIZE
            )
            rows = [serializers.member(scope.db, m, now) for m in page.members]
            total, next_cursor = page.total, page.next_cursor
        except AntechamberError as exc:
            error = form_error(exc, {"member_search_filter_name_not_recognized": "q"})
        data = serializers.organization(org)
    return render.page(
        request,
        "orgs/detail.html",
        status_code=400 if error else 200,
        section="projects",
        tab="orgs",
        project=project,
        org=data,
        members=rows,
        total=total,
        next_cursor=next_cursor,
        q=q,
        error=error,
    )


def org_form(
    request: Request,
    console: Console,
    project_id: str,
    org_id: str,
    template: str,
    form: BaseModel,
    *,
    error: FormError | None = None,
    status_code: int = 200,
) -> Response:
    """A form about one organization (a new member, an invitation), with its error if any."""
    with console.project(project_id) as scope:
        project = projects.get_project(scope.db, project_id)
        org = serializers.organization(organizations.get_organization(scope, org_id))
    return render.page(
        request,
        template,
        status_code=status_code,
        section="projects",
        tab="orgs",
        project=project,
        org=org,
        form=form,
        error=error,
    )


@router.get("/projects/{project_id}/orgs/{org_id}/members/new")
def member_new(request: Request, console: ConsoleDep, project_id: str, org_id: str) -> Response:
    return org_form(request, console, project_id, org_id, "members/new.html", MemberForm())


@router.post("/projects/{project_id}/orgs/{org_id}/members/new")
def member_create(
    request: Request,
    console: ConsoleDep,
    project_id: str,
    org_id: str,
    form: Annotated[MemberForm, Form()],
) -> Response:
    try:
        with console.project(project_id) as scope:
            org = organizations.get_organization(scope, org_id)
            member = members.create_member(scope, org, form.fields())
            member_id, email = member.id, member.email_address
    except AntechamberError as exc:
        return org_form(
            request,
            console,
            project_id,
            org_id,
            "members/new.html",
            form,
            error=form_error(exc),
            status_code=exc.status_code,
        )
    console.flash_next(f"Member {email} added.")
    return render.redirect(render.url("projects", project_id, "orgs", org_id, "members", member_id))


@router.get("/projects/{project_id}/orgs/{org_id}/members/{member_id}")
def member_detail(
    request: Request, console: ConsoleDep, project_id: str, org_id: str, member_id: str
) -> Response:
    with console.project(project_id) as scope:
        project = projects.get_project(scope.db, project_id)
        org = organizations.get_organization(scope, org_id)
        member = members.get_member(scope, org, member_id=member_id)
        data = serializers.member(scope.db, member, scope.clock.now())
        recent = audit.search(scope, audit.AuditFilter(member=member.id), limit=10)
        live = [session_row(s) for s in sessions.list_sessions(scope, org.id, member.id)[2]]
        org_data = serializers.organization(org)
        operator_names = operators.operator_emails(scope.db)
    return render.page(
        request,
        "members/detail.html",
        section="projects",
        tab="orgs",
        project=project,
        org=org_data,
        member=data,
        phone_id=member.phone_id or "",
        events=recent.events,
        operator_names=operator_names,
        sessions=live,
    )


def session_row(session: MemberSession) -> dict[str, Any]:
    """What the console shows of a session: never its token or JWT."""
    return {
        "id": session.id,
        "started_at": session.started_at,
        "last_accessed_at": session.last_accessed_at,
        "expires_at": session.expires_at,
        "factors": [
            f"{f.get('type', '?')} ({f.get('delivery_method', '?')})" for f in session.factors
        ],
    }


def _back_to_member(project_id: str, org_id: str, member_id: str) -> Response:
    return render.redirect(render.url("projects", project_id, "orgs", org_id, "members", member_id))


@router.post("/projects/{project_id}/orgs/{org_id}/members/{member_id}/admin")
def member_set_admin(
    request: Request,
    console: ConsoleDep,
    project_id: str,
    org_id: str,
    member_id: str,
    admin: Annotated[bool, Form()],
) -> Response:
    with console.project(project_id) as scope:
        org = organizations.get_organization(scope, org_id)
        member = members.get_member(scope, org, member_id=member_id)
        roles = members.roles_with_admin(member, admin)
        members.update_member(scope, org, member.id, {"roles": roles})
        email = member.email_address
    console.flash_next(f"{email} is {'now' if admin else 'no longer'} an admin.")
    return _back_to_member(project_id, org_id, member_id)


@router.post("/projects/{project_id}/orgs/{org_id}/members/{member_id}/unlock")
def member_unlock(
    request: Request, console: ConsoleDep, project_id: str, org_id: str, member_id: str
) -> Response:
    with console.project(project_id) as scope:
        org = organizations.get_organization(scope, org_id)
        email = members.unlock_member(scope, org, member_id).email_address
    console.flash_next(f"{email} is unlocked and may try a second factor again.")
    return _back_to_member(project_id, org_id, member_id)


CONFIRMATIONS = {
    "reset-phone": (
        "Reset the SMS phone",
        "The member's MFA phone number is forgotten and any code already sent stops working. "
        "Their next sign-in that needs MFA will ask them to enrol a phone again.",
        "Reset the phone",
    ),
    "reset-totp": (
        "Reset the authenticator app",
        "The member's authenticator app (TOTP) and its recovery codes stop working. Their next "
        "sign-in that needs MFA uses another factor or sets up an authenticator app again.",
        "Reset the authenticator app",
    ),
    "revoke-sessions": (
        "Revoke every session",
        "Every live session of the member ends now: their session tokens stop working at once, "
        "and JWTs already handed out stop verifying within 5 minutes.",
        "Revoke all sessions",
    ),
    "delete": (
        "Remove the member",
        "The member is removed from the organization. This cannot be undone.",
        "Remove the member",
    ),
}


@router.get("/projects/{project_id}/orgs/{org_id}/members/{member_id}/{action}")
def member_confirm(
    request: Request,
    console: ConsoleDep,
    project_id: str,
    org_id: str,
    member_id: str,
    action: str,
) -> Response:
    if action not in CONFIRMATIONS:
        return render.page(
            request,
            "error.html",
            status_code=404,
            title="Not found",
            message="There is no such page in the console.",
        )
    title, consequence, button = CONFIRMATIONS[action]
    with console.project(project_id) as scope:
        project = projects.get_project(scope.db, project_id)
        org = organizations.get_organization(scope, org_id)
        data = serializers.member(
            scope.db, members.get_member(scope, org, member_id=member_id), scope.clock.now()
        )
        org_data = serializers.organization(org)
    return render.page(
        request,
        "members/confirm.html",
        section="projects",
        tab="orgs",
        project=project,
        org=org_data,
        member=data,
        action=action,
        title=title,
        consequence=consequence,
        button=button,
    )


@router.post("/projects/{project_id}/orgs/{org_id}/members/{member_id}/reset-phone")
def member_reset_phone(
    request: Request, console: ConsoleDep, project_id: str, org_id: str, member_id: str
) -> Response:
    with console.project(project_id) as scope:
        org = organizations.get_organization(scope, org_id)
        member = members.get_member(scope, org, member_id=member_id)
        members.reset_sms_phone(scope, org, member)
        email = member.email_address
    console.flash_next(f"The SMS phone of {email} was reset.")
    return _back_to_member(project_id, org_id, member_id)


@router.post("/projects/{project_id}/orgs/{org_id}/members/{member_id}/reset-totp")
def member_reset_totp(
    request: Request, console: ConsoleDep, project_id: str, org_id: str, member_id: str
) -> Response:
    with console.project(project_id) as scope:
        _, member = totp.delete_member_totp(scope, org_id, member_id)
        email = member.email_address
    console.flash_next(f"The authenticator app of {email} was reset.")
    return _back_to_member(project_id, org_id, member_id)


@router.post("/projects/{project_id}/orgs/{org_id}/members/{member_id}/delete")
def member_delete(
    request: Request, console: ConsoleDep, project_id: str, org_id: str, member_id: str
) -> Response:
    with console.project(project_id) as scope:
        org = organizations.get_organization(scope, org_id)
        member = members.get_member(scope, org, member_id=member_id)
        email = member.email_address
        members.delete_member(scope, org, member.id)
    console.flash_next(f"{email} was removed from the organization.")
    return render.redirect(render.url("projects", project_id, "orgs", org_id))


@router.post("/projects/{project_id}/orgs/{org_id}/members/{member_id}/revoke-sessions")
def member_revoke_sessions(
    request: Request, console: ConsoleDep, project_id: str, org_id: str, member_id: str
) -> Response:
    with console.project(project_id) as scope:
        org = organizations.get_organization(scope, org_id)
        email = members.get_member(scope, org, member_id=member_id).email_address
        revoked = sessions.revoke_member_sessions(scope, org.id, member_id)
    n = len(revoked)
    console.flash_next(
        f"{n} session{'' if n == 1 else 's'} of {email} revoked."
        if n
        else f"{email} had no live session."
    )
    return _back_to_member(project_id, org_id, member_id)


@router.post(
    "/projects/{project_id}/orgs/{org_id}/members/{member_id}/sessions/{session_id}/revoke"
)
def member_revoke_session(
    request: Request,
    console: ConsoleDep,
    project_id: str,
    org_id: str,
    member_id: str,
    session_id: str,
) -> Response:
    with console.project(project_id) as scope:
        org = organizations.get_organization(scope, org_id)
        sessions.revoke_member_sessions(scope, org.id, member_id, session_id)
    console.flash_next(f"Session {session_id} revoked.")
    return _back_to_member(project_id, org_id, member_id)
