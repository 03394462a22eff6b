"""The admin console at /admin: server-rendered pages for operators, working without
JavaScript. Faces only: every action calls the same domain functions as the API and the CLI.

    security.py   session cookie, CSRF, require_operator, Console (units of work as the operator)
    signin.py     the seam to Antechamber's own sign-in flows (open_console_session)
    errors.py     ConsoleRoute: the one mapping from failures to pages; form errors
    render.py     Jinja2 templates (templates/), one stylesheet (static/console.css)
    forms.py      what a submitted form means in the domain's terms
    routes/       one module per area
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from antechamber.admin.routes import (
    audit,
    auth,
    fallback,
    invites,
    members,
    organizations,
    outbox,
    projects,
    rbac,
    scim,
    sso,
)

# Sign-in and the stylesheet: no session needed (forms still need the pre-session's token).
PUBLIC_ROUTERS: tuple[APIRouter, ...] = (auth.public,)
# Everything else requires an operator. The fallback comes last: it matches any /admin path.
CONSOLE_ROUTERS: tuple[APIRouter, ...] = (
    auth.router,
    projects.router,
    organizations.router,
    invites.router,
    members.router,
    audit.router,
    outbox.router,
    scim.router,
    rbac.router,
    sso.router,
    fallback.router,
)


def install(app: FastAPI) -> None:
    """Mount the console on `app` (which holds `state.services`)."""
    for router in (*PUBLIC_ROUTERS, *CONSOLE_ROUTERS):
        app.include_router(router)
