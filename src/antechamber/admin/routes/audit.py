"""The audit log of a project: filter by organization, member, event type and time range."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from antechamber.admin import render
from antechamber.admin.errors import FormError, form_error
from antechamber.admin.forms import parse_time
from antechamber.admin.routes import console_router
from antechamber.admin.security import ConsoleDep
from antechamber.audit import queries as audit
from antechamber.audit.models import AuditEvent
from antechamber.errors import AntechamberError
from antechamber.members import service as members
from antechamber.operators import service as operators
from antechamber.organizations import service as organizations
from antechamber.projects import service as projects

router = console_router()

PAGE_SIZE = 50


@router.get("/projects/{project_id}/audit")
def audit_log(
    request: Request,
    console: ConsoleDep,
    project_id: str,
    org: str = "",
    member: str = "",
    type: str = "",
    since: str = "",
    until: str = "",
    before: int | None = None,
) -> Response:
    error: FormError | None = None
    events: list[AuditEvent] = []
    next_before: int | None = None
    # The operators project's log (console sign-ins) is readable here, though nothing else
    # of that project is in the console.
    with console.project(project_id, internal=True) as scope:
        project = projects.get_project(scope.db, project_id)
        try:
            filters = audit.AuditFilter(
                organization=org,
                member=member,
                event_type=type,
                since=parse_time(since, "since"),
                until=parse_time(until, "until"),
            )
            page = audit.search(scope, filters, before=before, limit=PAGE_SIZE)
            events, next_before = list(page.events), page.next_before
        except AntechamberError as exc:
            error = form_error(exc)
        operator_names = operators.operator_emails(scope.db)
        # Show names where the objects still exist; deleted ones keep their ids.
        org_names = {
            oid: o.name
            for oid, o in organizations.organizations_by_ids(
                scope, sorted({e.organization_id for e in events if e.organization_id})
            ).items()
        }
        member_emails = {
            mid: m.email_address
            for mid, m in members.members_by_ids(
                scope, sorted({e.member_id for e in events if e.member_id})
            ).items()
        }
    return render.page(
        request,
        "audit/list.html",
        status_code=400 if error else 200,
        section="projects",
        tab="audit",
        project=project,
        events=events,
        next_before=next_before,
        filters={"org": org, "member": member, "type": type, "since": since, "until": until},
        event_types=audit.EVENT_TYPES,
        operator_names=operator_names,
        org_names=org_names,
        member_emails=member_emails,
        error=error,
    )
