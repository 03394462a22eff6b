"""The benchmark driver's outbox reader (`bench.scenarios.Outbox`, one plain statement) finds
the message `antechamber.delivery.outbox.recent` finds, on SQLite and PostgreSQL, and
`read_message` still refuses a missing, already read or other-template message."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from bench.scenarios import FlowFailed, Outbox, VirtualUser, read_message
from bench.stats import Recorder
from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from antechamber import crypto
from antechamber.delivery import outbox
from antechamber.delivery.models import OutboxMessage
from bench import scenarios

KEY = "bench-outbox-reader-key-0123456789abcdef"
T0 = datetime(2026, 1, 1, 12, 0, 0)


def _message(n: int, recipient: str, template: str, created: datetime) -> dict[str, Any]:
    payload = crypto.seal(KEY.encode(), outbox.PAYLOAD_PURPOSE, b'{"code": "%06d"}' % n)
    return {
        "id": f"message-test-{n:04d}",
        "project_id": "project-test-x",
        "channel": "sms",
        "recipient": recipient,
        "template": template,
        "locale": "en",
        "payload": payload,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": created,
        "created_at": created,
    }


@pytest.fixture
def filled(engine: Engine) -> Engine:
    rows = [
        _message(1, "+12025550101", "sms_otp", T0),
        _message(3, "+12025550101", "sms_otp", T0 + timedelta(seconds=2)),
        # the same instant as message 3: the larger id is the newer, as in outbox.recent
        _message(4, "+12025550101", "discovery_magic_link", T0 + timedelta(seconds=2)),
        _message(2, "+12025550101", "sms_otp", T0 + timedelta(seconds=1)),
        _message(5, "+12025550102", "sms_otp", T0 + timedelta(seconds=9)),
    ]
    with engine.begin() as conn:
        conn.execute(insert(OutboxMessage), rows)
    return engine


def _vu(box: Outbox) -> VirtualUser:
    return VirtualUser(0, 1, None, None, Recorder(), box)  # type: ignore[arg-type]


def test_newest_is_the_message_outbox_recent_finds(filled: Engine, database_url: str) -> None:
    async def read(recipients: list[str]) -> list[Any]:
        box = Outbox(database_url, KEY)
        try:
            return [await box.newest(r) for r in recipients]
        finally:
            await box.close()

    recipients = ["+12025550101", "+12025550102", "+12025550199"]
    found = asyncio.run(read(recipients))
    with Session(filled) as db:
        expected = []
        for recipient in recipients:
            rows = outbox.recent(db, recipient=recipient, limit=1)
            expected.append(
                (rows[0].id, rows[0].template, outbox.context_of(rows[0], KEY.encode()))
                if rows
                else None
            )
    assert found == expected
    assert found[0] == ("message-test-0004", "discovery_magic_link", {"code": "000004"})
    assert found[2] is None


def test_read_message_takes_a_new_message_once(
    filled: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scenarios, "OUTBOX_POLL_TRIES", 3)

    async def steps() -> list[Any]:
        box = Outbox(database_url, KEY)
        vu = _vu(box)
        outcome: list[Any] = [await read_message(vu, "+12025550102", "sms_otp")]
        for recipient, template in [
            ("+12025550102", "sms_otp"),  # read already: not new
            ("+12025550101", "sms_otp"),  # the newest there is a magic link
            ("+12025550199", "sms_otp"),  # nothing at all
        ]:
            try:
                await read_message(vu, recipient, template)
                outcome.append("read")
            except FlowFailed as exc:
                outcome.append(str(exc))
        await box.close()
        outcome.append(vu.rec.routes["outbox: sms_otp"].n)
        outcome.append(dict(vu.rec.route_errors))
        return outcome

    assert asyncio.run(steps()) == [
        {"code": "000005"},
        "no new sms_otp message for the recipient",
        "no new sms_otp message for the recipient",
        "no new sms_otp message for the recipient",
        1,
        {"outbox: sms_otp → no new message": 3},
    ]
