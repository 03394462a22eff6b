"""The driver's CPU per outbox read (`bench.scenarios.read_message`), without a server.

    PYTHONPATH=src:. python -m bench.outbox_micro [reads=4000] [users=32] [sqlite|postgres]
        [PG_ADMIN_URL=postgresql://postgres@127.0.0.1:5432/postgres]

Makes a database of its own (PostgreSQL: `antechamber_outbox_micro_<pid>`, dropped at the end;
SQLite: a temporary file), migrated, with 2,000 sealed messages to 1,000 recipients, then
`users` virtual users read `reads` messages through `read_message` on uvloop, as the driver's
logins do, and prints the process's CPU per read (user and system, all threads) and the
wall time. See docs/performance.md, item 89.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from antechamber import crypto, db, migrations
from antechamber.delivery.models import OutboxMessage
from antechamber.delivery.outbox import PAYLOAD_PURPOSE
from bench.servers import drop_postgres_database, recreate_postgres_database

RECIPIENTS = 1000
KEY = "outbox-micro-key-" + "k" * 32


def _fill(url: str) -> None:
    engine = db.make_engine(url)
    migrations.upgrade(engine)
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = []
    for i in range(RECIPIENTS):
        for n, template in enumerate(("sms_otp", "discovery_magic_link")):
            rows.append(
                {
                    "id": f"message-test-{i:06d}-{n}",
                    "project_id": "project-test-x",
                    "channel": "email",
                    "recipient": f"user{i}@example.com",
                    "template": template,
                    "locale": "en",
                    "payload": crypto.seal(
                        KEY.encode(),
                        PAYLOAD_PURPOSE,
                        b'{"url":"http://x/?token=' + b"t" * 44 + b'"}',
                    ),
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now + timedelta(microseconds=n),
                }
            )
    with engine.begin() as conn:
        conn.execute(insert(OutboxMessage), rows)
    engine.dispose()


async def _drive(url: str, reads: int, users: int) -> tuple[float, float, float]:
    from bench.scenarios import Outbox, VirtualUser, read_message
    from bench.stats import Recorder

    rec = Recorder(active=True)
    outbox = Outbox(url, KEY)
    vus = [VirtualUser(i, users, None, None, rec, outbox) for i in range(users)]  # type: ignore[arg-type]
    left = reads

    async def loop(vu: VirtualUser) -> None:
        nonlocal left
        k = vu.index
        while left > 0:
            left -= 1
            vu.last_message.clear()
            await read_message(vu, f"user{k % RECIPIENTS}@example.com", "discovery_magic_link")
            k += users

    for vu in vus:  # warm-up: connections opened, statements prepared
        await read_message(vu, f"user{vu.index}@example.com", "discovery_magic_link")
    r0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    await asyncio.gather(*(loop(vu) for vu in vus))
    r1, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - wall0
    closing = outbox.close()
    if closing is not None:
        await closing
    return r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime, wall


def main() -> None:
    reads = int(sys.argv[1]) if len(sys.argv) > 1 else 4000
    users = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    kind = sys.argv[3] if len(sys.argv) > 3 else "postgres"
    admin = os.environ.get("PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"antechamber_outbox_micro_{os.getpid()}"
    tmp = Path(tempfile.mkdtemp(prefix="outbox-micro-"))
    if kind == "sqlite":
        url = f"sqlite:///{tmp / 'outbox.sqlite'}"
    else:
        url = recreate_postgres_database(admin, name).replace(
            "postgresql://", "postgresql+psycopg://", 1
        )
    try:
        _fill(url)
        with contextlib.suppress(ImportError):
            import uvloop

            uvloop.install()
        user, system, wall = asyncio.run(_drive(url, reads, users))
    finally:
        if kind != "sqlite":
            drop_postgres_database(admin, name)
    print(
        f"{kind}: {reads:,} reads, {users} users: client CPU {(user + system) / reads * 1e6:.0f} "
        f"µs/read (user {user / reads * 1e6:.0f}, system {system / reads * 1e6:.0f}), "
        f"{reads / wall:,.0f} reads/s"
    )


if __name__ == "__main__":
    main()
