"""`phones.classified`, the one parse of a number, against the library's own calls it replaces:
`canonical_phone` validated with `is_valid_number` and `sms_policy` classified with a second
parse (`number_type`, `region_code_for_number`)."""

from __future__ import annotations

import phonenumbers
import pytest
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from antechamber import phones
from antechamber.errors import InvalidPhoneNumber


def _library(raw: str) -> tuple[str, str | None, int] | None:
    """What the two parses answered before: None for a number `canonical_phone` refuses."""
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    if e164 != raw.replace(" ", "").replace("-", ""):
        return None
    again = phonenumbers.parse(e164, None)  # sms_policy parsed the canonical text again
    return e164, phonenumbers.region_code_for_number(again), phonenumbers.number_type(again)


def _ours(raw: str) -> tuple[str, str | None, int] | None:
    try:
        found = phones.classified(raw)
    except InvalidPhoneNumber:
        return None
    assert phones.canonical_phone(raw) == found.e164
    return tuple(found)  # type: ignore[return-value]


def _corpus() -> list[str]:
    """Every region's example number of every type, written as given and with spaces, and its
    near misses (a digit changed, one dropped, one added), plus numbers of no region."""
    kinds = [v for k, v in vars(PhoneNumberType).items() if k.isupper() and isinstance(v, int)]
    found: list[str] = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in kinds:
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            e164 = phonenumbers.format_number(example, PhoneNumberFormat.E164)
            found += [e164, e164[:-1], e164 + "7", e164[:-1] + str((int(e164[-1]) + 5) % 10)]
            found.append(phonenumbers.format_number(example, PhoneNumberFormat.INTERNATIONAL))
    for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        example = phonenumbers.example_number_for_non_geo_entity(code)
        if example is not None:
            found.append(phonenumbers.format_number(example, PhoneNumberFormat.E164))
    return found


def test_one_parse_answers_as_the_library_did() -> None:
    corpus = _corpus()
    assert len(corpus) > 3000
    differ = [raw for raw in corpus if _ours(raw) != _library(raw)]
    assert differ == []
    valid = [raw for raw in corpus if _library(raw) is not None]
    assert len(valid) > 1000  # the corpus exercises both answers
    assert len(valid) < len(corpus) - 1000


@pytest.mark.parametrize(
    "raw",
    [
        "+12022001234",  # bench numbers (North America: several regions share +1)
        "+1 202-200-1234",
        "+14165550123",
        "+447400123456",
        "+19005550123",
        "+800 1234 5678",  # international freephone: no region
        "+999123456",  # no such calling code
        "+",
        "+1",
        "+1202200123a",
        "+12022001234567890123456789012345",  # longer than 32
    ],
)
def test_edge_cases_answer_as_the_library_did(raw: str) -> None:
    assert _ours(raw) == _library(raw) or (len(raw) > 32 and _ours(raw) is None)


@pytest.mark.parametrize("raw", [None, 12025550123, "12025550123", ""])
def test_not_e164_text_is_refused(raw: object) -> None:
    with pytest.raises(InvalidPhoneNumber):
        phones.classified(raw)
    with pytest.raises(InvalidPhoneNumber):
        phones.canonical_phone(raw)
