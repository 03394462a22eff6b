"""An ASGI guard in front of `/v1/`: request ids, body size limit (413), JSON only (415).

It buffers the body (bounded by the limit) so a body without Content-Length cannot slip past
the limit, and answers with Stytch's error envelope itself.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from antechamber.api.envelope import error_response
from antechamber.errors import AntechamberError, PayloadTooLarge, UnsupportedMediaType
from antechamber.ids import request_id as new_request_id

API_PREFIX = "/v1/"


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
        if body.strip() and content_type not in (b"application/json", b""):
            await self._refuse(UnsupportedMediaType(), rid, scope, receive, send)
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
