"""`python -m bench soak`: a mixed load held at a fixed rate for a long time, watching for
errors, slow drift and memory growth.

One Antechamber server on a fresh database (as `bench run` starts it), one client process.
Every virtual user logs in once (its session for c and d, made to outlive the soak). Then:

1. the rate: `--rate`, else half of `--max-rate`, else half of the maximum measured here:
   a closed loop of the same mix for `--calibrate` seconds (every user starts its next flow
   when its last one ends);
2. the soak: the mix (a, b, c, d in fixed proportions, spread evenly: `--mix`) in an open
   loop at that rate (bench/openloop.py: latency from each flow's scheduled start) for
   `--duration` seconds, sampling the resident memory of the server's process tree every
   `--sample-every` seconds from /proc.

It prints and writes as JSON: flows, failed flows and 5xx answers, p50/p95/p99 per scenario,
the server's RSS at the start and end and its slope (least squares, MB per hour) over the
samples after `--rss-warmup`, and the CPU split as `bench run` reports it. The exit status is
1 when any flow failed or any answer was a 5xx.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import openloop, report, servers
from bench.dataset import Shape
from bench.driver import SETUP_CONCURRENCY, SETUP_TIMEOUT_S, _install_fast_loop, attempt
from bench.http import make_client
from bench.openloop import Arrivals
from bench.procs import CpuMeter, tree_rss_bytes
from bench.scenarios import (
    ANTECHAMBER,
    FlowFailed,
    Outbox,
    RouteMissing,
    Target,
    VirtualUser,
    _basic,
)
from bench.stats import Recorder

BENCH_DIR = Path(__file__).resolve().parent
SRC = BENCH_DIR.parent / "src"
DEFAULT_MIX = "a=1,b=1,c=4,d=4"
SOAK_SCENARIOS = ("a", "b", "c", "d")
MB = 1024 * 1024


def add_parser(sub: Any, default_pg: str) -> None:
    soak = sub.add_parser(
        "soak",
        help="Mixed load (a, b, c, d) at a fixed rate for a long time: errors, 5xx, p99 per "
        "scenario, and the server's memory (RSS) and its slope. Exit status 1 on any error.",
    )
    soak.add_argument(
        "--duration", type=float, default=1800.0, help="Seconds of load (1800: 30 minutes)."
    )
    soak.add_argument(
        "--rate",
        type=float,
        default=None,
        help="Flows per second, all scenarios together (default: half of --max-rate, or "
        "half of the maximum measured first).",
    )
    soak.add_argument(
        "--max-rate",
        type=float,
        default=None,
        help="The mix's maximum flows/s, from an earlier run; the soak runs at half of it.",
    )
    soak.add_argument(
        "--calibrate",
        type=float,
        default=10.0,
        help="Seconds of closed-loop load that measure the maximum when neither --rate nor "
        "--max-rate is given (10).",
    )
    soak.add_argument(
        "--mix",
        default=DEFAULT_MIX,
        help=f"Scenario weights ({DEFAULT_MIX}: a login of each kind for every four session "
        "checks of each kind).",
    )
    soak.add_argument(
        "--users",
        type=int,
        default=32,
        help="Virtual users: the bound on flows in flight (32).",
    )
    soak.add_argument(
        "--sample-every", type=float, default=5.0, help="Seconds between RSS samples (5)."
    )
    soak.add_argument(
        "--rss-warmup",
        type=float,
        default=None,
        help="Seconds of samples left out of the RSS slope (default: 300, at most a third "
        "of --duration).",
    )
    soak.add_argument(
        "--db", choices=("sqlite", "postgres"), default="sqlite", help="Database (sqlite)."
    )
    soak.add_argument(
        "--pg-url",
        default=default_pg,
        help=f"PostgreSQL admin URL; antechamber_bench is recreated on it ({default_pg}).",
    )
    soak.add_argument("--workers", type=int, default=1, help="Server worker processes (1).")
    soak.add_argument("--orgs", type=int, default=1000, help="Organizations pre-loaded (1000).")
    soak.add_argument(
        "--members-per-org", type=int, default=1, help="Members pre-loaded per organization (1)."
    )
    soak.add_argument(
        "--server-log-level",
        default="info",
        choices=("debug", "info", "warning", "error"),
        help="Antechamber's log level (info).",
    )
    soak.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="Extra environment for the server (repeatable).",
    )
    soak.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON result path (default: bench/results/<time>-soak-<db>-w<workers>.json).",
    )
    soak.add_argument("--keep", action="store_true", help="Keep the run directory.")


def slope_per_hour(samples: list[tuple[float, float]]) -> float | None:
    """The least-squares slope of (seconds, value) samples, in value per hour; None with
    fewer than two distinct instants."""
    n = len(samples)
    if n < 2:
        return None
    mean_t = sum(t for t, _ in samples) / n
    mean_v = sum(v for _, v in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    if var == 0:
        return None
    cov = sum((t - mean_t) * (v - mean_v) for t, v in samples)
    return cov / var * 3600


def rss_summary(samples: list[tuple[float, float]], warmup_s: float) -> dict[str, Any]:
    """RSS (MB) at the start and end, its peak, and the slope after the warm-up."""
    settled = [(t, v) for t, v in samples if t >= warmup_s]
    slope = slope_per_hour(settled)
    return {
        "start_mb": round(samples[0][1], 1) if samples else None,
        "after_warmup_mb": round(settled[0][1], 1) if settled else None,
        "end_mb": round(samples[-1][1], 1) if samples else None,
        "max_mb": round(max(v for _, v in samples), 1) if samples else None,
        "warmup_s": warmup_s,
        "slope_mb_per_hour": None if slope is None else round(slope, 2),
        "samples_in_slope": len(settled),
        "samples": [[round(t, 1), round(v, 2)] for t, v in samples],
    }


def _check(args: argparse.Namespace, weights: dict[str, int]) -> None:
    unknown = set(weights) - set(SOAK_SCENARIOS)
    if unknown:
        raise SystemExit(f"--mix takes a, b, c, d; unknown: {', '.join(sorted(unknown))}")
    if args.users < 1 or args.workers < 1 or args.duration <= 0 or args.sample_every <= 0:
        raise SystemExit("--users, --workers, --duration and --sample-every must be positive")
    for name in ("rate", "max_rate"):
        value = getattr(args, name)
        if value is not None and not value > 0:
            raise SystemExit(f"--{name.replace('_', '-')} must be positive")
    if args.rate is None and args.max_rate is None and not args.calibrate > 0:
        raise SystemExit("--calibrate must be positive when no --rate or --max-rate is given")
    shape = Shape(args.orgs, args.members_per_org)
    if min(shape.count("optional"), shape.count("required")) < args.users:
        raise SystemExit(
            "each virtual user needs members of its own: raise --orgs or --members-per-org"
        )


class _Soak:
    """The client side of one soak, in this process."""

    def __init__(self, args: argparse.Namespace, target: Target, server_pid: int) -> None:
        self.args = args
        self.target = target
        self.server_pid = server_pid
        self.weights = openloop.parse_mix(args.mix)
        self.sequence = openloop.mix_sequence(self.weights)
        self.recs = {key: Recorder(active=True) for key in self.weights}
        self.setup_rec = Recorder(active=True)

    async def _flow(self, recs: dict[str, Recorder], vu: VirtualUser, k: int, due: float) -> None:
        key = self.sequence[k % len(self.sequence)]
        rec = recs[key]
        vu.rec = rec
        try:
            ok = await attempt(ANTECHAMBER[key].iteration, vu)
        except RouteMissing as exc:
            rec.flow_error(str(exc))
            return
        if ok:
            rec.flow(time.perf_counter() - due)

    async def _setup(self, vus: list[VirtualUser]) -> None:
        gate = asyncio.Semaphore(SETUP_CONCURRENCY)

        async def one(vu: VirtualUser) -> None:
            async with gate:
                for _ in range(3):
                    try:
                        vu.state.update(await ANTECHAMBER["a"].iteration(vu))
                        return
                    except FlowFailed:
                        continue
                raise FlowFailed("a virtual user's first login failed three times")

        async with asyncio.timeout(SETUP_TIMEOUT_S):
            await asyncio.gather(*(one(vu) for vu in vus))

    async def calibrate(self, vus: list[VirtualUser]) -> float:
        """The mix's maximum flows/s: a closed loop, counted after its first quarter."""
        recs = {key: Recorder(active=False) for key in self.weights}
        seconds: float = self.args.calibrate
        start = time.perf_counter()
        settle = start + min(2.0, seconds / 4)
        driving = asyncio.create_task(
            openloop.drive(
                Arrivals(None, start),
                vus,
                lambda vu, k, due: self._flow(recs, vu, k, due),
                start + seconds,
            )
        )
        await asyncio.sleep(max(0.0, settle - time.perf_counter()))
        for rec in recs.values():
            rec.active = True
        await driving
        completed = sum(rec.flows.n for rec in recs.values())
        failed = sum(sum(rec.flow_errors.values()) for rec in recs.values())
        if failed:
            print(f"calibration: {failed} flows failed", flush=True)
        return completed / max(1e-9, start + seconds - settle)

    async def _sample(self, samples: list[tuple[float, float]], start: float, stop: float) -> None:
        every = self.args.sample_every
        next_at = start
        last_print = start
        while True:
            now = time.perf_counter()
            samples.append((now - start, tree_rss_bytes(self.server_pid) / MB))
            if now - last_print >= 60:
                last_print = now
                done = sum(rec.flows.n for rec in self.recs.values())
                failed = sum(sum(rec.flow_errors.values()) for rec in self.recs.values())
                print(
                    f"  {now - start:6.0f} s: {done:,} flows, {failed} failed, "
                    f"server RSS {samples[-1][1]:.1f} MB",
                    flush=True,
                )
            next_at += every
            if next_at >= stop:
                return
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))

    async def run(self) -> dict[str, Any]:
        args = self.args
        headers = _basic(self.target)
        outbox = Outbox(self.target.database_url, self.target.server_key)
        vus = [
            VirtualUser(
                index=i,
                users=args.users,
                target=self.target,
                http=make_client("raw", self.target.base_url, headers),
                rec=self.setup_rec,
                outbox=outbox,
                # sessions for c and d that outlive the calibration and the soak
                state={"session_minutes": int((args.duration + args.calibrate) // 60) + 60},
            )
            for i in range(args.users)
        ]
        try:
            await self._setup(vus)
            max_rate, source = args.max_rate, "given"
            if args.rate is not None:
                rate, source = args.rate, "given rate"
            else:
                if max_rate is None:
                    print(f"calibrating: closed loop of the mix for {args.calibrate:g} s …")
                    max_rate, source = await self.calibrate(vus), "measured"
                    print(f"calibration: {max_rate:,.1f} flows/s", flush=True)
                rate = max_rate / 2
            print(
                f"soak: {rate:,.1f} flows/s of {args.mix} for {args.duration:g} s, "
                f"RSS every {args.sample_every:g} s …",
                flush=True,
            )
            url = self.target.database_url
            postgres = url.startswith("postgres")
            meter = CpuMeter(
                self.server_pid,
                url.rsplit("/", 1)[1] if postgres else None,
                url if postgres else None,
            )
            samples: list[tuple[float, float]] = []
            start = time.perf_counter()
            stop = start + args.duration
            meter.start()
            cpu0 = time.process_time()
            arrivals = Arrivals(rate, start)
            sampler = asyncio.create_task(self._sample(samples, start, stop))
            backlog = await openloop.drive(
                arrivals, vus, lambda vu, k, due: self._flow(self.recs, vu, k, due), stop
            )
            meter.end()
            client_cpu = time.process_time() - cpu0
            await sampler
            samples.append((time.perf_counter() - start, tree_rss_bytes(self.server_pid) / MB))
            wall = time.perf_counter() - start
            cpu = meter.window(wall, client_cpu)
            return {
                "rate": {
                    "offered_per_s": round(rate, 2),
                    "source": source,
                    "max_rate_per_s": None if max_rate is None else round(max_rate, 1),
                    "achieved_per_s": round(
                        sum(r.flows.n for r in self.recs.values()) / args.duration, 2
                    ),
                    "due": arrivals.due_before(stop),
                    "not_started_at_end": backlog,
                },
                "samples": samples,
                "cpu": cpu,
            }
        finally:
            for vu in vus:
                with contextlib.suppress(Exception):
                    await vu.http.close()
            await outbox.close()


def _scenario_summary(key: str, rec: Recorder) -> dict[str, Any]:
    return {
        "title": ANTECHAMBER[key].title,
        "completed": rec.flows.n,
        "failed": sum(rec.flow_errors.values()),
        "http_5xx": rec.http_5xx,
        "latency_ms": rec.flows.summary(),
        "routes": {
            name: {"count": hist.n, "latency_ms": hist.summary()}
            for name, hist in sorted(rec.routes.items())
        },
        "errors": {
            **dict(rec.route_errors),
            **{f"flow: {k}": v for k, v in rec.flow_errors.items()},
        },
    }


def table(result: dict[str, Any]) -> str:
    rate, rss = result["rate"], result["rss"]
    lines = [
        f"soak: {result['duration_s']:g} s at {rate['offered_per_s']:,.1f} flows/s offered "
        f"({rate['source']}"
        + (f", maximum {rate['max_rate_per_s']:,.1f}/s" if rate["max_rate_per_s"] else "")
        + f"), {rate['achieved_per_s']:,.1f}/s achieved, mix {result['mix']}",
        f"{'scenario':<52} {'flows':>8} {'failed':>7} {'5xx':>5} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8}",
    ]
    for key, s in result["scenarios"].items():
        lat = s["latency_ms"]
        label = f"{key}  {s['title']}"[:52]
        lines.append(
            f"{label:<52} {s['completed']:>8,} {s['failed']:>7} {s['http_5xx']:>5} "
            f"{lat['p50']:>8.2f} {lat['p95']:>8.2f} {lat['p99']:>8.2f}"
        )
    lines.append(
        f"total: {result['flows']:,} flows, {result['errors']} failed, {result['http_5xx']} "
        f"5xx answers; {rate['not_started_at_end']} flows still waiting for a free user at the end"
    )
    slope = rss["slope_mb_per_hour"]
    lines.append(
        f"server RSS (process tree): {rss['start_mb']} MB at the start, {rss['end_mb']} MB at "
        f"the end, peak {rss['max_mb']} MB; slope after {rss['warmup_s']:.0f} s: "
        + ("—" if slope is None else f"{slope:+.2f} MB/hour")
        + f" ({rss['samples_in_slope']} samples)"
    )
    cpu = result["cpu_pct_of_one_core"]
    lines.append(
        f"CPU (% of one core): server {cpu['server_pct']:.0f}, pg {cpu['postgres_pct']:.0f}, "
        f"client {cpu['client_pct']:.0f}, other {cpu['other_pct']:.0f}"
    )
    for key, s in result["scenarios"].items():
        for what, count in s["errors"].items():
            lines.append(f"  {key}  error ×{count}: {what}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """The soak; the exit status (1 on any failed flow or 5xx answer)."""
    from dataclasses import asdict

    weights = openloop.parse_mix(args.mix)
    _check(args, weights)
    extra_env = {}
    for item in args.server_env:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--server-env wants NAME=VALUE, got {item!r}")
        extra_env[name] = value
    warmup = args.rss_warmup if args.rss_warmup is not None else min(300.0, args.duration / 3)
    run_dir = Path(tempfile.mkdtemp(prefix="antechamber-soak-"))
    started = datetime.now(UTC)
    shape = Shape(args.orgs, args.members_per_org)
    try:
        print(
            f"antechamber: fresh {args.db} database, {args.orgs:,} orgs × "
            f"{args.members_per_org} members …",
            flush=True,
        )
        with servers.Antechamber(
            run_dir=run_dir,
            database=args.db,
            pg_admin_url=args.pg_url,
            shape=shape,
            workers=args.workers,
            log_level=args.server_log_level,
            client_kind="raw",
            extra_env=extra_env,
        ) as running:
            soak = _Soak(args, running.target, running.process.pid)
            _install_fast_loop()
            outcome = asyncio.run(soak.run())
    finally:
        if not args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)
    scenarios = {key: _scenario_summary(key, soak.recs[key]) for key in soak.weights}
    result: dict[str, Any] = {
        "meta": {
            "started_at": started.isoformat(timespec="seconds"),
            "command": "python -m bench " + " ".join(sys.argv[1:]),
            "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "machine": report.machine(),
            "run_dir": str(run_dir) if args.keep else None,
        },
        "duration_s": args.duration,
        "mix": args.mix,
        "rate": outcome["rate"],
        "flows": sum(s["completed"] for s in scenarios.values()),
        "errors": sum(s["failed"] for s in scenarios.values()),
        "http_5xx": sum(s["http_5xx"] for s in scenarios.values()) + soak.setup_rec.http_5xx,
        "setup_errors": sum(soak.setup_rec.flow_errors.values()),
        "scenarios": scenarios,
        "rss": rss_summary(outcome["samples"], warmup),
        "cpu_pct_of_one_core": asdict(outcome["cpu"]),
    }
    result["ok"] = result["errors"] == 0 and result["http_5xx"] == 0
    out = args.out or (
        BENCH_DIR / "results" / f"{started:%Y%m%dT%H%M%SZ}-soak-{args.db}-w{args.workers}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print()
    print(table(result))
    print(f"\nwritten: {out}")
    if not result["ok"]:
        print("FAILED: flows failed or the server answered 5xx", flush=True)
        return 1
    return 0
