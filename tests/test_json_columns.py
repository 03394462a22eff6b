"""JSON columns through orjson (`json_columns`, the engine's codec): the same values as the
standard library's, either spelling read, and the role filter matching either spelling."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from antechamber import json_columns
from antechamber.members import service as members
from antechamber.members.models import Member
from antechamber.services import Services
from tests.conftest import Credentials
from tests.factories import make_member, make_org

VALUES: list[Any] = [
    {"a": 1, "b": [1.5, -0.0, None, True], "é": "ü ✓"},
    ["stytch_member"],
    {"big": 2**70, "small": -(2**63) - 1, "edge": 2**64 - 1},  # past 64 bits: stdlib's way
    {1: "key not a string"},  # stdlib makes it "1"
    "\ud800",  # a lone surrogate
    {"id": "member-test-1234567890123456789012"},  # a long run of digits in a string
    [],
    {},
]


@pytest.mark.parametrize("value", VALUES)
def test_what_is_written_reads_back_as_the_standard_library_reads_it(value: Any) -> None:
    written = json_columns.dumps(value)
    assert isinstance(written, str)
    assert json_columns.loads(written) == json.loads(json.dumps(value))
    assert json_columns.loads(written.encode("utf-8", "surrogatepass")) == json.loads(written)
    # Rows written before orjson, in the standard library's spelling, read the same.
    assert json_columns.loads(json.dumps(value)) == json.loads(json.dumps(value))


def test_compact_utf8_keys_in_order() -> None:
    assert json_columns.dumps({"z": 1, "é": [1, 2]}) == '{"z":1,"é":[1,2]}'


@pytest.mark.parametrize(
    "stored",
    ["123456789012345678901234567890", "[-9223372036854775809]", "NaN", "[1e400]", '"\\ud800"'],
)
def test_texts_orjson_reads_otherwise_are_read_as_before(stored: str) -> None:
    assert repr(json_columns.loads(stored)) == repr(json.loads(stored))


def test_the_engine_writes_compact_json_and_finds_roles_in_either_spelling(
    services: Services, project: Credentials
) -> None:
    org = make_org(services, project.project_id)
    new = make_member(services, project.project_id, org, roles=["stytch_admin"])
    old = make_member(services, project.project_id, org)
    grouped = make_member(services, project.project_id, org)
    grouped_now = make_member(services, project.project_id, org)
    with services.sessions() as session, session.begin():
        row = session.get(Member, grouped_now.id)
        assert row is not None
        row.scim_group_roles = [{"role_id": "stytch_admin", "group_id": "g"}]
    with services.sessions() as session, session.begin():
        stored = session.execute(
            text("SELECT CAST(roles AS TEXT) FROM members WHERE id = :id"), {"id": new.id}
        ).scalar_one()
        assert stored == '["stytch_admin"]'
        # Rows as the standard library wrote them before.
        session.execute(
            text("UPDATE members SET roles = :r WHERE id = :id"),
            {"r": json.dumps(["stytch_admin"]), "id": old.id},
        )
        session.execute(
            text("UPDATE members SET scim_group_roles = :r WHERE id = :id"),
            {"r": json.dumps([{"role_id": "stytch_admin", "group_id": "g"}]), "id": grouped.id},
        )
    with services.scope(project.project_id, "test", "test") as scope:
        query = {
            "operator": "AND",
            "operands": [{"filter_name": "member_roles", "filter_value": ["stytch_admin"]}],
        }
        page = members.search_members(scope, [org.id], query, None, 100)
        assert {m.id for m in page.members} >= {new.id, old.id, grouped.id, grouped_now.id}
        for member in page.members:
            if member.id == grouped.id:
                assert member.scim_group_roles == [{"role_id": "stytch_admin", "group_id": "g"}]


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=8,
)


@settings(max_examples=600, deadline=None)
@given(value=_JSON, pad=st.integers(min_value=0, max_value=3))
def test_a_buffer_reads_as_its_bytes(value: Any, pad: int) -> None:
    """`loads_buffer` (psycopg's JSON loader: a memoryview of the result) gives `loads`' value of
    the same bytes, short texts (orjson straight on the buffer) and long ones alike, in both
    spellings, also for a view into a larger buffer."""
    for text_ in (json_columns.dumps(value), json.dumps(value)):
        raw = text_.encode("utf-8", "surrogatepass")
        framed = b"x" * pad + raw + b"y" * pad
        view = memoryview(framed)[pad : pad + len(raw)]
        expected = repr(json_columns.loads(raw))
        assert repr(json_columns.loads_buffer(view)) == expected
        assert repr(json_columns.loads_buffer(raw)) == expected


@pytest.mark.parametrize(
    "stored",
    ["NaN", "[1e400]", '"\\ud800"', "-0", "1" * 18, "1" * 19, "[-9223372036854775809]", "{}"],
)
def test_a_buffer_orjson_refuses_reads_as_before(stored: str) -> None:
    raw = stored.encode()
    assert repr(json_columns.loads_buffer(memoryview(raw))) == repr(json_columns.loads(raw))
