"""The PostgreSQL engine's cursors describe a result only when the description is read, and
then exactly as psycopg would."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select, text

from antechamber import models

pytestmark = pytest.mark.postgres_only


def test_engine_cursors_build_no_columns_until_read(engine: Engine) -> None:
    from antechamber.pg_cursor import LazyDescription, LazyDescriptionCursor

    with engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        assert isinstance(cursor, LazyDescriptionCursor)
        cursor.execute("SELECT 1 AS one, 'a'::text AS two")
        described = cursor.description
        assert isinstance(described, LazyDescription)
        assert len(described) == 2
        assert described._columns is None  # the length alone built nothing
        assert [c.name for c in described] == ["one", "two"]


def test_description_matches_psycopg_and_outlives_the_next_statement(engine: Engine) -> None:
    import psycopg

    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        ours = raw.cursor()
        plain = psycopg.Cursor(raw)
        query = "SELECT 1::int4 AS a, 'x'::varchar(5) AS b, now() AS c, '{}'::jsonb AS d"
        ours.execute(query)
        plain.execute(query)
        earlier = ours.description
        ours.execute("SELECT 2 AS other")  # the earlier description keeps its own result
        assert earlier is not None
        assert plain.description is not None
        assert [tuple(c) for c in earlier] == [tuple(c) for c in plain.description]
        assert [c.type_display for c in earlier] == [c.type_display for c in plain.description]
        assert [c.type_code for c in earlier][3] == psycopg.adapters.types["jsonb"].oid
        # No rows to describe: None, as psycopg says, and SQLAlchemy then expects no rows.
        ours.execute("SET search_path TO public")
        assert ours.description is None
        ours.execute("SELECT")  # rows of no columns: described, empty
        assert ours.description is not None
        assert len(ours.description) == 0


def test_sqlalchemy_results_through_the_engine(engine: Engine) -> None:
    with engine.begin() as conn:
        assert conn.execute(text("SELECT 1 AS one")).mappings().one() == {"one": 1}
        rows = conn.execute(select(models.Project.id)).all()
        assert rows == []
        result = conn.execute(text("UPDATE projects SET name = name WHERE false"))
        assert result.rowcount == 0
        assert not result.returns_rows
