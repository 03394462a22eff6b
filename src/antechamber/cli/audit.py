"""`antechamber audit …`: read a project's audit trail."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import typer

from antechamber.audit import queries
from antechamber.audit.models import AuditEvent
from antechamber.cli.context import JSON_OPTION, PROJECT_OPTION, emit, project_scope
from antechamber.clock import rfc3339

app = typer.Typer(help="Read the audit trail: who changed what, and when.", no_args_is_help=True)

TIME_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


def event_data(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "created_at": rfc3339(event.created_at),
        "event_type": event.event_type,
        "actor": event.actor,
        "organization_id": event.organization_id,
        "member_id": event.member_id,
        "details": event.details,
    }


def _line(e: dict[str, Any]) -> str:
    where = " ".join(x for x in (e["organization_id"], e["member_id"]) if x)
    details = json.dumps(e["details"], sort_keys=True) if e["details"] else ""
    return f"{e['created_at']}  {e['event_type']}  {e['actor']}  {where}  {details}".rstrip()


@app.command(
    "list",
    help="List events, newest first. Filters combine; page back with --before NEXT_BEFORE.",
)
def list_(
    org: str = typer.Option(None, "--org", help="Organization id or slug."),
    member: str = typer.Option(None, "--member", help="Member id, or email address (needs --org)."),
    event_type: str = typer.Option(
        None, "--type", help=f"One event type: {', '.join(queries.EVENT_TYPES)}."
    ),
    since: datetime = typer.Option(
        None, "--since", formats=TIME_FORMATS, help="From this time (UTC), inclusive."
    ),
    until: datetime = typer.Option(
        None, "--until", formats=TIME_FORMATS, help="Before this time (UTC)."
    ),
    before: int = typer.Option(
        None, "--before", help="Only events older than this event id (the next page)."
    ),
    limit: int = typer.Option(100, help="At most this many.", min=1, max=queries.MAX_LIMIT),
    project: str = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    filters = queries.AuditFilter(
        organization=org,
        member=member,
        event_type=event_type,
        since=_utc(since),
        until=_utc(until),
    )
    with project_scope(project) as scope:
        page = queries.search(scope, filters, before=before, limit=limit)
        events = [event_data(e) for e in page.events]
    text = "\n".join(_line(e) for e in events) or "no events"
    if page.next_before is not None:
        text += f"\n(more: --before {page.next_before})"
    emit({"events": events, "next_before": page.next_before}, as_json, text)
