"""`python -m bench run …`: start each server on a fresh database, drive the scenarios, print
the table and write the JSON result. See docs/performance.md."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
SRC = BENCH_DIR.parent / "src"
# Serve and import the code of this checkout, whichever checkout the venv was installed from.
sys.path.insert(0, str(SRC))

from bench import dataset, driver, faults, report, servers, soak  # noqa: E402
from bench.dataset import Shape  # noqa: E402
from bench.scenarios import CATALOGUE, ORDER, Scenario, Target  # noqa: E402

DEFAULT_PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    limiter = sub.add_parser(
        "limiter",
        help="CPU of an in-memory rate limiter as its keys grow: the limits package's memory "
        "storage against antechamber.ratelimit_memory.",
    )
    limiter.add_argument(
        "--keys",
        default="1000,10000,30000",
        help="Key counts to measure, separated by commas (1000,10000,30000).",
    )
    limiter.add_argument(
        "--seconds", type=float, default=3.0, help="Seconds of hits per measurement (3)."
    )
    scim = sub.add_parser(
        "scim-deprovision",
        help="Time from a SCIM deprovisioning call (PATCH active=false) to the first refusal of "
        "the member's session token and JWT, on a real server (target: under one second).",
    )
    scim.add_argument("--rounds", type=int, default=20, help="Members deprovisioned (20).")
    scim.add_argument(
        "--database", choices=("sqlite", "postgres"), default="sqlite", help="sqlite or postgres."
    )
    scim.add_argument(
        "--pg-admin-url",
        default=DEFAULT_PG_ADMIN,
        help="PostgreSQL admin URL for --database postgres (a fresh database is made).",
    )
    run = sub.add_parser("run", help="Run the benchmark and print the table.")
    run.add_argument(
        "--scenario",
        default="all",
        help="'all' or letters separated by commas: a (discovery login, OPTIONAL org), "
        "b (+ SMS MFA), c (session by token), d (session by JWT), e (JWKS), f (baseline, "
        "always run: every ratio needs it), g (GET an organization: an authenticated read "
        "that exists today). Default: all.",
    )
    run.add_argument(
        "--duration", type=float, default=10.0, help="Measured seconds per scenario (10)."
    )
    run.add_argument(
        "--warmup", type=float, default=2.0, help="Unrecorded seconds before measuring (2)."
    )
    run.add_argument(
        "--users",
        type=int,
        default=32,
        help="Concurrent virtual users (32); with --rate, the bound on flows in flight.",
    )
    run.add_argument(
        "--rate",
        type=float,
        default=None,
        help="Open loop: start this many flows per second, each at its scheduled instant "
        "whether or not earlier flows finished (at most --users in flight; a due flow waits "
        "for a free user), and count each flow's latency from its scheduled instant, so "
        "queueing shows. Without it (default) each user starts its next flow when its last "
        "one ends, which finds the maximum rate.",
    )
    run.add_argument(
        "--clients",
        type=int,
        default=1,
        help="Client processes sharing the virtual users; histograms are merged (1). "
        "Raise it if the table shows the client near 100%% of a core.",
    )
    run.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="HTTP client: raw asyncio HTTP/1.1 (default, <0.1 ms CPU/request) or httpx "
        "(~1 ms CPU/request here: it becomes the bottleneck; for cross-checks).",
    )
    run.add_argument(
        "--db", choices=("sqlite", "postgres"), default="sqlite", help="Database (sqlite)."
    )
    run.add_argument(
        "--pg-url",
        default=DEFAULT_PG_ADMIN,
        help="PostgreSQL admin URL; the bench databases (antechamber_bench, allauth_bench) "
        f"are dropped and recreated on its server each run ({DEFAULT_PG_ADMIN}).",
    )
    run.add_argument(
        "--workers", type=int, default=1, help="Server worker processes, both servers (1)."
    )
    run.add_argument(
        "--orgs", type=int, default=1000, help="Organizations pre-loaded (1000; try 100000)."
    )
    run.add_argument(
        "--members-per-org", type=int, default=1, help="Members pre-loaded per organization (1)."
    )
    run.add_argument(
        "--peer",
        choices=("allauth", "none"),
        default="allauth",
        help="Side-by-side peer: django-allauth in bench/.venv-allauth, or none (allauth).",
    )
    run.add_argument(
        "--peer-users",
        type=int,
        default=20000,
        help="Users seeded into the peer (20000). Half have TOTP, and each can log in once "
        "per 30 s TOTP period, so this bounds the peer's MFA logins/s at users/60.",
    )
    run.add_argument(
        "--peer-threads", type=int, default=8, help="gunicorn threads per peer worker (8)."
    )
    run.add_argument(
        "--server-log-level",
        default="info",
        choices=("debug", "info", "warning", "error"),
        help="Antechamber's log level (info: production default, one access-log line per "
        "request, written to the run directory).",
    )
    run.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="Extra environment for the Antechamber server (repeatable), e.g. a rate limit "
        "setting for the benchmark.",
    )
    run.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON result path (default: bench/results/<time>-<db>-w<workers>-o<orgs>.json).",
    )
    run.add_argument(
        "--keep", action="store_true", help="Keep the run directory (databases, server logs)."
    )
    faults.add_parser(sub)
    soak.add_parser(sub, DEFAULT_PG_ADMIN)
    return parser


def _selected(spec: str) -> list[str]:
    wanted = set(ORDER) if spec == "all" else {s.strip() for s in spec.split(",") if s.strip()}
    unknown = wanted - set(ORDER)
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    wanted.add("f")
    return [k for k in ORDER if k in wanted]


def _probe(target: Target, scenario: Scenario) -> str | None:
    """Why the scenario cannot run on this server (a route is missing), or None."""
    import httpx

    from bench.scenarios import _basic

    headers = _basic(target) if target.project_id else {}
    with httpx.Client(base_url=target.base_url, headers=headers, timeout=10) as http:
        for route in scenario.routes:
            method, path = route.split(" ", 1)
            path = path.replace("{project_id}", target.project_id).replace(
                "{organization_id}", dataset.org_id(0)
            )
            r = http.request(method, path, json={} if method == "POST" else None)
            try:
                data = r.json()
            except ValueError:
                data = None
            missing = isinstance(data, dict) and (
                data.get("error_type") == "route_not_found" or data == {"detail": "Not Found"}
            )
            if r.status_code == 404 and missing:
                return f"not available yet: {route} is not served (404 route_not_found)"
    return None


def _run_target(
    running: servers.Running, keys: list[str], args: argparse.Namespace
) -> dict[str, dict[str, Any]]:
    catalogue = CATALOGUE[running.target.name]
    results: dict[str, dict[str, Any]] = {}
    for key in keys:
        scenario = catalogue.get(key)
        if scenario is None:
            continue
        problem = _probe(running.target, scenario)
        label = f"{running.target.name} {key} ({scenario.title})"
        if problem:
            print(f"{label}: {problem}", flush=True)
            outcome = driver.Outcome(None, None, unavailable=problem)
        else:
            print(f"{label}: running {args.warmup:g}+{args.duration:g} s …", flush=True)
            plan = driver.Plan(
                target=running.target,
                scenario=key,
                users=args.users,
                duration_s=args.duration,
                warmup_s=args.warmup,
                clients=args.clients,
                rate=args.rate,
            )
            outcome = driver.run(plan, running.process.pid, str(SRC))
        results[key] = report.scenario_result(scenario, outcome, args.duration, args.rate)
    if args.rate is None:  # at a fixed rate every scenario achieves about the same
        report.add_ratios(results)
    return results


def _check(args: argparse.Namespace, keys: list[str]) -> None:
    shape = Shape(args.orgs, args.members_per_org)
    if args.users < 1 or args.clients < 1 or args.workers < 1 or args.duration <= 0:
        raise SystemExit("--users, --clients, --workers and --duration must be positive")
    if args.rate is not None and not args.rate > 0:
        raise SystemExit("--rate must be positive (flows per second)")
    if (
        set(keys) & {"a", "b", "c", "d"}
        and min(shape.count("optional"), shape.count("required")) < args.users
    ):
        raise SystemExit(
            "each virtual user needs members of its own: raise --orgs or --members-per-org "
            f"(half the organizations are OPTIONAL, half REQUIRED_FOR_ALL; users={args.users})"
        )
    if args.peer == "allauth" and args.peer_users // 2 < args.users:
        raise SystemExit("--peer-users must be at least twice --users")
    if args.members_per_org > 65536:
        raise SystemExit("--members-per-org is at most 65536")


def run(args: argparse.Namespace) -> dict[str, Any]:
    keys = _selected(args.scenario)
    _check(args, keys)
    extra_env = {}
    for item in args.server_env:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--server-env wants NAME=VALUE, got {item!r}")
        extra_env[name] = value
    run_dir = Path(tempfile.mkdtemp(prefix="antechamber-bench-"))
    started = datetime.now(UTC)
    result: dict[str, Any] = {
        "meta": {
            "started_at": started.isoformat(timespec="seconds"),
            "command": "python -m bench " + " ".join(sys.argv[1:]),
            "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "machine": report.machine(),
            "run_dir": str(run_dir) if args.keep else None,
        },
        "targets": {},
    }
    shape = Shape(args.orgs, args.members_per_org)
    try:
        t0 = time.monotonic()
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
            client_kind=args.client,
            extra_env=extra_env,
        ) as running:
            print(f"antechamber: up after {time.monotonic() - t0:.1f} s", flush=True)
            result["targets"]["antechamber"] = _run_target(running, keys, args)
        if args.peer == "allauth":
            t0 = time.monotonic()
            print(f"allauth: fresh {args.db} database, {args.peer_users:,} users …", flush=True)
            with servers.AllauthPeer(
                run_dir=run_dir,
                database=args.db,
                pg_admin_url=args.pg_url,
                users=args.peer_users,
                workers=args.workers,
                threads=args.peer_threads,
                client_kind=args.client,
            ) as running:
                print(f"allauth: up after {time.monotonic() - t0:.1f} s", flush=True)
                result["targets"]["allauth"] = _run_target(running, keys, args)
        result["peer_comparison"] = report.peer_comparison(result["targets"])
    finally:
        if not args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)
    out = args.out or (
        BENCH_DIR
        / "results"
        / f"{started:%Y%m%dT%H%M%SZ}-{args.db}-w{args.workers}-o{args.orgs}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print()
    print(report.table(result))
    print(f"\nwritten: {out}")
    return result


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.command == "run":
        run(args)
    elif args.command == "scim-deprovision":
        from bench import scim_deprovision

        scim_deprovision.run(args.rounds, args.database, args.pg_admin_url)
    elif args.command == "soak":
        sys.exit(soak.run(args))
    elif args.command == "faults":
        sys.exit(faults.run(args))
    elif args.command == "limiter":
        from bench import limiter

        limiter.run([int(k) for k in args.keys.split(",")], args.seconds)


if __name__ == "__main__":
    main()
