"""The Stytch-compatible API face: `/v1/b2b/*`."""

from __future__ import annotations

from fastapi import FastAPI

from antechamber.api import errors
from antechamber.api.responses import ERROR_RESPONSES
from antechamber.api.routes import (
    discovery,
    email_otps,
    invites,
    magic_links,
    members,
    organizations,
    otps,
    rbac,
    scim,
    sessions,
    sso,
    sso_browser,
    sso_sdk,
    totps,
)


def install(app: FastAPI) -> None:
    errors.install(app)
    # Every operation documents the error envelope (refusals come from api.errors and
    # api.guard, whatever the route); each route documents its own success shape.
    for router in (
        organizations.router,
        members.router,
        magic_links.router,
        discovery.router,
        sessions.router,
        otps.router,
        totps.router,
        scim.router,
        invites.router,
        invites.members_router,
        email_otps.router,
        rbac.router,
        sso.router,
        sso_browser.router,
        sso_sdk.router,
    ):
        app.include_router(router, responses=ERROR_RESPONSES)
