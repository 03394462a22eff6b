"""Logs: JSON lines in production, short readable lines for a person at a terminal
(`ANTECHAMBER_LOG_FORMAT=text|json`; text by default in development), and the access log
line (`log_access`, which the edge calls once per request).

Never log a token, code, secret or a URL's query string (magic links carry tokens there): the
access log records the route *template* (`/v1/b2b/organizations/{organization_id}`), not the
raw path, and both formats escape CR/LF so no caller can forge log lines. Terminal colour
codes (uvicorn's `color_message`) never enter a line.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from datetime import UTC, datetime
from threading import get_ident
from typing import Any

from starlette.types import Scope

from antechamber.metrics import Metrics

access_log = logging.getLogger("antechamber.access")

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "color_message",  # uvicorn's copy of the message with terminal colour codes
}
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _plain(value: object) -> object:
    # every colour code starts with ESC: without one there is nothing to take out
    return _ANSI.sub("", value) if isinstance(value, str) and "\x1b" in value else value


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    # `_plain` inline: most values are no text, or text without a colour code.
    return {
        k: _ANSI.sub("", v) if isinstance(v, str) and "\x1b" in v else v
        for k, v in record.__dict__.items()
        if k not in _RESERVED
    }


# One encoder for every line: `json.dumps(..., default=str)` builds a new one per call.
_JSON = json.JSONEncoder(default=str)


class JsonFormatter(logging.Formatter):
    # The last whole second's text (lines come many a second): (second, "YYYY-MM-DDTHH:MM:SS").
    _second: tuple[int, str] = (-1, "")

    def _ts(self, created: float) -> str:
        """`datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")`, the
        second's text kept: the milliseconds are those of the microsecond `fromtimestamp`
        rounds to (half to even), which within a millisecond of the next second may be it."""
        second = int(created)
        fraction = created - second
        if fraction >= 0.999 or second < 0:
            return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
        cached = self._second
        if cached[0] != second:
            text = datetime.fromtimestamp(second, UTC).isoformat(timespec="seconds")[:-6]
            cached = self._second = (second, text)
        return f"{cached[1]}.{round(fraction * 1e6) // 1000:03d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self._ts(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": _plain(record.getMessage()),
        }
        entry.update(_extras(record))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return _JSON.encode(entry)


class TextFormatter(logging.Formatter):
    """One short line a person reads: `12:00:01 INFO  POST /v1/b2b/… 200 3.1ms`.

    Control characters in the message and values are escaped (`\\n`), so a line is one line.
    """

    # The last whole second's clock text (lines come many a second): (second, "HH:MM:SS").
    _clock: tuple[int, str] = (-1, "")

    def _clock_of(self, created: float) -> str:
        second = int(created)
        # `fromtimestamp` rounds to the microsecond: within a microsecond of the next second
        # it may show that one, so there it is asked (local time changes on whole seconds).
        if created - second > 0.999:
            return datetime.fromtimestamp(created).strftime("%H:%M:%S")
        cached = self._clock
        if cached[0] == second:
            return cached[1]
        text = datetime.fromtimestamp(second).strftime("%H:%M:%S")
        self._clock = (second, text)
        return text

    def format(self, record: logging.LogRecord) -> str:
        clock = self._clock_of(record.created)
        extras = _extras(record)
        if (
            record.name == access_log.name
            and "method" in extras
            and "route" in extras
            and "status" in extras
        ):
            text = (
                f"{extras.pop('method')} {extras.pop('route')} {extras.pop('status')} "
                f"{extras.pop('duration_ms', '?')}ms"
            )
            extras = {k: v for k, v in extras.items() if v is not None}
        else:
            text = str(_plain(record.getMessage()))
            if not record.name.startswith(("antechamber", "uvicorn")):
                text = f"{record.name}: {text}"
        parts = [f"{clock} {record.levelname:<7} {_escape(text)}"]
        parts += [f"{k}={_escape(str(v))}" for k, v in extras.items()]
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _escape(text: str) -> str:
    return text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text


def configure(level: str, log_format: str = "json") -> None:
    """Route every logger (ours, uvicorn's, SQLAlchemy's) through one handler on stderr, in
    `log_format` ("json" or "text")."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(TextFormatter() if log_format == "text" else JsonFormatter())
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


def log_access(scope: Scope, status: int, elapsed: float, metrics: Metrics | None) -> None:
    """Log method, route template, status, duration, request id and project of a request that
    took `elapsed` seconds, and count it in `metrics` (requests by route, method and status;
    latency by route)."""
    route = getattr(scope.get("route"), "path", None) or "(unmatched)"
    method = scope["method"]
    if metrics is not None:
        metrics.count_request(route, method, status, elapsed)
    if not access_log.isEnabledFor(logging.INFO):
        return
    state = scope.get("state", {})
    record = _access_record(
        {
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(elapsed * 1000, 2),
            "request_id": state.get("request_id"),
            "project_id": state.get("project_id"),
        }
    )
    access_log.handle(record)


# The access record's fields that are the same for every line a thread writes (its name, the
# process's): those of a record made by `makeRecord`, kept for a second at most per thread.
_templates: dict[int, tuple[int, dict[str, Any]]] = {}
os.register_at_fork(after_in_child=_templates.clear)  # another process: another pid
# Where `LogRecord` sets its time fields as `_access_record` does (3.13 counts nanoseconds).
_SAME_CLOCK = sys.version_info[:2] in ((3, 11), (3, 12))


def _access_record(extra: dict[str, Any]) -> logging.LogRecord:
    """What `access_log.makeRecord(..., extra=extra)` makes for the access line (`Logger.info`
    would first walk the stack for the caller's file and line, which no line of ours shows),
    without computing again per line what its thread's last record of this second holds."""
    if (
        not _SAME_CLOCK
        or logging.getLogRecordFactory() is not logging.LogRecord
        or type(access_log).makeRecord is not logging.Logger.makeRecord
    ):
        return access_log.makeRecord(
            access_log.name, logging.INFO, __file__, 0, "request", (), None, extra=extra
        )
    ct = time.time()
    second = int(ct)
    ident = get_ident()
    kept = _templates.get(ident)
    if kept is None or kept[0] != second:
        made = access_log.makeRecord(
            access_log.name, logging.INFO, __file__, 0, "request", (), None, extra=extra
        )
        if len(_templates) > 256:  # threads come and go
            _templates.clear()
        _templates[ident] = (int(made.created), dict(made.__dict__))
        return made
    record = _new_record(logging.LogRecord)
    fields = record.__dict__
    fields.update(kept[1])
    fields["created"] = ct
    fields["msecs"] = int((ct - second) * 1000) + 0.0
    fields["relativeCreated"] = (ct - logging._startTime) * 1000  # type: ignore[attr-defined]
    fields.update(extra)
    return record


_new_record = object.__new__
