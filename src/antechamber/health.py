"""Liveness and readiness probes, outside `/v1/` and without auth."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import JSONResponse

from antechamber import db, migrations
from antechamber.services import Services

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers.")
async def healthz() -> JSONResponse:
    # On the loop: a plain `def` would be handed to a worker thread and back for a constant.
    return JSONResponse({"status": "ok"})


@router.get("/readyz", summary="Readiness: database reachable and migrations current.")
def readyz(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    checks: dict[str, str] = {}
    try:
        with db.read_connection(services.engine) as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
        checks["migrations"] = "ok" if migrations.is_current(services.engine) else "behind"
    except SQLAlchemyError:
        checks["database"] = "unreachable"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )
