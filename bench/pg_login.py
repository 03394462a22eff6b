# ruff: noqa
"""PostgreSQL round trips and in-process CPU of login b (discovery send, authenticate, exchange
into a REQUIRED_FOR_ALL org, which texts the code; SMS authenticate), through the whole ASGI app
(starlette's TestClient: request threads, pool, units of work as `antechamber serve` runs them).

    cd <tree> && PYTHONPATH=src python -m bench.pg_login 200
        [PG_ADMIN_URL=postgresql://postgres@127.0.0.1:5432/postgres] [PG_LOGIN_TRACE=/tmp/t.txt]
        [PG_LOGIN_GROW=0]

Uses its own database (`antechamber_pg_login_<pid>`, dropped at the end), so it never meets the
bench's. Round trips are counted on the wire: libpq's trace of every connection of the server's
engine, one per frontend `Query` (simple protocol: BEGIN, COMMIT) or `Sync` (the end of an
extended-protocol exchange). Reports, per step, round trips, process CPU (median; the client
side of TestClient is in it, the same before and after) and the CPU of the engine's PostgreSQL
backends (mean, their run time from /proc/PID/schedstat), and wall time (median); and the
backends' CPU a login in each quarter of the run. The database starts as the live bench's
(`bench.dataset.grow`, then VACUUM ANALYZE); PG_LOGIN_GROW=0 leaves the history out.
`PG_LOGIN_AB=1` runs every other login with `statements.PIPED` off and reports both;
`PG_LOGIN_AB=BATCHED` (any flag of `statements` or `statement_plans`), with that flag off.
`PG_LOGIN_AB=<module>:<FLAG>` (a module-level flag of any module, e.g. an experiment's
switch), the same.
"""

from __future__ import annotations

import gc
import os
import sys
import tempfile
import time
from base64 import b64encode
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
from sqlalchemy import create_engine, event, text
from starlette.testclient import TestClient

from antechamber import db, migrations, statement_plans, statements
from antechamber.app import create_app
from antechamber.clock import SystemClock
from antechamber.delivery import outbox
from bench.inproc_setup import bench_project, settings_for
from bench import dataset
from bench.servers import BENCH_DELIVERY_LIMITS, drop_postgres_database, recreate_postgres_database

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200
#: PG_LOGIN_AB=1: every other login with `statements.PIPED` off, reported apart (the same
#: process and minute for both: a busy machine slows them alike); PG_LOGIN_AB=<NAME>: with
#: `statements.<NAME>` (or `statement_plans.<NAME>`) off.
AB_FLAG = os.environ.get("PG_LOGIN_AB", "")
AB = bool(AB_FLAG)
AB_FLAG = "PIPED" if AB_FLAG == "1" else AB_FLAG
if ":" in AB_FLAG:
    import importlib

    _module, AB_FLAG = AB_FLAG.split(":")
    AB_OF = importlib.import_module(_module)
else:
    AB_OF = statements if hasattr(statements, AB_FLAG) else statement_plans
