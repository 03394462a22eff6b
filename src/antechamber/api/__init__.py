"""The Stytch-compatible API face: `/v1/b2b/*`."""

from __future__ import annotations

from fastapi import FastAPI

from antechamber.api import errors
from antechamber.api.routes import (
    discovery,
    magic_links,
    members,
    organizations,
    otps,
    sessions,
)


def install(app: FastAPI) -> None:
    errors.install(app)
    app.include_router(organizations.router)
    app.include_router(members.router)
    app.include_router(magic_links.router)
    app.include_router(discovery.router)
    app.include_router(sessions.router)
    app.include_router(otps.router)
