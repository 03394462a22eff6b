# ruff: noqa
"""In-process CPU per request of the hot `/v1/b2b` routes, through the whole ASGI app (edge,
guard, routing, FastAPI's request handling, the handler, the answer), without a server or a
socket: the app is called directly with a scope, a `receive` and a `send`.

    cd <tree> && PYTHONPATH=src python -m bench.asgi_routes [flows]
        µs of CPU (time.process_time) per request and route: median, mean of the
        fastest 90%, and mean of all (with the requests that ran SQLite's checkpoints)
    CALLGRIND=1 PYTHONPATH=src valgrind --tool=callgrind --instr-atstart=no \
        --callgrind-out-file=/tmp/cg.%p python -m bench.asgi_routes 10
    python -m bench.asgi_routes_sum /tmp/cg.<pid>
        one dump per measured request; instructions per request and route (median)
    WAL_PAGES=1 PYTHONPATH=src python -m bench.asgi_routes 20
        the WAL frames (pages) each request's commits write, and whose b-trees they are
        (bench/wal_pages.py); no CPU figures (a checkpoint runs before each request)

Each flow is a discovery login (send, authenticate, IST exchange) into an OPTIONAL org and one
into a REQUIRED_FOR_ALL org (the exchange texts a code; SMS send texts another, SMS
authenticate), then session checks by token and by JWT, GET organization and GET JWKS (5 each),
and `POST /v1/b2b/_null`, a route added here only: an `inline_write` `ProjectScope` handler
with a JSON body model that does nothing but answer, i.e. the framework's share of a request.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import orjson

from bench import dataset
from bench.servers import BENCH_DELIVERY_LIMITS

os.environ.update(BENCH_DELIVERY_LIMITS)

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import JSONResponse

from antechamber import db, migrations
from antechamber.api.auth import ApiRoute, ProjectScope, inline_write
from antechamber.api.envelope import ok
from antechamber.app import create_app
from antechamber.clock import SystemClock
from antechamber.delivery import outbox
from antechamber.projects.service import create_project
from antechamber.redirects import service as redirects
from antechamber.scope import Scope
from bench import wal_pages
from bench import inproc_setup
from bench.inproc_setup import app_with_null_route, project_database

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100
CALLGRIND = bool(os.environ.get("CALLGRIND"))
if CALLGRIND:
    inproc_setup.steady_under_callgrind()
WAL_PAGES = bool(os.environ.get("WAL_PAGES"))

#: ASGI_ROUTES_PG=postgresql://postgres@127.0.0.1:5432/postgres: the same on PostgreSQL, in a
#: database of its own (`antechamber_asgi_routes_<pid>`, dropped at the end).
PG_ADMIN = os.environ.get("ASGI_ROUTES_PG")
if PG_ADMIN:
    import atexit

    from bench.servers import drop_postgres_database, recreate_postgres_database

    _name = f"antechamber_asgi_routes_{os.getpid()}"
    _url = recreate_postgres_database(PG_ADMIN, _name)
    tmp, settings, engine, project, issued = project_database(
        "asgi-routes-", _url.replace("postgresql://", "postgresql+psycopg://", 1)
    )
    atexit.register(lambda: (engine.dispose(), drop_postgres_database(PG_ADMIN, _name)))
else:
    tmp, settings, engine, project, issued = project_database("asgi-routes-")
with db.transaction(db.session_factory(engine)) as session:
    redirects.add_redirect_url(
        Scope(session, project.id, "test", "bench", SystemClock(), settings),
        "http://localhost:3000/discovery",
        kind="discovery",
        default=True,
    )
shape = dataset.Shape(max(1000, 4 * N + 4), 1)
dataset.preload(engine, shape, project.id)
pid = project.id
AUTH = b"Basic " + base64.b64encode(f"{pid}:{issued.secret}".encode())
app = app_with_null_route(settings, engine)
services = app.state.services
key = settings.key_bytes()


def newest(recipient):
    with services.sessions() as s:
        m = outbox.recent(s, recipient=recipient, limit=1)[0]
        return outbox.context_of(m, key)


times: dict[str, list[float]] = {}


async def call(name, method, path, body=None, measure=True):
    raw = b"" if body is None else orjson.dumps(body)
    headers = [(b"host", b"localhost"), (b"authorization", AUTH)]
    if body is not None:
        headers += [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(raw))]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("localhost", 80),
        "state": {},
    }
    sent = False

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}
        await asyncio.sleep(3600)

    out = {}
    chunks = []

    async def send(message):
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    if CALLGRIND and measure:
        subprocess.run(
            ["callgrind_control", "-z", str(os.getpid())], check=True, capture_output=True
        )
    if WAL_PAGES and measure:
        wal_pages.checkpoint(engine)
    gc.disable()
    t = time.process_time()
    await app(scope, receive, send)
    spent = time.process_time() - t
    gc.enable()
    if WAL_PAGES and measure:
        wal_pages.count(engine, name)
    if CALLGRIND and measure:
        subprocess.run(
            ["callgrind_control", "-d", name.replace(" ", "_"), str(os.getpid())],
            check=True,
            capture_output=True,
        )
    if measure:
        times.setdefault(name, []).append(spent)
    answer = orjson.loads(b"".join(chunks))
    assert out["status"] == 200, (name, out, answer)
    return answer


async def flow(j, kind):
    email = dataset.email(j, 0)
    await call(
        "discovery send",
        "POST",
        "/v1/b2b/magic_links/email/discovery/send",
        {"email_address": email, "discovery_redirect_url": "http://localhost:3000/discovery"},
    )
    token = parse_qs(urlsplit(newest(email)["url"]).query)["token"][0]
    found = await call(
        "discovery authenticate",
        "POST",
        "/v1/b2b/magic_links/discovery/authenticate",
        {"discovery_magic_links_token": token},
    )
    ex = await call(
        "IST exchange " + kind,
        "POST",
        "/v1/b2b/discovery/intermediate_sessions/exchange",
        {
            "intermediate_session_token": found["intermediate_session_token"],
            "organization_id": dataset.org_id(j),
            "session_duration_minutes": 600,
        },
    )
    if kind == "a":
        return ex
    org, member = dataset.org_id(j), dataset.member_id(j, 0)
    ist = ex["intermediate_session_token"]
    await call(
        "sms send",
        "POST",
        "/v1/b2b/otps/sms/send",
        {"organization_id": org, "member_id": member, "intermediate_session_token": ist},
    )
    code = newest(dataset.phone(shape, j, 0))["code"]
    return await call(
        "sms authenticate",
        "POST",
        "/v1/b2b/otps/sms/authenticate",
        {
            "organization_id": org,
            "member_id": member,
            "code": str(code),
            "intermediate_session_token": ist,
            "session_duration_minutes": 600,
        },
    )


async def main():
    for i in range(N + 3):
        if i == 3:
            times.clear()  # warm-up
            if CALLGRIND:
                subprocess.run(
                    ["callgrind_control", "-i", "on", str(os.getpid())],
                    check=True,
                    capture_output=True,
                )
        a = await flow(4 * i, "a")
        await flow(4 * i + 1, "b")
        for _ in range(5):
            await call(
                "session by token c",
                "POST",
                "/v1/b2b/sessions/authenticate",
                {"session_token": a["session_token"]},
            )
            await call(
                "session by JWT d",
                "POST",
                "/v1/b2b/sessions/authenticate",
                {"session_jwt": a["session_jwt"]},
            )
            await call("GET organization", "GET", f"/v1/b2b/organizations/{dataset.org_id(i)}")
            await call("GET jwks", "GET", f"/v1/b2b/sessions/jwks/{pid}")
            await call("null POST", "POST", "/v1/b2b/_null", {"email_address": "a@b.c"})


asyncio.run(main())
if WAL_PAGES:
    wal_pages.report()
    sys.exit(0)
if CALLGRIND:  # the counts are in the dumps: python -m bench.asgi_routes --sum <dump prefix>
    sys.exit(0)
for name, v in times.items():
    v = sorted(v)
    fast = v[: max(1, int(len(v) * 0.9))]
    print(
        f"{name:24s} n={len(v):4d} median {v[len(v) // 2] * 1e6:7.1f} µs"
        f"  mean90 {sum(fast) / len(fast) * 1e6:7.1f} µs"
        f"  mean {sum(v) / len(v) * 1e6:7.1f} µs"
    )
