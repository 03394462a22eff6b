"""Projects: list, credentials (ids and last four characters only), create, rotate, revoke."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from fastapi import Form, Request
from starlette.responses import Response

from antechamber.admin import render
from antechamber.admin.errors import FormError, form_error
from antechamber.admin.routes import console_router
from antechamber.admin.security import Console, ConsoleDep
from antechamber.errors import AntechamberError
from antechamber.keys import service as keys
from antechamber.operators import service as operators
from antechamber.projects import service as projects
from antechamber.projects.models import Project
from antechamber.redirects import service as redirects
from antechamber.sso import public_tokens

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


@dataclass(frozen=True)
class RedirectUrlView:
    url: str
    type: str
    is_default: bool
    created_at: datetime


@dataclass(frozen=True)
class KeyView:
    kid: str
    created_at: datetime
    retired_at: datetime | None
    signing: bool


def _detail(
    request: Request,
    console: Console,
    project_id: str,
    *,
    error: FormError | None = None,
    url: str = "",
    status_code: int = 200,
) -> Response:
    with console.project(project_id) as scope:
        view = _view(projects.get_project(scope.db, project_id))
        urls = [
            RedirectUrlView(r.url, r.type, r.is_default, r.created_at)
            for r in redirects.list_redirect_urls(scope)
        ]
        live_token = public_tokens.live(scope)
        signing = keys.signing_key(scope)
        published = [
            KeyView(k.id, k.created_at, k.retired_at, k.id == signing.id)
            for k in keys.published_keys(scope)
        ]
    return render.page(
        request,
        "projects/detail.html",
        status_code=status_code,
        section="projects",
        tab="overview",
        project=view,
        redirect_urls=urls,
        keys=published,
        public_token=live_token.id if live_token else None,
        error=error,
        new_url=url,
    )


@router.get("/projects/{project_id}")
def project_detail(request: Request, console: ConsoleDep, project_id: str) -> Response:
    return _detail(request, console, project_id)


@router.post("/projects/{project_id}/redirect-urls")
def redirect_url_add(
    request: Request,
    console: ConsoleDep,
    project_id: str,
    url: Annotated[str, Form()] = "",
    default: Annotated[bool, Form()] = False,
    type: Annotated[str, Form()] = "discovery",  # discovery, or login/signup for SSO
) -> Response:
    try:
        with console.project(project_id) as scope:
            added = redirects.add_redirect_url(scope, url, kind=type, default=default).url
    except AntechamberError as exc:
        return _detail(
            request,
            console,
            project_id,
            error=form_error(exc, {exc.error_type: "url"}),
            url=url,
            status_code=exc.status_code,
        )
    console.flash_next(f"Redirect URL {added} allowed.")
    return render.redirect(render.url("projects", project_id))


@router.post("/projects/{project_id}/redirect-urls/remove")
def redirect_url_remove(
    request: Request,
    console: ConsoleDep,
    project_id: str,
    url: Annotated[str, Form()] = "",
    type: Annotated[str, Form()] = "discovery",
) -> Response:
    with console.project(project_id) as scope:
        removed = redirects.remove_redirect_url(scope, url, kind=type).url
    console.flash_next(f"Redirect URL {removed} removed.")
    return render.redirect(render.url("projects", project_id))


@router.post("/projects/{project_id}/keys/rotate")
def key_rotate(request: Request, console: ConsoleDep, project_id: str) -> Response:
    with console.project(project_id) as scope:
        new, retired = keys.rotate(scope)
        kid, n = new.id, len(retired)
    console.flash_next(
        f"Now signing with {kid}; {n} retired key{'' if n == 1 else 's'} stay in the JWKS "
        "until their JWTs expire."
    )
    return render.redirect(render.url("projects", project_id))


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
