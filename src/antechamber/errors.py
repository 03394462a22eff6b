"""The one error hierarchy. Every refusal the domain makes is an `AntechamberError`.

Each subclass fixes a stable `error_type` (Stytch's string where Stytch has one; see
docs/api-compatibility.md) and an HTTP-ish `status_code`. Faces map them to their own format
in one place each: `api.errors` (Stytch envelope), `webapp` (the tutorial's JSON), `cli`
(one line on stderr). Domain code raises these and never an HTTP exception.

    AntechamberError
    ├── BadRequest (400)          invalid input: bad email, bad slug, contradicting settings …
    ├── Unauthorized (401)        bad credentials, used/expired token or code
    ├── Forbidden (403)
    ├── NotFound (404)            also used for another project's objects (no existence oracle)
    ├── Conflict (409)            duplicates
    ├── TooManyRequests (429)     rate limits; carries retry_after seconds
    └── ServiceUnavailable (503)  a dependency (rate-limit storage) is down; try again
"""

from __future__ import annotations

from typing import Any, ClassVar


class AntechamberError(Exception):
    """A refusal. `keep_changes=True` asks the unit of work to commit before the error reaches
    the caller: for failures that are themselves facts to keep (a wrong code counts against
    its attempt limit, a lockout starts). Raise it so only when the transaction holds nothing
    but that record."""

    status_code: ClassVar[int] = 400
    error_type: ClassVar[str] = "bad_request"
    default_message: ClassVar[str] = "The request could not be completed."

    def __init__(
        self, message: str | None = None, *, keep_changes: bool = False, **details: Any
    ) -> None:
        self.message = message or self.default_message
        self.keep_changes = keep_changes
        self.details = details
        super().__init__(self.message)


class BadRequest(AntechamberError):
    status_code = 400


class Unauthorized(AntechamberError):
    status_code = 401
    error_type = "unauthorized_credentials"
    default_message = "Unauthorized credentials."


class Forbidden(AntechamberError):
    status_code = 403
    error_type = "forbidden"
    default_message = "This action is not allowed."


class NotFound(AntechamberError):
    status_code = 404
    error_type = "not_found"
    default_message = "Not found."


class Conflict(AntechamberError):
    status_code = 409
    error_type = "conflict"


class TooManyRequests(AntechamberError):
    status_code = 429
    error_type = "too_many_requests"
    default_message = "Too many requests have been made."

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: int = 1,
        keep_changes: bool = False,
        **details: Any,
    ) -> None:
        super().__init__(message, keep_changes=keep_changes, **details)
        self.retry_after = max(1, int(retry_after))


class ServiceUnavailable(AntechamberError):
    status_code = 503
    error_type = "service_unavailable"
    default_message = "The service is temporarily unavailable. Try again shortly."


class InvalidArgument(BadRequest):
    """A request field of the wrong type or shape (the generic 400)."""

    error_type = "invalid_argument"


class InvalidJson(BadRequest):
    error_type = "invalid_json"
    default_message = "The request body is not valid JSON."


class InvalidEmail(BadRequest):
    error_type = "invalid_email"
    default_message = "The email address is invalid."


class InvalidPhoneNumber(BadRequest):
    error_type = "invalid_phone_number"
    default_message = "The phone number is invalid. Use E.164, for example +12025550123."


class MetadataTooLarge(BadRequest):
    error_type = "metadata_too_large"
    default_message = "Metadata is limited to 4 KB of JSON."


class RouteNotFound(NotFound):
    error_type = "route_not_found"
    default_message = "There is no such route."


class MethodNotAllowed(AntechamberError):
    status_code = 405
    error_type = "method_not_allowed"
    default_message = "This method is not allowed on this route."


class PayloadTooLarge(AntechamberError):
    status_code = 413
    error_type = "request_too_large"
    default_message = "The request body is too large."


class UnsupportedMediaType(AntechamberError):
    status_code = 415
    error_type = "unsupported_media_type"
    default_message = "Send the request body as application/json."


class InternalError(AntechamberError):
    status_code = 500
    error_type = "internal_server_error"
    default_message = "An internal error occurred. It has been logged."
