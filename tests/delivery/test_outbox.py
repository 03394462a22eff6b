"""The outbox is transactional, keeps what it carries sealed, and lets through only messages
that pass the safety rules; a refusal is an error to the caller and an audit event."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, text

from antechamber import db
from antechamber.audit import service as audit
from antechamber.delivery import outbox
from antechamber.delivery.errors import (
    SmsNumberTypeNotAllowed,
    SmsRegionNotAllowed,
    TemplateContractError,
)
from antechamber.delivery.models import OutboxMessage
from antechamber.errors import InvalidEmail, InvalidPhoneNumber, TooManyRequests
from antechamber.services import Services
from tests.conftest import Credentials
from tests.delivery.conftest import magic_link, sms_code


def all_messages(services: Services) -> list[OutboxMessage]:
    with services.sessions() as session:
        return list(session.scalars(select(OutboxMessage)))


def refusals(services: Services) -> list[dict[str, object]]:
    with services.sessions() as session:
        return [e.details for e in audit.list_events(session, event_type="delivery.refused")]


def test_message_commits_with_its_transaction(services: Services, project: Credentials) -> None:
    url = magic_link(services, project.project_id, "Ada@ACME.example")
    with services.sessions() as session:
        [message] = outbox.recent(session)
        assert message.status == "pending"
        assert message.recipient == "ada@acme.example"  # canonical
        assert message.project_id == project.project_id
        assert outbox.context_of(message, services.settings.key_bytes()) == {
            "url": url,
            "expiration_minutes": 15,
        }


def test_rolled_back_transaction_leaves_no_message(
    services: Services, project: Credentials
) -> None:
    with pytest.raises(RuntimeError), services.scope(project.project_id, "test", "test") as scope:
        outbox.enqueue(
            scope,
            channel="sms",
            recipient="+12025550123",
            template="sms_otp",
            context={"code": "123456", "expiration_minutes": 10},
        )
        raise RuntimeError("the token's transaction failed")
    assert all_messages(services) == []


def test_payload_is_not_readable_in_the_database(services: Services, project: Credentials) -> None:
    sms_code(services, project.project_id, code="918273")
    magic_link(services, project.project_id, token="SeCrEtToKeN")
    with db.transaction(services.sessions) as session:
        raw = " ".join(session.execute(text("SELECT payload FROM outbox_messages")).scalars())
    assert "918273" not in raw
    assert "SeCrEtToKeN" not in raw


@pytest.mark.parametrize(
    ("channel", "template", "context", "problem"),
    [
        ("email", "no_such_template", {}, "no message template"),
        ("sms", "discovery_magic_link", {"url": "https://x", "expiration_minutes": 1}, "for email"),
        ("email", "discovery_magic_link", {"url": "https://x"}, "missing ['expiration_minutes']"),
        (
            "email",
            "discovery_magic_link",
            {"url": "https://x", "expiration_minutes": 1, "extra": 1},
            "unknown ['extra']",
        ),
        (
            "email",
            "discovery_magic_link",
            {"url": "javascript:alert(1)", "expiration_minutes": 1},
            "http(s) URL",
        ),
        (
            "email",
            "discovery_magic_link",
            {"url": "https://x", "expiration_minutes": "15"},
            "whole number of minutes",
        ),
        ("sms", "sms_otp", {"code": 123456, "expiration_minutes": 2}, "leading zeros"),
    ],
)
def test_a_broken_template_contract_is_a_programming_error(
    services: Services,
    project: Credentials,
    channel: str,
    template: str,
    context: dict,
    problem: str,
) -> None:
    with (
        pytest.raises(TemplateContractError, match=re.escape(problem)),
        services.scope(project.project_id, "test", "test") as scope,
    ):
        outbox.enqueue(
            scope,
            channel=channel,  # type: ignore[arg-type]
            recipient="ada@acme.example",
            template=template,
            context=context,
        )


def test_unknown_locale_falls_back_to_english(services: Services, project: Credentials) -> None:
    magic_link(services, project.project_id, locale="fr-CA")
    magic_link(services, project.project_id, "bob@acme.example", locale="tlh")
    with services.sessions() as session:
        locales = {m.recipient: m.locale for m in outbox.recent(session)}
    assert locales == {"ada@acme.example": "fr", "bob@acme.example": "en"}


@pytest.mark.parametrize(
    ("number", "error", "reason"),
    [
        ("+18005550123", SmsNumberTypeNotAllowed, "unsupported_phone_number_type"),  # toll-free
        ("+19005550123", SmsNumberTypeNotAllowed, "unsupported_phone_number_type"),  # premium
        ("+33612345678", SmsRegionNotAllowed, "invalid_phone_number_country_code"),  # FR mobile
        ("2025550123", InvalidPhoneNumber, "invalid_phone_number"),  # not E.164
    ],
)
def test_refused_sms_is_an_error_an_audit_event_and_no_message(
    services: Services, project: Credentials, number: str, error: type[Exception], reason: str
) -> None:
    with pytest.raises(error):
        sms_code(services, project.project_id, number)
    # The caller's transaction rolled back, yet the refusal is on record.
    assert all_messages(services) == []
    [event] = refusals(services)
    assert event["channel"] == "sms"
    assert event["reason"] == reason
    assert event["template"] == "sms_otp"
    assert number not in str(event)  # masked, not the whole number


def test_invalid_email_is_refused(services: Services, project: Credentials) -> None:
    with pytest.raises(InvalidEmail):
        magic_link(services, project.project_id, "not-an-address")
    assert all_messages(services) == []


def test_per_recipient_email_limit(services: Services, project: Credentials) -> None:
    # Default: 3 per minute to one address.
    for _ in range(3):
        magic_link(services, project.project_id, "ada@acme.example")
    with pytest.raises(TooManyRequests) as refused:
        magic_link(services, project.project_id, "ADA@acme.example")
    assert 1 <= refused.value.retry_after <= 60
    assert refused.value.details == {"limit": "email:recipient"}
    magic_link(services, project.project_id, "bob@acme.example")  # others are unaffected
    assert len(all_messages(services)) == 4
    [event] = refusals(services)
    assert event == {
        "channel": "email",
        "template": "discovery_magic_link",
        "reason": "email:recipient",
        "recipient": "a***@acme.example",
    }


def test_per_recipient_sms_limit_counts_only_allowed_sends(
    services: Services, project: Credentials
) -> None:
    sms_code(services, project.project_id, "+12025550123")
    with pytest.raises(TooManyRequests) as refused:
        sms_code(services, project.project_id, "+12025550123")  # 1 per 30 seconds
    assert 1 <= refused.value.retry_after <= 30
    assert services.metrics.refused.labels("sms", "sms:recipient")._value.get() == 1
    assert services.metrics.rate_limited.labels("sms:recipient")._value.get() == 1


def test_sms_pumping_through_a_number_range_is_stopped(
    settings, engine, clock, project: Credentials
) -> None:
    from tests.delivery.conftest import services_with

    services = services_with(settings, engine, clock, limit_sms_per_prefix="3/hour")
    for last in range(3):
        sms_code(services, project.project_id, f"+1202555010{last}")
    with pytest.raises(TooManyRequests) as refused:
        sms_code(services, project.project_id, "+12025550109")
    assert refused.value.details == {"limit": "sms:prefix"}
    sms_code(services, project.project_id, "+14155550100")  # another range


def test_project_limit_does_not_use_up_the_recipients_allowance(
    settings, engine, clock, project: Credentials, other_project: Credentials
) -> None:
    from tests.delivery.conftest import services_with

    services = services_with(
        settings,
        engine,
        clock,
        limit_email_per_project="2/hour",
        limit_email_per_recipient="1/hour",
    )
    magic_link(services, project.project_id, "a@acme.example")
    magic_link(services, project.project_id, "b@acme.example")
    with pytest.raises(TooManyRequests) as refused:
        magic_link(services, project.project_id, "c@acme.example")
    assert refused.value.details == {"limit": "email:project"}
    # Another project has its own allowance, and the refusal did not use up c@'s one email.
    magic_link(services, other_project.project_id, "c@acme.example")
    # The recipient's limit spans projects: many projects cannot flood one mailbox.
    with pytest.raises(TooManyRequests):
        magic_link(services, other_project.project_id, "c@acme.example")


def test_scope_without_a_limiter_is_a_wiring_bug(services: Services, project: Credentials) -> None:
    import dataclasses

    with services.scope(project.project_id, "test", "test") as scope:
        bare = dataclasses.replace(scope, limiter=None)
        with pytest.raises(RuntimeError, match="rate limiter"):
            outbox.enqueue(
                bare,
                channel="email",
                recipient="ada@acme.example",
                template="discovery_magic_link",
                context={"url": "https://x", "expiration_minutes": 5},
            )


def test_a_refusal_the_caller_handles_is_recorded_once(
    services: Services, project: Credentials
) -> None:
    sms_code(services, project.project_id, "+12025550123")
    # The caller catches the refusal (say, to tell the member to wait) and commits.
    with (
        services.scope(project.project_id, "test", "test") as scope,
        pytest.raises(TooManyRequests),
    ):
        outbox.enqueue(
            scope,
            channel="sms",
            recipient="+12025550123",
            template="sms_otp",
            context={"code": "000000", "expiration_minutes": 10},
        )
    assert len(refusals(services)) == 1
