"""The guard in front of `/v1/` (the edge, `antechamber.edge`, calls `admit`): request ids,
body size limit (413), JSON only (415), and JSON the server could take in but never store or
give back (400), NUL included (every database refuses it the same way: `text.NulCharacter`).

It buffers the body (bounded by the limit) so a body without Content-Length cannot slip past
the limit; a refusal is answered in Stytch's error envelope.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import Message, Receive, Scope

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
    return _decoded(body) is _UNREPRESENTABLE


# What `_decoded` answers for a body that is not JSON, and for one no answer can hold.
_INVALID: Any = object()
_UNREPRESENTABLE: Any = object()
# Built once: `json.loads` with keyword arguments builds a decoder on every call.
_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite)


def _decoded(body: bytes) -> Any:
    """`body`'s JSON value, as `json.loads(body)` reads it; `_UNREPRESENTABLE` (see
    `unrepresentable`), or `_INVALID` where `json.loads` would raise.

    Read by orjson where its value is `json.loads`'s and representable: it refuses what this
    guard must look at with the standard parser (NaN and infinities, a number that overflows
    a double, a lone surrogate, any encoding but UTF-8, a BOM), and reads an integer past 64
    bits as a float, so a body with a run of 19 or more digits (in a number or not:
    `json_columns`' rule) goes to the standard parser too. So does one that may nest deeply:
    the standard parser's refusal (RecursionError) depends on how deep the stack already is,
    orjson's limit (1,024) does not. About 2 µs a body.
    """
    if body.count(b"[") + body.count(b"{") <= _FAST_NESTING and (
        len(body) < len(_LONG_RUN) or _LONG_RUN not in body.translate(_DIGITS_ONLY)
    ):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass  # the standard parser says why (or reads what orjson refuses)
    return _decoded_by_json(body)


def _decoded_by_json(body: bytes) -> Any:
    """`_decoded` by the standard library's parser alone."""
    try:
        text = body.decode(json.detect_encoding(body), "surrogatepass")  # as json.loads does
        value = _DECODER.decode(text)
    except _Unrepresentable:
        return _UNREPRESENTABLE
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return _INVALID
    if _SURROGATE_ESCAPE.search(body) and _has_surrogate(value):
        return _UNREPRESENTABLE
    return value


# As `json_columns`: every byte but an ASCII digit becomes a space, so a run of 19 digits (the
# shortest integer literal that may not fit 64 bits) becomes a run of "9"s.
_DIGITS_ONLY = bytes(0x39 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_RUN = b"9" * 19
# At most this many arrays and objects (a bound on the nesting) for orjson to read a body: far
# below the standard parser's recursion limit, from any stack a request runs on.
_FAST_NESTING = 64


def parsed_body(scope: Scope, body: bytes) -> Any:
    """The JSON value the guard read from `body`, the request's body, as `json.loads(body)`
    would; `NOT_PARSED` if it did not read that body (or the body was not valid JSON). The
    same object every time: whoever takes it must not change it."""
    state = scope.get("state")
    kept = state.get(_PARSED_KEY) if state is not None else None
    if kept is None or (kept[0] is not body and kept[0] != body):
        return NOT_PARSED
    return kept[1]


NOT_PARSED: Any = _INVALID
_PARSED_KEY = "antechamber.api.guard.parsed"


def holds_nul(body: bytes) -> bool:
    """Whether `body` is JSON with a NUL character in a key or a string value."""
    if not _NUL_ESCAPE.search(body):
        return False
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return False
    return has_nul(value)


async def admit(scope: Scope, receive: Receive, max_body_bytes: int) -> Receive | Response | None:
    """Read and check the body of a request under `/v1/`, giving it a request id.

    Returns a `receive` that hands the app the body already read, or the refusal to answer
    with, or None when the client went away before the body was whole.
    """
    rid = new_request_id()
    scope.setdefault("state", {})["request_id"] = rid
    headers = dict(scope["headers"])
    try:
        declared = int(headers.get(b"content-length", b"0") or 0)
    except ValueError:
        declared = 0
    if declared > max_body_bytes:
        return error_response(PayloadTooLarge(), rid)
    body = b""
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        more = message.get("more_body", False)
        if len(body) > max_body_bytes:
            return error_response(PayloadTooLarge(), rid)
    refused = _refusal(scope, headers, body)
    if refused is not None:
        return error_response(refused, rid)
    return replay(body, receive)


def replay(body: bytes, receive: Receive) -> Replay:
    """A `receive` that gives `body` (the whole request body) once, then asks `receive`."""
    return Replay(body, receive)


class Replay:
    """A `receive` that gives `body` (the whole request body) once, then asks `receive`.

    Whoever holds it may `take` the body instead of receiving it (a `Request` about to read it:
    `dispatch`), which counts as the one time it is given."""

    __slots__ = ("body", "receive", "sent")

    def __init__(self, body: bytes, receive: Receive) -> None:
        self.body = body
        self.receive = receive
        self.sent = False

    async def __call__(self) -> Message:
        if not self.sent:
            self.sent = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        return await self.receive()

    def take(self) -> bytes | None:
        """The body if it was not given yet (it is now), else None."""
        if self.sent:
            return None
        self.sent = True
        return self.body


def _refusal(scope: Scope, headers: dict[bytes, bytes], body: bytes) -> AntechamberError | None:
    content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    # The one form-encoded route: a SAML identity provider POSTs the browser's answer
    # (HTTP-POST binding) to the connection's ACS URL.
    form_ok = content_type == b"application/x-www-form-urlencoded" and scope["path"].startswith(
        SAML_ACS_PREFIX
    )
    has_body = bool(body.strip())
    if has_body and content_type not in (b"application/json", b"") and not form_ok:
        return UnsupportedMediaType()
    if b"%00" in scope.get("query_string", b"") or "\x00" in scope["path"]:
        return NulCharacter()
    if has_body and holds_nul(body):
        return NulCharacter()
    if has_body and not form_ok:
        value = _decoded(body)
        if value is _UNREPRESENTABLE:
            return UnrepresentableJson()
        if value is not _INVALID:  # kept for the route (`api.lean`), which would parse it again
            scope.setdefault("state", {})[_PARSED_KEY] = (body, value)
    return None
