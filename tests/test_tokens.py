"""Stored forms of secrets: a code's keyed digest is HMAC-SHA256, exactly as `hmac.new` gives it
(the one-shot `hmac.digest` must not change a single stored digest)."""

from __future__ import annotations

import hashlib
import hmac

from hypothesis import given, settings
from hypothesis import strategies as st

from antechamber.tokens import keyed_digest


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=80), st.text(max_size=20), st.text(max_size=20))
def test_keyed_digest_is_hmac_sha256(key: bytes, value: str, purpose: str) -> None:
    expected = hmac.new(key, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()
    assert keyed_digest(key, value, purpose) == expected


def test_keyed_digest_depends_on_key_value_and_purpose() -> None:
    base = keyed_digest(b"k" * 32, "123456", "otp")
    assert len(base) == 64
    assert keyed_digest(b"j" * 32, "123456", "otp") != base
    assert keyed_digest(b"k" * 32, "123457", "otp") != base
    assert keyed_digest(b"k" * 32, "123456", "totp") != base
