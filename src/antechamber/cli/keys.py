"""`antechamber keys …`: the keys that sign session JWTs (public parts only, ever)."""

from __future__ import annotations

from typing import Any

import typer

from antechamber.cli.context import JSON_OPTION, PROJECT_OPTION, emit, project_scope
from antechamber.clock import rfc3339
from antechamber.keys import service
from antechamber.keys.models import SigningKey

app = typer.Typer(help="Manage the RS256 keys that sign session JWTs.", no_args_is_help=True)


def _row(key: SigningKey, signing_kid: str) -> dict[str, Any]:
    return {
        "kid": key.id,
        "algorithm": key.algorithm,
        "created_at": rfc3339(key.created_at),
        "retired_at": rfc3339(key.retired_at),
        "signing": key.id == signing_kid,
    }


@app.command(
    help="Make a new signing key and retire the current one. The retired key stays in the "
    "JWKS until every JWT it signed has expired (about 6 minutes), so nobody is logged out."
)
def rotate(project: str = PROJECT_OPTION, as_json: bool = JSON_OPTION) -> None:
    with project_scope(project) as scope:
        new, retired = service.rotate(scope)
        data = {"kid": new.id, "retired": [k.id for k in retired]}
    retired_text = ", ".join(data["retired"]) or "none"
    emit(data, as_json, f"signing with {data['kid']}\nretired: {retired_text}")


@app.command("list", help="List the keys in the JWKS (the newest signs).")
def list_(project: str = PROJECT_OPTION, as_json: bool = JSON_OPTION) -> None:
    with project_scope(project) as scope:
        signing = service.signing_key(scope)
        rows = [_row(k, signing.id) for k in service.published_keys(scope)]
    emit(
        rows,
        as_json,
        "\n".join(
            f"{r['kid']}  {'signing' if r['signing'] else 'retired ' + str(r['retired_at'])}"
            for r in rows
        ),
    )
