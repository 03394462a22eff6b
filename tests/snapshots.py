"""Table snapshots: prove that a refused request changed nothing.

    with unchanged(engine):
        response = api.post(...)
    assert_refused(response, 404, "organization_not_found")

`unchanged` reads every row of every table (all columns) before the block and again after it,
and fails with the rows added and removed per table. A refusal that is itself a fact to keep
(the audit event of a refused send, a counted wrong code) is allowed by naming its table in
`allow`; the snapshot's `diff()` then lets the test check exactly what was added.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import httpx
from sqlalchemy import Engine, text

from antechamber import models

Row = tuple[tuple[str, str], ...]


def _plain(value: Any) -> str:
    """One stable text form per value, so rows compare and print the same on both databases."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return repr(value)


def table_names() -> list[str]:
    return [t.name for t in models.metadata.sorted_tables]


def read_tables(engine: Engine, tables: Collection[str] | None = None) -> dict[str, list[Row]]:
    """Every row of `tables` (default: all of the schema), each as sorted (column, value) pairs."""
    names = list(tables) if tables is not None else table_names()
    result: dict[str, list[Row]] = {}
    with engine.connect() as conn:
        for name in names:
            rows = conn.execute(text(f'SELECT * FROM "{name}"')).mappings()  # noqa: S608 - schema names
            result[name] = sorted(
                tuple(sorted((k, _plain(v)) for k, v in row.items())) for row in rows
            )
    return result


@dataclass
class Changes:
    added: list[dict[str, str]] = field(default_factory=list)
    removed: list[dict[str, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed)


@dataclass
class DbSnapshot:
    engine: Engine
    tables: Collection[str] | None = None
    before: dict[str, list[Row]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.before = read_tables(self.engine, self.tables)

    def diff(self) -> dict[str, Changes]:
        """Rows added and removed since the snapshot, by table (changed rows appear in both)."""
        after = read_tables(self.engine, self.tables)
        changes: dict[str, Changes] = {}
        for name in sorted(set(self.before) | set(after)):
            old, new = set(self.before.get(name, [])), set(after.get(name, []))
            if old != new:
                changes[name] = Changes(
                    added=[dict(r) for r in sorted(new - old)],
                    removed=[dict(r) for r in sorted(old - new)],
                )
        return changes

    def assert_unchanged(self, *, allow: Collection[str] = ()) -> None:
        changed = {k: v for k, v in self.diff().items() if k not in allow}
        assert not changed, f"the database changed: {changed}"


@contextmanager
def unchanged(
    engine: Engine, *, allow: Collection[str] = (), tables: Collection[str] | None = None
) -> Iterator[DbSnapshot]:
    """Assert that the block leaves every table (but those in `allow`) as it found it."""
    snapshot = DbSnapshot(engine, tables)
    yield snapshot
    snapshot.assert_unchanged(allow=allow)


def assert_refused(response: httpx.Response, status: int, error_type: str) -> dict[str, Any]:
    """The response is Stytch's error envelope with this status and error type; its body."""
    body: dict[str, Any] = response.json()
    assert (response.status_code, body.get("error_type")) == (status, error_type), body
    assert body["status_code"] == status
    assert body["error_message"]
    assert isinstance(body["request_id"], str)
    assert body["error_url"].endswith(f"/{status}#{error_type}")
    return body
