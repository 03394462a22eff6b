"""Phone numbers: E.164 only, parsed and validated with `phonenumbers`."""

from __future__ import annotations

import functools

import phonenumbers

from antechamber.errors import InvalidPhoneNumber


def canonical_phone(raw: object) -> str:
    """The E.164 form of a valid number given in E.164 (`+` and country code required)."""
    if not isinstance(raw, str) or not raw.startswith("+") or len(raw) > 32:
        raise InvalidPhoneNumber()
    e164 = _e164(raw)
    if e164 is None:
        raise InvalidPhoneNumber()
    return e164


# Parsing and validating a number costs 30-40 µs, and a member's number is checked on every
# text sent to it (twice: the caller's, the outbox's). The answer depends on nothing but the
# text and phonenumbers' metadata, so it is remembered for the last few thousand texts (each at
# most 32 characters).
@functools.lru_cache(maxsize=4096)
def _e164(raw: str) -> str | None:
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    e164: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if e164 != raw.replace(" ", "").replace("-", ""):
        return None
    return e164


def masked(e164: str) -> str:
    """`+1******0123`: enough for a person to recognise their number, not to learn it."""
    if len(e164) < 6:
        return "*" * len(e164)
    return e164[:2] + "*" * (len(e164) - 6) + e164[-4:]
