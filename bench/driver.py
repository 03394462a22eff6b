"""Running one scenario: virtual users in one or several client processes, one time window.

Timeline of a run, the same in every client process:
  set up (e.g. log each virtual user in for the session scenarios) → report ready →
  the parent picks a start instant T0 → warm-up until T0 + warmup (nothing recorded) →
  measure until T0 + warmup + duration → stop.
Requests and flows are recorded when they complete inside the window, so throughput is
`completed / duration`, and the parent's CPU meter covers exactly the same window.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import multiprocessing as mp
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection

from bench.http import make_client
from bench.openloop import Arrivals, drive
from bench.procs import CpuMeter, CpuWindow
from bench.scenarios import (
    CATALOGUE,
    ERROR_PAUSE_S,
    FlowFailed,
    Outbox,
    RouteMissing,
    Scenario,
    Target,
    VirtualUser,
)
from bench.stats import Recorder

SETUP_TIMEOUT_S = 120.0
SETUP_CONCURRENCY = 16
# Open loop: the pseudo-route of the time a due flow waited for a free virtual user.
WAIT_ROUTE = "client: due flow waited for a free user"


@dataclass(frozen=True)
class Plan:
    target: Target
    scenario: str
    users: int
    duration_s: float
    warmup_s: float
    clients: int
    # Open loop: flows/s held whatever the server does (None: closed loop, each virtual user
    # starts its next flow when its last one ends). See bench/openloop.py.
    rate: float | None = None


@dataclass
class Outcome:
    recorder: Recorder | None
    cpu: CpuWindow | None
    unavailable: str | None = None


def _install_fast_loop() -> None:
    # uvloop (installed with uvicorn[standard]) halves the event loop's cost per request.
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()


def failed(vu: VirtualUser, exc: Exception) -> None:
    """Record a flow's failure in `vu.rec`. `RouteMissing` (the server lacks a route) is not a
    failure of the flow: it is raised again, and ends the scenario."""
    if isinstance(exc, FlowFailed):
        vu.rec.flow_error(str(exc))
    elif isinstance(exc, (KeyError, TypeError, ValueError, IndexError, AttributeError)):
        # An answer without the fields the wire API promises: a failed flow, not a dead
        # virtual user.
        vu.rec.flow_error(f"unexpected answer: {type(exc).__name__}: {exc}"[:200])
    elif isinstance(exc, RouteMissing):
        raise exc
    else:
        # Anything else a flow raises (the outbox's database, the client) is a failed flow,
        # not a lost one: uncaught, it would end the virtual user's task unseen.
        vu.rec.flow_error(f"client error: {type(exc).__name__}: {exc}"[:200])


async def attempt(iteration: Callable[[VirtualUser], Awaitable[object]], vu: VirtualUser) -> bool:
    """Run one flow; a failure is recorded in `vu.rec` (`failed`) and reported as False."""
    try:
        await iteration(vu)
    except Exception as exc:
        failed(vu, exc)
        return False
    return True


async def closed_loop(
    iteration: Callable[[VirtualUser], Awaitable[object]],
    vu: VirtualUser,
    stop_at: float,
) -> None:
    """One virtual user's closed loop: a flow, then the next, until `stop_at` (time.time()); each
    one's time recorded as a flow, a failed one recorded (`failed`) and followed by a short
    pause. `attempt`'s work written out here: one coroutine less a flow."""
    rec = vu.rec
    while time.time() < stop_at:
        started = time.perf_counter()
        try:
            await iteration(vu)
        except Exception as exc:
            failed(vu, exc)
            await asyncio.sleep(ERROR_PAUSE_S)
        else:
            rec.flow(time.perf_counter() - started)


