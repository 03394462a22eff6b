"""The console's one mapping from failures to pages.

`ConsoleRoute` wraps every console handler: it refuses forged or cross-site form posts before
the handler runs, turns `SignInRequired` into a redirect to the sign-in page, and renders any
error as a page with the domain's message (never a traceback). Handlers that show a form
catch `AntechamberError` themselves and call `form_error` to put the message next to the
field it is about.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.responses import Response

from antechamber.admin import render
from antechamber.admin.security import (
    SAFE_METHODS,
    CsrfRefused,
    SignInRequired,
    check_form_request,
    clear_session_cookie,
    services_of,
    session_cookie_name,
)
from antechamber.errors import AntechamberError

log = logging.getLogger("antechamber.admin")

# Which form field a domain error is about, by error_type; others go to the top of the form.
FIELD_OF_ERROR: dict[str, str] = {
    "invalid_project_name": "name",
    "invalid_organization_name": "organization_name",
    "invalid_organization_slug": "organization_slug",
    "organization_slug_already_used": "organization_slug",
    "organization_settings_invalid_domain": "email_allowed_domains",
    "organization_settings_domain_too_common": "email_allowed_domains",
    "organization_settings_duplicate_domain": "email_allowed_domains",
    "invalid_restricted_email_setting": "email_jit_provisioning",
    "allowed_mfa_methods_required_for_restricted": "mfa_methods",
    "invalid_organization_mfa_policy": "require_mfa",
    "invalid_email": "email_address",
    "duplicate_member_email": "email_address",
    "invalid_phone_number": "mfa_phone_number",
    "duplicate_member_phone_number": "mfa_phone_number",
    "mfa_enrollment_required_by_policy": "mfa_enrolled",
    "invalid_audit_event_type": "type",
    "invalid_audit_time_range": "since",
    "audit_member_email_needs_organization": "member",
    "member_not_found": "member",
    "organization_not_found": "org",
    "organization_search_filter_name_not_recognized": "q",
    "member_search_filter_name_not_recognized": "q",
    "invalid_search_cursor": "q",
}


@dataclass(frozen=True)
class FormError:
    message: str
    error_type: str
    field: str | None


def form_error(exc: AntechamberError, fields: dict[str, str] | None = None) -> FormError:
    """The domain's refusal as a form error; `fields` overrides where a page differs."""
    mapping = FIELD_OF_ERROR | (fields or {})
    named = exc.details.get("field")
    field = named if isinstance(named, str) else mapping.get(exc.error_type)
    return FormError(exc.message, exc.error_type, field)


def _signin_redirect(request: Request, reason: str | None) -> Response:
    target = "/admin/signin"
    query: dict[str, str] = {}
    if reason:
        query["reason"] = reason
    if request.method in SAFE_METHODS and request.url.path != "/admin/signin":
        query["next"] = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = render.redirect(render.url("signin", **query) if query else target)
    settings = services_of(request).settings
    if request.cookies.get(session_cookie_name(settings)):
        clear_session_cookie(response, settings)  # expired, revoked or forged: forget it
    return response


def error_page(request: Request, status_code: int, title: str, message: str) -> Response:
    return render.page(request, "error.html", status_code=status_code, title=title, message=message)


class ConsoleRoute(APIRoute):
    """A route whose failures become console pages (see the module docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def console_handler(request: Request) -> Response:
            try:
                if request.method not in SAFE_METHODS:
                    form = await request.form()
                    check_form_request(request, form, services_of(request).settings)
                return await handler(request)
            except SignInRequired as exc:
                return _signin_redirect(request, exc.reason)
            except CsrfRefused as exc:
                log.warning("console form refused: %s", exc, extra={"path": request.url.path})
                return error_page(
                    request,
                    403,
                    "This form cannot be accepted",
                    "The form was out of date or was sent from another site. Go back, "
                    "reload the page and try again.",
                )
            except AntechamberError as exc:
                return error_page(request, exc.status_code, _title(exc.status_code), exc.message)
            except RequestValidationError:
                return error_page(
                    request, 400, "Bad request", "The form or address was not understood."
                )
            except HTTPException as exc:
                return error_page(
                    request, exc.status_code, _title(exc.status_code), str(exc.detail)
                )
            except Exception:
                log.exception("console error on %s %s", request.method, request.url.path)
                return error_page(
                    request,
                    500,
                    "Something went wrong",
                    "The console hit an internal error. It has been logged.",
                )

        return console_handler


def _title(status_code: int) -> str:
    return {
        400: "That did not work",
        401: "Sign in required",
        403: "Not allowed",
        404: "Not found",
        409: "Conflict",
        429: "Too many requests",
    }.get(status_code, "That did not work")
