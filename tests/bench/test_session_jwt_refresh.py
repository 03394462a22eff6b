"""Scenario d (sessions/authenticate by session_jwt) keeps the JWT the answers carry, parsing
an answer only when the kept JWT is due for refresh (`JWT_REFRESH_S`); every answer's status
is checked and every check's latency recorded."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest
from bench.http import Response
from bench.stats import Recorder

from bench import scenarios


class Scripted:
    """A client answering each request with the next (status, JWT); it keeps what was sent."""

    def __init__(self, answers: list[tuple[int, str]]) -> None:
        self.answers = answers
        self.sent: list[Any] = []

    async def request(
        self, method: str, path: str, *, json: Any = None, headers: Any = None
    ) -> Response:
        self.sent.append(json)
        status, jwt = self.answers.pop(0)
        body = {"session_jwt": jwt} if status == 200 else {"error_type": "session_not_found"}
        return Response(status, orjson.dumps(body))

    async def close(self) -> None:
        pass


def _user(client: Scripted, jwt: str, age: float | None) -> scenarios.VirtualUser:
    vu = scenarios.VirtualUser(0, 1, scenarios.Target("antechamber", ""), client, Recorder(), None)
    vu.state["session_jwt"] = jwt
    if age is not None:
        vu.state["jwt_at"] = time.monotonic() - age
    return vu


def test_the_answer_is_parsed_only_when_the_kept_jwt_is_due() -> None:
    client = Scripted([(200, "second"), (200, "third"), (200, "fourth"), (200, "fifth")])
    vu = _user(client, "first", age=1.0)

    async def checks() -> None:
        await scenarios.session_by_jwt(vu)  # fresh: the answer's JWT is not taken
        assert vu.state["session_jwt"] == "first"
        vu.state["jwt_at"] -= scenarios.JWT_REFRESH_S  # now due
        await scenarios.session_by_jwt(vu)
        assert vu.state["session_jwt"] == "third"
        assert time.monotonic() - vu.state["jwt_at"] < 1.0
        await scenarios.session_by_jwt(vu)
        await scenarios.session_by_jwt(vu)

    asyncio.run(checks())
    assert [sent["session_jwt"] for sent in client.sent] == ["first", "first", "third", "third"]
    assert vu.state["session_jwt"] == "third"
    assert vu.rec.routes[scenarios.SESSIONS_AUTHENTICATE].n == 4


def test_a_user_without_a_jwt_time_refreshes_on_its_first_check() -> None:
    client = Scripted([(200, "second")])
    vu = _user(client, "first", age=None)
    asyncio.run(scenarios.session_by_jwt(vu))
    assert vu.state["session_jwt"] == "second"


@pytest.mark.parametrize("age", [1.0, 10 * scenarios.JWT_REFRESH_S])
def test_a_failed_check_is_an_error_whether_or_not_it_is_parsed(age: float) -> None:
    client = Scripted([(401, "")])
    vu = _user(client, "first", age=age)
    with pytest.raises(scenarios.FlowFailed, match="401 session_not_found"):
        asyncio.run(scenarios.session_by_jwt(vu))
    assert vu.state["session_jwt"] == "first"
    assert sum(vu.rec.route_errors.values()) == 1
