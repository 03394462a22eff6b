"""CPU accounting from /proc: a server's process tree, its PostgreSQL backends, the machine.

The benchmark machine has 2 cores shared by the server, the driver and (right now) other
people's test runs, so every scenario records who used the CPU: the server tree, the client
processes, and everything else. A server at 100% of its cores is the bottleneck; a client
near a full core, or a large "other" share, means the figure is not the server's.

PostgreSQL backends come and go: a connection pool smaller than the server's concurrency
opens and closes connections all the time, and each closed connection's backend exits. A
process that exits inside the window is no longer in /proc at its end, so counting live
backends alone misses them (this made **pg%** read near 0 while the backends' CPU showed up
as **oth%**). The kernel adds an exited child's CPU to its parent's `cutime`/`cstime` when the
parent reaps it, and every backend is a child of the postmaster: the postmaster's reaped CPU
over the window is the CPU of the backends that exited in it. It is shared between the
databases in proportion to the sessions each opened in the window (`pg_stat_database.sessions`),
since the postmaster also serves other people's test databases.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TICK = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


@dataclass(frozen=True)
class ProcStat:
    comm: str
    ppid: int
    cpu_s: float  # utime + stime
    reaped_s: float  # cutime + cstime: CPU of children that exited and were reaped


def _stat(pid: int, proc: Path = PROC) -> ProcStat | None:
    """A process's /proc/<pid>/stat figures, or None if it is gone."""
    try:
        raw = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may contain spaces; fields follow the last ')'.
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    return ProcStat(
        comm=comm,
        ppid=int(fields[1]),
        cpu_s=(int(fields[11]) + int(fields[12])) / TICK,
        reaped_s=(int(fields[13]) + int(fields[14])) / TICK,
    )


def _serves(pid: int, database: str, proc: Path = PROC) -> bool:
    """Whether a PostgreSQL backend serves `database`: its title is
    `postgres: <cluster>: <user> <database> <client>(<port>) <state>`."""
    try:
        title = (proc / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    return f" {database} " in title


@dataclass
class Snapshot:
    """CPU seconds used so far, per process, at one instant."""

    # `root`'s tree (uvicorn/gunicorn master and workers)
    tree: dict[int, float] = field(default_factory=dict)
    # live PostgreSQL backends serving the bench database
    backends: dict[int, float] = field(default_factory=dict)
    # pid → parent pid of those backends (their postmaster)
    backend_parents: dict[int, int] = field(default_factory=dict)
    # every process named postgres whose parent is not: pid → (own CPU, reaped children's CPU)
    postmasters: dict[int, tuple[float, float]] = field(default_factory=dict)
    # pg_stat_database.sessions: (the bench database's, all databases'), when it could be read
    sessions: tuple[int, int] | None = None
    busy_s: float = 0.0
    # /proc/stat: system + irq + softirq, and steal (time the hypervisor gave to others)
    kernel_s: float = 0.0
    steal_s: float = 0.0


def snapshot(root: int, pg_database: str | None, proc: Path = PROC) -> Snapshot:
    """Every figure the window needs, read as close together as /proc allows."""
    snap = Snapshot()
    stats: dict[int, ProcStat] = {}
    for entry in proc.iterdir():
        if entry.name.isdigit():
            st = _stat(int(entry.name), proc)
            if st is not None:
                stats[int(entry.name)] = st
    for pid, st in stats.items():
        if st.comm == "postgres":
            parent = stats.get(st.ppid)
            if parent is None or parent.comm != "postgres":
                snap.postmasters[pid] = (st.cpu_s, st.reaped_s)
            elif pg_database and _serves(pid, pg_database, proc):
                snap.backends[pid] = st.cpu_s
                snap.backend_parents[pid] = st.ppid
        p = pid
        for _ in range(64):  # bounded walk up the tree
            if p == root:
                snap.tree[pid] = st.cpu_s
                break
            p = stats[p].ppid if p in stats else 0
            if p <= 1:
                break
    snap.busy_s, snap.kernel_s, snap.steal_s = machine_seconds(proc)
    return snap


def tree_rss_bytes(root: int, proc: Path = PROC) -> int:
    """Resident memory of `root` and every process below it (pages shared between a master
    and its forked workers count once per process, as `ps` shows them)."""
    parents: dict[int, int] = {}
    for entry in proc.iterdir():
        if entry.name.isdigit():
            st = _stat(int(entry.name), proc)
            if st is not None:
                parents[int(entry.name)] = st.ppid
    total = 0
    page = os.sysconf("SC_PAGE_SIZE")
    for pid in parents:
        p = pid
        for _ in range(64):
            if p == root:
                try:
                    resident = int((proc / str(pid) / "statm").read_text().split()[1])
                except (OSError, IndexError, ValueError):
                    break  # gone in the meantime
                total += resident * page
                break
            p = parents.get(p, 0)
            if p <= 1:
                break
    return total


def _delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used in the window by processes alive at its end (new ones count from zero)."""
    return sum(max(0.0, v - before.get(pid, 0.0)) for pid, v in after.items())


def machine_seconds(proc: Path = PROC) -> tuple[float, float, float]:
    """(busy, kernel, steal) CPU seconds of the whole machine since boot, summed over cores.
    Busy leaves out idle, iowait and steal: stolen time is the hypervisor running someone
    else's machine, not work done on this one."""
    fields = [int(x) for x in (proc / "stat").read_text().split("\n", 1)[0].split()[1:]]
    fields += [0] * (8 - len(fields))
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    busy = user + nice + system + irq + softirq
    return busy / TICK, (system + irq + softirq) / TICK, steal / TICK


class SessionCounter:
    """Sessions opened so far (`pg_stat_database.sessions`): (to `database`, to all databases).

    One connection held from the first reading to the last, so the counter's own session is
    not opened or closed inside the window it measures."""

    def __init__(self, url: str, database: str) -> None:
        self.url = url
        self.database = database
        self._conn: Any = None

    def read(self) -> tuple[int, int] | None:
        try:
            if self._conn is None:
                import psycopg

                self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5)
            row = self._conn.execute(
                "SELECT coalesce(sum(sessions) FILTER (WHERE datname = %s), 0),"
                " coalesce(sum(sessions), 0) FROM pg_stat_database",
                (self.database,),
            ).fetchone()
        except Exception:  # accounting must never fail a run; the share falls back to 0
            return None
        return (int(row[0]), int(row[1])) if row else None

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None


