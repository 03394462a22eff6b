"""An organization's SCIM connection: create it, see its base URL, rotate its token (shown
once, on the page that answers the POST), delete it, and the outcomes of its last requests
(time, operation, resource id, status: never a token or a body)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from starlette.responses import Response

from antechamber.admin import render
from antechamber.admin.errors import form_error
from antechamber.admin.routes import console_router
from antechamber.admin.security import ConsoleDep
from antechamber.errors import AntechamberError
from antechamber.organizations import service as organizations
from antechamber.projects import service as projects
from antechamber.scim import connections
from antechamber.scim import errors as scim_errors
from antechamber.scim.models import ScimConnection
from antechamber.scope import Scope

router = console_router()


def _view(scope: Scope, c: ScimConnection) -> dict[str, Any]:
    return {
        "connection_id": c.id,
        "display_name": c.display_name,
        "identity_provider": c.identity_provider,
        "base_url": connections.base_url(scope, c),
        "token_last_four": c.token_last_four,
        "next_token_last_four": c.next_token_last_four,
        "created_at": c.created_at,
    }


def _page(
    request: Request,
    console: ConsoleDep,
    project_id: str,
    org_id: str,
    *,
    token: str = "",
    token_kind: str = "",
    error: Any = None,
    status_code: int = 200,
) -> Response:
    with console.project(project_id) as scope:
        project_row = projects.get_project(scope.db, project_id)
        org_row = organizations.get_organization(scope, org_id)
        project = {"id": project_row.id, "name": project_row.name}
        org = {"id": org_row.id, "name": org_row.name}
        connection, rows = connections.recent_requests(scope, org_row.id, 50)
        view = _view(scope, connection) if connection else None
        requests = [
            {
                "at": r.created_at,
                "operation": r.operation,
                "resource_id": r.resource_id,
                "status": r.status,
                "scim_type": r.scim_type,
            }
            for r in rows
        ]
    return render.page(
        request,
        "scim/connection.html",
        status_code=status_code,
        section="projects",
        project=project,
        org=org,
        connection=view,
        requests=requests,
        token=token,
        token_kind=token_kind,
        identity_providers=connections.IDENTITY_PROVIDERS,
        error=error,
    )


@router.get("/projects/{project_id}/orgs/{org_id}/scim")
def scim_page(request: Request, console: ConsoleDep, project_id: str, org_id: str) -> Response:
    return _page(request, console, project_id, org_id)


@router.post("/projects/{project_id}/orgs/{org_id}/scim")
def scim_create(
    request: Request,
    console: ConsoleDep,
    project_id: str,
    org_id: str,
    display_name: Annotated[str, Form()] = "",
    identity_provider: Annotated[str, Form()] = "generic",
) -> Response:
    try:
        with console.project(project_id) as scope:
            made = connections.create(
                scope, org_id, display_name=display_name, identity_provider=identity_provider
            )
            token = made.token
    except AntechamberError as exc:
        return _page(
            request,
            console,
            project_id,
            org_id,
            error=form_error(exc, {"invalid_scim_idp": "identity_provider"}),
            status_code=exc.status_code,
        )
    # Shown on this answer only: the token is not stored.
    return _page(request, console, project_id, org_id, token=token, token_kind="bearer")  # noqa: S106 (a label)


@router.post("/projects/{project_id}/orgs/{org_id}/scim/rotate")
def scim_rotate(
    request: Request,
    console: ConsoleDep,
    project_id: str,
    org_id: str,
    step: Annotated[str, Form()],
) -> Response:
    token = ""
    try:
        with console.project(project_id) as scope:
            found = connections.get(scope, org_id)
            if found is None:
                raise scim_errors.ScimConnectionNotFound()
            if step == "start":
                token = connections.rotate_start(scope, org_id, found.id).token
            elif step == "complete":
                connections.rotate_complete(scope, org_id, found.id)
            elif step == "cancel":
                connections.rotate_cancel(scope, org_id, found.id)
            else:
                raise scim_errors.ScimConnectionNotRotatingToken("Unknown step.")
    except AntechamberError as exc:
        return _page(
            request,
            console,
            project_id,
            org_id,
            error=form_error(exc),
            status_code=exc.status_code,
        )
    if token:
        return _page(request, console, project_id, org_id, token=token, token_kind="next")  # noqa: S106 (a label)
    console.flash_next(
        "Rotation complete: only the new token works now."
        if step == "complete"
        else "Rotation cancelled: the current token stays."
    )
    return render.redirect(render.url("projects", project_id, "orgs", org_id, "scim"))


@router.post("/projects/{project_id}/orgs/{org_id}/scim/delete")
def scim_delete(request: Request, console: ConsoleDep, project_id: str, org_id: str) -> Response:
    try:
        with console.project(project_id) as scope:
            found = connections.get(scope, org_id)
            if found is None:
                raise scim_errors.ScimConnectionNotFound()
            connections.delete_connection(scope, org_id, found.id)
    except AntechamberError as exc:
        return _page(
            request, console, project_id, org_id, error=form_error(exc), status_code=exc.status_code
        )
    console.flash_next("SCIM connection deleted; its token no longer works. Members stay.")
    return render.redirect(render.url("projects", project_id, "orgs", org_id, "scim"))
