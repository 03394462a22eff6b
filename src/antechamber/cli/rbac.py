"""`antechamber rbac …`: the project's RBAC policy (Stytch keeps it in its dashboard)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from antechamber.cli.context import JSON_OPTION, PROJECT_OPTION, Failure, emit, project_scope
from antechamber.rbac import service
from antechamber.rbac.policy import Policy

app = typer.Typer(help="Show or import the project's RBAC policy.", no_args_is_help=True)


def _text(policy: Policy) -> str:
    lines = ["resources:"]
    for resource in policy.resources:
        lines.append(f"  {resource.resource_id}: {', '.join(resource.actions)}")
    lines.append("roles:")
    for role in policy.roles:
        lines.append(f"  {role.role_id}" + (f"  ({role.description})" if role.description else ""))
        for p in role.permissions:
            lines.append(f"    {p.resource_id}: {', '.join(p.actions)}")
    return "\n".join(lines)


@app.command()
def show(project: str | None = PROJECT_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Print the policy: every resource with its actions, every role with its permissions."""
    with project_scope(project) as scope:
        policy = service.get_policy(scope)
        emit(policy.to_json(), as_json, _text(policy))


@app.command(name="import")
def import_(
    file: Path = typer.Argument(
        ...,
        help='A JSON file in Stytch\'s policy shape: {"resources": [...], "roles": [...]} '
        "(or the answer of GET /v1/b2b/rbac/policy). It replaces the policy, once checked.",
    ),
    project: str | None = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Replace the project's policy with FILE, checked (an invalid file changes nothing)."""
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise Failure(f"cannot read {file}: {exc.strerror}") from None
    except ValueError as exc:
        raise Failure(f"{file} is not JSON: {exc}") from None
    if isinstance(document, dict) and isinstance(document.get("policy"), dict):
        document = document["policy"]  # the API's answer, saved as is
    with project_scope(project) as scope:
        policy = service.set_policy(scope, document)
        emit(
            policy.to_json(),
            as_json,
            f"imported: {len(policy.roles)} roles, {len(policy.resources)} resources",
        )
