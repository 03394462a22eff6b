"""`python -m bench scim-deprovision` runs end to end against a real server (one round; the
time is printed, never asserted: speed is measured, not tested)."""

from __future__ import annotations

import pytest
from bench.__main__ import main


def test_scim_deprovision_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    main(["scim-deprovision", "--rounds", "1"])
    out = capsys.readouterr().out
    assert "SCIM deprovision → first refusal (sqlite, 1 rounds, no polling)" in out
    assert "round   0: token refused after" in out
