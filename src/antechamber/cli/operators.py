"""`antechamber operators …`: who may sign in to the admin console."""

from __future__ import annotations

from typing import Any

import typer

from antechamber import db
from antechamber.cli.context import JSON_OPTION, emit, services
from antechamber.clock import rfc3339
from antechamber.members.models import Member
from antechamber.operators import service, sessions
from antechamber.scope import CLI_ACTOR

app = typer.Typer(
    help="Manage console operators: members of the internal operators organization, which "
    "requires MFA of everyone. They sign in at /admin with an email link and an SMS code.",
    no_args_is_help=True,
)

OPERATOR_ARG = typer.Argument(..., help="The operator's email address or member id.")


def _data(m: Member, live_sessions: int) -> dict[str, Any]:
    return {
        "member_id": m.id,
        "email_address": m.email_address,
        "name": m.name,
        "mfa_phone_number": m.mfa_phone_number,
        "mfa_phone_number_verified": m.mfa_phone_number_verified,
        "live_console_sessions": live_sessions,
        "created_at": rfc3339(m.created_at),
    }


def _line(d: dict[str, Any]) -> str:
    phone = d["mfa_phone_number"] + ("" if d["mfa_phone_number_verified"] else " (unverified)")
    return (
        f"{d['member_id']}  {d['email_address']}  {d['name']!r}  {phone}  "
        f"sessions={d['live_console_sessions']}"
    )


@app.command(
    help="Make someone an operator. The first call also creates the operators organization. "
    "Their phone is set now, by you, so a stolen mailbox alone cannot enrol another one."
)
def add(
    email: str = typer.Argument(..., help="The operator's email address."),
    phone: str = typer.Option(
        ...,
        "--phone",
        help="Phone for the operator's SMS codes, in E.164 (+12025550123). Required.",
    ),
    name: str = typer.Option("", "--name", help="Display name."),
    as_json: bool = JSON_OPTION,
) -> None:
    svc = services()
    with db.transaction(svc.sessions) as session:
        member = service.add_operator(
            session,
            email=email,
            phone=phone,
            name=name,
            actor=CLI_ACTOR,
            clock=svc.clock,
            settings=svc.settings,
        )
        data = _data(member, 0)
    emit(data, as_json, _line(data))


@app.command("list", help="List the operators and how many console sessions each has open.")
def list_(as_json: bool = JSON_OPTION) -> None:
    svc = services()
    with db.transaction(svc.sessions) as session:
        rows = [
            _data(m, sessions.live_session_count(session, m.id, clock=svc.clock))
            for m in service.list_operators(session)
        ]
    emit(rows, as_json, "\n".join(_line(d) for d in rows) or "no operators")


@app.command(help="Remove an operator; their console sessions end at once.")
def remove(
    operator: str = OPERATOR_ARG,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    as_json: bool = JSON_OPTION,
) -> None:
    if not yes:
        typer.confirm(f"Remove operator {operator}?", abort=True)
    svc = services()
    with db.transaction(svc.sessions) as session:
        removed = service.remove_operator(
            session, operator, actor=CLI_ACTOR, clock=svc.clock, settings=svc.settings
        )
    emit({"member_id": removed}, as_json, f"removed {removed}")


@app.command(
    "sign-out",
    help="End every console session of an operator now (a lost laptop, a shared screen).",
)
def sign_out(operator: str = OPERATOR_ARG, as_json: bool = JSON_OPTION) -> None:
    svc = services()
    with db.transaction(svc.sessions) as session:
        member = service.get_operator(session, operator)
        ended = sessions.revoke_all(
            session, member.id, actor=CLI_ACTOR, clock=svc.clock, settings=svc.settings
        )
    emit(
        {"member_id": member.id, "sessions_ended": ended},
        as_json,
        f"ended {ended} console session{'' if ended == 1 else 's'} of {member.email_address}",
    )
