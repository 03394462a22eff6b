"""The SCIM 2.0 service provider face (RFC 7643/7644) at each connection's base URL,
`/v1/b2b/scim/{connection_id}`: what a customer's directory (Okta, Entra ID, …) calls.

The edge in front of the app (`antechamber.edge`) hands it the paths under a connection's
base URL (everything under `/v1/b2b/scim/{x}/` but the Stytch API's own `…/connection`
routes), so the Stytch envelope, its JSON-only guard and its Basic auth never apply here; it
answers in SCIM's own error format with `application/scim+json`. Per request, in order: body size
(`scim_max_body_bytes`, 413), media type (415), JSON syntax and nesting depth (400
invalidSyntax), the bearer token (401, the same answer whether the token is wrong, of another
connection or rotated out), the connection's rate limit (429 with Retry-After), then one unit
of work for the operation (`routes`), committed before the response. Each outcome (time,
operation, status; never the token or a body) goes to the connection's request log.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from typing import Any

from sqlalchemy.exc import DataError, IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from antechamber.api.guard import unrepresentable
from antechamber.errors import AntechamberError, TooManyRequests
from antechamber.ids import environment_of
from antechamber.scim import connections, errors
from antechamber.scim_provider import routes
from antechamber.services import Services

log = logging.getLogger("antechamber.scim")

SCIM_MEDIA_TYPE = "application/scim+json"
MAX_DEPTH = 12
_PATH = re.compile(r"^/v1/b2b/scim/(?P<cid>[^/]+)(?P<rest>(?:/.*)?)$")
_TOKEN_OR_BRACKET = re.compile(rb'"(?:\\.|[^"\\])*"|[\[\]{}]')


def provider_path(path: str) -> tuple[str, str] | None:
    """(connection id, rest) for a path under a connection's base URL, else None (the Stytch
    API's `/v1/b2b/scim/{organization_id}/connection…` routes)."""
    found = _PATH.match(path)
    if found is None:
        return None
    rest = found["rest"]
    if rest == "/connection" or rest.startswith("/connection/"):
        return None
    return found["cid"], rest


