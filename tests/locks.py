"""Another process holding SQLite's writer lock file (`writer_lock.WriterLock`), as a second
worker of `serve --workers 2` or the delivery process would."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

_TRY_LOCK = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("free")
except BlockingIOError:
    print("held")
"""

_HOLD_LOCK = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("holding", flush=True)
sys.stdin.readline()
"""


@contextmanager
def another_process_holds_the_writer_lock(engine: Engine) -> Iterator[None]:
    """Another process holds `engine`'s writer lock file for the block, then lets it go."""
    database = engine.url.database
    assert database
    other = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, f"{database}-writer.lock"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert other.stdin is not None
    assert other.stdout is not None
    try:
        assert other.stdout.readline().strip() == "holding"
        yield
    finally:
        other.stdin.close()
        other.wait(10)


def another_process_sees(database: str | None) -> str:
    """ "held" or "free": the writer lock file of the SQLite file `database` as another
    process finds it."""
    assert database
    probe = [sys.executable, "-c", _TRY_LOCK, f"{database}-writer.lock"]
    return subprocess.run(probe, capture_output=True, text=True, check=True).stdout.strip()
