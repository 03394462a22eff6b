"""Console sessions: hashed tokens, idle and absolute timeouts, revocation, operators only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from antechamber import db, tokens
from antechamber.audit import service as audit
from antechamber.clock import FrozenClock
from antechamber.operators import service as operators
from antechamber.operators import sessions
from antechamber.operators.errors import (
    ConsoleSessionExpired,
    ConsoleSessionInvalid,
    NotAnOperator,
)
from antechamber.operators.models import ConsoleSession
from antechamber.services import Services
from tests.conftest import Credentials
from tests.factories import make_member, make_operator, make_org, open_console_session


def authenticate(services: Services, token: str) -> sessions.Operator:
    with db.transaction(services.sessions) as session:
        return sessions.authenticate(
            session, token, clock=services.clock, settings=services.settings
        )


def test_a_session_is_a_random_token_stored_only_as_its_digest(services: Services) -> None:
    op = make_operator(services)
    token = open_console_session(services, op.id)
    assert len(token) >= 43  # 256 bits, url-safe
    with services.sessions() as session:
        row = session.scalars(select(ConsoleSession)).one()
        assert row.token_digest == tokens.digest(token)
        assert token not in repr(row.__dict__)
    who = authenticate(services, token)
    assert (who.member_id, who.email, who.actor) == (op.id, op.email_address, f"operator:{op.id}")


def test_each_sign_in_is_a_new_session(services: Services) -> None:
    op = make_operator(services)
    first, second = open_console_session(services, op.id), open_console_session(services, op.id)
    assert first != second
    assert authenticate(services, first).session_id != authenticate(services, second).session_id


def test_unknown_tokens_are_refused(services: Services) -> None:
    make_operator(services)
    for token in ("", "nope", tokens.new_token()):
        with pytest.raises(ConsoleSessionInvalid):
            authenticate(services, token)


def test_only_operators_get_sessions(services: Services, project: Credentials) -> None:
    make_operator(services, "ops@example.com")
    org = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    customer = make_member(services, project.project_id, org, email_address="ops@example.com")
    with pytest.raises(NotAnOperator):
        open_console_session(services, customer.id)
    with pytest.raises(NotAnOperator):
        open_console_session(services, "member-live-nobody")


def test_without_operators_nobody_gets_a_session(services: Services, project: Credentials) -> None:
    org = make_org(services, project.project_id)
    customer = make_member(services, project.project_id, org)
    with pytest.raises(NotAnOperator):
        open_console_session(services, customer.id)


def test_a_second_factor_is_required(services: Services) -> None:
    op = make_operator(services)
    with db.transaction(services.sessions) as session, pytest.raises(ValueError, match="mfa"):
        sessions.start(
            session,
            member_id=op.id,
            mfa_method="magic_link",
            clock=services.clock,
            settings=services.settings,
        )


def test_idle_timeout(services: Services, clock: FrozenClock) -> None:
    op = make_operator(services)
    token = open_console_session(services, op.id)
    idle = services.settings.console_idle_minutes
    clock.advance(minutes=idle - 1)
    authenticate(services, token)  # activity resets the idle clock
    clock.advance(minutes=idle - 1)
    authenticate(services, token)
    clock.advance(minutes=idle)
    with pytest.raises(ConsoleSessionExpired):
        authenticate(services, token)


def test_absolute_timeout_however_active(services: Services, clock: FrozenClock) -> None:
    op = make_operator(services)
    token = open_console_session(services, op.id)
    hours = services.settings.console_absolute_hours
    elapsed = timedelta()
    while elapsed < timedelta(hours=hours) - timedelta(minutes=10):
        clock.advance(minutes=10)
        elapsed += timedelta(minutes=10)
        authenticate(services, token)
    clock.advance(minutes=10)
    with pytest.raises(ConsoleSessionExpired):
        authenticate(services, token)


def test_sign_out_ends_the_session_at_once(services: Services) -> None:
    op = make_operator(services)
    token, other = open_console_session(services, op.id), open_console_session(services, op.id)
    who = authenticate(services, token)
    with db.transaction(services.sessions) as session:
        sessions.end(session, who.session_id, clock=services.clock, settings=services.settings)
    with pytest.raises(ConsoleSessionInvalid):
        authenticate(services, token)
    authenticate(services, other)  # only that one


def test_revoke_all_and_removal(services: Services) -> None:
    op = make_operator(services)
    a, b = open_console_session(services, op.id), open_console_session(services, op.id)
    with db.transaction(services.sessions) as session:
        ended = sessions.revoke_all(
            session, op.id, actor="cli", clock=services.clock, settings=services.settings
        )
        assert sessions.live_session_count(session, op.id, clock=services.clock) == 0
    assert ended == 2
    for token in (a, b):
        with pytest.raises(ConsoleSessionInvalid):
            authenticate(services, token)

    c = open_console_session(services, op.id)
    with db.transaction(services.sessions) as session:
        operators.remove_operator(
            session, op.id, actor="cli", clock=services.clock, settings=services.settings
        )
    with pytest.raises(ConsoleSessionInvalid):
        authenticate(services, c)


def test_sign_in_and_out_are_audited_in_the_operators_project(services: Services) -> None:
    op = make_operator(services)
    token = open_console_session(services, op.id)
    who = authenticate(services, token)
    with db.transaction(services.sessions) as session:
        sessions.end(session, who.session_id, clock=services.clock, settings=services.settings)
    with services.sessions() as session:
        home = operators.find_home(session)
        assert home is not None
        events = audit.list_events(session, project_id=home.project_id, member_id=op.id)
        trail = [(e.event_type, e.actor) for e in reversed(events)]
    assert trail[-2:] == [
        ("console.signed_in", f"operator:{op.id}"),
        ("console.signed_out", f"operator:{op.id}"),
    ]
    assert events[1].details["mfa_method"] == "sms_otp"


def test_a_flash_message_is_shown_once(services: Services) -> None:
    op = make_operator(services)
    who = authenticate(services, open_console_session(services, op.id))
    with db.transaction(services.sessions) as session:
        sessions.set_flash(session, who.session_id, "Saved.")
    with db.transaction(services.sessions) as session:
        assert sessions.take_flash(session, who.session_id) == "Saved."
    with db.transaction(services.sessions) as session:
        assert sessions.take_flash(session, who.session_id) is None
