# ruff: noqa
"""In-process CPU of session checks on PostgreSQL, c (by token) and d (by JWT), with K checks in
flight at once through the whole ASGI app, and the CPU of the database's backends per check.

    cd <tree> && PYTHONPATH=src python -m bench.pg_checks [checks] [in_flight] [rounds]
        [PG_ADMIN_URL=postgresql://postgres@127.0.0.1:5432/postgres]

Uses its own database (`antechamber_pg_checks_<pid>`, dropped at the end). One discovery login
makes the session; then, `rounds` times, `checks` checks by token and `checks` by JWT, K at a
time. Reports per round: µs of this process's CPU (all its threads) per check, and µs of the
PostgreSQL backends' CPU (this database's, from /proc) per check.

    PG_CHECKS_TRACE=1 PYTHONPATH=src python -m bench.pg_checks
        after the warm-up, one check c and one d alone, each with what the server's connections
        sent PostgreSQL (libpq's trace: one line per frontend message; a round trip ends with
        a `Sync` or is a simple `Query`)
    CALLGRIND=1 PYTHONHASHSEED=0 PYTHONPATH=src valgrind --tool=callgrind --instr-atstart=no \
        --callgrind-out-file=/tmp/cg.%p python -m bench.pg_checks 20
        after the warm-up, `checks` checks c and `checks` d one at a time, a callgrind dump for
        each (`python -m bench.asgi_routes_sum /tmp/cg.<pid>`: instructions per check, median);
        with PG_CHECKS_TOGETHER=K each dump is of K checks at once (gathered: divide by K)
    PG_CHECKS_PROFILE=/tmp/prof PYTHONPATH=src python -m bench.pg_checks 2000 4
        after the warm-up, cProfile (by CPU time, `time.thread_time`) of `checks` checks c and
        then d, K at a time: /tmp/prof.c and /tmp/prof.d (`pstats`)
"""

from __future__ import annotations

import asyncio
import resource
import base64
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import orjson
from sqlalchemy import create_engine, text

from antechamber import db, migrations
from antechamber.app import create_app
from antechamber.clock import SystemClock
from antechamber.delivery import outbox
from antechamber.redirects import service as redirects
from antechamber.scope import Scope
from bench import dataset
from bench import inproc_setup
from bench.inproc_setup import bench_project, settings_for
from bench.servers import BENCH_DELIVERY_LIMITS, drop_postgres_database, recreate_postgres_database

