"""Cross-site request checks and CORS for the app's `/api/*`.

CSRF (security.md §1.6). Cookies are `SameSite=Lax`, so browsers leave them off cross-site
POSTs; on top of that every POST must come from the app's own origin or from an origin in the
CORS allow-list, by Fetch Metadata (`Sec-Fetch-Site`) and by `Origin`:

- an `Origin` header is checked against the allowed origins (the app's public origin, the
  origin the request was addressed to, and the CORS allow-list);
- `Origin: null` (sent for form posts under `Referrer-Policy: no-referrer`, and by sandboxed
  documents) is accepted only with `Sec-Fetch-Site: same-origin`;
- with neither header the caller is not a browser (curl, an SDK, a test client), and CSRF
  needs a browser.

The tutorial's `GET /api/auth/logout` is kept for its frontend but refused when Fetch
Metadata says another site started it (a link or image on a hostile page), unless that site is
in the allow-list.

CORS. Only origins in the allow-list get `Access-Control-Allow-Origin` (never `*`, since
responses carry cookies) with credentials, for `/api/*` only.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from antechamber.webapp.config import WebappConfig
from antechamber.webapp.errors import Failure

API_PREFIX = "/api/"
PREFLIGHT_MAX_AGE = "600"


def _allowed(request: Request, config: WebappConfig) -> set[str]:
    origins = {config.public_origin, *config.cors_origins}
    host = request.headers.get("host")
    if host:
        origins.add(f"{request.url.scheme}://{host}")
    return origins


def check_post(request: Request, config: WebappConfig) -> None:
    """Refuse (403 `cross_site`) a state-changing request another site could have made."""
    site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        if origin in _allowed(request, config):
            return
        raise Failure("cross_site")
    if origin == "null":
        if site == "same-origin":
            return
        raise Failure("cross_site")
    if site is None or site in ("same-origin", "none"):
        return
    raise Failure("cross_site")


def check_logout_get(request: Request, config: WebappConfig) -> None:
    """The tutorial's GET logout: refused when started by another (unlisted) site."""
    site = request.headers.get("sec-fetch-site")
    if site in (None, "same-origin", "none"):
        return
    origin = request.headers.get("origin")
    if origin is not None and origin in config.cors_origins:
        return
    raise Failure("cross_site")


def client_address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


class Cors:
    """CORS for `/api/*`, for the configured origins only (see the module docstring)."""

    def __init__(self, app: ASGIApp, origins: frozenset[str]) -> None:
        self.app = app
        self.origins = origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None or origin not in self.origins:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            preflight = Response(
                status_code=204,
                headers={
                    "Access-Control-Allow-Origin": origin,
                    "Access-Control-Allow-Credentials": "true",
                    "Access-Control-Allow-Methods": "GET, POST",
                    "Access-Control-Allow-Headers": "Content-Type",
                    "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
                    "Vary": "Origin",
                },
            )
            await preflight(scope, receive, send)
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out["Access-Control-Allow-Origin"] = origin
                out["Access-Control-Allow-Credentials"] = "true"
                out.add_vary_header("Origin")
            await send(message)

        await self.app(scope, receive, with_cors)
