"""Which numbers may receive a text message (SMS pumping and NIST's VoIP rule)."""

from __future__ import annotations

import pytest

from antechamber.delivery.errors import SmsNumberTypeNotAllowed, SmsRegionNotAllowed
from antechamber.delivery.sms_policy import check_sms_number, number_prefix
from antechamber.errors import InvalidPhoneNumber
from antechamber.settings import Settings, SettingsError, load_settings


def settings_for(regions: str) -> Settings:
    return Settings(_env_file=None, sms_allowed_regions=regions)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "number",
    [
        "+12025550123",  # US, FIXED_LINE_OR_MOBILE: North America cannot tell
        "+14165550123",  # CA
    ],
)
def test_default_regions_accept_north_american_numbers(number: str) -> None:
    check_sms_number(settings_for("US,CA"), number)


@pytest.mark.parametrize(
    ("number", "kind"),
    [
        ("+18005550123", "toll_free"),
        ("+19005550123", "premium_rate"),
        ("+15005550006", "personal_number"),
        ("+445612345678", "voip"),
        ("+448431234567", "premium_rate"),
        ("+443001234567", "uan"),
        ("+442071838750", "fixed_line"),
    ],
)
def test_only_mobile_numbers(number: str, kind: str) -> None:
    with pytest.raises(SmsNumberTypeNotAllowed) as refused:
        check_sms_number(settings_for("US,GB"), number)
    assert refused.value.details == {"number_type": kind}
    assert refused.value.error_type == "unsupported_phone_number_type"


def test_shared_cost_numbers_are_refused() -> None:
    with pytest.raises(SmsNumberTypeNotAllowed) as refused:
        check_sms_number(settings_for("FR"), "+33810123456")
    assert refused.value.details == {"number_type": "shared_cost"}


def test_mobile_of_an_allowed_region() -> None:
    check_sms_number(settings_for("GB"), "+447400123456")
    check_sms_number(settings_for("fr, gb"), "+33612345678")


def test_region_outside_the_allow_list() -> None:
    with pytest.raises(SmsRegionNotAllowed) as refused:
        check_sms_number(settings_for("US,CA"), "+447400123456")
    assert refused.value.error_type == "invalid_phone_number_country_code"
    assert refused.value.details == {"region": "GB"}


@pytest.mark.parametrize("number", ["2025550123", "+1202555012", "+1 202 555 0123x", "", "+"])
def test_not_a_valid_e164_number(number: str) -> None:
    with pytest.raises(InvalidPhoneNumber):
        check_sms_number(settings_for("US"), number)


def test_allowed_regions_setting_is_validated() -> None:
    with pytest.raises(SettingsError, match=r"ANTECHAMBER_SMS_ALLOWED_REGIONS.*ZZ"):
        load_settings(_env_file=None, sms_allowed_regions="US,ZZ")


def test_number_prefix() -> None:
    assert number_prefix("+12025550123") == "+1202555"
