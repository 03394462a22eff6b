"""`worker` and `outbox`: the delivery worker on its own, the development inbox, and the
failed messages (`outbox failed`, `outbox retry ID`)."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from types import FrameType

import typer

from antechamber import logs
from antechamber.cli.context import JSON_OPTION, PROJECT_OPTION, emit, project_scope, services
from antechamber.clock import rfc3339
from antechamber.delivery import inbox, outbox
from antechamber.delivery.inbox import InboxEntry
from antechamber.delivery.models import OutboxMessage
from antechamber.delivery.worker import DeliveryWorker
from antechamber.emails import canonical_email
from antechamber.errors import InvalidEmail
from antechamber.ids import environment_of
from antechamber.scope import CLI_ACTOR

#: How often a worker started by `serve` checks that its server is still there.
PARENT_CHECK_SECONDS = 1.0


def register(app: typer.Typer) -> None:
    app.command(
        help="Run the delivery worker on its own: send what the outbox holds, until stopped "
        "(SIGTERM or Ctrl-C finish the message in hand and give the rest back). Turn off the "
        "server's own worker with ANTECHAMBER_DELIVERY_WORKER=false when you run this."
    )(worker)
    app.add_typer(outbox_app, name="outbox")


outbox_app = typer.Typer(
    help="Show the development inbox: recent messages, newest first, with their link or "
    "code (in development mode, or for a channel without a provider; otherwise their "
    "status only). Subcommands list the messages given up on and retry one.",
    invoke_without_command=True,
    no_args_is_help=False,
)


def worker(
    once: bool = typer.Option(
        False, "--once", help="Deliver what is due now, then exit (cron, tests)."
    ),
    metrics_port: int = typer.Option(
        None,
        "--metrics-port",
        min=1,
        max=65535,
        help="Also serve this worker's Prometheus metrics on 127.0.0.1:PORT.",
    ),
    parent_pid: int = typer.Option(
        None,
        "--parent-pid",
        hidden=True,
        help="Stop when this process (the `serve` that started this worker) is gone.",
    ),
) -> None:
    svc = services()
    svc.settings.key_bytes()  # outside development this must be set; fail before starting
    # As the server logs (ANTECHAMBER_LOG_FORMAT): `serve` runs this in its own log stream.
    logs.configure(svc.settings.log_level, svc.settings.effective_log_format)
    w = DeliveryWorker(svc)
    if once:
        total = 0
        while (result := w.run_once()).claimed:
            total += result.sent
        w.transports.close()
        typer.echo(f"delivered {total} message(s)")
        return
    if metrics_port:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr="127.0.0.1", registry=svc.metrics.registry)

    def _stop(signum: int, frame: FrameType | None) -> None:
        w.request_stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if parent_pid:
        threading.Thread(
            target=_watch_parent, args=(parent_pid, w), name="parent-watch", daemon=True
        ).start()
    email = w.transports.email.name if w.transports.email else "development inbox"
    sms = w.transports.sms.name if w.transports.sms else "development inbox"
    typer.echo(f"delivery worker {w.name}: email via {email}, sms via {sms}", err=True)
    w.run()


def _watch_parent(parent_pid: int, w: DeliveryWorker) -> None:
    """Stop `w` once `parent_pid` is no longer this process's parent (it died, even by
    SIGKILL, and this process was handed to another)."""
    while os.getppid() == parent_pid:
        if w.stopping.wait(PARENT_CHECK_SECONDS):
            return
    logging.getLogger("antechamber.delivery.worker").warning(
        "the server that started this worker is gone; stopping"
    )
    w.request_stop()


def outbox_command(
    ctx: typer.Context,
    follow: bool = typer.Option(
        False, "--follow", "-f", help="Keep printing new messages as they arrive (Ctrl-C stops)."
    ),
    to: str = typer.Option(
        None, "--to", help="Only messages to this email address or E.164 phone number."
    ),
    limit: int = typer.Option(
        20, "--limit", "-n", min=1, max=1000, help="How many recent messages to show."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print JSON (with --follow: one JSON object per line)."
    ),
    interval: float = typer.Option(
        1.0, "--interval", min=0.05, max=60, help="Seconds between checks with --follow."
    ),
) -> None:
    if ctx.invoked_subcommand is not None:
        return
    svc = services()
    recipient = _recipient(to)
    with svc.sessions() as session:
        rows = list(outbox.recent(session, recipient=recipient, limit=limit))
        first = inbox.entries(svc.settings, rows)
    if not follow:
        if as_json:
            typer.echo(json.dumps([e.as_json() for e in first], indent=2))
        else:
            typer.echo("\n\n".join(_text(e) for e in first) or "no messages")
        return
    seen = {e.id for e in first}
    since = min((r.created_at for r in rows), default=datetime(1970, 1, 1, tzinfo=UTC))
    _print_stream(reversed(first), as_json)
    while True:
        time.sleep(interval)
        with svc.sessions() as session:
            fresh: Sequence[OutboxMessage] = outbox.newer_than(session, since, recipient=recipient)
            new = [m for m in fresh if m.id not in seen]
            entries = inbox.entries(svc.settings, new)
        for message in new:
            seen.add(message.id)
            since = max(since, message.created_at)
        _print_stream(entries, as_json)


outbox_app.callback()(outbox_command)


def _failed(m: OutboxMessage) -> dict[str, object]:
    """A failed message as shown: never its sealed payload."""
    return {
        "message_id": m.id,
        "channel": m.channel,
        "recipient": m.recipient,
        "template": m.template,
        "status": m.status,
        "attempts": m.attempts,
        "last_error": m.last_error,
        "created_at": rfc3339(m.created_at),
    }


@outbox_app.command(
    "failed", help="List a project's messages the worker gave up on, newest first (no content)."
)
def failed(
    limit: int = typer.Option(100, "--limit", "-n", min=1, max=1000, help="How many to show."),
    project: str = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    with project_scope(project) as scope:
        rows = [_failed(m) for m in outbox.failed_messages(scope, limit=limit)]
    emit(
        rows,
        as_json,
        "\n".join(
            f"{r['message_id']}  {r['channel']:<5}  {r['recipient']}  {r['template']}  "
            f"{r['attempts']} tries  {r['last_error']}"
            for r in rows
        )
        or "no failed messages",
    )


@outbox_app.command(
    "retry",
    help="Give a failed message a fresh set of tries, due now (audited). A message whose link "
    "or code has expired meanwhile fails again.",
)
def retry(
    message_id: str = typer.Argument(..., help="The message id (see: antechamber outbox failed)."),
    as_json: bool = JSON_OPTION,
) -> None:
    svc = services()
    with svc.sessions() as session:
        project_id = outbox.project_of(session, message_id)
    with svc.scope(project_id, environment_of(project_id), CLI_ACTOR) as scope:
        data = _failed(outbox.retry_message(scope, message_id))
    emit(data, as_json, f"{data['message_id']} queued again ({data['template']})")


def _print_stream(entries: Iterable[InboxEntry], as_json: bool) -> None:
    for e in entries:
        typer.echo(json.dumps(e.as_json()) if as_json else _text(e) + "\n")


def _recipient(raw: str | None) -> str | None:
    if not raw:
        return None
    raw = raw.strip()
    if "@" in raw:
        try:
            return canonical_email(raw)
        except InvalidEmail:
            return raw
    return raw


def _text(e: InboxEntry) -> str:
    status = e.status
    if e.delivered_via and e.delivered_via != "inbox":
        status += f" via {e.delivered_via}"
    if e.attempts > 1:
        status += f" ({e.attempts} tries)"
    lines = [f"{e.created_at}  {e.channel:<5}  {e.recipient}  {e.template}  {status}"]
    if e.readable:
        if e.subject:
            lines.append(f"  Subject: {e.subject}")
        if e.url:
            lines.append(f"  Link:    {e.url}")
        if e.code:
            lines.append(f"  Code:    {e.code}")
    else:
        lines.append("  (content not shown: this channel has a provider)")
    if e.last_error:
        lines.append(f"  Error:   {e.last_error}")
    return "\n".join(lines)
