"""psycopg's cursor with a `description` built only when something reads it.

SQLAlchemy asks for `cursor.description` after every statement, mostly to learn whether it
returned rows: a compiled statement it has run before keeps its result columns (its cached
metadata) and never reads the entries. psycopg builds the whole list on every access, one
`Column` per result column (a type lookup each): 11% of the process CPU of a login on
PostgreSQL, for a member or organization row of 20–30 columns (docs/performance.md, sixth round).

Here the entries are psycopg's own `Column`s, built from the result the statement returned,
on the first read of one of them. Imported only where psycopg is (the PostgreSQL engine).

Also psycopg's loader of JSON columns (`JsonColumnLoader`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload

from psycopg import Column, Cursor, pq
from psycopg.adapt import AdaptersMap, Loader

from antechamber import json_columns

_ROWS = (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.SINGLE_TUPLE, pq.ExecStatus.TUPLES_CHUNK)


class LazyDescriptionCursor(Cursor[Any]):
    """A `psycopg.Cursor` whose `description` is `LazyDescription` (None exactly when
    psycopg's is None); everything else is psycopg's. For `connect(cursor_factory=...)`."""

    __slots__ = ()

    @property
    def description(self) -> Sequence[Column] | None:  # type: ignore[override]
        res = self.pgresult
        # psycopg's test: rows, or a result that said it returns rows ("SELECT ;").
        if res is None or not (res.nfields or res.status in _ROWS):
            return None
        return LazyDescription(res, self._encoding, self.adapters)


class _Source:
    """What `psycopg.Column` reads of a cursor, frozen at the statement's result: the entries
    describe that result even if the cursor has run another statement since."""

    __slots__ = ("_encoding", "adapters", "pgresult")

    def __init__(self, pgresult: pq.abc.PGresult, encoding: str, adapters: AdaptersMap) -> None:
        self.pgresult = pgresult
        self._encoding = encoding
        self.adapters = adapters


class LazyDescription(Sequence[Column]):
    """The DB-API description of one result: its length at once, its `Column`s when read."""

    __slots__ = ("_columns", "_source")

    def __init__(self, pgresult: pq.abc.PGresult, encoding: str, adapters: AdaptersMap) -> None:
        self._source: _Source | None = _Source(pgresult, encoding, adapters)
        self._columns: list[Column] | None = None

    def _built(self) -> list[Column]:
        if self._columns is None:
            source = self._source
            assert source is not None
            columns = [Column(source, i) for i in range(source.pgresult.nfields)]  # type: ignore[arg-type]
            self._columns, self._source = columns, None  # the result is no longer needed
        return self._columns

    def __len__(self) -> int:
        if self._columns is not None:
            return len(self._columns)
        assert self._source is not None
        return self._source.pgresult.nfields

    @overload
    def __getitem__(self, index: int) -> Column: ...
    @overload
    def __getitem__(self, index: slice) -> list[Column]: ...
    def __getitem__(self, index: int | slice) -> Column | list[Column]:
        return self._built()[index]

    def __iter__(self) -> Iterator[Column]:
        return iter(self._built())

    def __repr__(self) -> str:
        return repr(self._built())


class JsonColumnLoader(Loader):
    """psycopg's loader of `json` and `jsonb` text, the engine's decoder itself: psycopg's own
    (`set_json_loads`, what SQLAlchemy installs) is a Python method that copies the buffer and
    calls the decoder, a frame more for each of the twenty JSON values of a session check.
    The same values: `json_columns.loads_buffer` is `json_columns.loads` of those bytes."""

    load = staticmethod(json_columns.loads_buffer)  # type: ignore[assignment]


def use_json_columns(adapters: AdaptersMap) -> None:
    """Load `json` and `jsonb` (text) with `JsonColumnLoader` on connections of `adapters`
    (an engine's, whose JSON deserializer is `json_columns.loads`)."""
    adapters.register_loader("json", JsonColumnLoader)
    adapters.register_loader("jsonb", JsonColumnLoader)
