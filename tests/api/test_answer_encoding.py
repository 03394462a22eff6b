"""The API's answers are encoded fast (api/envelope.py `Answer`), with the bytes the standard
encoder would have written, whatever the values."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.responses import JSONResponse

from antechamber.api.envelope import Answer


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
