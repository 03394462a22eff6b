"""In-process CPU of the send paths (docs/performance.md, item 24): µs per call, CPU time.

    PYTHONPATH=src python -m bench.sends_micro [iterations]

Measures, on a fresh SQLite file (migrated, the demo project, generous limits so nothing is
refused), each in its own unit of work committed as the API's would be:

- enqueue-email / enqueue-sms: `outbox.enqueue` alone (the time inside the call, the unit's
  transaction already begun);
- unit-email: a unit of work doing only an enqueue, commit included;
- send_discovery: `magic_links.send_discovery`, the whole unit with its commit;
- send_code: `otp.dispatch.send_code` for a member with a verified phone, whole unit.

Times are `time.process_time()` (CPU of this process, so a busy machine inflates them less
than wall time does); the median of 3 × `iterations` calls is printed.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.factories import allow_redirect, make_member, make_org, verify_phone

from antechamber import db, migrations
from antechamber.clock import SystemClock
from antechamber.delivery import outbox
from antechamber.devmode import ensure_demo_project
from antechamber.magic_links import service as magic_links
from antechamber.members.models import Member
from antechamber.otp import dispatch
from antechamber.scope import Scope
from antechamber.services import Services
from antechamber.settings import Settings

LOTS = "1000000/hour"


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    tmp = Path(tempfile.mkdtemp(prefix="sends-micro-"))
    url = f"sqlite:///{tmp / 'micro.sqlite'}"
    engine = db.make_engine(url)
    migrations.upgrade(engine)
    settings = Settings(
        database_url=url,
        secret_key="micro-secret-key-not-for-production",  # type: ignore[arg-type]  # noqa: S106
        state_dir=tmp / "state",
        public_base_url="http://testserver",
        delivery_worker=False,
        limit_email_per_recipient=LOTS,
        limit_email_per_project=LOTS,
        limit_sms_per_recipient=LOTS,
        limit_sms_per_prefix=LOTS,
        limit_sms_per_project=LOTS,
        limit_sms_per_member=LOTS,
        limit_discovery_send_per_ip=LOTS,
        sms_otp_resend_seconds=0,
        _env_file=None,  # type: ignore[call-arg]
    )
    services = Services.build(settings, engine, SystemClock())
    project_id = ensure_demo_project(services).project_id
    allow_redirect(services, project_id, "http://localhost:3000/discovery")
    org = make_org(services, project_id)
    member = make_member(
        services, project_id, org, email_address="ada@acme.example", mfa_phone_number="+12025550123"
    )
    verify_phone(services, member)
    counter = iter(range(10**9))

    def email(scope: Scope) -> None:
        i = next(counter)
        outbox.enqueue(
            scope,
            channel="email",
            recipient=f"person{i}@acme.example",
            template="discovery_magic_link",
            context={"url": f"https://app.example/a?token=t{i}", "expiration_minutes": 60},
        )

    def enqueue_email() -> float:
        with services.scope(project_id, "test", "test") as scope:
            db.connection(scope.db)  # the unit's BEGIN, not the enqueue's
            t = time.process_time()
            email(scope)
            return time.process_time() - t

    def enqueue_sms() -> float:
        with services.scope(project_id, "test", "test") as scope:
            db.connection(scope.db)  # the unit's BEGIN, not the enqueue's
            t = time.process_time()
            outbox.enqueue(
                scope,
                channel="sms",
                recipient="+12025550123",
                template="sms_otp",
                context={"code": "012345", "expiration_minutes": 10},
            )
            return time.process_time() - t

    def unit_email() -> float:
        t = time.process_time()
        with services.scope(project_id, "test", "test") as scope:
            email(scope)
        return time.process_time() - t

    def send_discovery() -> float:
        i = next(counter)
        t = time.process_time()
        with services.scope(project_id, "test", "test") as scope:
            magic_links.send_discovery(
                dataclasses.replace(scope, client_ip="10.1.2.3"),
                email_address=f"Person{i}@Acme.example",
                discovery_redirect_url="http://localhost:3000/discovery",
            )
        return time.process_time() - t

    def send_code() -> float:
        t = time.process_time()
        with services.scope(project_id, "test", "test") as scope:
            row = scope.db.get(Member, member.id)
            assert row is not None
            dispatch.send_code(scope, row, "+12025550123", locale="en", automatic=True)
        return time.process_time() - t

    cases: dict[str, Callable[[], float]] = {
        "enqueue-email": enqueue_email,
        "enqueue-sms": enqueue_sms,
        "unit-email": unit_email,
        "send_discovery": send_discovery,
        "send_code": send_code,
    }
    for name, case in cases.items():
        for _ in range(20):
            case()
        times = sorted(case() for _ in range(3 * n))
        print(f"{name:16s} median {times[len(times) // 2] * 1e6:8.1f} µs")


if __name__ == "__main__":
    main()
