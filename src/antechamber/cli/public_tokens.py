"""`antechamber public-token …`: the project's public token, for browser flows (SSO start)."""

from __future__ import annotations

import typer

from antechamber.cli.context import JSON_OPTION, PROJECT_OPTION, emit, project_scope
from antechamber.sso import public_tokens

app = typer.Typer(
    help="Show or rotate the project's public token (not a secret: it names the project in "
    "browser flows such as /v1/public/sso/start).",
    no_args_is_help=True,
)


@app.command(help="Show the project's public token (made now if it has none).")
def show(project: str = PROJECT_OPTION, as_json: bool = JSON_OPTION) -> None:
    with project_scope(project) as scope:
        token = public_tokens.ensure(scope).id
    emit({"public_token": token}, as_json, token)


@app.command(help="Retire the public token at once and make a new one (update your apps).")
def rotate(project: str = PROJECT_OPTION, as_json: bool = JSON_OPTION) -> None:
    with project_scope(project) as scope:
        token = public_tokens.rotate(scope).id
    emit({"public_token": token}, as_json, token)
