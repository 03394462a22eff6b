"""Rows read by pre-built Core statements, as plain model objects, and their writes.

The login paths read organizations, members and intermediate sessions with Core statements on
the unit of work's connection (`db.connection`) and make each row an instance of its mapped
class without the ORM's loading: no identity map, no instance events, nothing for a flush to
look at. Such an object is *transient*: it belongs to no unit of work, so changing one of its
attributes writes nothing. What a login changes goes to the database as an explicit statement
(`write`, `mfa.lockout.reset`, `sessions.service.start`), which also shows the new values on
the object, as if loaded so.

A transient object has every column attribute set, so reading one never tries to load it;
relationships (`Organization.domains`) are not loaded and must not be read from one.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Table, Update, bindparam, update
from sqlalchemy.orm import Session, class_mapper
from sqlalchemy.orm.attributes import set_committed_value

from antechamber import db

_M = TypeVar("_M")


class Columns(Generic[_M]):
    """The column attributes of a mapped class: `columns` to select (in this order) and
    `make` to turn the values of a row, in the same order, into a transient object."""

    def __init__(self, cls: type[_M]) -> None:
        mapper = class_mapper(cls)
        props = list(mapper.column_attrs)
        self.keys = tuple(p.key for p in props)
        self._key_set = frozenset(self.keys)
        self.columns: tuple[ColumnElement[Any], ...] = tuple(p.columns[0] for p in props)
        self._new = mapper.class_manager.new_instance
        self._id_at = self.keys.index("id")

    def __len__(self) -> int:
        return len(self.keys)

    def make(self, values: Sequence[Any]) -> _M:
        """The object of a row's values (what the ORM's loader sets, without the ORM)."""
        obj: _M = self._new()
        obj.__dict__.update(zip(self.keys, values, strict=True))
        return obj

    def make_or_none(self, values: Sequence[Any]) -> _M | None:
        """As `make`, or None for the all-null columns of an outer join that found no row."""
        return None if values[self._id_at] is None else self.make(values)

    def values_of(self, obj: _M) -> Mapping[str, Any]:
        """`obj`'s column values by attribute name, as reading its attributes gives them: its
        `__dict__` when every column is there (transient objects, `make`'s, and loaded ones),
        which skips a descriptor call per attribute; else each attribute read (loading what a
        flush or commit expired)."""
        values: dict[str, Any] = obj.__dict__
        if values.keys() >= self._key_set:
            return values
        return {key: getattr(obj, key) for key in self.keys}

    def from_values(self, values: Mapping[str, Any]) -> _M:
        """The object of a row's values by attribute name, every column named: a row just
        written (the caller's copy of it), or one a statement returned (`Row._mapping`)."""
        obj: _M = self._new()
        obj.__dict__.update(values)
        return obj


def write(session: Session, obj: Any, values: Mapping[str, Any]) -> None:
    """Write `values` (attribute names, each its column's name) to `obj`'s row: one UPDATE by
    primary key on the unit of work's connection (pending ORM changes are flushed first). The
    object then shows them as loaded, whether it is transient or in the unit of work (then
    nothing is left for a flush to write again)."""
    db.connection(session).execute(
        _update(obj.__class__.__table__, tuple(values)),
        {"b_id": obj.id, **{f"v_{name}": value for name, value in values.items()}},
    )
    for name, value in values.items():
        set_committed_value(obj, name, value)


@functools.cache
def _update(table: Table, names: tuple[str, ...]) -> Update:
    """The UPDATE of these columns by id, built once per table and set of columns (a few)."""
    return (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values({name: bindparam(f"v_{name}", type_=table.c[name].type) for name in names})
    )
