"""`python -m bench faults` runs end to end on its own PostgreSQL and Redis (never the
machine's), injects its four faults and makes its checks. Short and small: a smoke test of
the command, not the figures (docs/operations.md records a full run). The safety checks must
hold even here; recovery and duplicate deliveries depend on timing and are only reported."""

from __future__ import annotations

import glob
import os
import shutil

import pytest
from bench.__main__ import _parser

from bench import faults

needs = pytest.mark.skipif(
    not glob.glob("/usr/lib/postgresql/*/bin/initdb")
    or shutil.which("redis-server") is None
    or (os.geteuid() == 0 and shutil.which("runuser") is None),
    reason="needs PostgreSQL's binaries (initdb, pg_ctl) and redis-server",
)


@needs
def test_the_faults_command_runs_and_its_safety_checks_hold(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = _parser().parse_args(
        ["faults", "--orgs", "60", "--concurrency", "4", "--calibrate", "2", "--gap", "3"]
    )
    checks = {name: ok for name, ok, _ in faults.execute(args)}
    out = capsys.readouterr().out
    for fault in (
        "server worker SIGKILL",
        "delivery worker SIGKILL",
        "PostgreSQL crash and restart",
        "Redis connections filled",
    ):
        assert fault in out
    assert checks["no magic link, code or IST redeemed twice"]
    assert checks["every message queued delivered (none lost, none given up)"]
    assert checks["no session without its factors"]
    assert checks["every client saw a clear error or success (no hang)"]
    assert "recovered without a manual step" in checks
