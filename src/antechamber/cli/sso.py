"""`antechamber sso …`: an organization's SAML and OIDC connections (what its IT admin gives
us, and what they must enter in their identity provider)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer

from antechamber.cli.context import JSON_OPTION, PROJECT_OPTION, emit, project_scope, services
from antechamber.errors import InvalidArgument
from antechamber.organizations.service import get_organization
from antechamber.scope import Scope
from antechamber.sso import (
    checks,
    connections,
    errors,
    metadata,
    oidc_connections,
    saml_connections,
)
from antechamber.sso.models import OidcConnection, SamlConnection

app = typer.Typer(
    help="Manage organizations' single sign-on connections (SAML and OIDC).",
    no_args_is_help=True,
)
saml_app = typer.Typer(help="SAML connections.", no_args_is_help=True)
oidc_app = typer.Typer(help="OpenID Connect connections.", no_args_is_help=True)
app.add_typer(saml_app, name="saml")
app.add_typer(oidc_app, name="oidc")

ORG_ARG = typer.Argument(..., help="The organization: id, slug or external id.")
CONNECTION_ARG = typer.Argument(..., help="The connection id (saml-connection-… or oidc-…).")
NAME_OPTION = typer.Option(None, "--name", help="Display name shown to members.")
IDP_OPTION = typer.Option(
    None, "--idp", help="Identity provider: okta, microsoft-entra, google-workspace, generic …"
)


def describe(scope: Scope, c: SamlConnection | OidcConnection) -> dict[str, Any]:
    """A connection with what the customer's IT admin enters on their side."""
    url = connections.callback_url(scope, c.id)
    row: dict[str, Any] = {
        "connection_id": c.id,
        "organization_id": c.organization_id,
        "kind": "saml" if isinstance(c, SamlConnection) else "oidc",
        "display_name": c.display_name,
        "identity_provider": c.identity_provider,
        "status": connections.status(c),
    }
    if isinstance(c, SamlConnection):
        row.update(
            acs_url=url,
            audience_uri=url,
            idp_entity_id=c.idp_entity_id,
            idp_sso_url=c.idp_sso_url,
            verification_certificates=[v.id for v in c.certificates],
            attribute_mapping=dict(c.attribute_mapping),
        )
    else:
        row.update(
            redirect_url=url,
            issuer=c.issuer,
            client_id=c.client_id,
            client_secret_set=bool(c.client_secret),
            authorization_url=c.authorization_url,
            token_url=c.token_url,
            userinfo_url=c.userinfo_url,
            jwks_url=c.jwks_url,
        )
    return row


def _line(row: dict[str, Any]) -> str:
    where = row.get("acs_url") or row.get("redirect_url")
    return (
        f"{row['connection_id']}  {row['kind']}  {row['status']}  "
        f"{row['display_name'] or '-'}  {where}"
    )


@app.command("list", help="List an organization's connections, with their ACS / redirect URLs.")
def list_(org: str = ORG_ARG, project: str = PROJECT_OPTION, as_json: bool = JSON_OPTION) -> None:
    with project_scope(project) as scope:
        _, saml, oidc = connections.list_connections(scope, org)
        every: list[SamlConnection | OidcConnection] = [*saml, *oidc]
        rows = [describe(scope, c) for c in every]
    emit(rows, as_json, "\n".join(_line(r) for r in rows) or "no SSO connections")


