"""An ASGI guard in front of `/v1/`: request ids, body size limit (413), JSON only (415),
and JSON the server could take in but never store or give back (400), NUL included (every
database refuses it the same way: `text.NulCharacter`).

It buffers the body (bounded by the limit) so a body without Content-Length cannot slip past
the limit, and answers with Stytch's error envelope itself.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from antechamber.api.envelope import error_response
from antechamber.errors import (
    AntechamberError,
    InvalidArgument,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from antechamber.ids import request_id as new_request_id
from antechamber.text import NulCharacter, has_nul

API_PREFIX = "/v1/"
# The escape of NUL, which PostgreSQL refuses in text and JSON (SQLite would store it).
_NUL_ESCAPE = re.compile(rb"\\u0000")
SAML_ACS_PREFIX = "/v1/b2b/sso/callback/"
# A \uD800-\uDFFF escape: half of a surrogate pair, maybe alone (no other way to get one).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class UnrepresentableJson(InvalidArgument):
    default_message = (
        "The request body holds a value JSON cannot carry back: a number that is not finite "
        "(NaN, Infinity, 1e999) or half of a UTF-16 surrogate pair."
    )


class _Unrepresentable(Exception):
    pass


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _Unrepresentable
    return value


def _no_constant(text: str) -> Any:
    raise _Unrepresentable


def _has_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any("\ud800" <= c <= "\udfff" for c in value)
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_surrogate(v) for v in value)
    return False


def unrepresentable(body: bytes) -> bool:
    """Whether `body` is JSON that Python reads but no JSON answer or column can hold.

    Python's parser accepts NaN, Infinity and overflowing numbers, and lone surrogate escapes;
    echoed in a response or stored, they fail (a 500) where the request should have been
    refused. Invalid JSON is left for the route to refuse as `invalid_json`.
    """
    try:
        value = json.loads(body, parse_constant=_no_constant, parse_float=_finite)
    except _Unrepresentable:
        return True
    except (ValueError, RecursionError):
        return False
    return bool(_SURROGATE_ESCAPE.search(body)) and _has_surrogate(value)


def holds_nul(body: bytes) -> bool:
    """Whether `body` is JSON with a NUL character in a key or a string value."""
    if not _NUL_ESCAPE.search(body):
        return False
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return False
    return has_nul(value)


class ApiGuard:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        rid = new_request_id()
        scope.setdefault("state", {})["request_id"] = rid
        headers = dict(scope["headers"])
        try:
            declared = int(headers.get(b"content-length", b"0") or 0)
        except ValueError:
            declared = 0
        if declared > self.max_body_bytes:
            await self._refuse(PayloadTooLarge(), rid, scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body_bytes:
                await self._refuse(PayloadTooLarge(), rid, scope, receive, send)
                return
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        # The one form-encoded route: a SAML identity provider POSTs the browser's answer
        # (HTTP-POST binding) to the connection's ACS URL.
        form_ok = content_type == b"application/x-www-form-urlencoded" and scope["path"].startswith(
            SAML_ACS_PREFIX
        )
        if body.strip() and content_type not in (b"application/json", b"") and not form_ok:
            await self._refuse(UnsupportedMediaType(), rid, scope, receive, send)
            return
        if b"%00" in scope.get("query_string", b"") or "\x00" in scope["path"]:
            await self._refuse(NulCharacter(), rid, scope, receive, send)
            return
        if body.strip() and holds_nul(body):
            await self._refuse(NulCharacter(), rid, scope, receive, send)
            return
        if body.strip() and not form_ok and unrepresentable(body):
            await self._refuse(UnrepresentableJson(), rid, scope, receive, send)
            return

        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(
        exc: AntechamberError, rid: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        await error_response(exc, rid)(scope, receive, send)
