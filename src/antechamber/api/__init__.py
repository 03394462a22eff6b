"""The Stytch-compatible API face: `/v1/b2b/*`."""

from __future__ import annotations

from fastapi import FastAPI

from antechamber.api import errors
from antechamber.api.routes import members, organizations


def install(app: FastAPI) -> None:
    errors.install(app)
    app.include_router(organizations.router)
    app.include_router(members.router)
