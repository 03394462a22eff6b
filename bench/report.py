"""Turning outcomes into the JSON result and the table on stdout."""

from __future__ import annotations

import os
import platform
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.driver import Outcome
from bench.scenarios import Scenario


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = 0.0
    try:
        first = Path("/proc/meminfo").read_text().splitlines()[0]
        mem_gb = round(int(first.split()[1]) / 1024 / 1024, 1)
    except (OSError, IndexError, ValueError):
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": mem_gb,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": list(os.getloadavg()),
    }


def scenario_result(
    scenario: Scenario, outcome: Outcome, duration_s: float, rate: float | None = None
) -> dict[str, Any]:
    base: dict[str, Any] = {"key": scenario.key, "title": scenario.title}
    if outcome.recorder is None or outcome.cpu is None:
        return {**base, "available": False, "reason": outcome.unavailable}
    rec = outcome.recorder
    flows = rec.flows.n
    server_cpu_s = outcome.cpu.server_pct / 100 * duration_s
    postgres_cpu_s = outcome.cpu.postgres_pct / 100 * duration_s
    result = {
        **base,
        "available": True,
        "flows": {
            "completed": flows,
            "failed": sum(rec.flow_errors.values()),
            "per_s": round(flows / duration_s, 1),
            "latency_ms": rec.flows.summary(),
            "http_5xx": rec.http_5xx,
        },
        "routes": {
            name: {
                "count": hist.n,
                "per_s": round(hist.n / duration_s, 1),
                "latency_ms": hist.summary(),
            }
            for name, hist in sorted(rec.routes.items())
        },
        "errors": {
            **dict(rec.route_errors),
            **{f"flow: {k}": v for k, v in rec.flow_errors.items()},
        },
        "cpu_pct_of_one_core": asdict(outcome.cpu),
        # Server CPU per completed flow: what a flow costs the server whatever the machine's
        # share between client and server; capacity on C dedicated cores ≈ C / this.
        "server_cpu_ms_per_flow": round(1000 * server_cpu_s / flows, 3) if flows else None,
        "postgres_cpu_ms_per_flow": round(1000 * postgres_cpu_s / flows, 3) if flows else None,
    }
    if rate is not None:
        # Open loop: flows/s above is the achieved rate; latencies count from each flow's
        # scheduled instant.
        result["open_loop"] = {
            "offered_per_s": rate,
            "achieved_per_s": round(flows / duration_s, 1),
            "due_in_window": rec.offered,
            "not_started_at_end": rec.backlog,
        }
    return result


def add_ratios(results: dict[str, dict[str, Any]]) -> None:
    """Each flow's throughput as a ratio to its own stack's baseline (scenario f)."""
    baseline = results.get("f", {})
    base_rate = baseline.get("flows", {}).get("per_s") if baseline.get("available") else None
    for result in results.values():
        if result.get("available") and base_rate:
            result["ratio_to_baseline"] = round(result["flows"]["per_s"] / base_rate, 4)


def peer_comparison(targets: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """Antechamber's throughput over the peer's, scenario by scenario, where both ran."""
    ours, peer = targets.get("antechamber", {}), targets.get("allauth", {})
    out: dict[str, Any] = {}
    for key in ("f", "a", "b", "c"):
        a, b = ours.get(key, {}), peer.get(key, {})
        if a.get("available") and b.get("available") and b["flows"]["per_s"]:
            out[key] = {
                "antechamber_per_s": a["flows"]["per_s"],
                "allauth_per_s": b["flows"]["per_s"],
                "antechamber_over_allauth": round(a["flows"]["per_s"] / b["flows"]["per_s"], 3),
            }
    return out


def _fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def table(result: dict[str, Any]) -> str:
    lines = []
    rate = result["meta"].get("options", {}).get("rate")
    if rate:
        lines.append(
            f"open loop: {rate:g} flows/s offered to each scenario; flows/s is the rate "
            "achieved, latencies count from each flow's scheduled start (queueing included)"
        )
    head = (
        f"{'target':<12} {'scenario':<52} {'flows/s':>9} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'failed':>7} {'×base':>7} {'srv ms/flow':>11} "
        f"{'srv%':>6} {'pg%':>5} {'cli%':>6} {'oth%':>6}"
    )
    lines += [head, "-" * len(head)]
    for target, scenarios in result["targets"].items():
        for r in scenarios.values():
            label = f"{r['key']}  {r['title']}"[:52]
            if not r.get("available"):
                lines.append(f"{target:<12} {label:<52} {r.get('reason')}")
                continue
            f, cpu = r["flows"], r["cpu_pct_of_one_core"]
            lat = f["latency_ms"]
            lines.append(
                f"{target:<12} {label:<52} {_fmt(f['per_s']):>9} {lat['p50']:>8.2f} "
                f"{lat['p95']:>8.2f} {lat['p99']:>8.2f} {f['failed']:>7} "
                f"{_fmt(r.get('ratio_to_baseline'), 3):>7} "
                f"{_fmt(r['server_cpu_ms_per_flow'], 3):>11} {cpu['server_pct']:>6.0f} "
                f"{cpu['postgres_pct']:>5.0f} {cpu['client_pct']:>6.0f} {cpu['other_pct']:>6.0f}"
            )
    lines.append(
        "CPU columns: % of one core over the window (the machine has "
        f"{result['meta']['machine']['cpus']}); srv = server process tree, pg = PostgreSQL, "
        "cli = driver, oth = everything else on the machine (other people's work)."
    )
    lines.append("")
    lines.append(
        "per route (requests completed in the window; 'outbox:'/'mailbox:' rows are the "
        "driver reading messages, not server routes)"
    )
    for target, scenarios in result["targets"].items():
        for r in scenarios.values():
            if not r.get("available"):
                continue
            for name, route in r["routes"].items():
                lat = route["latency_ms"]
                lines.append(
                    f"  {target:<12} {r['key']}  {name:<56} {route['per_s']:>9,.1f}/s "
                    f"p50 {lat['p50']:>7.2f}  p95 {lat['p95']:>7.2f}  p99 {lat['p99']:>7.2f}"
                )
            cpu = r["cpu_pct_of_one_core"]
            if cpu.get("pg_sessions_per_s") or cpu.get("postgres_exited_pct"):
                lines.append(
                    f"  {target:<12} {r['key']}  postgres: {cpu['pg_sessions_per_s']:,.1f} "
                    f"connections opened/s; backends that exited in the window "
                    f"{cpu['postgres_exited_pct']:.0f}% of a core (in pg%); "
                    f"{cpu.get('pg_other_sessions', 0)} sessions to other databases"
                )
            loop = r.get("open_loop")
            if loop:
                lines.append(
                    f"  {target:<12} {r['key']}  open loop: {loop['offered_per_s']:g}/s offered, "
                    f"{loop['achieved_per_s']:,.1f}/s achieved; {loop['due_in_window']} flows due "
                    f"in the window, {loop['not_started_at_end']} still waiting for a free user "
                    "at its end"
                )
            for what, count in r["errors"].items():
                lines.append(f"  {target:<12} {r['key']}  error ×{count}: {what}")
    if result.get("peer_comparison"):
        lines.append("")
        lines.append("antechamber ÷ allauth (throughput):")
        for key, c in result["peer_comparison"].items():
            lines.append(
                f"  {key}: {c['antechamber_per_s']:,.1f}/s vs {c['allauth_per_s']:,.1f}/s "
                f"= {c['antechamber_over_allauth']:.2f}×"
            )
    return "\n".join(lines)
