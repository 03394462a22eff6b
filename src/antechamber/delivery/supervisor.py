"""The delivery worker as a process of its own beside the server, kept alive by `serve`.

`antechamber serve` (with `ANTECHAMBER_DELIVERY_PROCESS`, the default) starts one
`antechamber worker` child and tells its own server processes not to deliver, so sending,
rendering and the outcome commits no longer share a GIL with the requests. The child:

- writes its logs to the server's stderr (the same stream, the same format);
- runs in a process group of its own, so a Ctrl-C at the terminal reaches the server first and
  the worker is stopped after the server has finished its requests (which may still enqueue);
- is stopped with the server (SIGTERM: the message in hand is finished, the rest of the batch
  given back; SIGKILL if it does not exit within a send timeout and a margin);
- is started again if it exits while the server runs, after a pause that doubles (up to
  `MAX_RESTART_DELAY_S`) while it keeps dying young, as when the database is down at start;
- stops by itself if the server process disappears without stopping it (SIGKILL), as it
  watches its parent (`antechamber worker --parent-pid`).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time

log = logging.getLogger("antechamber.delivery.supervisor")

FIRST_RESTART_DELAY_S = 1.0
MAX_RESTART_DELAY_S = 30.0
#: A child that ran at least this long before exiting starts again after the first delay.
HEALTHY_RUN_S = 30.0


class WorkerProcess:
    """One supervised `antechamber worker` child. `start` once, `stop` once."""

    def __init__(self, *, stop_timeout_s: float, env: dict[str, str] | None = None) -> None:
        self.stop_timeout_s = stop_timeout_s
        self.env = env
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        #: How many times the child was started (1 + restarts); for tests and logs.
        self.starts = 0

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None else None

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "antechamber",
            "worker",
            "--parent-pid",
            str(os.getpid()),
        ]

    def start(self) -> None:
        self._spawn()
        self._thread = threading.Thread(
            target=self._supervise, name="delivery-supervisor", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the child (SIGTERM, then SIGKILL after `stop_timeout_s`) and stop restarting."""
        self._stopping.set()
        with self._lock:
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("the delivery worker did not stop in time; killing it")
                proc.kill()
                proc.wait()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _spawn(self) -> None:
        with self._lock:
            if self._stopping.is_set():
                return
            self._proc = subprocess.Popen(  # noqa: S603 (our own interpreter and command)
                self.command(),
                env=self.env,
                stdin=subprocess.DEVNULL,
                # stdout and stderr: the server's own.
                process_group=0,
            )
            self.starts += 1
        log.info("delivery worker process %d started", self._proc.pid)

    def _supervise(self) -> None:
        delay = FIRST_RESTART_DELAY_S
        while not self._stopping.is_set():
            proc = self._proc
            assert proc is not None
            started = time.monotonic()
            code = proc.wait()
            if self._stopping.is_set():
                return
            ran = time.monotonic() - started
            if ran >= HEALTHY_RUN_S:
                delay = FIRST_RESTART_DELAY_S
            log.warning(
                "delivery worker process %d exited (%s); starting another in %.0f s",
                proc.pid,
                f"signal {-code}" if code < 0 else f"status {code}",
                delay,
            )
            if self._stopping.wait(delay):
                return
            delay = min(MAX_RESTART_DELAY_S, delay * 2)
            try:
                self._spawn()
            except OSError:
                log.exception("starting the delivery worker process failed; trying again")
