"""Several worker processes, each listening on a socket of its own (Linux `SO_REUSEPORT`).

uvicorn's `--workers N` binds one socket and hands it to every worker: whichever worker wakes
first accepts, and a keep-alive connection (a load generator's users, a reverse proxy's pool)
stays with the worker that accepted it, so one worker can saturate while another idles. Here
each worker gets a socket of its own, bound to the same address with `SO_REUSEPORT`, and the
kernel spreads new connections across the listening sockets by a hash of their addresses.

Everything else is uvicorn's `Multiprocess` supervisor, unchanged: signals, graceful stop,
`SIGHUP` restarts, `SIGTTIN`/`SIGTTOU`, a dead worker started again. It builds every worker as
`Process(self.config, self.sockets)`; `sockets` here is a property that binds a fresh socket
each time it is read, and the parent closes its copy once the worker has started (a copy kept
open would outlive a dead worker and queue connections that no one accepts).

The parent keeps one more socket bound (never listening, so it receives nothing): it holds the
port while workers come and go, and gives the port when 0 is asked for. Before binding, a probe
without `SO_REUSEPORT` fails fast if anything listens on the port already.

Hazard: any process of the *same user* that binds the same address with `SO_REUSEPORT` joins
the group and receives a share of the connections (the kernel refuses other users). The probe
catches such a listener that was there first; one that comes later is not detected, so don't
run untrusted code as the server's user. uvicorn 0.55 has no option of its own for this (no
`--reuse-port`; its single socket only sets `SO_REUSEADDR`); gunicorn has `--reuse-port`.
Connections still waiting in a worker's accept queue when it dies are reset (as with any
listener that closes).

Elsewhere (not Linux, no `SO_REUSEPORT`, the option refused, a Unix socket or a file
descriptor) workers share one socket, as uvicorn does.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import sys

from uvicorn.config import STARTUP_FAILURE, Config
from uvicorn.supervisors.multiprocess import Multiprocess

logger = logging.getLogger("uvicorn.error")


def serve_workers(config: Config) -> None:
    """Run `config.workers` (> 1) worker processes until a signal stops them; like
    `uvicorn.run` with several workers, but each worker listens on its own socket where the
    platform allows it."""
    anchor = _anchor(config) if _applicable(config) else None
    try:
        if anchor is None:
            Multiprocess(config, sockets=[config.bind_socket()]).run()
        else:
            ReusePortMultiprocess(config, anchor).run()
    except KeyboardInterrupt:
        pass  # as uvicorn.run
    finally:
        if anchor is not None:
            anchor.close()
        if config.uds and os.path.exists(config.uds):
            os.remove(config.uds)


class ReusePortMultiprocess(Multiprocess):
    """uvicorn's supervisor, each worker started with a socket of its own (see the module)."""

    def __init__(self, config: Config, anchor: socket.socket) -> None:
        self._anchor = anchor
        self._handed: list[socket.socket] = []  # parent's copies of workers' sockets
        super().__init__(config, sockets=[])

    @property
    def sockets(self) -> list[socket.socket]:
        """A fresh socket for the worker being built (read once per `Process`, which is started
        right after: the copies handed out before are a started worker's, and are closed)."""
        self._close_handed()
        address = self._anchor.getsockname()[:2]
        try:
            sock = _bind(self._anchor.family, address, reuse_port=True)
        except OSError as exc:
            raise _NoSocket(f"cannot open a listening socket for a worker: {exc}") from exc
        self._handed.append(sock)
        return [sock]

    @sockets.setter
    def sockets(self, _sockets: list[socket.socket]) -> None:
        pass  # each worker gets a fresh one instead

    def run(self) -> None:
        try:
            super().run()
        except _NoSocket as exc:  # e.g. out of file descriptors: stop rather than run short
            logger.error("%s; stopping", exc)
            self.terminate_all()
            self.join_all()
            sys.exit(STARTUP_FAILURE)
        finally:
            self._close_handed()

    # Every path that starts a worker ends in one of these: close the parent's copies.
    def init_processes(self) -> None:
        try:
            super().init_processes()
        finally:
            self._close_handed()

    def handle_signals(self) -> None:
        try:
            super().handle_signals()
        finally:
            self._close_handed()

    def keep_subprocess_alive(self) -> None:
        try:
            super().keep_subprocess_alive()
        finally:
            self._close_handed()

    def _close_handed(self) -> None:
        for sock in self._handed:
            sock.close()
        self._handed.clear()


class _NoSocket(RuntimeError):
    pass


def _applicable(config: Config) -> bool:
    return (
        sys.platform.startswith("linux")  # elsewhere SO_REUSEPORT does not balance (BSD, macOS)
        and hasattr(socket, "SO_REUSEPORT")
        and config.uds is None
        and config.fd is None
    )


def _anchor(config: Config) -> socket.socket | None:
    """The parent's bound, never listening socket in the port's `SO_REUSEPORT` group, or None
    if the option is refused. Exits (a message, no traceback) if the port is taken."""
    family = socket.AF_INET6 if config.host and ":" in config.host else socket.AF_INET
    address = (config.host, config.port)
    try:
        # Without SO_REUSEPORT, so that a listener of ours (same user) is found too.
        _bind(family, address, reuse_port=False).close()
        anchor = _bind(family, address, reuse_port=True)
    except OSError as exc:
        if exc.errno == errno.ENOPROTOOPT:  # the kernel refuses SO_REUSEPORT
            return None
        logger.error("cannot listen on %s port %d: %s", config.host, config.port, exc.strerror)
        sys.exit(STARTUP_FAILURE)
    host, port = anchor.getsockname()[:2]
    scheme = "https" if config.is_ssl else "http"
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    logger.info(
        "Uvicorn running on %s://%s:%d, one socket per worker (SO_REUSEPORT)", scheme, shown, port
    )
    return anchor


def _bind(family: int, address: tuple[str, int], *, reuse_port: bool) -> socket.socket:
    sock = socket.socket(family=family, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock
