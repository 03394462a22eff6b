"""Phone numbers: E.164 only, parsed and validated with `phonenumbers`."""

from __future__ import annotations

import phonenumbers

from antechamber.errors import InvalidPhoneNumber


def canonical_phone(raw: object) -> str:
    """The E.164 form of a valid number given in E.164 (`+` and country code required)."""
    if not isinstance(raw, str) or not raw.startswith("+") or len(raw) > 32:
        raise InvalidPhoneNumber()
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        raise InvalidPhoneNumber() from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber()
    e164: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if e164 != raw.replace(" ", "").replace("-", ""):
        raise InvalidPhoneNumber()
    return e164


def masked(e164: str) -> str:
    """`+1******0123`: enough for a person to recognise their number, not to learn it."""
    if len(e164) < 6:
        return "*" * len(e164)
    return e164[:2] + "*" * (len(e164) - 6) + e164[-4:]
