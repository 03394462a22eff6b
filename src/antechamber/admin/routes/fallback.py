"""Any other /admin address: a console 404 page (behind sign-in, so it reveals nothing)."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from antechamber.admin import render
from antechamber.admin.routes import console_router
from antechamber.admin.security import ConsoleDep

router = console_router()


@router.api_route("/{rest:path}", methods=["GET", "POST"])
def not_found(request: Request, console: ConsoleDep, rest: str) -> Response:
    return render.page(
        request,
        "error.html",
        status_code=404,
        title="Not found",
        message="There is no such page in the console.",
    )
