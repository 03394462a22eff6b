"""In-process cost of delivering a message (docs/performance.md, ninth round, item 50): the
delivery worker on a development server's outbox, as the bench's b fills it (a discovery
magic-link email and an SMS code a login).

    PYTHONPATH=src:. python -m bench.delivery_micro [logins] [batch_size]

Fills the outbox of a fresh SQLite file with `logins` × 2 messages (default 200), then runs
`DeliveryWorker.run_once` until nothing is due, three times, and prints the process CPU a
message and the batches taken. Logging goes at INFO to /dev/null through a formatter, as a
server's would. With `CALLGRIND=1` under `valgrind --tool=callgrind --instr-atstart=no`, each
repetition is one dump (instructions only while the worker runs): the instructions a message
are the dump's `totals` ÷ 2·logins.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time

from antechamber import db
from antechamber.delivery import outbox
from antechamber.delivery.worker import DeliveryWorker
from antechamber.services import Services
from bench.inproc_setup import project_database
from bench.servers import BENCH_DELIVERY_LIMITS

CALLGRIND = bool(os.environ.get("CALLGRIND"))


def main() -> None:
    logins = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    batch = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 (for the run)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    _tmp, settings, engine, project, _issued = project_database("delivery-micro")
    limits = {k.removeprefix("ANTECHAMBER_").lower(): v for k, v in BENCH_DELIVERY_LIMITS.items()}
    settings = settings.model_copy(
        update={"delivery_batch_size": batch, "delivery_worker": True, **limits}
    )
    services = Services(settings, engine, db.session_factory(engine))

    def fill(n: int) -> None:
        for i in range(n):
            with services.scope(project.id, "test", "test") as scope:
                outbox.enqueue(
                    scope,
                    channel="email",
                    recipient=f"u{i}@acme.example",
                    template="discovery_magic_link",
                    context={
                        "url": "https://app.acme.example/authenticate?stytch_token_type="
                        f"discovery&token=t{i:040d}",
                        "expiration_minutes": 15,
                    },
                )
                outbox.enqueue(
                    scope,
                    channel="sms",
                    recipient=f"+1202555{i % 10000:04d}",
                    template="sms_otp",
                    context={"code": f"{i % 1000000:06d}", "expiration_minutes": 10},
                )

    worker = DeliveryWorker(services)
    fill(50)  # warm: templates compiled, statements planned
    while worker.run_once().claimed:
        pass
    pid = str(os.getpid())
    for rep in range(3):
        fill(logins)
        if CALLGRIND:
            for args in (["-i", "on"], ["-z"]):
                subprocess.run(["callgrind_control", *args, pid], check=True, capture_output=True)
        sizes = []
        t0 = time.process_time()
        while (result := worker.run_once()).claimed:
            sizes.append(result.claimed)
        cpu = time.process_time() - t0
        if CALLGRIND:
            for args in (["-d", f"rep{rep}"], ["-i", "off"]):
                subprocess.run(["callgrind_control", *args, pid], check=True, capture_output=True)
        sent = sum(sizes)
        print(f"rep {rep}: {sent} messages, batches {sizes}: {cpu / sent * 1e6:.0f} µs a message")


if __name__ == "__main__":
    main()
