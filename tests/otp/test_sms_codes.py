"""SMS codes at the domain level: single use, expiry, attempt limits, lockout, hashing."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import text

from antechamber.clock import FrozenClock
from antechamber.errors import AntechamberError
from antechamber.members.models import Member
from antechamber.otp import sms
from antechamber.services import Services
from tests.conftest import Credentials
from tests.factories import make_member, make_org

PHONE = "+12025550123"


@pytest.fixture
def member(services: Services, project: Credentials) -> Member:
    org = make_org(services, project.project_id)
    return make_member(services, project.project_id, org)


def issue(services: Services, member: Member) -> str:
    with services.scope(member.project_id, "test", "test") as scope:
        return sms.issue_code(scope, member, PHONE).code


def verify(services: Services, member: Member, code: str) -> str:
    """The error_type of the attempt, or "ok"."""
    try:
        with services.scope(member.project_id, "test", "test") as scope:
            sms.verify_code(scope, member, code)
    except AntechamberError as exc:
        return exc.error_type
    return "ok"


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_a_code_works_once(services: Services, member: Member) -> None:
    code = issue(services, member)
    assert verify(services, member, code) == "ok"
    assert verify(services, member, code) == "unable_to_auth_otp_code"


def test_a_new_code_replaces_the_old(services: Services, member: Member) -> None:
    old = issue(services, member)
    new = issue(services, member)
    if old != new:
        assert verify(services, member, old) == "otp_code_not_found"
    assert verify(services, member, new) == "ok"


def test_expired_code(services: Services, member: Member, clock: FrozenClock) -> None:
    code = issue(services, member)
    clock.advance(minutes=2, seconds=1)
    assert verify(services, member, code) == "unable_to_auth_otp_code"


def test_five_wrong_guesses_kill_the_code(services: Services, member: Member) -> None:
    code = issue(services, member)
    for _ in range(5):
        assert verify(services, member, wrong(code)) == "otp_code_not_found"
    assert verify(services, member, code) == "unable_to_auth_otp_code"


def test_malformed_code_is_refused_without_counting(services: Services, member: Member) -> None:
    code = issue(services, member)
    for bad in ("12345", "1234567", "abcdef", " 123456"):
        assert verify(services, member, bad) == "invalid_code"
    assert verify(services, member, code) == "ok"


def test_a_run_of_failures_locks_the_member(
    services: Services, member: Member, clock: FrozenClock
) -> None:
    for _ in range(2):
        code = issue(services, member)
        for _ in range(5):
            verify(services, member, wrong(code))
    code = issue(services, member)
    assert verify(services, member, code) == "member_locked"
    clock.advance(minutes=31)
    code = issue(services, member)
    assert verify(services, member, code) == "ok"


def test_failures_outside_the_window_do_not_add_up(
    services: Services, member: Member, clock: FrozenClock
) -> None:
    for _ in range(3):
        code = issue(services, member)
        for _ in range(3):
            verify(services, member, wrong(code))
        clock.advance(minutes=16)
    code = issue(services, member)
    assert verify(services, member, code) == "ok"


def test_no_raw_code_in_the_database(services: Services, member: Member) -> None:
    code = issue(services, member)
    with services.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM sms_otps")).all()
    assert rows
    assert code not in repr(rows)


@pytest.mark.postgres_only
def test_concurrent_guesses_are_counted_exactly(services: Services, member: Member) -> None:
    code = issue(services, member)
    results: list[str] = []
    guesses = [f"{n:06d}" for n in range(51) if f"{n:06d}" != code][:50]
    barrier = threading.Barrier(10)

    def guess(batch: list[str]) -> None:
        barrier.wait()
        results.extend(verify(services, member, g) for g in batch)

    threads = [threading.Thread(target=guess, args=(guesses[i::10],)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Exactly five guesses were counted against the code (then it died); the other 45 found
    # it dead. Each counted guess counted once against the member.
    assert Counter(results) == {"otp_code_not_found": 5, "unable_to_auth_otp_code": 45}
    with services.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sms_otps")).scalar_one() == 0
        failures = conn.execute(
            text("SELECT mfa_failed_attempts FROM members WHERE id = :id"), {"id": member.id}
        ).scalar_one()
    assert failures == 5


@pytest.mark.postgres_only
def test_concurrent_correct_codes_win_once(services: Services, member: Member) -> None:
    code = issue(services, member)
    results: list[str] = []
    barrier = threading.Barrier(20)

    def attempt() -> None:
        barrier.wait()
        results.append(verify(services, member, code))

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 1
