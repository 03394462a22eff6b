"""Stytch's success and error envelopes (stytch-b2b-api.md §2.2–2.3)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse

from antechamber.errors import AntechamberError, TooManyRequests
from antechamber.ids import request_id as new_request_id

ERROR_URL = "https://stytch.com/docs/api/errors/{status}#{error_type}"


class Answer(JSONResponse):
    """A JSON answer encoded by orjson: the bytes of Starlette's `JSONResponse` (compact, UTF-8,
    keys in order; only a small float's exponent may be spelled `1e-7` for `1e-07`),
    twenty times faster (a 4.5 kB session check answer: 28 → 1.4 µs of CPU).

    What orjson refuses (an integer past 64 bits, say, which custom claims may hold; a key that
    is not a string) falls back to the standard encoder, which answers as `JSONResponse`
    always has. NaN and infinities, refused at the door (`api.guard`), would be written `null`.

    A part of the content may be `Encoded` (encoded before): its bytes go in as they are, the
    bytes orjson gives its value; the standard encoder, if it answers, encodes the value.
    """

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content, default=_fragment)
        except orjson.JSONEncodeError:
            # Starlette's `JSONResponse.render`, with an `Encoded` part's value.
            return json.dumps(
                content,
                ensure_ascii=False,
                allow_nan=False,
                indent=None,
                separators=(",", ":"),
                default=_value,
            ).encode("utf-8")

    def init_headers(self, headers: Mapping[str, str] | None = None) -> None:
        # Starlette's headers for an answer with a body and no headers of its own, made
        # directly: its length, then its type (JSON has no charset parameter).
        status = self.status_code
        if (
            not headers
            and self.media_type == _JSON
            and type(self.body) is bytes
            and status >= 200
            and status not in (204, 304)
        ):
            self.raw_headers = [(b"content-length", b"%d" % len(self.body)), _JSON_TYPE]
        else:
            super().init_headers(headers)


class Encoded:
    """A part of an answer (`Answer`) encoded once (`encoded`), and its value."""

    __slots__ = ("fragment", "value")

    def __init__(self, fragment: orjson.Fragment, value: Any) -> None:
        self.fragment = fragment
        self.value = value


def encoded(value: Any) -> Any:
    """`value` as an `Encoded` part of answers: what orjson makes of it, made once (for a part
    several answers repeat: `api.serializers.organization_part`). The value itself when
    orjson refuses it (the answer's encoder then meets it as it would have)."""
    try:
        return Encoded(orjson.Fragment(orjson.dumps(value)), value)
    except orjson.JSONEncodeError:
        return value


def _fragment(part: Any) -> orjson.Fragment:
    if type(part) is Encoded:
        return part.fragment
    raise TypeError


def _value(part: Any) -> Any:
    if type(part) is Encoded:
        return part.value
    raise TypeError(f"Object of type {type(part).__name__} is not JSON serializable")


_JSON = "application/json"
_JSON_TYPE = (b"content-type", _JSON.encode("latin-1"))


def request_id_of(request: Request) -> str:
    # The request's state, as `request.state` holds it, without the `State` made around it.
    state = request.scope.setdefault("state", {})
    rid = state.get("request_id")
    if rid is None:
        rid = state["request_id"] = new_request_id()
    return str(rid)


def ok(request: Request, status_code: int = 200, **fields: Any) -> JSONResponse:
    body = {"request_id": request_id_of(request), "status_code": status_code, **fields}
    return Answer(body, status_code=status_code)


def error_body(exc: AntechamberError, request_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status_code": exc.status_code,
        "request_id": request_id,
        "error_type": exc.error_type,
        "error_message": exc.message,
        "error_url": ERROR_URL.format(status=exc.status_code, error_type=exc.error_type),
    }
    if exc.details:
        body["error_details"] = {k: v for k, v in exc.details.items() if _plain(v)}
    return body


def error_response(exc: AntechamberError, request_id: str) -> JSONResponse:
    headers = {}
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after)
    return Answer(error_body(exc, request_id), status_code=exc.status_code, headers=headers)


def _plain(value: Any) -> bool:
    return isinstance(value, str | int | float | bool | list | dict) or value is None
