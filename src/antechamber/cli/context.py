"""What every CLI command needs: settings, a database, a project scope, and output helpers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import typer
from sqlalchemy.exc import OperationalError

from antechamber import migrations
from antechamber.devmode import beside_dev_server, demo_project
from antechamber.ids import environment_of
from antechamber.projects import service as projects
from antechamber.scope import CLI_ACTOR, Scope
from antechamber.services import Services
from antechamber.settings import load_settings


class Failure(Exception):
    """A CLI-level problem (no project to act on, a database not migrated): one line, exit 2."""


@cache
def services() -> Services:
    svc = Services.build(beside_dev_server(load_settings()))
    try:
        current = migrations.is_current(svc.engine)
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else "unreachable"
        raise Failure(f"the database cannot be reached: {reason}") from None
    if not current:
        raise Failure("the database is not migrated; run: antechamber migrate")
    return svc


def resolve_project(project_id: str | None) -> str:
    """The given project, else the development demo project, else the only project."""
    svc = services()
    if project_id:
        return project_id
    demo = demo_project(svc)
    if demo is not None:
        return demo.project_id
    with svc.sessions() as session:
        all_projects = projects.list_projects(session)
    if len(all_projects) == 1:
        return all_projects[0].id
    raise Failure("name a project with --project (see: antechamber projects list)")


@contextmanager
def project_scope(project_id: str | None) -> Iterator[Scope]:
    pid = resolve_project(project_id)
    svc = services()
    with svc.scope(pid, environment_of(pid), CLI_ACTOR) as scope:
        projects.get_project(scope.db, pid)
        yield scope


def emit(data: Any, as_json: bool, text: str | None = None) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        typer.echo(text if text is not None else _plain(data))


def _plain(data: Any, indent: str = "") -> str:
    if isinstance(data, dict):
        lines = []
        for key, value in data.items():
            if isinstance(value, dict | list) and value:
                lines.append(f"{indent}{key}:")
                lines.append(_plain(value, indent + "  "))
            else:
                lines.append(f"{indent}{key}: {json.dumps(value) if value in ([], {}) else value}")
        return "\n".join(lines)
    if isinstance(data, list):
        return "\n".join(
            _plain(item, indent) if isinstance(item, dict) else f"{indent}- {item}" for item in data
        )
    return f"{indent}{data}"


JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of text.")
PROJECT_OPTION = typer.Option(
    None,
    "--project",
    "-p",
    help="Project id. Default: the development demo project, or the only project.",
)
