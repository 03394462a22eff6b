"""Stytch's success and error envelopes (stytch-b2b-api.md §2.2–2.3)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from antechamber.errors import AntechamberError, TooManyRequests
from antechamber.ids import request_id as new_request_id

ERROR_URL = "https://stytch.com/docs/api/errors/{status}#{error_type}"


def request_id_of(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    if rid is None:
        rid = request.state.request_id = new_request_id()
    return str(rid)


def ok(request: Request, status_code: int = 200, **fields: Any) -> JSONResponse:
    body = {"request_id": request_id_of(request), "status_code": status_code, **fields}
    return JSONResponse(body, status_code=status_code)


def error_body(exc: AntechamberError, request_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status_code": exc.status_code,
        "request_id": request_id,
        "error_type": exc.error_type,
        "error_message": exc.message,
        "error_url": ERROR_URL.format(status=exc.status_code, error_type=exc.error_type),
    }
    if exc.details:
        body["error_details"] = {k: v for k, v in exc.details.items() if _plain(v)}
    return body


def error_response(exc: AntechamberError, request_id: str) -> JSONResponse:
    headers = {}
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse(error_body(exc, request_id), status_code=exc.status_code, headers=headers)


def _plain(value: Any) -> bool:
    return isinstance(value, str | int | float | bool | list | dict) or value is None
