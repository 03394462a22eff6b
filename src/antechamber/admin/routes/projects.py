"""Projects: list, credentials (ids and last four characters only), create, rotate, revoke."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from fastapi import Form, Request
from starlette.responses import Response

from antechamber.admin import render
from antechamber.admin.errors import form_error
from antechamber.admin.routes import console_router
from antechamber.admin.security import ConsoleDep
from antechamber.errors import AntechamberError
from antechamber.operators import service as operators
from antechamber.projects import service as projects
from antechamber.projects.models import Project

router = console_router()


@dataclass(frozen=True)
class SecretView:
    secret_id: str
    last_four: str
    created_at: datetime


@dataclass(frozen=True)
class ProjectView:
    project_id: str
    name: str
    environment: str
    created_at: datetime
    secrets: list[SecretView]


def _view(project: Project) -> ProjectView:
    return ProjectView(
        project.id,
        project.name,
        project.environment,
        project.created_at,
        [SecretView(s.id, s.last_four, s.created_at) for s in projects.live_secrets(project)],
    )


@router.get("/projects")
def project_list(request: Request, console: ConsoleDep) -> Response:
    with console.unit() as db:
        rows = [_view(p) for p in projects.list_projects(db)]
        home = operators.find_home(db)
        operator_count = len(operators.list_operators(db))
    return render.page(
        request,
        "projects/list.html",
        section="projects",
        projects=rows,
        operators_project=home.project_id if home else None,
        operator_count=operator_count,
    )


@router.get("/projects/new")
def project_new(request: Request, console: ConsoleDep) -> Response:
    return render.page(
        request, "projects/new.html", section="projects", name="", environment="test", error=None
    )


@router.post("/projects/new")
def project_create(
    request: Request,
    console: ConsoleDep,
    name: Annotated[str, Form()] = "",
    environment: Annotated[Literal["test", "live"], Form()] = "test",
) -> Response:
    try:
        with console.unit() as db:
            project, issued = projects.create_project(
                db,
                name=name,
                environment=environment,
                actor=console.operator.actor,
                clock=console.services.clock,
                settings=console.settings,
            )
            view = _view(project)
    except AntechamberError as exc:
        return render.page(
            request,
            "projects/new.html",
            status_code=exc.status_code,
            section="projects",
            name=name,
            environment=environment,
            error=form_error(exc),
        )
    # Shown here, once: the secret is not stored, so there is no page to redirect to.
    return render.page(
        request,
        "projects/secret.html",
        section="projects",
        project=view,
        secret_id=issued.secret_id,
        secret=issued.secret,
        created=True,
    )


@router.get("/projects/{project_id}")
def project_detail(request: Request, console: ConsoleDep, project_id: str) -> Response:
    with console.project(project_id) as scope:
        view = _view(projects.get_project(scope.db, project_id))
    return render.page(
        request, "projects/detail.html", section="projects", tab="overview", project=view
    )


@router.post("/projects/{project_id}/secrets")
def secret_rotate(request: Request, console: ConsoleDep, project_id: str) -> Response:
    with console.project(project_id) as scope:
        issued = projects.add_secret(scope)
        scope.db.flush()
        view = _view(projects.get_project(scope.db, project_id))
    return render.page(
        request,
        "projects/secret.html",
        section="projects",
        project=view,
        secret_id=issued.secret_id,
        secret=issued.secret,
        created=False,
    )


def _secret(view: ProjectView, secret_id: str) -> SecretView:
    for secret in view.secrets:
        if secret.secret_id == secret_id:
            return secret
    raise projects.SecretNotFound()


@router.get("/projects/{project_id}/secrets/{secret_id}/revoke")
def secret_revoke_confirm(
    request: Request, console: ConsoleDep, project_id: str, secret_id: str
) -> Response:
    with console.project(project_id) as scope:
        view = _view(projects.get_project(scope.db, project_id))
    return render.page(
        request,
        "projects/revoke.html",
        section="projects",
        project=view,
        secret=_secret(view, secret_id),
    )


@router.post("/projects/{project_id}/secrets/{secret_id}/revoke")
def secret_revoke(
    request: Request, console: ConsoleDep, project_id: str, secret_id: str
) -> Response:
    with console.project(project_id) as scope:
        row = projects.revoke_secret(scope, secret_id)
        last_four = row.last_four
    console.flash_next(f"Secret …{last_four} revoked. Requests signed with it now fail.")
    return render.redirect(render.url("projects", project_id))
