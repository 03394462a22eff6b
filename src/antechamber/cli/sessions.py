"""`antechamber sessions …`: a member's live sessions, and their revocation."""

from __future__ import annotations

from typing import Any

import typer

from antechamber.cli.context import JSON_OPTION, PROJECT_OPTION, emit, project_scope
from antechamber.clock import as_utc
from antechamber.members import service as members
from antechamber.organizations.service import get_organization
from antechamber.sessions import service
from antechamber.sessions.models import MemberSession

app = typer.Typer(help="List and revoke a member's sessions.", no_args_is_help=True)

ORG_ARG = typer.Argument(..., help="Organization id, slug or external id.")
MEMBER_ARG = typer.Argument(..., help="Member id or email address.")


def _member_ref(ref: str) -> dict[str, str]:
    return {"email": ref} if "@" in ref else {"member_id": ref}


def _session(s: MemberSession) -> dict[str, Any]:
    """What is shown of a session: never its token or JWT."""
    return {
        "member_session_id": s.id,
        "member_id": s.member_id,
        "organization_id": s.organization_id,
        "started_at": as_utc(s.started_at).isoformat(),
        "last_accessed_at": as_utc(s.last_accessed_at).isoformat(),
        "expires_at": as_utc(s.expires_at).isoformat(),
        "authentication_factors": [
            {"type": f.get("type"), "delivery_method": f.get("delivery_method")} for f in s.factors
        ],
    }


def _line(s: dict[str, Any]) -> str:
    factors = ",".join(f"{f['type']}/{f['delivery_method']}" for f in s["authentication_factors"])
    return (
        f"{s['member_session_id']}  started {s['started_at']}  last used "
        f"{s['last_accessed_at']}  expires {s['expires_at']}  {factors}"
    )


@app.command("list", help="List a member's live sessions, oldest first (never their tokens).")
def list_(
    org: str = ORG_ARG,
    member: str = MEMBER_ARG,
    project: str = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    with project_scope(project) as scope:
        o = get_organization(scope, org)
        m = members.get_member(scope, o, **_member_ref(member))
        data = [_session(s) for s in service.list_sessions(scope, o.id, m.id)[2]]
    emit(data, as_json, "\n".join(_line(s) for s in data) or "no live session")


@app.command(
    help="Revoke one of a member's sessions (--session) or all of them; each is audited. "
    "Tokens stop working at once; JWTs already handed out expire within 5 minutes."
)
def revoke(
    org: str = ORG_ARG,
    member: str = MEMBER_ARG,
    session: str = typer.Option(
        None, "--session", help="Revoke only this session (its member_session_id)."
    ),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    project: str = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    if not yes:
        what = f"session {session} of {member}" if session else f"every session of {member}"
        typer.confirm(f"Revoke {what} in {org}?", abort=True)
    with project_scope(project) as scope:
        o = get_organization(scope, org)
        m = members.get_member(scope, o, **_member_ref(member))
        revoked = service.revoke_member_sessions(scope, o.id, m.id, session or None)
    data = {"revoked_member_session_ids": revoked}
    emit(data, as_json, "\n".join(f"revoked {i}" for i in revoked) or "no live session")
