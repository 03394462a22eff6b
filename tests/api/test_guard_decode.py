"""The guard's reading of a request body (`api.guard._decoded`): orjson where it reads what the
standard library reads, and the standard parser's verdict everywhere else (`_INVALID`,
`_UNREPRESENTABLE`, or the value), compared with the standard parser alone."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from antechamber.api import guard


def same(a: Any, b: Any) -> bool:
    """Equal values of the same types all the way down (`1 == 1.0` and `0.0 == -0.0` are not
    enough: a body's int must not become a float, nor its -0.0 a 0.0), in the same key order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b)


def check(body: bytes) -> None:
    expected = guard._decoded_by_json(body)
    got = guard._decoded(body)
    if expected is guard._INVALID or expected is guard._UNREPRESENTABLE:
        assert got is expected, body
    else:
        assert same(got, expected), body


values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=600, deadline=None)
@given(values, st.booleans())
def test_any_json_value_reads_as_the_standard_parser_reads_it(value: Any, ascii: bool) -> None:
    check(json.dumps(value, ensure_ascii=ascii).encode("utf-8", "surrogatepass"))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40))
def test_any_bytes_get_the_standard_verdict(body: bytes) -> None:
    check(body)


@settings(max_examples=600, deadline=None)
@given(st.from_regex(r"-?(0|[1-9][0-9]{0,8})(\.[0-9]{1,9})?([eE][-+]?[0-9]{1,3})?", fullmatch=True))
def test_any_number_text_reads_as_the_standard_parser_reads_it(number: str) -> None:
    check(f"[{number}]".encode())


ADVERSARIAL = [
    b'{"email_address": "a@b.c"}',
    b' {"a": 1} \n',
    b"NaN",
    b"[Infinity]",
    b"[-Infinity]",
    b"1e400",
    b"[-1e400]",
    b"1E309",
    b"[1e-400]",
    b"[-0.0, 0.0, -0]",
    b"[1.7976931348623157e308, 5e-324, 0.1, 2.5e-8]",
    # Decimal texts where a parser that does not round correctly goes wrong (under 19 digits).
    b"[2.2250738585072011e-308, 4.9406564584124654e-324, 2.4703282292062328e-324]",
    b"[9007199254740993.0, 1e23, 8.98846567431158e307, 7.2057594037927933e16]",
    b"18446744073709551615",  # 2**64 - 1: 20 digits
    b"18446744073709551616",  # 2**64
    b"-9223372036854775809",
    b"[123456789012345678]",  # 18 digits: orjson's
    b'{"id": "member-test-12345678901234567890"}',  # a long run in a string: json's
    b'"\\ud800"',
    b'"\\udfff x"',
    b'"\\ud83d\\ude00"',  # a whole pair
    b'"\xed\xa0\x80"',  # a surrogate encoded in UTF-8
    b'"\xff"',
    b"\xef\xbb\xbf{}",  # a BOM
    '{"a": "é"}'.encode("utf-16"),
    '{"a": 1}'.encode("utf-32-le"),
    b'{"a": 1, "a": 2, "b": 3}',  # duplicate keys: the last value, the first place
    b'"a\x01b"',  # a raw control character
    b"[01]",
    b"[1.]",
    b"[.5]",
    b"[+1]",
    b"[1,]",
    b'{"a":1,}',
    b"'a'",
    b"[" * 2000 + b"]" * 2000,
    b"[" * 1000 + b"]" * 1000,
    b"{}",
    b"[]",
    b"true",
    b"null",
    b'"\\u0000"',
]


@pytest.mark.parametrize("body", ADVERSARIAL)
def test_adversarial_bodies_get_the_standard_verdict(body: bytes) -> None:
    check(body)


def test_an_ordinary_body_is_read_without_the_standard_parser(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(_body: bytes) -> Any:
        raise AssertionError("the standard parser was asked")

    monkeypatch.setattr(guard, "_decoded_by_json", refuse)
    body = b'{"email_address": "a@b.c", "discovery_redirect_url": "http://localhost:3000/d"}'
    assert guard._decoded(body) == json.loads(body)


def test_what_the_guard_refuses_is_still_refused() -> None:
    for body in (b"[NaN]", b"[1e999]", b'{"a": "\\ud800"}'):
        assert guard.unrepresentable(body), body
    for body in (b'{"a": 1}', b"[1e308]", b'"\\ud83d\\ude00"', b"[1,"):
        assert not guard.unrepresentable(body), body
