"""Structured JSON logs, one object per line, and the access log middleware.

Never log a token, code, secret or a URL's query string (magic links carry tokens there): the
access log records the route *template* (`/v1/b2b/organizations/{organization_id}`), not the
raw path, and JSON encoding escapes CR/LF so no caller can forge log lines.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from antechamber.metrics import Metrics

access_log = logging.getLogger("antechamber.access")

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(level: str) -> None:
    """Route every logger (ours, uvicorn's, SQLAlchemy's) through one JSON handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # ours is below, without query strings
    # httpx logs whole URLs at INFO; alembic narrates every readiness check.
    for name in ("httpx", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


class AccessLog:
    """Logs method, route template, status, duration, request id and project of each request,
    and counts it in `metrics` (requests by route, method and status; latency by route)."""

    def __init__(self, app: ASGIApp, metrics: Metrics | None = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            elapsed = time.perf_counter() - started
            state = scope.get("state", {})
            route = getattr(scope.get("route"), "path", None) or "(unmatched)"
            method = scope["method"]
            if self.metrics is not None:
                self.metrics.http_requests.labels(route, method, str(status)).inc()
                self.metrics.http_duration.labels(route).observe(elapsed)
            access_log.info(
                "request",
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "request_id": state.get("request_id"),
                    "project_id": state.get("project_id"),
                },
            )
