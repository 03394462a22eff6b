"""HTTP Basic `project_id:secret` on every `/v1/b2b/*` route, and the unit of work it opens."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Request

from antechamber.client_address import client_address
from antechamber.errors import Unauthorized
from antechamber.ids import environment_of
from antechamber.projects import service as projects
from antechamber.scope import Scope
from antechamber.services import Services


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def client_ip_of(request: Request, services: Services) -> str | None:
    """The client's address: the peer, or through `ANTECHAMBER_TRUSTED_PROXIES` the forwarded
    one. For the API this is usually the app's backend, unless the backend forwards its user's
    address in X-Forwarded-For and is listed as a trusted proxy."""
    return client_address(
        request.client.host if request.client else None,
        request.headers.getlist("x-forwarded-for"),
        services.settings.trusted_proxies,
    )


def basic_credentials(request: Request) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise Unauthorized()
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except ValueError:  # bad base64 or UTF-8, and non-ASCII header text (not binascii.Error)
        raise Unauthorized() from None
    project_id, sep, secret = decoded.partition(":")
    if not sep or not project_id or not secret:
        raise Unauthorized()
    return project_id, secret


def project_scope(request: Request) -> Iterator[Scope]:
    """Authenticate the caller's project and open one transaction for the request.

    The transaction commits after the handler returns and rolls back if it raises, before the
    response is sent.
    """
    with authenticated_scope(request) as scope:
        yield scope


@contextmanager
def authenticated_scope(request: Request, *, read_only: bool = False) -> Iterator[Scope]:
    """`project_scope` for a handler that opens its unit of work itself, because whether it
    only reads depends on its body (see `db.transaction` for `read_only`)."""
    services = services_of(request)
    project_id, secret = basic_credentials(request)
    with services.scope(project_id, environment_of(project_id), "", read_only=read_only) as scope:
        project, secret_row = projects.authenticate(scope.db, project_id, secret)
        request.state.project_id = project.id
        yield dataclasses.replace(
            scope,
            project_id=project.id,
            environment=environment_of(project.id),
            actor=f"secret:{secret_row.id}",
            client_ip=client_ip_of(request, services),
        )


# scope="function": the transaction ends when the handler returns, *before* the response is
# sent. FastAPI's default ("request") would commit after the client has its answer, so a
# client could act on a write not yet visible (revoke, then authenticate at once), or be told
# 200 about a commit that then failed.
ProjectScope = Annotated[Scope, Depends(project_scope, scope="function")]
