"""The API's answers are encoded fast (api/envelope.py `Answer`), with the bytes the standard
encoder would have written, whatever the values."""

from __future__ import annotations

import random
from typing import Any

import pytest
from starlette.responses import JSONResponse

from antechamber.api.envelope import Answer, encoded


@pytest.mark.parametrize(
    "content",
    [
        {"request_id": "request-id-test-1", "status_code": 200, "member": {"name": "Zoë 東京 🙂"}},
        {"roles": [], "mfa": None, "flags": [True, False], "nested": {"a": [1, {"b": 0.5}]}},
        {"big": 2**70, "negative_big": -(2**80)},  # past 64 bits: the standard encoder's turn
        {"custom_claims": {1: "int key", None: "null key"}},
        {"quote": 'say "hi"\\ \n\t\u2028 </script>'},
    ],
)
def test_answer_bytes_are_the_standard_encoder_s(content: dict[Any, Any]) -> None:
    assert Answer(content).body == JSONResponse(content).body


def test_a_lone_surrogate_still_fails_as_before() -> None:
    with pytest.raises(UnicodeEncodeError):
        Answer({"name": "\ud800"})


def test_answer_headers_are_the_standard_response_s() -> None:
    """Its headers, made directly where it can, are the ones Starlette would make: any status,
    headers of its own or none, another media type."""
    rng = random.Random(21)
    for _ in range(2000):
        content = {"request_id": "r" * rng.randrange(0, 300), "n": rng.randrange(10**6)}
        status = rng.choice([100, 101, 199, 200, 201, 204, 206, 301, 304, 400, 429, 500, 503])
        headers = rng.choice(
            [None, {}, {"Retry-After": "3"}, {"content-length": "1"}, {"Content-Type": "a/b"}]
        )
        media_type = rng.choice([None, None, "application/json", "text/plain", "x/y+json"])
        ours = Answer(content, status_code=status, headers=headers, media_type=media_type)
        theirs = JSONResponse(content, status_code=status, headers=headers, media_type=media_type)
        assert ours.raw_headers == theirs.raw_headers
        assert ours.body == theirs.body


@pytest.mark.parametrize(
    "part",
    [
        {"organization_name": "Zoë 東京 🙂", "n": [1, 2.5, None, True], "m": {}},
        {"tiny": 1e-7, "quote": 'say "hi"\\ \n\t\u2028'},
        {"big": 2**70},  # orjson refuses it: `encoded` gives the value back
        [],
    ],
)
@pytest.mark.parametrize("beside", [{}, {"custom_claims": {"big": 2**80}}])
def test_an_encoded_part_answers_the_bytes_of_its_value(part: Any, beside: Any) -> None:
    """A part encoded before (`encoded`) goes into an answer as the bytes its value would have
    been encoded to there, by orjson or, when the rest of the answer needs it, by the standard
    encoder (then `JSONResponse`'s bytes exactly)."""
    plain = {"request_id": "r", "member": part, "organization": part, **beside}
    done = encoded(part)
    ours = Answer({"request_id": "r", "member": done, "organization": done, **beside})
    assert ours.body == Answer(plain).body
    if beside:
        assert ours.body == JSONResponse(plain).body


def test_an_answer_still_refuses_what_it_cannot_encode() -> None:
    with pytest.raises(TypeError):
        Answer({"a": {1, 2}})
