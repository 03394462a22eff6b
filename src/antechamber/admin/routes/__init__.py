"""Console routes. Every router here is made by `console_router` (sign-in required) or
`public_router` (the sign-in page and the stylesheet), so no route can skip the locks."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from antechamber.admin.errors import ConsoleRoute
from antechamber.admin.security import CONSOLE_PATH, require_operator

# Console forms are a few hundred bytes; refuse anything far bigger before parsing it
# (the sign-in form is reachable without a session).
MAX_FORM_BYTES = 64 * 1024


def console_router() -> APIRouter:
    """Routes that need a signed-in operator (and, for POST, a valid CSRF token)."""
    return APIRouter(
        prefix=CONSOLE_PATH,
        route_class=ConsoleRoute,
        dependencies=[Depends(require_operator)],
        include_in_schema=False,
        max_body_size=MAX_FORM_BYTES,
    )


def public_router() -> APIRouter:
    """Routes before sign-in. POSTs still need the pre-session's CSRF token."""
    return APIRouter(
        prefix=CONSOLE_PATH,
        route_class=ConsoleRoute,
        include_in_schema=False,
        max_body_size=MAX_FORM_BYTES,
    )
