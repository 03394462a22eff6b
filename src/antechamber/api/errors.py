"""The API face's one mapping from exceptions to Stytch's error envelope."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from antechamber.api.envelope import error_response, request_id_of
from antechamber.api.guard import API_PREFIX
from antechamber.errors import (
    AntechamberError,
    Conflict,
    InternalError,
    InvalidArgument,
    InvalidJson,
    MethodNotAllowed,
    RouteNotFound,
    ServiceUnavailable,
)

log = logging.getLogger("antechamber.api")


def install(app: FastAPI) -> None:
    app.add_exception_handler(AntechamberError, _domain_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(IntegrityError, _integrity_error)  # type: ignore[arg-type]
    app.add_exception_handler(DataError, _data_error)  # type: ignore[arg-type]
    app.add_exception_handler(OperationalError, _database_down)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)


async def _domain_error(request: Request, exc: AntechamberError) -> Response:
    return error_response(exc, request_id_of(request))


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(InvalidJson(), request_id_of(request))
    first = errors[0] if errors else {}
    location = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
    problem = first.get("msg", "is invalid")
    if first.get("type") == "missing" and not location:
        message = "The request body is missing; send a JSON object."
    else:
        message = f"{location or 'request'}: {problem}"
    return error_response(InvalidArgument(message), request_id_of(request))


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    if not request.url.path.startswith(API_PREFIX):
        return JSONResponse(
            {"detail": exc.detail},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )
    mapped: AntechamberError
    if exc.status_code == 404:
        mapped = RouteNotFound()
    elif exc.status_code == 405:
        mapped = MethodNotAllowed()
    else:
        # FastAPI's own 400s come from bodies it could not parse.
        mapped = InvalidJson()
    return error_response(mapped, request_id_of(request))


class ConcurrentChange(Conflict):
    error_type = "concurrent_change"
    default_message = "The request conflicted with a concurrent change; retry it."


async def _integrity_error(request: Request, exc: IntegrityError) -> Response:
    # Uniqueness is checked before writing, so this is a race with a concurrent request
    # (two creates of one slug, say): a retry gets the ordinary answer. Logged without values.
    log.warning("integrity conflict on %s %s", request.method, request.url.path)
    return error_response(ConcurrentChange(), request_id_of(request))


async def _data_error(request: Request, exc: DataError) -> Response:
    # A value the database cannot hold or compare (PostgreSQL refuses NUL characters in text):
    # the request's fault, whichever field carried it.
    log.info("unstorable value on %s %s", request.method, request.url.path)
    return error_response(
        InvalidArgument("A value in the request contains characters that are not allowed."),
        request_id_of(request),
    )


class DatabaseUnavailable(ServiceUnavailable):
    error_type = "database_unavailable"
    default_message = "The database could not be reached (or broke off); try again shortly."


#: Seconds a client is asked to wait after `database_unavailable` (a restart takes a few).
DATABASE_RETRY_AFTER = 2


async def _database_down(request: Request, exc: OperationalError) -> Response:
    # The connection failed or broke (PostgreSQL restarting, a network cut, a deadlock
    # victim): nothing was committed, and the same request may be sent again. A 503 that says
    # so, rather than a 500 that says nothing (bench faults: PostgreSQL crash and restart).
    log.warning(
        "database unavailable on %s %s: %s",
        request.method,
        request.url.path,
        type(exc.orig).__name__ if exc.orig is not None else "OperationalError",
    )
    headers = {"Retry-After": str(DATABASE_RETRY_AFTER)}
    if not request.url.path.startswith(API_PREFIX):
        return JSONResponse({"error": "service_unavailable"}, status_code=503, headers=headers)
    response = error_response(DatabaseUnavailable(), request_id_of(request))
    response.headers.update(headers)
    return response


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    if request.url.path.startswith(API_PREFIX):
        return error_response(InternalError(), request_id_of(request))
    return JSONResponse({"error": "internal_server_error"}, status_code=500)
