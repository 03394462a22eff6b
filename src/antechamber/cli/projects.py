"""`antechamber projects …`: projects and their API secrets."""

from __future__ import annotations

from typing import Any

import typer

from antechamber import db
from antechamber.cli.context import JSON_OPTION, emit, services
from antechamber.clock import rfc3339
from antechamber.ids import environment_of
from antechamber.projects import service
from antechamber.scope import CLI_ACTOR

app = typer.Typer(help="Manage projects and their API secrets.", no_args_is_help=True)


@app.command(help="Create a project and print its first secret (shown only this once).")
def create(
    name: str = typer.Argument(..., help="A name for people to recognise the project by."),
    live: bool = typer.Option(False, "--live", help="A live project (ids project-live-…)."),
    as_json: bool = JSON_OPTION,
) -> None:
    svc = services()
    with db.transaction(svc.sessions) as session:
        project, issued = service.create_project(
            session,
            name=name,
            environment="live" if live else "test",
            actor=CLI_ACTOR,
            clock=svc.clock,
            settings=svc.settings,
        )
    data = {"project_id": project.id, "secret_id": issued.secret_id, "secret": issued.secret}
    emit(
        data,
        as_json,
        f"project_id: {project.id}\nsecret:     {issued.secret}\n"
        "(the secret is not stored; keep it now)",
    )


@app.command("list", help="List projects with their live secrets (never the secrets).")
def list_(as_json: bool = JSON_OPTION) -> None:
    svc = services()
    with svc.sessions() as session:
        rows: list[dict[str, Any]] = []
        lines = []
        for p in service.list_projects(session):
            live = service.live_secrets(p)
            rows.append(
                {
                    "project_id": p.id,
                    "name": p.name,
                    "created_at": rfc3339(p.created_at),
                    "secrets": [
                        {
                            "secret_id": s.id,
                            "last_four": s.last_four,
                            "created_at": rfc3339(s.created_at),
                        }
                        for s in live
                    ],
                }
            )
            lines.append(f"{p.id}  {p.name}  ({len(live)} live secrets)")
    emit(rows, as_json, "\n".join(lines) or "no projects")


@app.command(
    "rotate-secret",
    help="Issue a new secret. The old ones keep working until you "
    "revoke them with --revoke, so you can deploy the new one first.",
)
def rotate_secret(
    project_id: str = typer.Argument(..., help="The project."),
    revoke: list[str] = typer.Option(
        [], "--revoke", help="Also revoke this secret id (repeatable).", show_default=False
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    svc = services()
    with svc.scope(project_id, environment_of(project_id), CLI_ACTOR) as scope:
        service.get_project(scope.db, project_id)
        issued = service.add_secret(scope)
        for secret_id in revoke:
            service.revoke_secret(scope, secret_id)
    data = {
        "project_id": project_id,
        "secret_id": issued.secret_id,
        "secret": issued.secret,
        "revoked": revoke,
    }
    emit(
        data,
        as_json,
        f"secret_id: {issued.secret_id}\nsecret:    {issued.secret}\n"
        "(the secret is not stored; keep it now)",
    )


@app.command(
    "revoke-secret",
    help="Revoke one secret: requests signed with it fail within 5 seconds (a running "
    "server trusts a secret it checked for that long). Make and deploy a new one first "
    "(rotate-secret).",
)
def revoke_secret(
    project_id: str = typer.Argument(..., help="The project."),
    secret_id: str = typer.Argument(..., help="The secret id (see: antechamber projects list)."),
    as_json: bool = JSON_OPTION,
) -> None:
    svc = services()
    with svc.scope(project_id, environment_of(project_id), CLI_ACTOR) as scope:
        service.get_project(scope.db, project_id)
        row = service.revoke_secret(scope, secret_id)
        data = {
            "project_id": project_id,
            "secret_id": row.id,
            "last_four": row.last_four,
            "revoked_at": rfc3339(row.revoked_at),
        }
    emit(data, as_json, f"revoked {row.id} (…{row.last_four})")