@dataclass
class CpuWindow:
    """CPU use over one measured window, as % of one core."""

    server_pct: float
    # PostgreSQL backends serving the bench database, live ones and those that exited in the
    # window (0 with SQLite, which runs in the server; background writers are not counted)
    postgres_pct: float
    client_pct: float
    other_pct: float
    machine_pct: float
    cores: int
    # of postgres_pct: backends that exited in the window, and the postmaster forking them
    postgres_exited_pct: float = 0.0
    # connections opened to the bench database per second (a pool too small for the load
    # shows here), and to other databases in the window (the attribution is a share then)
    pg_sessions_per_s: float = 0.0
    pg_other_sessions: int = 0
    # the whole machine's kernel time (system + irq + softirq), and time stolen by the host
    kernel_pct: float = 0.0
    steal_pct: float = 0.0


def window(
    before: Snapshot, after: Snapshot, wall_s: float, client_cpu_s: float, cores: int
) -> CpuWindow:
    """The CPU of one window from its two snapshots."""
    wall = max(wall_s, 1e-9)
    server = _delta(before.tree, after.tree)
    live_pg = _delta(before.backends, after.backends)
    # The postmasters of the bench database's backends, seen at either end.
    ours = set(before.backend_parents.values()) | set(after.backend_parents.values())
    forked = 0.0
    for pid in ours & set(before.postmasters) & set(after.postmasters):
        own0, reaped0 = before.postmasters[pid]
        own1, reaped1 = after.postmasters[pid]
        forked += max(0.0, own1 - own0) + max(0.0, reaped1 - reaped0)
    share, ours_opened, others_opened = 0.0, 0, 0
    if before.sessions is not None and after.sessions is not None:
        ours_opened = max(0, after.sessions[0] - before.sessions[0])
        all_opened = max(0, after.sessions[1] - before.sessions[1])
        others_opened = max(0, all_opened - ours_opened)
        share = ours_opened / all_opened if all_opened else 0.0
    exited = forked * share
    postgres = live_pg + exited
    busy = after.busy_s - before.busy_s
    return CpuWindow(
        server_pct=round(100 * server / wall, 1),
        postgres_pct=round(100 * postgres / wall, 1),
        client_pct=round(100 * client_cpu_s / wall, 1),
        other_pct=round(100 * max(0.0, busy - server - postgres - client_cpu_s) / wall, 1),
        machine_pct=round(100 * busy / wall, 1),
        cores=cores,
        postgres_exited_pct=round(100 * exited / wall, 1),
        pg_sessions_per_s=round(ours_opened / wall, 1),
        pg_other_sessions=others_opened,
        kernel_pct=round(100 * (after.kernel_s - before.kernel_s) / wall, 1),
        steal_pct=round(100 * (after.steal_s - before.steal_s) / wall, 1),
    )


class CpuMeter:
    """Two snapshots around a window; with `pg_url` (a URL of the bench database) it also
    attributes the backends that exited in the window."""

    def __init__(
        self, server_pid: int, pg_database: str | None = None, pg_url: str | None = None
    ) -> None:
        self.server_pid = server_pid
        self.pg_database = pg_database
        self._sessions = SessionCounter(pg_url, pg_database) if pg_url and pg_database else None
        self._snaps = [Snapshot(), Snapshot()]

    def _take(self) -> Snapshot:
        sessions = self._sessions.read() if self._sessions else None
        snap = snapshot(self.server_pid, self.pg_database)
        snap.sessions = sessions
        return snap

    def start(self) -> None:
        self._snaps[0] = self._take()

    def end(self) -> None:
        """Taken at the end of the window, before the clients report (which takes a while)."""
        self._snaps[1] = self._take()
        if self._sessions:
            self._sessions.close()

    def window(self, wall_s: float, client_cpu_s: float) -> CpuWindow:
        return window(self._snaps[0], self._snaps[1], wall_s, client_cpu_s, os.cpu_count() or 1)
