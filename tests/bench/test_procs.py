"""CPU accounting from /proc (bench/procs.py), on a fake /proc: who is the server, which
PostgreSQL backends serve the bench database, and the CPU of backends that exited inside the
window, which /proc no longer lists at its end."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.procs import TICK, Snapshot, snapshot, tree_rss_bytes, window


def _proc(
    root: Path, pid: int, comm: str, ppid: int, cpu_ticks: int, reaped_ticks: int, title: str
) -> None:
    d = root / str(pid)
    d.mkdir()
    # pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
    # utime stime cutime cstime …
    fields = ["S", ppid, pid, pid, 0, -1, 0, 0, 0, 0, 0, cpu_ticks, 0, reaped_ticks, 0, 20]
    (d / "stat").write_text(f"{pid} ({comm}) " + " ".join(str(f) for f in fields) + "\n")
    (d / "cmdline").write_bytes(title.replace(" ", "\0").encode() + b"\0")
    (d / "statm").write_text(f"1000 {pid} 0 0 0 0 0\n")


def _machine(root: Path, busy_ticks: int) -> None:
    # cpu user nice system idle iowait irq softirq steal
    (root / "stat").write_text(f"cpu  {busy_ticks} 0 0 5000 0 0 0 7\ncpu0 …\n")


def _fake_proc(root: Path, *, backend_ticks: int, reaped_ticks: int, busy: int) -> Path:
    root.mkdir()
    _machine(root, busy)
    _proc(root, 1, "init", 0, 0, 0, "/sbin/init")
    _proc(root, 100, "python", 1, 50, 0, "python -m antechamber serve")
    _proc(root, 101, "python", 100, 400, 0, "python -m antechamber serve worker")
    _proc(root, 200, "postgres", 1, 10, reaped_ticks, "/usr/lib/postgresql/15/bin/postgres -D x")
    _proc(root, 201, "postgres", 200, 5, 0, "postgres: 15/main: checkpointer ")
    _proc(
        root,
        202,
        "postgres",
        200,
        backend_ticks,
        0,
        "postgres: 15/main: postgres antechamber_bench 127.0.0.1(5000) idle",
    )
    _proc(
        root, 203, "postgres", 200, 70, 0, "postgres: 15/main: postgres test 127.0.0.1(5001) idle"
    )
    return root


def test_the_snapshot_finds_the_server_tree_the_bench_backends_and_their_postmaster(
    tmp_path: Path,
) -> None:
    proc = _fake_proc(tmp_path / "proc", backend_ticks=30, reaped_ticks=0, busy=1000)
    snap = snapshot(100, "antechamber_bench", proc)
    assert set(snap.tree) == {100, 101}
    assert set(snap.backends) == {202}  # not the checkpointer, not another database's backend
    assert snap.backend_parents == {202: 200}
    assert set(snap.postmasters) == {200}
    assert snap.steal_s == pytest.approx(7 / TICK)
    assert tree_rss_bytes(100, proc) > 0


def test_backends_that_exited_in_the_window_count_in_their_databases_share(
    tmp_path: Path,
) -> None:
    before = snapshot(
        100,
        "antechamber_bench",
        _fake_proc(tmp_path / "a", backend_ticks=30, reaped_ticks=0, busy=1000),
    )
    # One second later: the live backend used 10 ticks, and backends that exited in the
    # window (gone from /proc) used 300 ticks, which the postmaster has reaped.
    after = snapshot(
        100,
        "antechamber_bench",
        _fake_proc(tmp_path / "b", backend_ticks=40, reaped_ticks=100, busy=1000 + 2 * TICK),
    )
    # Sessions opened in the window: 30 to the bench database, 10 to others.
    before.sessions, after.sessions = (100, 500), (130, 540)
    cpu = window(before, after, wall_s=1.0, client_cpu_s=0.0, cores=2)
    exited = 100 / TICK * 30 / 40
    assert cpu.postgres_exited_pct == pytest.approx(100 * exited, abs=0.1)
    assert cpu.postgres_pct == pytest.approx(100 * (10 / TICK + exited), abs=0.1)
    assert cpu.pg_sessions_per_s == 30
    assert cpu.pg_other_sessions == 10
    # What pg% now holds is no longer counted as other people's work.
    assert cpu.other_pct == pytest.approx(200 - cpu.postgres_pct, abs=0.2)


def test_without_session_counts_no_exited_backend_is_attributed() -> None:
    before, after = Snapshot(), Snapshot()
    before.backend_parents = after.backend_parents = {202: 200}
    before.postmasters, after.postmasters = {200: (0.0, 0.0)}, {200: (0.0, 3.0)}
    cpu = window(before, after, wall_s=1.0, client_cpu_s=0.0, cores=2)
    assert cpu.postgres_pct == 0.0
