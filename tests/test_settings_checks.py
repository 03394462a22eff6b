"""The checks of settings' values (`settings_checks`), through `load_settings` as a server
start meets them: a bad value is refused with the variable's name, a good one normalised."""

from __future__ import annotations

import pytest

from antechamber.settings import SettingsError, load_settings


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("public_base_url", "auth.example", "must start with http:// or https://"),
        ("twilio_base_url", "ftp://api.twilio.com", "must start with http:// or https://"),
        ("database_url", "mysql://db/app", "must be a sqlite:// or postgresql:// URL"),
        ("limit_sms_per_member", "often", "not a rate limit"),
        ("limit_sso_discovery_per_ip", "5 a minute", "not a rate limit"),
        ("webapp_cors_origins", "https://app.example/path", "is not an origin"),
        ("webapp_cors_origins", "app.example", "is not an origin"),
    ],
)
def test_a_bad_value_is_refused_with_the_variables_name(
    field: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError, match=rf"^ANTECHAMBER_{field.upper()}: .*{message}"):
        load_settings(**{field: value})


def test_good_values_are_normalised() -> None:
    settings = load_settings(
        public_base_url="https://auth.example/",
        database_url="postgresql://db.example/app",
        webapp_cors_origins="https://app.example/, http://localhost:3000",
        limit_sms_per_member="3/minute;10/hour",
    )
    assert settings.public_base_url == "https://auth.example"
    assert settings.database_url == "postgresql+psycopg://db.example/app"
    assert settings.webapp_cors_origins == ["https://app.example", "http://localhost:3000"]
    assert settings.limit_sms_per_member == "3/minute;10/hour"