async def _open_loop(
    plan: Plan,
    scenario: Scenario,
    vus: list[VirtualUser],
    rec: Recorder,
    t0: float,
    client_no: int,
) -> None:
    """This process's share of an open-loop run: `rate / clients` arrivals per second, the
    processes' schedules interleaved, from t0 to the end of the window."""
    assert plan.rate is not None
    offset = time.time() - time.perf_counter()  # wall-clock instant = perf_counter + offset
    arrivals = Arrivals(plan.rate / plan.clients, t0 - offset + client_no / plan.rate)
    measure_from = t0 + plan.warmup_s - offset
    measure_to = measure_from + plan.duration_s
    missing: list[RouteMissing] = []

    async def flow(vu: VirtualUser, _k: int, due: float) -> None:
        rec.route(WAIT_ROUTE, time.perf_counter() - due)
        try:
            ok = await attempt(scenario.iteration, vu)
        except RouteMissing as exc:
            missing.append(exc)
            return
        if ok:
            rec.flow(time.perf_counter() - due)

    driving = asyncio.create_task(drive(arrivals, vus, flow, measure_to))
    await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
    rec.active = True
    cpu0 = time.process_time()
    await asyncio.sleep(max(0.0, measure_to - time.perf_counter()))
    rec.active = False
    rec.client_cpu_s = time.process_time() - cpu0
    rec.backlog = await driving
    rec.offered = arrivals.due_before(measure_to) - arrivals.due_before(measure_from)
    if missing:
        raise missing[0]


async def _client(
    plan: Plan, vu_indexes: range, ready: Callable[[str | None], float], client_no: int = 0
) -> Recorder:
    """One client process's share of the virtual users, from setup to the end of the window."""
    scenario: Scenario = CATALOGUE[plan.target.name][plan.scenario]
    rec = Recorder(active=False)
    headers: dict[str, str] = {}
    if plan.target.name == "antechamber" and plan.target.project_id:
        from bench.scenarios import _basic

        headers = _basic(plan.target)
    outbox = (
        Outbox(plan.target.database_url, plan.target.server_key) if scenario.needs_outbox else None
    )
    vus = [
        VirtualUser(
            index=i,
            users=plan.users,
            target=plan.target,
            http=make_client(plan.target.client_kind, plan.target.base_url, headers),
            rec=rec,
            outbox=outbox,
        )
        for i in vu_indexes
    ]
    try:
        if scenario.setup is not None:
            gate = asyncio.Semaphore(SETUP_CONCURRENCY)

            async def set_up(vu: VirtualUser) -> None:
                async with gate:
                    for _ in range(3):  # a failed setup login is retried, a few times
                        try:
                            assert scenario.setup is not None
                            await scenario.setup(vu)
                            return
                        except FlowFailed:
                            continue
                    raise FlowFailed("setup failed three times")

            try:
                async with asyncio.timeout(SETUP_TIMEOUT_S):
                    await asyncio.gather(*(set_up(vu) for vu in vus))
            except RouteMissing as exc:
                ready(str(exc))
                raise
            except (FlowFailed, TimeoutError) as exc:
                ready(f"could not set up: {exc}")
                raise RouteMissing(f"could not set up: {exc}") from None
        t0 = ready(None)
        if t0 < 0:  # another client process could not set up: the run is off
            raise RouteMissing("cancelled")
        if plan.rate is not None:
            await _open_loop(plan, scenario, vus, rec, t0, client_no)
            return rec
        measure_from, measure_to = t0 + plan.warmup_s, t0 + plan.warmup_s + plan.duration_s
        await _sleep_until(t0)

        tasks = [asyncio.create_task(closed_loop(scenario.iteration, vu, measure_to)) for vu in vus]
        await _sleep_until(measure_from)
        rec.active = True
        cpu0 = time.process_time()
        await _sleep_until(measure_to)
        rec.active = False
        rec.client_cpu_s = time.process_time() - cpu0
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, RouteMissing):
                raise result
        return rec
    finally:
        for vu in vus:
            with contextlib.suppress(Exception):
                await vu.http.close()
        if outbox is not None:
            await outbox.close()


async def _sleep_until(instant: float) -> None:
    delay = instant - time.time()
    if delay > 0:
        await asyncio.sleep(delay)


