"""Delivery settings are checked at start, with messages that name the variable."""

from __future__ import annotations

import pytest

from antechamber.settings import SettingsError, load_settings


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"smtp_host": "mail.acme.example"}, "ANTECHAMBER_SMTP_FROM"),  # host 127.0.0.1
        ({"limit_sms_per_recipient": "often"}, "ANTECHAMBER_LIMIT_SMS_PER_RECIPIENT"),
        (
            {"delivery_lease_seconds": 20, "delivery_send_timeout_seconds": 15},
            "ANTECHAMBER_DELIVERY_LEASE_SECONDS",
        ),
        ({"smtp_tls": "ssl"}, "ANTECHAMBER_SMTP_TLS"),
        ({"redis_url": "localhost:6379"}, "ANTECHAMBER_REDIS_URL"),
    ],
)
def test_bad_delivery_settings(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(_env_file=None, **overrides)


def test_defaults() -> None:
    s = load_settings(_env_file=None, public_base_url="https://auth.acme.example")
    assert s.sms_allowed_regions == ["US", "CA"]
    assert s.smtp_sender == "Antechamber <no-reply@auth.acme.example>"
    assert s.smtp_effective_port == 587
    assert not s.smtp_configured
    assert not s.sms_configured
    assert load_settings(_env_file=None, smtp_tls="implicit").smtp_effective_port == 465


def test_regions_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTECHAMBER_SMS_ALLOWED_REGIONS", "us, ca,gb")
    assert load_settings(_env_file=None).sms_allowed_regions == ["US", "CA", "GB"]
