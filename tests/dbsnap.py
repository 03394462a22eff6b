"""Database snapshots for tests that must prove a refusal changed nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from antechamber import models

# What a login or an MFA step could change. The audit trail is left out on purpose: refusals
# are recorded there (that is a change we want).
LOGIN_TABLES = (
    "members",
    "sms_otps",
    "intermediate_sessions",
    "member_sessions",
    "outbox_messages",
    "magic_links",
    "totp_registrations",
    "totp_recovery_codes",
)


def snapshot(engine: Engine, tables: tuple[str, ...] = LOGIN_TABLES) -> dict[str, list[Any]]:
    """Every row of `tables`, all columns, in primary-key order."""
    found: dict[str, list[Any]] = {}
    with engine.connect() as conn:
        for name in tables:
            table = models.metadata.tables[name]
            rows = conn.execute(select(table).order_by(*table.primary_key.columns))
            found[name] = [tuple(row) for row in rows]
    return found


def dump_everything(engine: Engine) -> str:
    """All rows of all tables, all columns, as one text (for searching for secrets)."""
    return repr(snapshot(engine, tuple(t.name for t in models.metadata.sorted_tables)))
