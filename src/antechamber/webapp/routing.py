"""`WebappRoute`: the route class of every app route, the safety net under `webapp.errors`.

Handlers answer their own failures (the API through `api.run`, pages through
`failure_page`); whatever still escapes one is answered here in the app's shapes, and
anything unexpected becomes a 500 with a plain sentence (the traceback goes to the log, never
to the client).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.responses import JSONResponse, Response

from antechamber.webapp import render
from antechamber.webapp.backend import BackendError
from antechamber.webapp.errors import Failure, from_backend

log = logging.getLogger("antechamber.webapp")


def answer(request: Request, failure: Failure) -> Response:
    """A failure nobody answered: JSON under `/api/`, a page elsewhere."""
    if request.url.path.startswith("/api/"):
        body: dict[str, Any] = {"message": failure.text, "error": failure.code}
        if failure.redirect:
            body["redirectPath"] = failure.redirect
        response: Response = JSONResponse(
            body, status_code=failure.status, headers={"Cache-Control": "no-store"}
        )
        for op in failure.cookie_ops:
            op(response)
        return response
    return failure_page(request, failure)


def failure_page(request: Request, failure: Failure) -> Response:
    if failure.redirect:
        return render.redirect(failure.redirect, failure.cookie_ops)
    return render.page(
        request,
        "error.html",
        status_code=failure.status,
        cookie_ops=failure.cookie_ops,
        title=_title(failure.status),
        message=failure.text,
    )


def _title(status: int) -> str:
    if status in (401, 403, 423):
        return "You can't do that right now"
    if status == 404:
        return "Not found"
    if status == 429:
        return "Slow down a little"
    if status >= 500:
        return "Something went wrong"
    return "That didn't work"


class WebappRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def webapp_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except Failure as failure:
                return answer(request, failure)
            except BackendError as exc:
                return answer(request, from_backend(exc))
            except Exception:
                log.exception("reference app error on %s %s", request.method, request.url.path)
                return answer(request, Failure("server_error"))

        return webapp_handler
