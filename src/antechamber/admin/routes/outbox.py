"""A project's outbox in the console: the messages given up on, and their retry.

Shows recipient, template, attempts and the last error; never the sealed payload (it holds
links and codes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import Request
from starlette.responses import Response

from antechamber.admin import render
from antechamber.admin.routes import console_router
from antechamber.admin.security import ConsoleDep
from antechamber.delivery import outbox
from antechamber.projects import service as projects

router = console_router()


@dataclass(frozen=True)
class FailedView:
    id: str
    channel: str
    recipient: str
    template: str
    attempts: int
    last_error: str
    created_at: datetime


@router.get("/projects/{project_id}/outbox")
def outbox_page(request: Request, console: ConsoleDep, project_id: str) -> Response:
    with console.project(project_id) as scope:
        project = projects.get_project(scope.db, project_id)
        rows = [
            FailedView(
                m.id,
                m.channel,
                m.recipient,
                m.template,
                m.attempts,
                m.last_error or "",
                m.created_at,
            )
            for m in outbox.failed_messages(scope)
        ]
    return render.page(
        request,
        "outbox/list.html",
        section="projects",
        tab="outbox",
        project=project,
        messages=rows,
    )


@router.post("/projects/{project_id}/outbox/{message_id}/retry")
def outbox_retry(
    request: Request, console: ConsoleDep, project_id: str, message_id: str
) -> Response:
    with console.project(project_id) as scope:
        row = outbox.retry_message(scope, message_id)
        template = row.template
    console.flash_next(f"Message {message_id} ({template}) is queued again.")
    return render.redirect(render.url("projects", project_id, "outbox"))
