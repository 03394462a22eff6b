"""Pages: Jinja2 templates from the package, one stylesheet and one script (no build step).

Pages are never cached (`no-store`): they show a member's data, and after logging out the
Back button must ask the server again, which then shows the sign-in page.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from antechamber.webapp.config import Webapp
from antechamber.webapp.errors import CookieOp

_env = Environment(
    loader=PackageLoader("antechamber.webapp", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,  # a misspelt variable fails the tests instead of rendering blank
    trim_blocks=True,
    lstrip_blocks=True,
)

_STATIC = resources.files("antechamber.webapp").joinpath("static")
ASSETS: dict[str, tuple[bytes, str]] = {
    "app.css": (_STATIC.joinpath("app.css").read_bytes(), "text/css; charset=utf-8"),
    "app.js": (_STATIC.joinpath("app.js").read_bytes(), "text/javascript; charset=utf-8"),
}


def webapp_of(request: Request) -> Webapp:
    web: Webapp = request.app.state.webapp
    return web


def page(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    cookie_ops: list[CookieOp] | None = None,
    referrer_policy: str = "same-origin",
    **context: Any,
) -> HTMLResponse:
    """Render a page. `referrer_policy` "same-origin" lets the browser send a real `Origin`
    with the page's form posts; the callback page keeps "no-referrer" (its URL holds a token).
    """
    web = webapp_of(request)
    context.setdefault("error", None)
    context.setdefault("notice", None)
    html = _env.get_template(template).render(
        request=request,
        product_name=web.config.product_name,
        inbox_url=web.config.inbox_url,
        **context,
    )
    response = HTMLResponse(html, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = referrer_policy
    for op in cookie_ops or []:
        op(response)
    return response


def redirect(location: str, cookie_ops: list[CookieOp] | None = None) -> RedirectResponse:
    """303: the browser follows with a GET (post/redirect/get)."""
    response = RedirectResponse(location, status_code=303)
    response.headers["Cache-Control"] = "no-store"
    for op in cookie_ops or []:
        op(response)
    return response


def asset(name: str) -> Response:
    body, media_type = ASSETS[name]
    return Response(body, media_type=media_type, headers={"Cache-Control": "public, max-age=300"})
