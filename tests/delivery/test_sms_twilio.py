"""SMS through Twilio's Messages API, against a local server that checks the request format
and answers with Twilio's error shapes."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from antechamber.clock import FrozenClock
from antechamber.delivery import outbox
from antechamber.delivery.worker import DeliveryWorker
from antechamber.services import Services
from antechamber.settings import Settings, SettingsError, load_settings
from tests.conftest import Credentials, _free_port
from tests.delivery.conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FakeTwilio,
    drain,
    services_with,
    sms_code,
    twilio_error,
)


def twilio_services(
    settings: Settings, engine: Engine, clock: FrozenClock, base_url: str, **extra: object
) -> Services:
    overrides: dict[str, object] = {
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": SecretStr(AUTH_TOKEN),
        "twilio_from_number": "+15017122661",
        "twilio_base_url": base_url,
        "public_base_url": "https://auth.acme.example",
        "product_name": "Acme",
        **extra,
    }
    return services_with(settings, engine, clock, **overrides)


def only_message(services: Services) -> tuple[str, int, str | None, str | None]:
    with services.sessions() as session:
        [m] = outbox.recent(session)
        return m.status, m.attempts, m.last_error, m.provider_message_id


def test_code_is_sent_in_twilios_format(
    settings: Settings, engine: Engine, clock: FrozenClock, project: Credentials, twilio: FakeTwilio
) -> None:
    services = twilio_services(settings, engine, clock, twilio.url)
    sms_code(services, project.project_id, "+12025550123", code="482913", minutes=2)
    drain(DeliveryWorker(services))

    [request] = twilio.requests
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert request.content_type.startswith("application/x-www-form-urlencoded")
    assert request.form["To"] == "+12025550123"
    assert request.form["From"] == "+15017122661"
    body = request.form["Body"]
    assert "482913" in body
    assert "Acme" in body
    assert "2 minutes" in body
    assert body.splitlines()[-1] == "@auth.acme.example #482913"

    status, _, _, sid = only_message(services)
    assert status == "sent"
    assert sid == "SM" + "1".zfill(32)
    assert services.metrics.sent.labels("sms", "twilio")._value.get() == 1


def test_api_key_and_messaging_service(
    settings: Settings, engine: Engine, clock: FrozenClock, project: Credentials, twilio: FakeTwilio
) -> None:
    twilio.credentials = ("SK" + "a" * 32, "key-secret")
    services = twilio_services(
        settings,
        engine,
        clock,
        twilio.url,
        twilio_auth_token=None,
        twilio_api_key_sid="SK" + "a" * 32,
        twilio_api_key_secret=SecretStr("key-secret"),
        twilio_from_number=None,
        twilio_messaging_service_sid="MG" + "b" * 32,
    )
    sms_code(services, project.project_id)
    drain(DeliveryWorker(services))
    [request] = twilio.requests
    assert request.auth == ("SK" + "a" * 32, "key-secret")
    assert request.form["MessagingServiceSid"] == "MG" + "b" * 32
    assert "From" not in request.form
    assert only_message(services)[0] == "sent"


@pytest.mark.parametrize(
    ("reply", "kept"),
    [
        (
            (
                400,
                twilio_error(
                    21211, "The 'To' number +12025550123 is not a valid phone number.", 400
                ),
            ),
            "twilio 400 (error 21211): The 'To' number +12025550123 is not a valid phone number.",
        ),
        (
            (400, twilio_error(21610, "Attempt to send to unsubscribed recipient", 400)),
            "twilio 400 (error 21610): Attempt to send to unsubscribed recipient",
        ),
    ],
)
def test_client_errors_are_permanent(
    settings: Settings,
    engine: Engine,
    clock: FrozenClock,
    project: Credentials,
    twilio: FakeTwilio,
    reply: tuple[int, dict],
    kept: str,
) -> None:
    services = twilio_services(settings, engine, clock, twilio.url)
    twilio.replies.append(reply)
    sms_code(services, project.project_id)
    [result] = drain(DeliveryWorker(services))
    assert result.failed == 1
    assert only_message(services)[:3] == ("failed", 1, kept)
    assert services.metrics.failed.labels("sms", "permanent")._value.get() == 1


def test_wrong_credentials_are_a_permanent_401(
    settings: Settings, engine: Engine, clock: FrozenClock, project: Credentials, twilio: FakeTwilio
) -> None:
    services = twilio_services(
        settings, engine, clock, twilio.url, twilio_auth_token=SecretStr("wrong")
    )
    sms_code(services, project.project_id)
    drain(DeliveryWorker(services))
    assert only_message(services)[:3] == ("failed", 1, "twilio 401 (error 20003): Authenticate")


@pytest.mark.parametrize(
    "reply",
    [
        (500, twilio_error(20500, "Internal Server Error", 500)),
        (503, {}),
        (429, twilio_error(20429, "Too Many Requests", 429)),
    ],
)
def test_server_errors_and_throttling_are_retried(
    settings: Settings,
    engine: Engine,
    clock: FrozenClock,
    project: Credentials,
    twilio: FakeTwilio,
    reply: tuple[int, dict],
) -> None:
    services = twilio_services(settings, engine, clock, twilio.url)
    twilio.replies.append(reply)
    sms_code(services, project.project_id)
    worker = DeliveryWorker(services)
    assert worker.run_once().retried == 1
    status, attempts, error, _ = only_message(services)
    assert (status, attempts) == ("pending", 1)
    assert error is not None
    assert error.startswith(f"twilio {reply[0]}")

    clock.advance(seconds=services.settings.delivery_retry_base_seconds)
    assert worker.run_once().sent == 1  # the next try gets Twilio's 201
    assert only_message(services)[:3] == ("sent", 2, None)
    assert len(twilio.requests) == 2


def test_network_error_is_retried(
    settings: Settings, engine: Engine, clock: FrozenClock, project: Credentials
) -> None:
    services = twilio_services(settings, engine, clock, f"http://127.0.0.1:{_free_port()}")
    sms_code(services, project.project_id)
    assert DeliveryWorker(services).run_once().retried == 1
    status, _, error, _ = only_message(services)
    assert status == "pending"
    assert error is not None
    assert error.startswith("twilio unreachable: ConnectError")


def test_refused_number_never_reaches_twilio(
    settings: Settings, engine: Engine, clock: FrozenClock, project: Credentials, twilio: FakeTwilio
) -> None:
    services = twilio_services(settings, engine, clock, twilio.url)
    with pytest.raises(Exception, match="mobile numbers"):
        sms_code(services, project.project_id, "+19005550123")  # premium rate
    assert drain(DeliveryWorker(services)) == []
    assert twilio.requests == []


def test_twilio_settings_must_be_complete() -> None:
    with pytest.raises(SettingsError, match="ANTECHAMBER_TWILIO_AUTH_TOKEN"):
        load_settings(_env_file=None, twilio_account_sid=ACCOUNT_SID, twilio_from_number="+1")
    with pytest.raises(SettingsError, match="ANTECHAMBER_TWILIO_FROM_NUMBER"):
        load_settings(_env_file=None, twilio_account_sid=ACCOUNT_SID, twilio_auth_token="t")
