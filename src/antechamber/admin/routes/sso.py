"""Single sign-on in the console: an organization's SAML and OIDC connections (list, create,
edit from metadata or field by field, delete) and the project's public token. Every change
goes through `sso.connections` (and `saml_connections`, `oidc_connections`) and is audited
there, as from the API and the CLI."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from antechamber.admin import render
from antechamber.admin.errors import FormError, form_error
from antechamber.admin.routes import console_router
from antechamber.admin.security import Console, ConsoleDep
from antechamber.api import serializers
from antechamber.api import sso_shapes as shapes
from antechamber.errors import AntechamberError
from antechamber.organizations import service as organizations
from antechamber.projects import service as projects
from antechamber.scope import Scope
from antechamber.sso import (
    checks,
    connections,
    metadata,
    oidc_connections,
    public_tokens,
    saml_connections,
)
from antechamber.sso.models import OidcConnection, SamlConnection

router = console_router()
# Where a refusal belongs on the connection form.
FIELDS = {
    "invalid_x509_certificate": "x509_certificate",
    "saml_connection_idp_sso_url_invalid_format": "idp_sso_url",
    "invalid_idp_entity_id": "idp_entity_id",
    "saml_connection_attribute_mapping_required": "email_attribute",
    "invalid_saml_metadata_url": "metadata_url",
    "saml_connection_metadata_invalid_format": "metadata_xml",
    "invalid_xml_from_saml_metadata_url": "metadata_url",
    "oidc_connection_url_invalid_format": "issuer",
    "client_secret_too_long": "client_secret",
}


def _org_page(
    request: Request,
    scope: Scope,
    project_id: str,
    org_id: str,
    *,
    error: FormError | None = None,
    status_code: int = 200,
) -> Response:
    project = projects.get_project(scope.db, project_id)
    org, saml, oidc = connections.list_connections(scope, org_id)
    return render.page(
        request,
        "sso/list.html",
        status_code=status_code,
        section="projects",
        tab="orgs",
        project=project,
        org=serializers.organization(org),
        saml=[shapes.saml_connection(scope, c) for c in saml],
        oidc=[shapes.oidc_connection(scope, c) for c in oidc],
        identity_providers=connections.IDENTITY_PROVIDERS,
        error=error,
    )


@router.get("/projects/{project_id}/orgs/{org_id}/sso")
def sso_list(request: Request, console: ConsoleDep, project_id: str, org_id: str) -> Response:
    with console.project(project_id) as scope:
        return _org_page(request, scope, project_id, org_id)


@router.post("/projects/{project_id}/orgs/{org_id}/sso")
def sso_create(
    request: Request,
    console: ConsoleDep,
    project_id: str,
    org_id: str,
    kind: Annotated[str, Form()],
    display_name: Annotated[str, Form()] = "",
    identity_provider: Annotated[str, Form()] = "generic",
) -> Response:
    try:
        with console.project(project_id) as scope:
            create = (
                saml_connections.create_saml if kind == "saml" else oidc_connections.create_oidc
            )
            created = create(
                scope, org_id, display_name=display_name, identity_provider=identity_provider
            )
            connection_id = created.id
    except AntechamberError as exc:
        with console.project(project_id) as scope:
            return _org_page(
                request,
                scope,
                project_id,
                org_id,
                error=form_error(exc, FIELDS),
                status_code=exc.status_code,
            )
    console.flash_next("Connection created. Give the ACS URL and audience to the IdP's admin.")
    return render.redirect(render.url("projects", project_id, "orgs", org_id, "sso", connection_id))


def _detail(
    request: Request,
    scope: Scope,
    project_id: str,
    org_id: str,
    connection_id: str,
    *,
    error: FormError | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
    check_results: list[checks.Check] | None = None,
) -> Response:
    project = projects.get_project(scope.db, project_id)
    org = organizations.get_organization(scope, org_id)
    found = connections.connection_of(scope, org, connection_id)
    shown = (
        shapes.saml_connection(scope, found)
        if isinstance(found, SamlConnection)
        else shapes.oidc_connection(scope, found)
    )
    shown.pop("client_secret", None)  # never on a page
    return render.page(
        request,
        "sso/detail.html",
        status_code=status_code,
        section="projects",
        tab="orgs",
        project=project,
        org=serializers.organization(org),
        connection=shown,
        kind="saml" if isinstance(found, SamlConnection) else "oidc",
        secret_set=isinstance(found, OidcConnection) and bool(found.client_secret),
        form=form or {},
        checks=check_results,
        error=error,
    )


@router.get("/projects/{project_id}/orgs/{org_id}/sso/{connection_id}")
def sso_detail(
    request: Request, console: ConsoleDep, project_id: str, org_id: str, connection_id: str
) -> Response:
    with console.project(project_id) as scope:
        return _detail(request, scope, project_id, org_id, connection_id)


@router.post("/projects/{project_id}/orgs/{org_id}/sso/{connection_id}")
async def sso_update(
    request: Request, console: ConsoleDep, project_id: str, org_id: str, connection_id: str
) -> Response:
    raw = await request.form()
    form = {k: str(v).strip() for k, v in raw.items() if k != "csrf_token" and isinstance(v, str)}
    return await run_in_threadpool(
        _apply, request, console, project_id, org_id, connection_id, form
    )


def _apply(
    request: Request,
    console: Console,
    project_id: str,
    org_id: str,
    connection_id: str,
    form: dict[str, str],
) -> Response:
    """The form's fields: metadata (URL or pasted XML, fetched before any unit of work) then
    the fields typed in; a refusal shows the form again as filled, without the secret."""
    warning: str | None = None
    try:
        parsed = None
        if form.get("metadata_url"):
            parsed = metadata.fetch(console.settings, form["metadata_url"])
        elif form.get("metadata_xml"):
            parsed = metadata.parse(form["metadata_xml"].encode())
        discovery = (
            oidc_connections.discover(console.settings, form["issuer"])
            if form.get("issuer")
            else None
        )
        with console.project(project_id) as scope:
            org = organizations.get_organization(scope, org_id)
            found = connections.connection_of(scope, org, connection_id)
            if isinstance(found, SamlConnection):
                if parsed is not None:
                    metadata.apply(scope, org_id, connection_id, parsed)
                fields: dict[str, Any] = {
                    "display_name": form.get("display_name"),
                    "idp_entity_id": form.get("idp_entity_id") or None,
                    "idp_sso_url": form.get("idp_sso_url") or None,
                    "x509_certificate": form.get("x509_certificate") or None,
                }
                if form.get("email_attribute"):
                    mapping = {"email": form["email_attribute"]}
                    mapping["full_name"] = form.get("name_attribute") or "name"
                    fields["attribute_mapping"] = mapping
                saml_connections.update_saml(scope, org_id, connection_id, fields)
            else:
                oidc_fields = {
                    k: form.get(k) or None
                    for k in (
                        "display_name",
                        "issuer",
                        "client_id",
                        "client_secret",
                        "authorization_url",
                        "token_url",
                        "userinfo_url",
                        "jwks_url",
                        "custom_scopes",
                    )
                }
                _, warning = oidc_connections.update_oidc(
                    scope, org_id, connection_id, oidc_fields, discovery
                )
    except AntechamberError as exc:
        form.pop("client_secret", None)
        with console.project(project_id) as scope:
            return _detail(
                request,
                scope,
                project_id,
                org_id,
                connection_id,
                error=form_error(exc, FIELDS),
                form=form,
                status_code=exc.status_code,
            )
    # After the unit of work: the flash is a write of its own (the console's session).
    console.flash_next(f"Connection saved. {warning}" if warning else "Connection saved.")
    return render.redirect(render.url("projects", project_id, "orgs", org_id, "sso", connection_id))


@router.post("/projects/{project_id}/orgs/{org_id}/sso/{connection_id}/test")
def sso_test(
    request: Request, console: ConsoleDep, project_id: str, org_id: str, connection_id: str
) -> Response:
    """Run the connection's checks (sso.checks) and show them on its page; changes nothing."""
    endpoints = None
    with console.project(project_id) as scope:
        found = connections.connection_of(
            scope, organizations.get_organization(scope, org_id), connection_id
        )
        if isinstance(found, SamlConnection):
            results = checks.check_saml(found, scope.clock.now())
        else:
            endpoints = checks.OidcEndpoints.of(found)
    if endpoints is not None:  # the network, with no unit of work open
        results = checks.check_oidc(endpoints, console.settings)
    with console.project(project_id) as scope:
        return _detail(request, scope, project_id, org_id, connection_id, check_results=results)


@router.post("/projects/{project_id}/orgs/{org_id}/sso/{connection_id}/delete")
def sso_delete(
    request: Request, console: ConsoleDep, project_id: str, org_id: str, connection_id: str
) -> Response:
    with console.project(project_id) as scope:
        connections.delete_connection(scope, org_id, connection_id)
    console.flash_next("Connection deleted.")
    return render.redirect(render.url("projects", project_id, "orgs", org_id, "sso"))


@router.post("/projects/{project_id}/public-token")
def public_token_rotate(request: Request, console: ConsoleDep, project_id: str) -> Response:
    with console.project(project_id) as scope:
        public_tokens.rotate(scope)
    console.flash_next("New public token made; the old one no longer works.")
    return render.redirect(render.url("projects", project_id) + "#public-token")