def too_deep(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether the JSON `body` nests objects and arrays deeper than `limit` (strings, which may
    hold brackets, are skipped). Checked before parsing, so a deep body costs one scan."""
    depth = 0
    for match in _TOKEN_OR_BRACKET.finditer(body):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif token in (b"]", b"}"):
            depth -= 1
    return False


def error_response(exc: AntechamberError) -> Response:
    scim_type = getattr(exc, "scim_type", "")
    body: dict[str, Any] = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": str(exc.status_code),
        "detail": exc.message,
    }
    if scim_type:
        body["scimType"] = scim_type
    headers: dict[str, str] = {}
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after)
    if exc.status_code == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="scim"'
    return Response(
        json.dumps(body), status_code=exc.status_code, media_type=SCIM_MEDIA_TYPE, headers=headers
    )


class ScimProvider:
    """Serves the SCIM paths (`provider_path`); the edge passes everything else on."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def serve(
        self, scope: Scope, receive: Receive, send: Send, found: tuple[str, str]
    ) -> None:
        """Answer an HTTP request whose path is `found` = `provider_path(scope["path"])`."""
        connection_id, rest = found
        # The access log and metrics label requests by route template, never by ids.
        scope["route"] = _Route(_template(rest))
        response = await self._handle(scope, receive, connection_id, rest)
        await response(scope, receive, send)

    async def _handle(
        self, scope: Scope, receive: Receive, connection_id: str, rest: str
    ) -> Response:
        limit = self.services.settings.scim_max_body_bytes
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            declared = int(headers.get("content-length", "0") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            return error_response(errors.ScimTooLarge())
        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return Response(status_code=400)
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > limit:
                return error_response(errors.ScimTooLarge())
        request = routes.Request(
            method=scope["method"].upper(),
            connection_id=connection_id,
            rest=rest,
            query=scope.get("query_string", b"").decode("latin-1"),
            token=_bearer(headers.get("authorization", "")),
            payload=None,
        )
        try:
            if body.strip():
                media = headers.get("content-type", "").split(";")[0].strip().lower()
                if media not in (SCIM_MEDIA_TYPE, "application/json", ""):
                    raise errors.ScimUnsupportedMediaType()
                if too_deep(body):
                    raise errors.ScimTooDeep()
                try:
                    payload = json.loads(body)
                except (ValueError, RecursionError):
                    raise errors.ScimInvalidSyntax("The request body is not valid JSON.") from None
                if unrepresentable(body):
                    raise errors.ScimInvalidValue(
                        "The body holds a value JSON cannot carry back (NaN, Infinity, 1e999 "
                        "or half of a UTF-16 surrogate pair)."
                    )
                request = dataclasses.replace(request, payload=payload)
        except errors.ScimError as exc:
            return error_response(exc)
        return await run_in_threadpool(self._run, request)

    def _run(self, request: routes.Request) -> Response:
        outcome = routes.Outcome()
        try:
            response = self._unit_of_work(request, outcome)
        except AntechamberError as exc:
            response = error_response(exc)
            outcome.scim_type = getattr(exc, "scim_type", "")
        except IntegrityError:
            # Uniqueness is checked before writing; this is a race with a concurrent request
            # (two creates of one userName): the retry gets the ordinary answer.
            response = error_response(errors.ScimUniqueness("A concurrent request conflicted."))
            outcome.scim_type = "uniqueness"
        except DataError:
            response = error_response(
                errors.ScimInvalidValue("A value holds characters that cannot be stored.")
            )
            outcome.scim_type = "invalidValue"
        except Exception:
            log.exception("SCIM %s %s failed", request.method, request.operation)
            response = error_response(_Internal())
        outcome.status = response.status_code
        if outcome.connection is not None:
            self._log(request, outcome)
        return response

    def _unit_of_work(self, request: routes.Request, outcome: routes.Outcome) -> Response:
        read_only = request.method == "GET"
        with self.services.scope("", "test", "scim", read_only=read_only) as bootstrap:
            connection = connections.authenticate(
                bootstrap, request.connection_id, request.token or ""
            )
            outcome.connection = connection.id, connection.project_id
            scope = dataclasses.replace(
                bootstrap,
                project_id=connection.project_id,
                environment=environment_of(connection.project_id),
                actor=f"scim:{connection.id}",
            )
            if scope.limiter is not None:
                try:
                    scope.limiter.hit(
                        "scim:connection",
                        connection.id,
                        limit=scope.settings.limit_scim_per_connection,
                    )
                except TooManyRequests as exc:
                    raise errors.ScimTooManyRequests(retry_after=exc.retry_after) from None
            return routes.dispatch(scope, connection, request, outcome)

    def _log(self, request: routes.Request, outcome: routes.Outcome) -> None:
        assert outcome.connection is not None
        connection_id, project_id = outcome.connection
        try:
            with self.services.scope(project_id, environment_of(project_id), "scim") as scope:
                connection = connections.connection_by_id(scope, connection_id)
                if connection is None:  # deleted by this very request's organization
                    return
                connections.log_request(
                    scope,
                    connection,
                    method=request.method,
                    operation=request.operation,
                    resource_id=outcome.resource_id,
                    status=outcome.status,
                    scim_type=outcome.scim_type,
                    at=scope.clock.now(),
                )
        except Exception:  # the log is for operators; never fail the directory's request
            log.exception("could not log a SCIM request outcome")


@dataclasses.dataclass(frozen=True)
class _Route:
    path: str


def _template(rest: str) -> str:
    parts = [p for p in rest.split("/") if p]
    known = ("Users", "Groups", "ServiceProviderConfig", "ResourceTypes", "Schemas", ".search")
    if not parts or parts[0] not in known:
        return "/v1/b2b/scim/{connection_id}/(unknown)"
    shown = [parts[0]] + (
        ["{id}" if parts[1] != ".search" else ".search"] if len(parts) > 1 else []
    )
    return "/v1/b2b/scim/{connection_id}/" + "/".join(shown) + ("/…" if len(parts) > 2 else "")


class _Internal(AntechamberError):
    status_code = 500
    error_type = "internal_server_error"
    default_message = "An internal error occurred. It has been logged."


def _bearer(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