os.environ.update(BENCH_DELIVERY_LIMITS)
CHECKS = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
K = int(sys.argv[2]) if len(sys.argv) > 2 else 16
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 3
ADMIN = os.environ.get("PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TICK = os.sysconf("SC_CLK_TCK")
TRACE = os.environ.get("PG_CHECKS_TRACE") == "1"
CALLGRIND = bool(os.environ.get("CALLGRIND"))
TOGETHER = int(os.environ.get("PG_CHECKS_TOGETHER", "1"))  # checks at once a callgrind dump
if CALLGRIND:
    inproc_setup.steady_under_callgrind()
PROFILE = os.environ.get("PG_CHECKS_PROFILE")  # a path prefix: cProfile stats of c and d

name = f"antechamber_pg_checks_{os.getpid()}"
url = recreate_postgres_database(ADMIN, name).replace("postgresql://", "postgresql+psycopg://", 1)
admin = create_engine(
    ADMIN.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
)


def backends_cpu() -> float:
    with admin.connect() as c:
        pids = [
            r[0]
            for r in c.execute(
                text("select pid from pg_stat_activity where datname = :d"), {"d": name}
            )
        ]
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICK


try:
    tmp = Path(tempfile.mkdtemp(prefix="pg-checks-"))
    settings = settings_for(url, tmp)
    engine = db.make_engine(url)
    migrations.upgrade(engine)
    trace_path = tmp / "trace.txt"
    if TRACE:
        import psycopg
        from sqlalchemy import event

        trace_fd = os.open(trace_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

        @event.listens_for(engine, "connect")
        def _trace(dbapi_conn, _record):
            dbapi_conn.pgconn.trace(trace_fd)
            dbapi_conn.pgconn.set_trace_flags(
                psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE
            )

        engine.dispose()
        events = {"connect": 0, "checkout": 0, "checkin": 0, "reset": 0}
        for name_ in events:
            event.listen(engine, name_, lambda *a, n=name_: events.__setitem__(n, events[n] + 1))
    with db.transaction(db.session_factory(engine)) as session:
        project, issued = bench_project(session, settings)
        redirects.add_redirect_url(
            Scope(session, project.id, "test", "bench", SystemClock(), settings),
            "http://localhost:3000/discovery",
            kind="discovery",
            default=True,
        )
    shape = dataset.Shape(1000, 1)
    dataset.preload(engine, shape, project.id)
    app = create_app(settings, engine=engine, clock=SystemClock())
    AUTH = b"Basic " + base64.b64encode(f"{project.id}:{issued.secret}".encode())
    key = settings.key_bytes()

    async def call(path, body):
        raw = orjson.dumps(body)
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "client": ("127.0.0.1", 50000),
            "server": ("localhost", 80),
            "headers": [
                (b"host", b"localhost"),
                (b"authorization", AUTH),
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(raw)),
            ],
            "state": {},
        }
        sent = False

        async def receive():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": raw, "more_body": False}
            await asyncio.sleep(3600)

        out, chunks = {}, []

        async def send(message):
            if message["type"] == "http.response.start":
                out["status"] = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await app(scope, receive, send)
        answer = orjson.loads(b"".join(chunks))
        assert out["status"] == 200, answer
        return answer

    def newest(recipient):
        with app.state.services.sessions() as s:
            m = outbox.recent(s, recipient=recipient, limit=1)[0]
            return outbox.context_of(m, key)

    async def login():
        email = dataset.email(0, 0)
        await call(
            "/v1/b2b/magic_links/email/discovery/send",
            {"email_address": email, "discovery_redirect_url": "http://localhost:3000/discovery"},
        )
        token = parse_qs(urlsplit(newest(email)["url"]).query)["token"][0]
        found = await call(
            "/v1/b2b/magic_links/discovery/authenticate", {"discovery_magic_links_token": token}
        )
        return await call(
            "/v1/b2b/discovery/intermediate_sessions/exchange",
            {
                "intermediate_session_token": found["intermediate_session_token"],
                "organization_id": dataset.org_id(0),
            },
        )

    async def checks(body):
        left = [CHECKS]

        async def worker():
            while left[0] > 0:
                left[0] -= 1
                await call("/v1/b2b/sessions/authenticate", body)

        await asyncio.gather(*(worker() for _ in range(K)))

    def wire_since(offset: int) -> tuple[int, list[str]]:
        with open(trace_path) as f:
            f.seek(offset)
            chunk = f.read()
            return f.tell(), [line for line in chunk.splitlines() if line.startswith("F")]

    def callgrind(*args: str) -> None:
        subprocess.run(
            ["callgrind_control", *args, str(os.getpid())], check=True, capture_output=True
        )

    async def main():
        s = await login()
        await checks({"session_token": s["session_token"]})  # warm
        await checks({"session_jwt": s["session_jwt"]})
        if TRACE:
            for label, body in (
                ("c", {"session_token": s["session_token"]}),
                ("d", {"session_jwt": s["session_jwt"]}),
            ):
                offset, _ = wire_since(0)
                await call("/v1/b2b/sessions/authenticate", body)
                await asyncio.sleep(0.2)  # a background write, if any, lands
                _, sent = wire_since(offset)
                trips = sum(1 for line in sent if "\tSync" in line or "\tQuery\t" in line)
                print(f"check {label}: {trips} round trips, {len(sent)} frontend messages")
                for line in sent:
                    print("   ", line[:200])
            from antechamber.engines import kept_of

            print("pool events", events)
            import collections

            with open(trace_path) as f:
                kinds = collections.Counter(
                    (line.split("\t")[2], line.split("\t")[3][:8])
                    for line in f
                    if line.startswith("F\t") and line.split("\t")[2] in ("Parse", "Bind")
                )
            print("whole trace", kinds)

            for slot in list(kept_of(engine)._all):
                for kept in slot:
                    prepared = kept[0].connection.driver_connection._prepared
                    print(
                        "kept connection: prepared",
                        len(prepared._names),
                        "counted",
                        [(k[0][:60], k[1], v) for k, v in prepared._counts.items()],
                    )
            return
        if PROFILE:
            import cProfile, pstats

            for label, body in (
                ("c", {"session_token": s["session_token"]}),
                ("d", {"session_jwt": s["session_jwt"]}),
            ):
                prof = cProfile.Profile(time.thread_time)
                prof.enable()
                await checks(body)
                prof.disable()
                prof.dump_stats(f"{PROFILE}.{label}")
            return
        if CALLGRIND:
            callgrind("-i", "on")
            for label, body in (
                ("session_by_token_c", {"session_token": s["session_token"]}),
                ("session_by_JWT_d", {"session_jwt": s["session_jwt"]}),
            ):
                for _ in range(CHECKS):
                    callgrind("-z")
                    if TOGETHER == 1:  # as the rounds before it measured: no task around it
                        await call("/v1/b2b/sessions/authenticate", body)
                    else:
                        await asyncio.gather(
                            *(call("/v1/b2b/sessions/authenticate", body) for _ in range(TOGETHER))
                        )
                    callgrind("-d", label)
            return
        for r in range(ROUNDS):
            for label, body in (
                ("c", {"session_token": s["session_token"]}),
                ("d", {"session_jwt": s["session_jwt"]}),
            ):
                b0, t0, w0, r0 = (
                    backends_cpu(),
                    time.process_time(),
                    time.perf_counter(),
                    resource.getrusage(resource.RUSAGE_SELF),
                )
                await checks(body)
                b1, t1, w1, r1 = (
                    backends_cpu(),
                    time.process_time(),
                    time.perf_counter(),
                    resource.getrusage(resource.RUSAGE_SELF),
                )
                print(
                    f"round {r} {label}: process {(t1 - t0) / CHECKS * 1e6:7.1f} µs/check  "
                    f"backends {(b1 - b0) / CHECKS * 1e6:6.1f} µs/check  "
                    f"wall {(w1 - w0) / CHECKS * 1e6:7.1f} µs/check  "
                    f"sys {(r1.ru_stime - r0.ru_stime) / CHECKS * 1e6:6.1f} µs  "
                    f"vcsw {(r1.ru_nvcsw - r0.ru_nvcsw) / CHECKS:5.2f}",
                    flush=True,
                )

    with_app = app.router.lifespan_context(app)

    async def run():
        async with with_app:
            await main()

    asyncio.run(run())
finally:
    try:
        engine.dispose()
        events = {"connect": 0, "checkout": 0, "checkin": 0, "reset": 0}
        for name_ in events:
            event.listen(engine, name_, lambda *a, n=name_: events.__setitem__(n, events[n] + 1))
    except Exception:
        pass
    drop_postgres_database(ADMIN, name)
