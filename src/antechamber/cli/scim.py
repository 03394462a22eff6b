"""`antechamber scim …`: an organization's SCIM connection, its token, and its last requests."""

from __future__ import annotations

from typing import Any

import typer

from antechamber.cli.context import JSON_OPTION, PROJECT_OPTION, emit, project_scope
from antechamber.clock import as_utc
from antechamber.scim import connections
from antechamber.scim.models import ScimConnection, ScimRequest
from antechamber.scope import Scope

app = typer.Typer(
    help="Manage an organization's SCIM connection (its directory provisions members).",
    no_args_is_help=True,
)

ORG_ARG = typer.Argument(..., help="Organization id, slug or external id.")


def _shown(scope: Scope, c: ScimConnection) -> dict[str, Any]:
    """What is shown of a connection: never a token, only the last four characters."""
    return {
        "connection_id": c.id,
        "organization_id": c.organization_id,
        "display_name": c.display_name,
        "identity_provider": c.identity_provider,
        "base_url": connections.base_url(scope, c),
        "bearer_token_last_four": c.token_last_four,
        "next_bearer_token_last_four": c.next_token_last_four,
    }


def _text(c: dict[str, Any]) -> str:
    rotating = (
        f"  rotating to …{c['next_bearer_token_last_four']}"
        if c["next_bearer_token_last_four"]
        else ""
    )
    return (
        f"{c['connection_id']}  {c['identity_provider']}  {c['display_name']!r}\n"
        f"base URL: {c['base_url']}\ntoken: …{c['bearer_token_last_four']}{rotating}"
    )


@app.command(
    help="Create the organization's SCIM connection. Prints its base URL and bearer token: "
    "the token is shown this once (only its digest is stored); give both to the directory."
)
def create(
    org: str = ORG_ARG,
    display_name: str = typer.Option("", "--display-name", help="A name for operators."),
    identity_provider: str = typer.Option(
        "generic",
        "--identity-provider",
        help="generic, okta, microsoft-entra, cyberark, jumpcloud, onelogin, pingfederate "
        "or rippling (microsoft-entra adds ?aadOptscim062020 to the base URL).",
    ),
    project: str = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    with project_scope(project) as scope:
        made = connections.create(
            scope, org, display_name=display_name, identity_provider=identity_provider
        )
        data = {**_shown(scope, made.connection), "bearer_token": made.token}
    emit(
        data,
        as_json,
        f"{_text(data)}\nbearer token (shown once): {data['bearer_token']}",
    )


@app.command(help="Show the organization's SCIM connection (base URL, last four of the token).")
def show(org: str = ORG_ARG, project: str = PROJECT_OPTION, as_json: bool = JSON_OPTION) -> None:
    with project_scope(project) as scope:
        found = connections.get(scope, org)
        data = _shown(scope, found) if found else None
    emit(data, as_json, _text(data) if data else "no SCIM connection")


@app.command(
    help="Token rotation: 'start' prints a new token (shown once; old and new both work), "
    "'complete' retires the old one, 'cancel' forgets the new one."
)
def rotate(
    org: str = ORG_ARG,
    step: str = typer.Argument(..., help="start, complete or cancel."),
    project: str = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    if step not in ("start", "complete", "cancel"):
        raise typer.BadParameter("step must be start, complete or cancel")
    with project_scope(project) as scope:
        found = connections.get(scope, org)
        if found is None:
            raise typer.BadParameter("this organization has no SCIM connection")
        extra: dict[str, Any] = {}
        if step == "start":
            made = connections.rotate_start(scope, org, found.id)
            extra["next_bearer_token"] = made.token
            c = made.connection
        elif step == "complete":
            c = connections.rotate_complete(scope, org, found.id)
        else:
            c = connections.rotate_cancel(scope, org, found.id)
        data = {**_shown(scope, c), **extra}
    text = _text(data)
    if "next_bearer_token" in data:
        text += f"\nnew bearer token (shown once): {data['next_bearer_token']}"
    emit(data, as_json, text)


@app.command(
    help="Delete the organization's SCIM connection, its SCIM users and groups (members stay)."
)
def delete(
    org: str = ORG_ARG,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    project: str = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    if not yes:
        typer.confirm(f"Delete the SCIM connection of {org}?", abort=True)
    with project_scope(project) as scope:
        found = connections.get(scope, org)
        if found is None:
            raise typer.BadParameter("this organization has no SCIM connection")
        deleted = connections.delete_connection(scope, org, found.id)
    emit({"connection_id": deleted}, as_json, f"deleted {deleted}")


def _request(r: ScimRequest) -> dict[str, Any]:
    """A request's outcome: when, what, which resource id, the status (no token, no body)."""
    return {
        "at": as_utc(r.created_at).isoformat(),
        "operation": r.operation,
        "resource_id": r.resource_id,
        "status": r.status,
        "scim_type": r.scim_type,
    }


@app.command(help="The connection's last requests: time, operation, resource id and status.")
def requests(
    org: str = ORG_ARG,
    limit: int = typer.Option(20, "--limit", min=1, max=200, help="How many, newest first."),
    project: str = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    with project_scope(project) as scope:
        _, rows = connections.recent_requests(scope, org, limit)
        data = [_request(r) for r in rows]
    lines = [
        f"{d['at']}  {d['status']}{(' ' + d['scim_type']) if d['scim_type'] else ''}  "
        f"{d['operation']}  {d['resource_id']}"
        for d in data
    ]
    emit(data, as_json, "\n".join(lines) or "no requests yet")
