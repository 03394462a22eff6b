"""Phone numbers: E.164 only, parsed and validated with `phonenumbers`."""

from __future__ import annotations

import functools
from typing import NamedTuple

import phonenumbers
from phonenumbers import PhoneNumberType

from antechamber.errors import InvalidPhoneNumber


class Classified(NamedTuple):
    """A valid number (`classified`): its E.164 text, its region (None for a number of no
    region) and its `phonenumbers.PhoneNumberType`."""

    e164: str
    region: str | None
    number_type: int


def canonical_phone(raw: object) -> str:
    """The E.164 form of a valid number given in E.164 (`+` and country code required)."""
    return classified(raw).e164


def classified(raw: object) -> Classified:
    """`raw` as `canonical_phone` checks it, with the region and type the SMS policy needs
    (`delivery.sms_policy`); raises `InvalidPhoneNumber` as `canonical_phone` does."""
    if not isinstance(raw, str) or not raw.startswith("+") or len(raw) > 32:
        raise InvalidPhoneNumber()
    found = _classified(raw)
    if found is None:
        raise InvalidPhoneNumber()
    return found


# Parsing a number and working out its type cost 40 µs, and a member's number is checked on
# every text sent to it (twice: the caller's, the outbox's; the SMS policy wants its region and
# type too). The answer depends on nothing but the text and phonenumbers' metadata, so it is
# remembered for the last few thousand texts (each at most 32 characters). One parse serves
# both questions: a new number used to be parsed twice, once to validate and once to classify.
@functools.lru_cache(maxsize=4096)
def _classified(raw: str) -> Classified | None:
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return None
    # `is_valid_number` is `number_type` != UNKNOWN: both look the number up in the metadata
    # of the region `region_code_for_number` finds for it (whose calling code is the number's
    # by construction) and match its national number against the same patterns; one call
    # instead of two. tests/otp/test_phone_numbers.py holds this against the library's own
    # `is_valid_number` over every region's example numbers and their near misses.
    kind: int = phonenumbers.number_type(number)
    if kind == PhoneNumberType.UNKNOWN:
        return None
    e164: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if e164 != raw.replace(" ", "").replace("-", ""):
        return None
    return Classified(e164, phonenumbers.region_code_for_number(number), kind)


def masked(e164: str) -> str:
    """`+1******0123`: enough for a person to recognise their number, not to learn it."""
    if len(e164) < 6:
        return "*" * len(e164)
    return e164[:2] + "*" * (len(e164) - 6) + e164[-4:]
