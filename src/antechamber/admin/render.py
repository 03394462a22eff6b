"""Server-rendered pages: one Jinja2 environment over the package's templates."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from antechamber.clock import as_utc

_env = Environment(
    loader=PackageLoader("antechamber.admin", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,  # a typo in a template fails the tests, not silently blank
    trim_blocks=True,
    lstrip_blocks=True,
)


def _when(value: datetime | str | None) -> str:
    """A time as people read it, in UTC; accepts the serializers' RFC 3339 strings too."""
    if not value:
        return "—"
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
    else:
        moment = value
    return as_utc(moment).strftime("%Y-%m-%d %H:%M:%S UTC")


def _detail(value: object) -> str:
    """An audit detail value as text: yes/no, comma-separated lists, compact JSON objects."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_detail(v) for v in value) or "—"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return "—" if value is None or value == "" else str(value)


def url(*parts: object, **query: object) -> str:
    """`/admin/…` from path segments (each quoted) and query parameters (empty ones left out)."""
    path = "/admin/" + "/".join(quote(str(p), safe="") for p in parts)
    params = {k: str(v) for k, v in query.items() if v not in (None, "")}
    return path + ("?" + urlencode(params) if params else "")


_env.filters["when"] = _when
_env.filters["detail"] = _detail
_env.globals["url"] = url


def page(
    request: Request, template: str, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """Render a console page. Pages hold customer data, so nothing may cache them."""
    context.setdefault("console", getattr(request.state, "console", None))
    context.setdefault("section", "")
    html = _env.get_template(template).render(request=request, **context)
    response = HTMLResponse(html, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    # Console URLs carry no secrets, and a same-origin referrer lets browsers send a real
    # Origin header with form posts (under no-referrer they send "null").
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def redirect(location: str) -> RedirectResponse:
    """After a POST: 303, so the browser follows with a GET (post/redirect/get)."""
    return RedirectResponse(location, status_code=303)
