"""`python -m bench soak` runs end to end: a mixed load at a fixed rate against a real server,
the server's memory sampled, the result written and the exit status set. Seconds, not
minutes, and a tiny rate: a smoke test of the command (the lead runs the 30-minute soak)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench.__main__ import main
from bench.soak import rss_summary, slope_per_hour


def test_a_short_soak_reports_each_scenario_and_the_servers_memory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "soak.json"
    with pytest.raises(SystemExit) as exited:
        main(
            [
                "soak",
                "--duration",
                "2.5",
                "--rate",
                "8",
                "--users",
                "4",
                "--orgs",
                "20",
                "--sample-every",
                "0.5",
                "--rss-warmup",
                "0.5",
                "--server-log-level",
                "warning",
                "--out",
                str(out),
            ]
        )
    result = json.loads(out.read_text())
    assert exited.value.code == 0, result
    assert result["ok"] is True
    assert result["errors"] == 0
    assert result["http_5xx"] == 0
    assert set(result["scenarios"]) == {"a", "b", "c", "d"}
    assert result["flows"] == sum(s["completed"] for s in result["scenarios"].values())
    assert result["rate"]["offered_per_s"] == 8
    assert result["rate"]["due"] == 20  # 2.5 s at 8/s
    for scenario in result["scenarios"].values():
        assert set(scenario["latency_ms"]) == {"p50", "p95", "p99", "max", "mean"}
    rss = result["rss"]
    assert len(rss["samples"]) >= 5
    assert rss["start_mb"] > 0
    assert rss["end_mb"] > 0
    assert rss["slope_mb_per_hour"] is not None
    printed = capsys.readouterr().out
    assert "server RSS (process tree)" in printed
    assert "MB/hour" in printed


def test_the_rss_slope_is_the_least_squares_line_after_the_warmup() -> None:
    # 1 MB a minute after the warm-up, noise around it; the warm-up's jump is left out.
    samples = [(0.0, 100.0), (30.0, 150.0)] + [
        (60.0 + 60 * i, 160.0 + i + (0.5 if i % 2 else -0.5)) for i in range(10)
    ]
    assert slope_per_hour(samples[2:]) == pytest.approx(60.0, rel=0.05)
    summary = rss_summary(samples, warmup_s=60.0)
    assert summary["start_mb"] == 100.0
    assert summary["after_warmup_mb"] == 159.5
    assert summary["slope_mb_per_hour"] == pytest.approx(60.0, rel=0.05)
    assert summary["samples_in_slope"] == 10
    assert slope_per_hour([(5.0, 1.0)]) is None


def test_a_soak_with_failed_flows_exits_non_zero(tmp_path: Path) -> None:
    # A project allowed two emails an hour: the virtual users' first logins take both, so
    # every login of the soak is refused (429).
    out = tmp_path / "soak.json"
    with pytest.raises(SystemExit) as exited:
        main(
            [
                "soak",
                "--duration",
                "1.5",
                "--rate",
                "4",
                "--users",
                "2",
                "--orgs",
                "20",
                "--mix",
                "a=1",
                "--sample-every",
                "0.5",
                "--server-log-level",
                "warning",
                "--server-env",
                "ANTECHAMBER_LIMIT_EMAIL_PER_PROJECT=2/hour",
                "--out",
                str(out),
            ]
        )
    assert exited.value.code == 1
    result = json.loads(out.read_text())
    assert result["ok"] is False
    assert result["errors"] > 0
    assert any("429" in what for what in result["scenarios"]["a"]["errors"])
