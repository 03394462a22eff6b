"""The benchmark command runs end to end: it starts a server, drives the scenarios that exist,
and writes the JSON result. No timing is asserted: speed is measured, never tested."""

from __future__ import annotations

import json
from pathlib import Path

from bench.__main__ import main
from bench.histogram import Histogram


def test_the_command_runs_the_baseline_and_writes_the_result(
    tmp_path: Path, capsys: object
) -> None:
    out = tmp_path / "result.json"
    main(
        [
            "run",
            "--scenario",
            "e,f",
            "--duration",
            "1",
            "--warmup",
            "0.2",
            "--users",
            "4",
            "--orgs",
            "20",
            "--peer",
            "none",
            "--server-log-level",
            "warning",
            "--out",
            str(out),
        ]
    )
    result = json.loads(out.read_text())
    assert set(result) == {"meta", "targets", "peer_comparison"}
    assert {"machine", "options", "command", "started_at"} <= set(result["meta"])
    scenarios = result["targets"]["antechamber"]
    assert set(scenarios) == {"e", "f"}
    baseline = scenarios["f"]
    assert baseline["available"] is True
    assert baseline["flows"]["completed"] > 0
    assert baseline["flows"]["failed"] == 0
    assert set(baseline["flows"]["latency_ms"]) == {"p50", "p95", "p99", "max", "mean"}
    assert "GET /healthz" in baseline["routes"]
    assert baseline["ratio_to_baseline"] == 1.0
    assert {"server_pct", "client_pct", "other_pct"} <= set(baseline["cpu_pct_of_one_core"])
    # JWKS runs once sessions land; until then it is reported, not failed.
    jwks = scenarios["e"]
    assert jwks["available"] is True or "not available yet" in jwks["reason"]


def test_histogram_percentiles_are_within_one_percent() -> None:
    h = Histogram()
    for us in range(1, 100_001):
        h.record(us / 1_000_000)
    assert abs(h.percentile(50) - 50.0) / 50.0 < 0.01
    assert abs(h.percentile(99) - 99.0) / 99.0 < 0.01
    other = Histogram()
    other.record(0.5)
    h.merge(other)
    assert h.n == 100_001
    assert h.max_us == 500_000


def test_at_a_fixed_rate_the_command_reports_the_rate_achieved(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    main(
        [
            "run",
            "--scenario",
            "f",
            "--rate",
            "20",
            "--duration",
            "1",
            "--warmup",
            "0.2",
            "--users",
            "4",
            "--orgs",
            "20",
            "--peer",
            "none",
            "--server-log-level",
            "warning",
            "--out",
            str(out),
        ]
    )
    baseline = json.loads(out.read_text())["targets"]["antechamber"]["f"]
    assert baseline["flows"]["failed"] == 0
    assert baseline["flows"]["http_5xx"] == 0
    loop = baseline["open_loop"]
    assert loop["offered_per_s"] == 20
    assert loop["due_in_window"] == 20  # one second at 20/s, whatever the server did
    assert loop["achieved_per_s"] == baseline["flows"]["per_s"]
    # The wait for a free user is reported beside the routes: it is part of each latency.
    assert "client: due flow waited for a free user" in baseline["routes"]
