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


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, utime+stime seconds) of a process, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may contain spaces; fields follow the last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds used so far by `root` and its live descendants (uvicorn/gunicorn workers)."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        st = _stat(int(entry.name))
        if st is not None:
            parents[int(entry.name)], cpu[int(entry.name)] = st
    total = 0.0
    for pid, seconds in cpu.items():
        p = pid
        for _ in range(64):  # bounded walk up the tree
            if p == root:
                total += seconds
                break
            p = parents.get(p, 0)
            if p <= 1:
                break
    return total


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
    client_pct: float
    other_pct: float
    machine_pct: float
    cores: int


class CpuMeter:
    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self._server = [0.0, 0.0]
        self._busy = [0.0, 0.0]

    def start(self) -> None:
        self._server[0] = tree_cpu_seconds(self.server_pid)
        self._busy[0] = machine_busy_seconds()[0]

    def end(self) -> None:
        """Taken at the end of the window, before the clients report (which takes a while)."""
        self._server[1] = tree_cpu_seconds(self.server_pid)
        self._busy[1] = machine_busy_seconds()[0]

    def window(self, wall_s: float, client_cpu_s: float) -> CpuWindow:
        server = self._server[1] - self._server[0]
        busy = self._busy[1] - self._busy[0]
        wall = max(wall_s, 1e-9)
        return CpuWindow(
            server_pct=round(100 * server / wall, 1),
            client_pct=round(100 * client_cpu_s / wall, 1),
            other_pct=round(100 * max(0.0, busy - server - client_cpu_s) / wall, 1),
            machine_pct=round(100 * busy / wall, 1),
            cores=os.cpu_count() or 1,
        )
