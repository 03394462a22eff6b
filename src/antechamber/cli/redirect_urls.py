"""`antechamber redirect-urls …`: the URLs magic links may send people to."""

from __future__ import annotations

from typing import Any

import typer

from antechamber.cli.context import JSON_OPTION, PROJECT_OPTION, emit, project_scope
from antechamber.clock import rfc3339
from antechamber.redirects import service
from antechamber.redirects.models import RedirectUrl

app = typer.Typer(
    help="Manage a project's allowed redirect URLs (where magic links land).",
    no_args_is_help=True,
)

URL_ARG = typer.Argument(..., help="The exact URL, e.g. https://app.example.com/auth/callback.")
TYPE = typer.Option(
    "discovery", "--type", help="Link type the URL is for: discovery, login or signup (SSO)."
)


def _row(r: RedirectUrl) -> dict[str, Any]:
    return {
        "url": r.url,
        "type": r.type,
        "is_default": r.is_default,
        "created_at": rfc3339(r.created_at),
    }


def _line(r: dict[str, Any]) -> str:
    return f"{r['type']}  {r['url']}" + ("  (default)" if r["is_default"] else "")


@app.command(help="Allow a redirect URL. The first URL of a type becomes its default.")
def add(
    url: str = URL_ARG,
    kind: str = TYPE,
    default: bool = typer.Option(
        False, "--default", help="Make it the default (used when a request names no URL)."
    ),
    project: str = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    with project_scope(project) as scope:
        data = _row(service.add_redirect_url(scope, url, kind=kind, default=default))
    emit(data, as_json, _line(data))


@app.command("list", help="List the allowed redirect URLs.")
def list_(
    kind: str = typer.Option(None, "--type", help="Only this type (default: all)."),
    project: str = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    with project_scope(project) as scope:
        rows = [_row(r) for r in service.list_redirect_urls(scope, kind=kind)]
    emit(rows, as_json, "\n".join(_line(r) for r in rows) or "no redirect URLs")


@app.command(help="Stop allowing a redirect URL (links already sent keep their URL).")
def remove(
    url: str = URL_ARG,
    kind: str = TYPE,
    project: str = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    with project_scope(project) as scope:
        removed = service.remove_redirect_url(scope, url, kind=kind)
        data = {"url": removed.url, "type": removed.type}
    emit(data, as_json, f"removed {data['type']}  {data['url']}")
