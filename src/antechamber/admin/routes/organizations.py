"""Organizations: list and search, create, edit every setting, delete after confirmation.

An organization's own page (its settings and its members) is in `routes/members.py`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Form, Request
from starlette.responses import Response

from antechamber.admin import render
from antechamber.admin.errors import FormError, form_error
from antechamber.admin.forms import OrganizationForm
from antechamber.admin.routes import console_router
from antechamber.admin.security import ConsoleDep
from antechamber.api import serializers
from antechamber.errors import AntechamberError
from antechamber.members import service as members
from antechamber.organizations import rules
from antechamber.organizations import service as organizations
from antechamber.projects import service as projects
from antechamber.rbac import service as rbac

router = console_router()

PAGE_SIZE = 50


def search_query(text: str) -> dict[str, Any] | None:
    """The console's one search box: part of the name or of the slug."""
    text = text.strip()
    if not text:
        return None
    return {
        "operator": "OR",
        "operands": [
            {"filter_name": "organization_name_fuzzy", "filter_value": text},
            {"filter_name": "organization_slug_fuzzy", "filter_value": text},
        ],
    }


@router.get("/projects/{project_id}/orgs")
def org_list(
    request: Request, console: ConsoleDep, project_id: str, q: str = "", cursor: str = ""
) -> Response:
    error: FormError | None = None
    rows: list[dict[str, Any]] = []
    total, next_cursor = 0, None
    with console.project(project_id) as scope:
        project = projects.get_project(scope.db, project_id)
        try:
            page = organizations.search_organizations(
                scope, search_query(q), cursor or None, PAGE_SIZE
            )
            rows = [serializers.organization(o) for o in page.organizations]
            total, next_cursor = page.total, page.next_cursor
        except AntechamberError as exc:
            error = form_error(exc, {"organization_search_filter_name_not_recognized": "q"})
    return render.page(
        request,
        "orgs/list.html",
        status_code=400 if error else 200,
        section="projects",
        tab="orgs",
        project=project,
        orgs=rows,
        total=total,
        next_cursor=next_cursor,
        q=q,
        error=error,
    )


def _form_page(
    request: Request,
    project_id: str,
    project_name: str,
    form: OrganizationForm,
    *,
    org: dict[str, Any] | None = None,
    error: FormError | None = None,
    status_code: int = 200,
    roles: Sequence[str] = rules.ROLES,
) -> Response:
    return render.page(
        request,
        "orgs/form.html",
        status_code=status_code,
        section="projects",
        tab="orgs",
        project_id=project_id,
        project_name=project_name,
        org=org,
        form=form,
        error=error,
        mfa_method_names=rules.MFA_METHOD_NAMES,
        # The project's roles and the organization's own (`mfa_required_roles` keys on them).
        roles=[*roles, *(r["role_id"] for r in (org or {}).get("custom_roles", []))],
    )


@router.get("/projects/{project_id}/orgs/new")
def org_new(request: Request, console: ConsoleDep, project_id: str) -> Response:
    with console.project(project_id) as scope:
        name = projects.get_project(scope.db, project_id).name
        roles = rbac.get_policy(scope).role_ids()
    return _form_page(request, project_id, name, OrganizationForm(), roles=roles)


@router.post("/projects/{project_id}/orgs/new")
def org_create(
    request: Request,
    console: ConsoleDep,
    project_id: str,
    form: Annotated[OrganizationForm, Form()],
) -> Response:
    try:
        with console.project(project_id) as scope:
            org = organizations.create_organization(scope, form.fields(creating=True))
            org_id, org_name = org.id, org.name
    except AntechamberError as exc:
        with console.project(project_id) as scope:
            name = projects.get_project(scope.db, project_id).name
            roles = rbac.get_policy(scope).role_ids()
        return _form_page(
            request,
            project_id,
            name,
            form,
            error=form_error(exc),
            status_code=exc.status_code,
            roles=roles,
        )
    console.flash_next(f"Organization {org_name} created.")
    return render.redirect(render.url("projects", project_id, "orgs", org_id))


@router.get("/projects/{project_id}/orgs/{org_id}/edit")
def org_edit(request: Request, console: ConsoleDep, project_id: str, org_id: str) -> Response:
    with console.project(project_id) as scope:
        name = projects.get_project(scope.db, project_id).name
        roles = rbac.get_policy(scope).role_ids()
        org = organizations.get_organization(scope, org_id)
        data = serializers.organization(org)
        form = OrganizationForm.of(org)
    return _form_page(request, project_id, name, form, org=data, roles=roles)


@router.post("/projects/{project_id}/orgs/{org_id}/edit")
def org_update(
    request: Request,
    console: ConsoleDep,
    project_id: str,
    org_id: str,
    form: Annotated[OrganizationForm, Form()],
) -> Response:
    try:
        with console.project(project_id) as scope:
            org = organizations.update_organization(scope, org_id, form.fields(creating=False))
            org_name = org.name
    except AntechamberError as exc:
        # The failed change was rolled back; show the stored organization with the form as
        # the operator filled it in.
        with console.project(project_id) as scope:
            name = projects.get_project(scope.db, project_id).name
            roles = rbac.get_policy(scope).role_ids()
            data = serializers.organization(organizations.get_organization(scope, org_id))
        return _form_page(
            request,
            project_id,
            name,
            form,
            org=data,
            error=form_error(exc),
            status_code=exc.status_code,
            roles=roles,
        )
    console.flash_next(f"Organization {org_name} saved.")
    return render.redirect(render.url("projects", project_id, "orgs", org_id))


@router.get("/projects/{project_id}/orgs/{org_id}/delete")
def org_delete_confirm(
    request: Request, console: ConsoleDep, project_id: str, org_id: str
) -> Response:
    with console.project(project_id) as scope:
        project = projects.get_project(scope.db, project_id)
        org = organizations.get_organization(scope, org_id)
        member_total = members.search_members(scope, [org.id], None, None, 1).total
        data = serializers.organization(org)
    return render.page(
        request,
        "orgs/delete.html",
        section="projects",
        tab="orgs",
        project=project,
        org=data,
        member_total=member_total,
    )


@router.post("/projects/{project_id}/orgs/{org_id}/delete")
def org_delete(request: Request, console: ConsoleDep, project_id: str, org_id: str) -> Response:
    with console.project(project_id) as scope:
        name = organizations.get_organization(scope, org_id).name
        organizations.delete_organization(scope, org_id)
    console.flash_next(f"Organization {name} and its members deleted.")
    return render.redirect(render.url("projects", project_id, "orgs"))