ADMIN = os.environ.get("PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
os.environ.update(BENCH_DELIVERY_LIMITS)

name = f"antechamber_pg_login_{os.getpid()}"
url = recreate_postgres_database(ADMIN, name).replace("postgresql://", "postgresql+psycopg://", 1)
tmp = Path(tempfile.mkdtemp(prefix="pg-login-"))
trace_path = tmp / "trace.txt"
trace_fd = os.open(trace_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
try:
    settings = settings_for(url, tmp)
    engine = db.make_engine(url)
    migrations.upgrade(engine)

    backends: list[int] = []

    @event.listens_for(engine, "connect")
    def _trace(dbapi_conn, _record):
        backends.append(dbapi_conn.info.backend_pid)
        dbapi_conn.pgconn.trace(trace_fd)
        dbapi_conn.pgconn.set_trace_flags(
            psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE
        )

    engine.dispose()  # connections from now on are traced
    with db.transaction(db.session_factory(engine)) as session:
        project, issued = bench_project(session, settings)
        from antechamber.redirects import service as redirects
        from antechamber.scope import Scope

        scope = Scope(session, project.id, "test", "bench", SystemClock(), settings)
        redirects.add_redirect_url(
            scope, "http://localhost:3000/discovery", kind="discovery", default=True
        )
    shape = dataset.Shape(max(1000, 2 * N + 40), 1)
    dataset.preload(engine, shape, project.id)
    # As the live bench (bench.servers): history in the tables a login writes, then fresh
    # statistics (PG_LOGIN_GROW=0: without the history, as before).
    dataset.fresh_statistics(
        engine, project.id, history=os.environ.get("PG_LOGIN_GROW", "1") != "0"
    )
    app = create_app(settings, engine=engine, clock=SystemClock())
    auth = {
        "Authorization": "Basic " + b64encode(f"{project.id}:{issued.secret}".encode()).decode()
    }
    reader = db.session_factory(create_engine(url))
    key = settings.key_bytes()

    def newest(recipient):
        with reader() as s:
            m = outbox.recent(s, recipient=recipient, limit=1)[0]
            return outbox.context_of(m, key)

    offset = [0]

    def wire() -> Counter[str]:
        """Frontend messages since the last call, by kind (Query's first word)."""
        seen: Counter[str] = Counter()
        with open(trace_path) as f:
            f.seek(offset[0])
            chunk = f.read()
            offset[0] = f.tell()
        for line in chunk.splitlines():
            parts = line.split("\t")
            if len(parts) < 3 or parts[0] != "F":
                continue
            kind = parts[2]
            if kind == "Query":
                seen[parts[3].strip(' "').split(None, 1)[0].upper()] += 1
            elif kind in ("Sync", "Parse"):
                seen[kind] += 1
        return seen

    cpu: dict[str, list[float]] = {}
    trips: dict[str, Counter[str]] = {}

    pg_cpu: dict[str, float] = {}
    wall: dict[str, list[float]] = {}

    def pg_seconds() -> float:
        """CPU seconds of the server engine's PostgreSQL backends so far (the scheduler's
        run time, /proc/PID/schedstat, in nanoseconds)."""
        total = 0
        for pid in backends:
            try:
                with open(f"/proc/{pid}/schedstat") as f:
                    total += int(f.read().split()[0])
            except OSError:
                pass
        return total / 1e9

    def step(client, label, path, body, measure):
        if AB:
            label += (" " if getattr(AB_OF, AB_FLAG) else " no ") + AB_FLAG.lower()
        gc.disable()
        wire()
        pg = pg_seconds()
        w = time.perf_counter()
        t = time.process_time()
        r = client.post(path, json=body, headers=auth)
        dt = time.process_time() - t
        w = time.perf_counter() - w
        pg = pg_seconds() - pg
        gc.enable()
        assert r.status_code == 200, r.text
        seen = wire()
        if measure:
            cpu.setdefault(label, []).append(dt)
            wall.setdefault(label, []).append(w)
            pg_cpu[label] = pg_cpu.get(label, 0.0) + pg
            by_login.append(pg)
            trips.setdefault(label, Counter()).update(seen)
        return r.json()

    WARM = 20
    by_login: list[float] = []  # PostgreSQL's CPU of each measured step, in order
    with TestClient(app) as client:
        for i in range(N + WARM):
            measure = i >= WARM
            if AB:  # every other login with the flag off
                setattr(AB_OF, AB_FLAG, i % 2 == 0)
            j, k = shape.member("required", i)
            email = dataset.email(j, k)
            step(
                client,
                "send",
                "/v1/b2b/magic_links/email/discovery/send",
                {
                    "email_address": email,
                    "discovery_redirect_url": "http://localhost:3000/discovery",
                },
                measure,
            )
            token = parse_qs(urlsplit(newest(email)["url"]).query)["token"][0]
            found = step(
                client,
                "authenticate",
                "/v1/b2b/magic_links/discovery/authenticate",
                {"discovery_magic_links_token": token},
                measure,
            )
            ex = step(
                client,
                "exchange",
                "/v1/b2b/discovery/intermediate_sessions/exchange",
                {
                    "intermediate_session_token": found["intermediate_session_token"],
                    "organization_id": dataset.org_id(j),
                },
                measure,
            )
            assert ex["mfa_required"]["secondary_auth_initiated"] == "sms_otp", ex
            code = newest(dataset.phone(shape, j, k))["code"]
            done = step(
                client,
                "sms_authenticate",
                "/v1/b2b/otps/sms/authenticate",
                {
                    "organization_id": dataset.org_id(j),
                    "member_id": dataset.member_id(j, k),
                    "code": str(code),
                    "intermediate_session_token": ex["intermediate_session_token"],
                },
                measure,
            )
            assert done["session_token"], done
    if os.environ.get("PG_LOGIN_TRACE"):  # keep the wire trace, to read the statements
        import shutil

        shutil.copy(trace_path, os.environ["PG_LOGIN_TRACE"])
    # PostgreSQL's CPU a login over the run, by quarter: flat unless a plan degrades as the
    # run's tables grow (a sequential scan kept from when they were small).
    quarter = max(1, len(by_login) // 4)
    print(
        "pg by quarter of the run  "
        + "  ".join(
            f"{sum(by_login[q : q + quarter]) / (quarter / 4) * 1e3:5.2f}"
            for q in range(0, len(by_login) - quarter + 1, quarter)
        )
        + " ms a login"
    )
    totals: dict[str, list[float]] = {}
    for label, v in cpu.items():
        v2 = sorted(v)
        med = v2[len(v2) // 2]
        pg = pg_cpu[label] / len(v)
        w = sorted(wall[label])[len(v) // 2]
        per = {k: c / len(v) for k, c in sorted(trips[label].items())}
        rt = sum(c for k, c in per.items() if k != "Parse")
        mode = label.partition(" ")[2]
        total = totals.setdefault(mode, [0.0, 0.0, 0.0, 0.0])
        total[0] += med
        total[1] += pg
        total[2] += rt
        total[3] += w
        print(
            f"{label:26s} cpu median {med * 1e3:6.2f} ms   pg mean {pg * 1e3:5.2f} ms   "
            f"wall median {w * 1e3:6.2f} ms   round trips {rt:5.2f}  "
            + " ".join(f"{k}={c:.2f}" for k, c in per.items())
        )
    for mode, (med, pg, rt, w) in totals.items():
        print(
            f"{('login ' + mode).strip():26s} cpu median {med * 1e3:6.2f} ms   "
            f"pg mean {pg * 1e3:5.2f} ms   wall median {w * 1e3:6.2f} ms   round trips {rt:5.2f}"
        )
finally:
    try:
        engine.dispose()
    except Exception:
        pass
    drop_postgres_database(ADMIN, name)