@app.command(help="Show a connection: what to enter in the identity provider, and its state.")
def show(
    org: str = ORG_ARG,
    connection_id: str = CONNECTION_ARG,
    project: str = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    with project_scope(project) as scope:
        found = connections.connection_of(scope, get_organization(scope, org), connection_id)
        row = describe(scope, found)
    emit(row, as_json)


@app.command("test", help="Test a connection without signing anyone in (exit 1 if a check fails).")
def check_connection(
    org: str = ORG_ARG,
    connection_id: str = CONNECTION_ARG,
    project: str = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    endpoints = None
    with project_scope(project) as scope:
        found = connections.connection_of(scope, get_organization(scope, org), connection_id)
        if isinstance(found, SamlConnection):
            results = checks.check_saml(found, scope.clock.now())
        else:
            endpoints = checks.OidcEndpoints.of(found)
    if endpoints is not None:  # the network, with no unit of work open
        results = checks.check_oidc(endpoints, services().settings)
    rows = [{"check": c.name, "ok": c.ok, "detail": c.detail} for c in results]
    emit(
        rows,
        as_json,
        "\n".join(f"{'ok  ' if c.ok else 'FAIL'}  {c.name}: {c.detail}" for c in results),
    )
    if not all(c.ok for c in results):
        raise errors.ConnectionCheckFailed()


@app.command(help="Delete a connection (members stay; their registrations at it go). Audited.")
def delete(
    org: str = ORG_ARG,
    connection_id: str = CONNECTION_ARG,
    project: str = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    with project_scope(project) as scope:
        deleted = connections.delete_connection(scope, org, connection_id)
    emit({"connection_id": deleted}, as_json, f"deleted {deleted}")


@saml_app.command("create", help="Create a SAML connection; prints the ACS URL and audience.")
def saml_create(
    org: str = ORG_ARG,
    name: str = NAME_OPTION,
    idp: str = IDP_OPTION,
    project: str = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    with project_scope(project) as scope:
        created = saml_connections.create_saml(scope, org, display_name=name, identity_provider=idp)
        row = describe(scope, created)
    emit(row, as_json)


@saml_app.command(
    "update",
    help="Fill a SAML connection: from the IdP's metadata (URL or file) or field by field.",
)
def saml_update(
    org: str = ORG_ARG,
    connection_id: str = CONNECTION_ARG,
    metadata_url: str = typer.Option(None, "--metadata-url", help="The IdP's metadata URL."),
    metadata_file: Path = typer.Option(
        None, "--metadata-file", help="The IdP's metadata XML, saved to a file."
    ),
    idp_entity_id: str = typer.Option(None, "--idp-entity-id", help="The IdP's entity id."),
    idp_sso_url: str = typer.Option(None, "--idp-sso-url", help="The IdP's SSO URL (https)."),
    certificate_file: Path = typer.Option(
        None, "--certificate-file", help="A PEM certificate the IdP signs with (added)."
    ),
    attribute_mapping: str = typer.Option(
        None,
        "--attribute-mapping",
        help='JSON, e.g. {"email": "email", "full_name": "name"} (IdP attribute names).',
    ),
    name: str = NAME_OPTION,
    idp: str = IDP_OPTION,
    project: str = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    parsed = None
    if metadata_url:
        parsed = metadata.fetch(services().settings, metadata_url)  # before any transaction
    elif metadata_file:
        parsed = metadata.parse(metadata_file.read_bytes())
    fields: dict[str, Any] = {
        "idp_entity_id": idp_entity_id,
        "idp_sso_url": idp_sso_url,
        "display_name": name,
        "identity_provider": idp,
    }
    if certificate_file:
        fields["x509_certificate"] = certificate_file.read_text()
    if attribute_mapping:
        try:
            fields["attribute_mapping"] = json.loads(attribute_mapping)
        except ValueError:
            raise InvalidArgument("--attribute-mapping must be a JSON object.") from None
    with project_scope(project) as scope:
        if parsed is not None:
            metadata.apply(scope, org, connection_id, parsed)
        updated = saml_connections.update_saml(scope, org, connection_id, fields)
        row = describe(scope, updated)
    emit(row, as_json)


@oidc_app.command("create", help="Create an OIDC connection; prints the redirect URL.")
def oidc_create(
    org: str = ORG_ARG,
    name: str = NAME_OPTION,
    idp: str = IDP_OPTION,
    project: str = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    with project_scope(project) as scope:
        created = oidc_connections.create_oidc(scope, org, display_name=name, identity_provider=idp)
        row = describe(scope, created)
    emit(row, as_json)


@oidc_app.command(
    "update",
    help="Fill an OIDC connection. A new --issuer fills the endpoint URLs from its discovery "
    "document unless given. With --client-secret the secret is read from "
    "ANTECHAMBER_OIDC_CLIENT_SECRET or asked for, never taken on the command line.",
)
def oidc_update(
    org: str = ORG_ARG,
    connection_id: str = CONNECTION_ARG,
    issuer: str = typer.Option(None, "--issuer", help="The provider's issuer (https URL)."),
    client_id: str = typer.Option(None, "--client-id", help="The client id the IdP gave."),
    set_secret: bool = typer.Option(
        False, "--client-secret", help="Set the client secret (prompted, or from the env)."
    ),
    authorization_url: str = typer.Option(None, "--authorization-url", help="Override."),
    token_url: str = typer.Option(None, "--token-url", help="Override."),
    userinfo_url: str = typer.Option(None, "--userinfo-url", help="Override."),
    jwks_url: str = typer.Option(None, "--jwks-url", help="Override."),
    scopes: str = typer.Option(None, "--scopes", help="Replaces 'openid email profile'."),
    name: str = NAME_OPTION,
    idp: str = IDP_OPTION,
    project: str = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    secret = os.environ.get("ANTECHAMBER_OIDC_CLIENT_SECRET") if set_secret else None
    if set_secret and not secret:
        secret = typer.prompt("Client secret", hide_input=True)
    fields = {
        "issuer": issuer,
        "client_id": client_id,
        "client_secret": secret,
        "authorization_url": authorization_url,
        "token_url": token_url,
        "userinfo_url": userinfo_url,
        "jwks_url": jwks_url,
        "custom_scopes": scopes,
        "display_name": name,
        "identity_provider": idp,
    }
    discovery = oidc_connections.discover(services().settings, issuer) if issuer else None
    with project_scope(project) as scope:
        updated, warning = oidc_connections.update_oidc(
            scope, org, connection_id, fields, discovery
        )
        row = describe(scope, updated)
    if warning:
        row["warning"] = warning
    emit(row, as_json)
