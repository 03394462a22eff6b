"""psycopg's pipeline, sent in one write (`statements.Connection.pipeline`'s). Imported only
where psycopg is (the PostgreSQL engine).

psycopg's `Pipeline` sends each statement as it is queued: every `execute` in it runs the
pipeline's `_communicate_gen`, a wait for the socket (a `poll`) and a flush (a `sendto`) a
statement, and its end adds a Sync, and after it a flush request, another `sendto`. A unit's
pipeline of a BEGIN, three INSERTs and a COMMIT cost about what the round trips it saved
(docs/performance.md, item 58). Here the statements wait in the pipeline's command queue
until something needs an answer: the pipeline's end (its Sync), a result read inside it, a
nested pipeline; then all of them, and the Sync, go in one write. The server reads the same
messages in the same order, so it runs, fails and skips exactly as before; only the moment
they leave changes (all of them at the end instead of each at once), and nothing in the
pipeline waits for an answer before then.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from psycopg import Pipeline
from psycopg.abc import PQGen
from psycopg.generators import send


class OneWritePipeline(Pipeline):
    """A `psycopg.Pipeline` that holds its statements until an answer is needed, and then
    sends them in one write (libpq's buffer, flushed once).

    Contract, as psycopg's `Pipeline`: the same messages in the same order, results and errors
    handed to the same cursors (`_fetch_gen` is psycopg's, once what is held has gone out);
    the end of the pipeline sends a Sync and reads every result up to it, raising the first
    error. Two differences, neither visible to the server: nothing goes out before an answer
    is needed, and the end sends no flush request after its Sync (the Sync makes the server
    send everything anyway). Sending never deadlocks on a full socket: psycopg's `send`
    waits for both directions and reads what the server sends meanwhile (libpq keeps it).

    Entered through `one_write`: set as the connection's pipeline (`_pipeline`) before
    `Connection.pipeline()`, which then enters it instead of making its own (psycopg 3.3).
    """

    def _communicate_gen(self) -> PQGen[None]:
        """After each statement queued: hold it (psycopg's sends it at once)."""
        return
        yield  # a generator, as psycopg's, that never waits

    def _send_held(self) -> PQGen[None]:
        """Put every held command in libpq's buffer (each a libpq send call: no system call
        below libpq's 8 kB threshold) and flush it: one write, unless the socket is full."""
        commands = self.command_queue
        while commands:
            commands.popleft()()
        yield from send(self.pgconn)

    def _fetch_gen(self, *, flush: bool) -> PQGen[None]:
        """An answer is needed (a result read in the pipeline, a nested pipeline's sync): send
        what is held first, then psycopg's fetch."""
        yield from self._send_held()
        yield from Pipeline._fetch_gen(self, flush=flush)

    def _exit_gen(self) -> PQGen[None]:
        """The end: the held commands and the Sync in one write, then every result up to the
        Sync (psycopg's fetch, without the flush request it sends first)."""
        try:
            self._enqueue_sync()
            yield from self._send_held()
        finally:
            yield from Pipeline._fetch_gen(self, flush=False)


@contextmanager
def one_write(raw: Any) -> Iterator[None]:
    """`raw.pipeline()` (`raw` a `psycopg.Connection`), entering a `OneWritePipeline` if `raw`
    is in no pipeline yet (within one, that one: psycopg's nesting); psycopg forgets it once
    its level is back to 0, as its own, and so does this if `pipeline()` fails to enter it."""
    if raw._pipeline is None:
        raw._pipeline = OneWritePipeline(raw)
    try:
        with raw.pipeline():
            yield
    finally:
        pipeline = raw._pipeline
        if isinstance(pipeline, OneWritePipeline) and pipeline.level == 0:
            raw._pipeline = None
