"""`GET /dev/outbox`: the development inbox page. Registered only in development mode, so the
route does not exist (404) anywhere else.

Plain server-rendered HTML, no script. Every response carries a strict Content-Security-Policy
(inline style allowed only with this response's nonce), `Referrer-Policy: no-referrer` (a
followed link tells its target nothing), and `Cache-Control: no-store` (it shows live codes).
"""

from __future__ import annotations

import secrets
from pathlib import Path

import jinja2
from fastapi import APIRouter, FastAPI, Query, Request
from starlette.responses import HTMLResponse

from antechamber.delivery import inbox, outbox
from antechamber.emails import canonical_email
from antechamber.errors import InvalidEmail
from antechamber.services import Services

PAGE_SIZE = 100
_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
router = APIRouter(include_in_schema=False)


@router.get("/dev/outbox", response_class=HTMLResponse)
def outbox_page(
    request: Request, to: str = Query("", max_length=320, description="Only this recipient.")
) -> HTMLResponse:
    services: Services = request.app.state.services
    recipient = _recipient(to.strip())
    with services.sessions() as session:
        rows = outbox.recent(session, recipient=recipient, limit=PAGE_SIZE)
        items = inbox.entries(services.settings, rows)
    nonce = secrets.token_urlsafe(16)
    html = _env.get_template("outbox.html").render(
        entries=items,
        to=to.strip(),
        nonce=nonce,
        product_name=services.settings.product_name,
        page_size=PAGE_SIZE,
    )
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": (
                f"default-src 'none'; style-src 'nonce-{nonce}'; form-action 'self'; "
                "frame-ancestors 'none'; base-uri 'none'"
            ),
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


def _recipient(raw: str) -> str | None:
    """An email in canonical form, a phone number as typed, or no filter."""
    if not raw:
        return None
    if "@" in raw:
        try:
            return canonical_email(raw)
        except InvalidEmail:
            return raw
    return raw


def install(app: FastAPI) -> None:
    app.include_router(router)
