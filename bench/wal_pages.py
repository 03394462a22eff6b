"""The WAL frames (pages) a request's commits write, and the b-trees (tables, indexes) they
belong to: `asgi_routes` with WAL_PAGES=1 calls `checkpoint` before each measured request and
`count` after it.

A truncating checkpoint empties the WAL, so after the request the WAL holds exactly the frames
its units of work wrote: a 32-byte header, then a 24-byte header and a page per frame (the
header's first word the page number, its second the database's size in pages on a commit's last
frame, else 0). `dbstat` names the b-tree of each page; a page new since the last checkpoint is
named too, since the lookup reads the database as the WAL shows it.
"""

from __future__ import annotations

import os
import re
import sqlite3
import struct
from collections import Counter
from pathlib import Path

from sqlalchemy import Engine, event

#: WAL_PAGES=2: also list the statements (first 110 characters) and how often each ran.
VERBOSE = os.environ.get("WAL_PAGES") == "2"
_LITERAL = re.compile(r"'[^']*'|\b\d+(\.\d+)?\b")
_frames: dict[str, list[int]] = {}
_commits: dict[str, list[int]] = {}
_trees: dict[str, Counter[str]] = {}
_statements: dict[str, Counter[str]] = {}
#: Every measured request's frames in order, one list of page numbers per request.
_history: list[list[int]] = []
_traced: list[str] = []
_engines: set[int] = set()


def _trace(engine: Engine) -> None:
    """Every statement SQLite runs (`set_trace_callback`) goes to `_traced`: the pool is emptied
    so that each connection is opened again with the callback."""
    if id(engine) in _engines:
        return
    _engines.add(id(engine))

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        dbapi_conn.set_trace_callback(_traced.append)

    engine.dispose()


def _path(engine: Engine) -> str:
    path = engine.url.database
    assert path, "WAL_PAGES needs a database file"
    return path


def checkpoint(engine: Engine) -> None:
    """Empty the WAL (every pooled connection is idle between requests, so nothing blocks it)."""
    _trace(engine)
    with sqlite3.connect(_path(engine)) as conn:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0, "a reader kept the checkpoint from truncating the WAL"
    _traced.clear()


def count(engine: Engine, route: str) -> None:
    """Read the frames the request wrote and name the b-tree of each page."""
    path = _path(engine)
    raw = Path(path + "-wal").read_bytes()
    page_size = struct.unpack(">I", raw[8:12])[0] if raw else 4096
    pages: list[int] = []
    commits = 0
    for at in range(32, len(raw), 24 + page_size):
        number, size_after = struct.unpack(">II", raw[at : at + 8])
        pages.append(number)
        commits += size_after != 0
    statements = _statements.setdefault(route, Counter())
    for sql in _traced:
        statements[_LITERAL.sub("?", " ".join(sql.split()))[:110]] += 1
    _history.append(pages)
    _frames.setdefault(route, []).append(len(pages))
    _commits.setdefault(route, []).append(commits)
    if not pages:
        return
    with sqlite3.connect(path) as conn:
        names = dict(conn.execute("SELECT pageno, name FROM dbstat").fetchall())
    trees = _trees.setdefault(route, Counter())
    for number in pages:
        trees[names.get(number, "(free or header page)" if number != 1 else "sqlite_schema")] += 1


def checkpoint_copies(limit: int) -> tuple[int, float]:
    """Replay the measured requests' frames as one WAL checkpointed by SQLite's automatic
    checkpoint at `limit` pages (after the commit that passes it): the number of checkpoints,
    and the pages they copy to the database file per frame written (a page written by many
    commits between two checkpoints is copied once)."""
    checkpoints = copied = frames = 0
    window: set[int] = set()
    size = 0
    for pages in _history:
        window.update(pages)
        size += len(pages)
        frames += len(pages)
        if size >= limit:
            checkpoints += 1
            copied += len(window)
            window, size = set(), 0
    return checkpoints, copied / max(frames, 1)


def report() -> None:
    for limit in (1000, 2000, 4000):
        checkpoints, per_frame = checkpoint_copies(limit)
        print(
            f"wal_autocheckpoint={limit}: {checkpoints} checkpoints,"
            f" {per_frame:.2f} pages copied per frame written"
        )
    for route, frames in _frames.items():
        n = len(frames)
        per = sorted(frames)
        print(
            f"{route:24s} n={n:4d} frames median {per[n // 2]:3d} mean {sum(per) / n:5.1f}"
            f"  commits mean {sum(_commits[route]) / n:4.2f}"
            f"  statements mean {sum(_statements[route].values()) / n:4.1f}"
        )
        for tree, k in _trees.get(route, Counter()).most_common():
            print(f"    {k / n:5.2f}  {tree}")
        if VERBOSE:
            for sql, k in _statements[route].most_common():
                print(f"      {k / n:5.2f}  {sql}")
