"""The guard's `replay` (api/guard.py): the body it read, given once to whoever asks first, a
`Request` taking it directly included; after that, the server's own `receive`."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.types import Message

from antechamber.api.guard import replay


def test_the_body_is_given_once_then_the_server_is_asked() -> None:
    async def server() -> Message:
        return {"type": "http.disconnect"}

    async def run() -> None:
        received = replay(b'{"a": 1}', server)
        assert await received() == {"type": "http.request", "body": b'{"a": 1}', "more_body": False}
        assert await received() == {"type": "http.disconnect"}
        assert received.take() is None

        taken = replay(b'{"a": 1}', server)
        assert taken.take() == b'{"a": 1}'
        assert taken.take() is None
        assert await taken() == {"type": "http.disconnect"}

        # A request reading through a replay and one given the body taken read the same bytes.
        scope = {"type": "http", "method": "POST", "headers": []}
        read = Request(scope, replay(b'{"a": 1}', server))
        assert await read.body() == b'{"a": 1}'
        assert [chunk async for chunk in read.stream()] == [b'{"a": 1}', b""]

    asyncio.run(run())