def _child(plan: Plan, vu_indexes: range, conn: Connection, src_dir: str, client_no: int) -> None:
    """Entry point of a client process (spawned: a clean interpreter, no forked state)."""
    sys.path.insert(0, src_dir)
    _install_fast_loop()

    def ready(problem: str | None) -> float:
        conn.send(("ready", problem))
        if problem is not None:
            return 0.0
        t0: float = conn.recv()
        return t0

    try:
        rec = asyncio.run(_client(plan, vu_indexes, ready, client_no))
        conn.send(("done", rec.to_json()))
    except RouteMissing as exc:
        conn.send(("missing", str(exc)))
    except BaseException as exc:
        conn.send(("crashed", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def _split(users: int, clients: int) -> list[range]:
    """Virtual users 0..users-1 split into `clients` contiguous ranges."""
    base, extra = divmod(users, clients)
    out, start = [], 0
    for c in range(clients):
        n = base + (1 if c < extra else 0)
        out.append(range(start, start + n))
        start += n
    return [r for r in out if len(r)]


def run(plan: Plan, server_pid: int, src_dir: str) -> Outcome:
    """Run `plan` against the server whose process tree is `server_pid`."""
    url = plan.target.database_url
    postgres = url.startswith("postgres")
    meter = CpuMeter(
        server_pid, url.rsplit("/", 1)[1] if postgres else None, url if postgres else None
    )

    def meter_thread(t0: float) -> None:
        time.sleep(max(0.0, t0 + plan.warmup_s - time.time()))
        meter.start()
        time.sleep(max(0.0, t0 + plan.warmup_s + plan.duration_s - time.time()))
        meter.end()

    def start_meter(t0: float) -> threading.Thread:
        thread = threading.Thread(target=meter_thread, args=(t0,), daemon=True)
        thread.start()
        return thread

    if plan.clients <= 1:
        # In this process: no spawn cost, which matters for short runs and the tests.
        _install_fast_loop()
        threads: list[threading.Thread] = []

        def ready(problem: str | None) -> float:
            t0 = time.time() + 0.05
            if problem is None:
                threads.append(start_meter(t0))
            return t0

        try:
            rec = asyncio.run(_client(plan, range(plan.users), ready))
        except RouteMissing as exc:
            return Outcome(None, None, unavailable=str(exc))
        threads[0].join()
        return Outcome(rec, meter.window(plan.duration_s, rec.client_cpu_s))

    ctx = mp.get_context("spawn")
    pipes: list[Connection] = []
    procs = []
    shares = _split(plan.users, plan.clients)
    if len(shares) < plan.clients:  # fewer users than processes: each process its share
        plan = dataclasses.replace(plan, clients=len(shares))
    for client_no, share in enumerate(shares):
        parent, child = ctx.Pipe()
        proc = ctx.Process(
            target=_child, args=(plan, share, child, src_dir, client_no), daemon=True
        )
        proc.start()
        child.close()
        pipes.append(parent)
        procs.append(proc)
    try:
        problems = []
        for pipe in pipes:
            if not pipe.poll(SETUP_TIMEOUT_S + 30):
                problems.append("a client process did not get ready in time")
                continue
            kind, problem = pipe.recv()
            if kind != "ready" or problem:
                problems.append(str(problem))
        if problems:
            for pipe in pipes:  # release the processes that did get ready
                with contextlib.suppress(OSError):
                    pipe.send(-1.0)
            return Outcome(None, None, unavailable=problems[0])
        t0 = time.time() + 0.2
        for pipe in pipes:
            pipe.send(t0)
        thread = start_meter(t0)
        merged = Recorder(active=False)
        for pipe in pipes:
            if not pipe.poll(plan.warmup_s + plan.duration_s + 60):
                raise RuntimeError("a client process did not report in time")
            kind, payload = pipe.recv()
            if kind == "missing":
                return Outcome(None, None, unavailable=str(payload))
            if kind != "done":
                raise RuntimeError(f"a client process failed: {payload}")
            merged.merge(Recorder.from_json(payload))
        thread.join()
        return Outcome(merged, meter.window(plan.duration_s, merged.client_cpu_s))
    finally:
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
