"""A project's RBAC policy: view it, and edit it as Stytch's JSON (checked, audited)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import Form, Request
from starlette.responses import Response

from antechamber.admin import render
from antechamber.admin.errors import FormError, form_error
from antechamber.admin.routes import console_router
from antechamber.admin.security import Console, ConsoleDep
from antechamber.errors import AntechamberError
from antechamber.projects import service as projects
from antechamber.rbac import errors
from antechamber.rbac import service as rbac

router = console_router()
FIELD = "policy_json"


def _page(
    request: Request,
    console: Console,
    project_id: str,
    *,
    text: str | None = None,
    error: FormError | None = None,
    status_code: int = 200,
) -> Response:
    with console.project(project_id) as scope:
        project = projects.get_project(scope.db, project_id)
        policy = rbac.get_policy(scope)
    editable = policy.custom_json()
    return render.page(
        request,
        "projects/rbac.html",
        status_code=status_code,
        section="projects",
        tab="rbac",
        project={"id": project.id, "name": project.name, "environment": project.environment},
        policy=policy,
        policy_json=text if text is not None else json.dumps(editable, indent=2),
        error=error,
    )


@router.get("/projects/{project_id}/rbac")
def policy_view(request: Request, console: ConsoleDep, project_id: str) -> Response:
    return _page(request, console, project_id)


@router.post("/projects/{project_id}/rbac")
def policy_save(
    request: Request,
    console: ConsoleDep,
    project_id: str,
    policy_json: Annotated[str, Form()] = "",
) -> Response:
    try:
        try:
            document = json.loads(policy_json)
        except ValueError as exc:
            raise errors.InvalidPolicy(f"The policy is not JSON: {exc}.") from None
        with console.project(project_id) as scope:
            saved = rbac.set_policy(scope, document)
    except AntechamberError as exc:
        return _page(
            request,
            console,
            project_id,
            text=policy_json,
            error=form_error(exc, {exc.error_type: FIELD}),
            status_code=exc.status_code,
        )
    console.flash_next(f"RBAC policy saved: {len(saved.roles)} roles.")
    return render.redirect(render.url("projects", project_id, "rbac"))
