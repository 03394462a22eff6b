"""The driver's closed loop (`bench.driver.closed_loop`) records as `attempt` does: a flow's
time when it succeeds, its failure otherwise (then a short pause), and it ends the scenario on
`RouteMissing` or at its stop time."""

from __future__ import annotations

import asyncio
import time

import pytest
from bench.stats import Recorder

from bench import driver, scenarios


def _user() -> scenarios.VirtualUser:
    return scenarios.VirtualUser(0, 1, scenarios.Target("antechamber", ""), None, Recorder(), None)  # type: ignore[arg-type]


def test_flows_and_failures_are_recorded_until_a_route_is_missing() -> None:
    outcomes: list[BaseException | None] = [
        None,
        scenarios.FlowFailed("c: 401 session_not_found"),
        KeyError("session_jwt"),
        OSError("outbox down"),
        None,
        scenarios.RouteMissing("not available yet"),
    ]

    async def iteration(vu: scenarios.VirtualUser) -> None:
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome

    vu = _user()
    with pytest.raises(scenarios.RouteMissing):
        asyncio.run(driver.closed_loop(iteration, vu, time.time() + 60))
    assert vu.rec.flows.n == 2
    assert dict(vu.rec.flow_errors) == {
        "c: 401 session_not_found": 1,
        "unexpected answer: KeyError: 'session_jwt'": 1,
        "client error: OSError: outbox down": 1,
    }


def test_the_loop_stops_at_its_stop_time() -> None:
    async def iteration(vu: scenarios.VirtualUser) -> None:
        await asyncio.sleep(0.01)

    vu = _user()
    asyncio.run(driver.closed_loop(iteration, vu, time.time() + 0.1))
    assert 3 <= vu.rec.flows.n <= 11
