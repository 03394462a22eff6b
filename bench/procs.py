"""CPU accounting from /proc: a server's process tree, and the whole machine.

The benchmark machine has 2 cores shared by the server, the driver and (right now) other
people's test runs, so every scenario records who used the CPU: the server tree, the client
processes, and everything else. A server at 100% of its cores is the bottleneck; a client
near a full core, or a large "other" share, means the figure is not the server's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[str, int, float] | None:
    """(command, parent pid, utime+stime seconds) of a process, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may contain spaces; fields follow the last ')'.
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    return comm, int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def _serves(pid: int, database: str) -> bool:
    """Whether a PostgreSQL backend serves `database` (its title names the database)."""
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    return f" {database} " in title


def cpu_by_process(root: int, pg_database: str | None) -> tuple[dict[int, float], dict[int, float]]:
    """CPU seconds used so far by each process of `root`'s tree (uvicorn/gunicorn workers),
    and by each PostgreSQL backend serving `pg_database` (the machine's PostgreSQL also
    serves other people's test databases, which must not count).
    Per process, so a process that ends inside the window cannot make a total go down."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    postgres: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        st = _stat(pid)
        if st is not None:
            comm, parents[pid], cpu[pid] = st
            if pg_database and comm == "postgres" and _serves(pid, pg_database):
                postgres[pid] = cpu[pid]
    tree: dict[int, float] = {}
    for pid, seconds in cpu.items():
        p = pid
        for _ in range(64):  # bounded walk up the tree
            if p == root:
                tree[pid] = seconds
                break
            p = parents.get(p, 0)
            if p <= 1:
                break
    return tree, postgres


def _delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used in the window by processes alive at its end (new ones count from zero)."""
    return sum(max(0.0, v - before.get(pid, 0.0)) for pid, v in after.items())


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, summed over cores."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])
    return (total - idle) / TICK, total / TICK


@dataclass
class CpuWindow:
    """CPU use over one measured window, as % of one core."""

    server_pct: float
    # PostgreSQL backends serving the bench database (0 with SQLite, which runs in the server;
    # PostgreSQL's background writers are not counted)
    postgres_pct: float
    client_pct: float
    other_pct: float
    machine_pct: float
    cores: int


class CpuMeter:
    def __init__(self, server_pid: int, pg_database: str | None = None) -> None:
        self.server_pid = server_pid
        self.pg_database = pg_database
        empty: dict[int, float] = {}
        self._server = [empty, empty]
        self._postgres = [empty, empty]
        self._busy = [0.0, 0.0]

    def start(self) -> None:
        self._server[0], self._postgres[0] = cpu_by_process(self.server_pid, self.pg_database)
        self._busy[0] = machine_busy_seconds()[0]

    def end(self) -> None:
        """Taken at the end of the window, before the clients report (which takes a while)."""
        self._server[1], self._postgres[1] = cpu_by_process(self.server_pid, self.pg_database)
        self._busy[1] = machine_busy_seconds()[0]

    def window(self, wall_s: float, client_cpu_s: float) -> CpuWindow:
        server = _delta(*self._server)
        postgres = _delta(*self._postgres)
        busy = self._busy[1] - self._busy[0]
        wall = max(wall_s, 1e-9)
        return CpuWindow(
            server_pct=round(100 * server / wall, 1),
            postgres_pct=round(100 * postgres / wall, 1),
            client_pct=round(100 * client_cpu_s / wall, 1),
            other_pct=round(100 * max(0.0, busy - server - postgres - client_cpu_s) / wall, 1),
            machine_pct=round(100 * busy / wall, 1),
            cores=os.cpu_count() or 1,
        )
