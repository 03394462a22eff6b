"""The console's locks: the session cookie, CSRF protection, and `require_operator`.

- Session cookie: the 256-bit token from `operators.sessions.start`, `HttpOnly`,
  `SameSite=Strict`, `Path=/admin`, `Secure` (and the `__Secure-` prefix) outside development
  mode, no Max-Age (it dies with the browser; the server enforces the timeouts).
- Pre-session cookie: a random nonce for pages used before sign-in (the sign-in form), so
  even that form has a CSRF token (login CSRF). `SameSite=Lax`, because the magic link that
  continues the sign-in arrives from a mail client, a cross-site navigation.
- CSRF: every POST under /admin must carry `csrf_token` = HMAC(server key, cookie token) of
  the console session (or of the pre-session), and must not come from another site
  (`Sec-Fetch-Site`, else `Origin`). `ConsoleRoute` enforces this before any handler runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from antechamber import db, tokens
from antechamber.ids import environment_of
from antechamber.operators import sessions
from antechamber.operators.errors import ConsoleSessionExpired, ConsoleSessionInvalid
from antechamber.operators.sessions import Operator
from antechamber.projects import service as projects
from antechamber.scope import Scope
from antechamber.services import Services
from antechamber.settings import Settings

CONSOLE_PATH = "/admin"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PRE_SESSION_SECONDS = 3600


class SignInRequired(Exception):
    """No valid console session: the console answers with a redirect to the sign-in page."""

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason or "sign in")
        self.reason = reason


class CsrfRefused(Exception):
    """A state-changing request without a valid token, or from another site."""


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def console_cookie_name(settings: Settings, name: str) -> str:
    # Browsers accept a __Secure- cookie only with Secure, which development over plain
    # http cannot have. (__Host- would also demand Path=/, wider than the console needs.)
    return name if settings.dev else f"__Secure-{name}"


def session_cookie_name(settings: Settings) -> str:
    return console_cookie_name(settings, "antechamber_console")


def pre_session_cookie_name(settings: Settings) -> str:
    return console_cookie_name(settings, "antechamber_console_pre")


def set_session_cookie(response: Response, token: str, settings: Settings) -> None:
    response.set_cookie(
        session_cookie_name(settings),
        token,
        path=CONSOLE_PATH,
        secure=not settings.dev,
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        session_cookie_name(settings),
        path=CONSOLE_PATH,
        secure=not settings.dev,
        httponly=True,
        samesite="strict",
    )


def pre_session(request: Request, settings: Settings) -> tuple[str, bool]:
    """This browser's pre-session nonce, and whether it is new (then `remember_pre_session`)."""
    value = request.cookies.get(pre_session_cookie_name(settings), "")
    if len(value) >= 32:
        return value, False
    return tokens.new_token(32), True


def remember_pre_session(response: Response, value: str, settings: Settings) -> None:
    response.set_cookie(
        pre_session_cookie_name(settings),
        value,
        max_age=PRE_SESSION_SECONDS,
        path=CONSOLE_PATH,
        secure=not settings.dev,
        httponly=True,
        samesite="lax",
    )


def csrf_token(settings: Settings, cookie_value: str, *, pre_session: bool = False) -> str:
    """The anti-forgery token for forms of the browser holding `cookie_value`."""
    purpose = "console-pre-csrf" if pre_session else "console-csrf"
    return tokens.keyed_digest(settings.key_bytes(), cookie_value, purpose)


def allowed_origins(request: Request, settings: Settings) -> set[str]:
    """The configured public origin and the origin this request was addressed to."""
    public = urlsplit(settings.public_base_url)
    origins = {f"{public.scheme}://{public.netloc}"}
    host = request.headers.get("host")
    if host:
        origins.add(f"{request.url.scheme}://{host}")
    return origins


def same_origin(request: Request, settings: Settings) -> bool:
    """Fetch metadata first; the Origin header where a browser sends no Sec-Fetch-Site.

    A request with neither header comes from something that is not a browser (or a very old
    one); cross-site forgery needs a browser, and the token check still applies.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None and site != "same-origin":
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    if origin == "null":
        # Browsers send "null" for opaque origins (sandboxed frames, data: URLs) and under a
        # no-referrer policy; only trust it when fetch metadata vouches for the request.
        return site == "same-origin"
    return origin in allowed_origins(request, settings)


def check_form_request(request: Request, form: FormData, settings: Settings) -> None:
    """Refuse a state-changing request that another site could have made."""
    if not same_origin(request, settings):
        raise CsrfRefused("cross-site request")
    submitted = form.get(CSRF_FIELD)
    if not isinstance(submitted, str) or not submitted:
        raise CsrfRefused("missing token")
    expected: list[str] = []
    session_value = request.cookies.get(session_cookie_name(settings))
    if session_value:
        expected.append(csrf_token(settings, session_value))
    pre_value = request.cookies.get(pre_session_cookie_name(settings))
    if pre_value:
        expected.append(csrf_token(settings, pre_value, pre_session=True))
    if not any(tokens.same(submitted, value) for value in expected):
        raise CsrfRefused("wrong token")


def safe_next(value: str | None) -> str:
    """Where to go after sign-in: a console path, never another site (ASVS 3.7.2)."""
    if (
        not value
        or not value.startswith(CONSOLE_PATH + "/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(c) < 0x20 for c in value)
    ):
        return CONSOLE_PATH + "/projects"
    return value


@dataclass(frozen=True)
class Console:
    """What every console page gets: the operator, their CSRF token, a pending message, and
    units of work that act as the operator."""

    services: Services
    operator: Operator
    csrf_token: str
    flash: str | None = None

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @contextmanager
    def unit(self) -> Iterator[Session]:
        """A transaction outside any project (projects, operators)."""
        with db.transaction(self.services.sessions) as session:
            yield session

    @contextmanager
    def project(self, project_id: str, *, internal: bool = False) -> Iterator[Scope]:
        """A transaction in a customer's project (the operators project only when
        `internal`), acting as the operator; commits when the block ends without error."""
        actor = self.operator.actor
        with self.services.scope(project_id, environment_of(project_id), actor) as scope:
            if internal:
                projects.get_project(scope.db, project_id)
            else:
                projects.get_customer_project(scope.db, project_id)
            yield scope

    def flash_next(self, message: str) -> None:
        """Show `message` on the next page (the one this POST redirects to)."""
        with self.unit() as session:
            sessions.set_flash(session, self.operator.session_id, message)


def require_operator(request: Request) -> Console:
    """Every console route depends on this: a valid console session, or `SignInRequired`."""
    services = services_of(request)
    settings = services.settings
    token = request.cookies.get(session_cookie_name(settings), "")
    if not token:
        raise SignInRequired()
    try:
        with db.transaction(services.sessions) as session:
            operator = sessions.authenticate(
                session, token, clock=services.clock, settings=settings
            )
            flash = None
            if request.method in SAFE_METHODS:
                flash = sessions.take_flash(session, operator.session_id)
    except ConsoleSessionExpired:
        raise SignInRequired("expired") from None
    except ConsoleSessionInvalid:
        raise SignInRequired() from None
    console = Console(services, operator, csrf_token(settings, token), flash)
    request.state.console = console
    return console


ConsoleDep = Annotated[Console, Depends(require_operator)]
