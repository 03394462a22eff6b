# ruff: noqa
"""In-process cost of the login steps (domain function + serializer + JSON answer), without
HTTP: discovery authenticate, exchange into an OPTIONAL org (a) and a REQUIRED_FOR_ALL one (b,
which texts the code), SMS authenticate. N flows of each, one bench member each.

    cd <tree> && PYTHONPATH=src python -m bench.inproc_login 200
        process_time per step (median, mean of the fastest 90%)
    CALLGRIND=steps PYTHONPATH=... valgrind --tool=callgrind --instr-atstart=no \
        --callgrind-out-file=/tmp/cg python -m bench.inproc_login 30
        one dump per measured step (after 10 unmeasured flows); sum them by the dump's
        "Trigger: dump <step>" line: instructions per step, the same on a busy machine
    PROF=/tmp/x.prof ...   cProfile of the measured steps only
"""

from __future__ import annotations
import sys, time, tempfile, os, gc
from pathlib import Path
import orjson

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200
from antechamber import db, migrations
from antechamber.clock import SystemClock
from bench.inproc_setup import settings_for
from antechamber.projects.service import create_project
from antechamber.services import Services
from antechamber.scope import Scope
from antechamber.redirects import service as redirects
from antechamber.magic_links import service as magic_links
from antechamber.discovery import service as discovery
from antechamber.otp import flows
from antechamber.api import serializers
from antechamber.delivery import outbox
from bench import dataset
from bench.servers import BENCH_DELIVERY_LIMITS

os.environ.update(BENCH_DELIVERY_LIMITS)

tmp = Path(tempfile.mkdtemp(prefix="loads-inproc-"))
# INPROC_DATABASE_URL: a PostgreSQL database of your own to run on (emptied and migrated here).
url = os.environ.get("INPROC_DATABASE_URL") or f"sqlite:///{tmp}/a.sqlite"
settings = settings_for(url, tmp)
engine = db.make_engine(url)
if url.startswith("postgresql"):
    from sqlalchemy import text

    with engine.begin() as c:
        c.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
migrations.upgrade(engine)
with db.transaction(db.session_factory(engine)) as session:
    project, issued = create_project(
        session, name="B", environment="test", actor="bench", clock=SystemClock(), settings=settings
    )
    scope = Scope(session, project.id, "test", "bench", SystemClock(), settings)
    redirects.add_redirect_url(
        scope, "http://localhost:3000/discovery", kind="discovery", default=True
    )
shape = dataset.Shape(max(1000, 4 * N + 4), 1)
dataset.preload(engine, shape, project.id)
services = Services.build(settings, engine, SystemClock())
pid = project.id
key = settings.key_bytes()


# The outbox is read apart from the measured engine: on PostgreSQL the read's closing ROLLBACK
# would make psycopg drop the connection's prepared statements (DEALLOCATE ALL).
reader = db.session_factory(db.make_engine(url)) if url.startswith("postgresql") else None


def newest(recipient):
    with (reader or services.sessions)() as s:
        m = outbox.recent(s, recipient=recipient, limit=1)[0]
        return outbox.context_of(m, key)


times = {"authenticate": [], "exchange_a": [], "exchange_b": [], "sms_authenticate": []}
CG = []
PROFS = []


def timed(name, fn):
    if CG:
        import subprocess

        subprocess.run(
            ["callgrind_control", "-z", str(os.getpid())], check=True, capture_output=True
        )
        r = fn()
        subprocess.run(
            ["callgrind_control", "-d", name, str(os.getpid())], check=True, capture_output=True
        )
        return r
    if PROFS:
        PROFS[0].enable()
        r = fn()
        PROFS[0].disable()
        return r
    gc.disable()
    import builtins

    builtins.IN_TIMED = name
    t = time.process_time()
    r = fn()
    times[name].append(time.process_time() - t)
    builtins.IN_TIMED = None
    gc.enable()
    return r


def scope():
    return services.scope(pid, "test", "api")


def authenticate(token):
    with scope() as s:
        found = discovery.authenticate_magic_link(s, token)
        body = orjson.dumps(serializers.discovery_login(s.db, found, s.clock.now()))
    return orjson.loads(body)


def exchange(ist, org):
    with scope() as s:
        r = discovery.exchange(s, ist, org, session_duration_minutes=600)
        body = orjson.dumps(serializers.auth_result(s.db, r, s.clock.now()))
    return orjson.loads(body)


def sms(org, member, code, ist):
    with scope() as s:
        r = flows.authenticate_sms_otp(
            s,
            organization_id=org,
            member_id=member,
            code=code,
            intermediate_session_token=ist,
            session_duration_minutes=600,
        )
        body = orjson.dumps(serializers.auth_result(s.db, r, s.clock.now()))
    return orjson.loads(body)


def flow(j, kind):
    email = dataset.email(j, 0)
    with scope() as s:
        magic_links.send_discovery(s, email_address=email)
    from urllib.parse import parse_qs, urlsplit

    token = parse_qs(urlsplit(newest(email)["url"]).query)["token"][0]
    found = timed("authenticate", lambda: authenticate(token))
    assert found["discovered_organizations"], found
    ex = timed(
        "exchange_" + kind, lambda: exchange(found["intermediate_session_token"], dataset.org_id(j))
    )
    if kind == "a":
        assert ex["session_token"], ex
        return
    assert ex["mfa_required"]["secondary_auth_initiated"] == "sms_otp", ex
    code = newest(dataset.phone(shape, j, 0))["code"]
    done = timed(
        "sms_authenticate",
        lambda: sms(
            dataset.org_id(j), dataset.member_id(j, 0), str(code), ex["intermediate_session_token"]
        ),
    )
    assert done["session_token"], done


prof = None
if os.environ.get("CALLGRIND"):
    import subprocess

    W = 10
    for i in range(W):
        flow(4 * i, "a")
        flow(4 * i + 1, "b")
    subprocess.run(
        ["callgrind_control", "-i", "on", str(os.getpid())], check=True, capture_output=True
    )
    if os.environ.get("CALLGRIND") == "steps":
        CG.append(1)
    for i in range(W, N):
        flow(4 * i, "a")
        flow(4 * i + 1, "b")
    subprocess.run(["callgrind_control", "-d", str(os.getpid())], check=True, capture_output=True)
    subprocess.run(
        ["callgrind_control", "-i", "off", str(os.getpid())], check=True, capture_output=True
    )
    sys.exit(0)
if os.environ.get("PROF"):
    import cProfile

    for i in range(20):
        flow(4 * i, "a")
        flow(4 * i + 1, "b")
    prof = cProfile.Profile(time.process_time) if os.environ.get("PROF_CPU") else cProfile.Profile()
    PROFS.append(prof)
    rng = range(20, N)
else:
    rng = range(N)
for i in rng:
    flow(4 * i, "a")
    flow(4 * i + 1, "b")
if prof is not None:
    prof.dump_stats(os.environ["PROF"])
for name, v in times.items():
    v = sorted(v)[len(v) // 10 :]  # drop the fastest? no: drop first-compile outliers via median
for name, v in times.items():
    v2 = sorted(v)
    med = v2[len(v2) // 2]
    mean = sum(v2[: int(len(v2) * 0.9)]) / int(len(v2) * 0.9)
    print(
        f"{name:18s} median {med * 1e6:7.0f} us   mean(fastest 90%) {mean * 1e6:7.0f} us  n={len(v)}"
    )
