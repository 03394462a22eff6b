"""`python -m bench faults`: logins under load while parts of the deployment fail.

The deployment: two server workers (`antechamber serve --workers 2`) and a separate delivery
worker (`antechamber worker`) on a PostgreSQL and a Redis of this command's own: a private
PostgreSQL (initdb into a temporary directory, its own port) and a private redis-server (its
own port), so the machine's shared ones are never touched. Email goes to an SMTP sink and text
messages to a fake Twilio, both in this process, which count what arrives.

While logins run at about half the rate the deployment sustains (measured first, a few
seconds of logins as fast as they go), the faults come one after another:

1. a server worker is killed with SIGKILL (uvicorn's supervisor starts another);
2. the delivery worker is killed with SIGKILL (this command restarts it after a moment, as a
   process supervisor would: systemd's Restart=always);
3. PostgreSQL is stopped at once (`pg_ctl stop -m immediate`: a crash) and started again;
4. Redis's connections are filled (up to its maxclients) and held for a few seconds.

Then it checks: no magic link, code or intermediate session token was redeemed twice (every
token's successful redemptions, and a replay of one flow in four, which must be refused); every
message queued was delivered exactly once (by Message-ID, and by number and text); no session
lacks its factors (a magic-link factor always, an SMS factor in organizations that require
MFA); the deployment recovered without a manual step (logins succeed again after each fault and
at the end, both server workers run); every client saw a success or a clear error, none waited
past the client timeout. It prints each fault, its recovery time and the counts, and exits 1 if
a check failed. docs/operations.md records a run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes
from glob import glob
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from bench import dataset
from bench.dataset import Kind, Shape
from bench.scenarios import DISCOVERY_REDIRECT_URL, SESSION_MINUTES, Outbox
from bench.servers import Antechamber, Running, free_port

CLIENT_TIMEOUT_S = 15.0  # a request unanswered this long is a hang
MESSAGE_WAIT_S = 20.0  # how long a flow waits for its link or code to be queued
REDIS_MAXCLIENTS = 64
LEASE_SECONDS = 10  # the delivery worker's lease (its minimum): a dead worker's claims return
RECOVERED_AFTER = 5  # consecutive successful logins that say the deployment is back

Check = tuple[str, bool, str]  # (name, passed, the figures behind it)


# --- The private PostgreSQL and Redis ------------------------------------------------------


def _pg_bin(name: str) -> str:
    found = sorted(glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise SystemExit(f"{name} not found under /usr/lib/postgresql/*/bin (install postgresql)")
    return found[-1]


class PrivatePostgres:
    """A PostgreSQL cluster in a temporary directory on its own port; never the machine's."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "pgdata"
        self.socket_dir = root / "pgsocket"
        self.log = root / "postgres.log"
        self.port = free_port()
        # initdb and postgres refuse to run as root: run them as the postgres user then.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True)

    def start(self) -> None:
        if not self.dir.exists():
            for path in (self.dir, self.socket_dir):
                path.mkdir(parents=True)
            if self.as_user:
                shutil.chown(self.dir.parent, "postgres")
                for path in (self.dir, self.socket_dir):
                    shutil.chown(path, "postgres")
            self._run(_pg_bin("initdb"), "-D", str(self.dir), "-A", "trust", "-U", "postgres")
            self.log.touch()
            if self.as_user:
                shutil.chown(self.log, "postgres")
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
            "-c max_connections=200 -c fsync=off -c full_page_writes=off"
        )
        self._run(
            _pg_bin("pg_ctl"),
            "-D",
            str(self.dir),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "start",
        )

    def crash(self) -> None:
        """Stop at once, as a crash would (the next start replays the WAL)."""
        self._run(_pg_bin("pg_ctl"), "-D", str(self.dir), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(_pg_bin("pg_ctl"), "-D", str(self.dir), "-m", "fast", "-w", "stop")


class PrivateRedis:
    """A redis-server on its own port, without persistence, with few client slots."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.log = root / "redis.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.held: list[socket.socket] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        redis_server = shutil.which("redis-server")
        if redis_server is None:
            raise SystemExit("redis-server not found (apt-get install redis-server)")
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    redis_server,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--maxclients",
                    str(REDIS_MAXCLIENTS),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 1),
            ):
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def fill(self) -> int:
        """Open connections until Redis refuses more; hold them. How many it took."""
        while len(self.held) < REDIS_MAXCLIENTS + 50:
            conn = socket.create_connection(("127.0.0.1", self.port), 2)
            conn.sendall(b"PING\r\n")
            answer = conn.recv(128)
            if not answer.startswith(b"+PONG"):
                conn.close()  # "-ERR max number of clients reached"
                break
            self.held.append(conn)
        return len(self.held)

    def release(self) -> None:
        for conn in self.held:
            conn.close()
        self.held.clear()

    def stop(self) -> None:
        self.release()
        if self.proc is not None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)


# --- Where messages land -------------------------------------------------------------------


class SmtpSink:
    """An SMTP server (aiosmtpd) that counts every email by its Message-ID."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.received: Counter[str] = Counter()
        self.lock = threading.Lock()
        sink = self

        class Handler:
            async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
                self, server: Any, session: Any, envelope: Any
            ) -> str:
                message_id = message_from_bytes(envelope.content).get("Message-ID", "")
                with sink.lock:
                    sink.received[str(message_id)] += 1
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


class TwilioSink:
    """Twilio's Messages endpoint, enough for the delivery worker: counts (to, body)."""

    def __init__(self) -> None:
        self.received: Counter[tuple[str, str]] = Counter()
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                with sink.lock:
                    sink.received[(form["To"][0], form["Body"][0])] += 1
                body = json.dumps({"sid": "SM" + secrets.token_hex(16), "status": "queued"})
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()


# --- The load -------------------------------------------------------------------------------


@dataclass
class Flow:
    kind: Kind
    started: float
    ended: float = 0.0
    outcome: str = ""  # "ok", or what went wrong
    hung: bool = False


@dataclass
class Tally:
    flows: list[Flow] = field(default_factory=list)
    answers: Counter[str] = field(default_factory=Counter)  # status and error_type seen
    redeemed: Counter[str] = field(default_factory=Counter)  # token or code → successes
    replays: Counter[str] = field(default_factory=Counter)  # "refused" / "accepted"


class Load:
    """Discovery logins, half into OPTIONAL organizations and half into ones that require
    SMS MFA, each on a member no other flow is using."""

    def __init__(self, running: Running, shape: Shape) -> None:
        target = running.target
        self.base_url = target.base_url
        self.auth = (target.project_id, target.secret)
        self.outbox = Outbox(target.database_url, target.server_key)
        self.shape = shape
        self.tally = Tally()
        self.last_seen: dict[str, str] = {}
        self.free: dict[Kind, asyncio.Queue[tuple[int, int]]] = {}
        self.n = 0

    def _members(self) -> None:
        for kind in ("optional", "required"):
            queue: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
            for i in range(self.shape.count(kind)):
                queue.put_nowait(self.shape.member(kind, i))
            self.free[kind] = queue

    async def _post(self, http: httpx.AsyncClient, path: str, body: dict[str, Any]) -> Any:
        """One request; raises `_Failed` with what the client saw unless it is a 200."""
        try:
            r = await http.post(path, json=body, auth=self.auth)
        except httpx.TimeoutException:
            self.tally.answers["hang"] += 1
            raise _Failed("hang", hung=True) from None
        except httpx.TransportError as exc:
            # Refused or reset: immediate and unambiguous (a killed worker's connections).
            self.tally.answers[f"connection: {type(exc).__name__}"] += 1
            raise _Failed(f"connection: {type(exc).__name__}") from None
        try:
            data = r.json()
        except ValueError:
            data = None
        if r.status_code == 200:
            self.tally.answers["200"] += 1
            return data
        error_type = data.get("error_type") if isinstance(data, dict) else None
        seen = f"{r.status_code} {error_type or 'without an error envelope'}"
        self.tally.answers[seen] += 1
        raise _Failed(seen)

    async def _message(self, recipient: str, template: str) -> dict[str, Any]:
        deadline = time.monotonic() + MESSAGE_WAIT_S
        while time.monotonic() < deadline:
            try:
                found = await self.outbox.newest(recipient)
            except Exception:  # the database is down: a person would look again later
                found = None
            if found and found[0] != self.last_seen.get(recipient) and found[1] == template:
                self.last_seen[recipient] = found[0]
                return found[2]
            await asyncio.sleep(0.02)
        raise _Failed(f"no {template} queued within {MESSAGE_WAIT_S:.0f} s")

    async def flow(self, http: httpx.AsyncClient, kind: Kind) -> None:
        record = Flow(kind, time.monotonic())
        self.tally.flows.append(record)
        self.n += 1
        replay = self.n % 4 == 0
        j, k = await self.free[kind].get()
        try:
            await self._login(http, kind, j, k, replay)
            record.outcome = "ok"
        except _Failed as exc:
            record.outcome, record.hung = exc.what, exc.hung
        finally:
            record.ended = time.monotonic()
            self.free[kind].put_nowait((j, k))

    async def _login(
        self, http: httpx.AsyncClient, kind: Kind, j: int, k: int, replay: bool
    ) -> None:
        email = dataset.email(j, k)
        await self._post(
            http,
            "/v1/b2b/magic_links/email/discovery/send",
            {"email_address": email, "discovery_redirect_url": DISCOVERY_REDIRECT_URL},
        )
        link = await self._message(email, "discovery_magic_link")
        token = parse_qs(urlsplit(str(link["url"])).query)["token"][0]
        found = await self._post(
            http,
            "/v1/b2b/magic_links/discovery/authenticate",
            {"discovery_magic_links_token": token},
        )
        self.tally.redeemed[f"magic link {token}"] += 1
        if replay:
            await self._replay(
                http,
                "/v1/b2b/magic_links/discovery/authenticate",
                {"discovery_magic_links_token": token},
            )
        ist = found["intermediate_session_token"]
        exchange = {
            "intermediate_session_token": ist,
            "organization_id": dataset.org_id(j),
            "session_duration_minutes": SESSION_MINUTES,
        }
        exchanged = await self._post(
            http, "/v1/b2b/discovery/intermediate_sessions/exchange", exchange
        )
        if kind == "optional":
            if not exchanged.get("session_token"):
                raise _Failed("exchange: no session")
            self.tally.redeemed[f"IST {ist}"] += 1
            if replay:
                await self._replay(
                    http, "/v1/b2b/discovery/intermediate_sessions/exchange", exchange
                )
            return
        mfa = exchanged.get("mfa_required") or {}
        factor = {"organization_id": dataset.org_id(j), "member_id": dataset.member_id(j, k)}
        phone = dataset.phone(self.shape, j, k)
        if mfa.get("secondary_auth_initiated") != "sms_otp":
            await self._post(
                http,
                "/v1/b2b/otps/sms/send",
                {**factor, "mfa_phone_number": phone, "intermediate_session_token": ist},
            )
        sms = await self._message(phone, "sms_otp")
        code = {
            **factor,
            "code": str(sms["code"]),
            "intermediate_session_token": ist,
            "session_duration_minutes": SESSION_MINUTES,
        }
        authed = await self._post(http, "/v1/b2b/otps/sms/authenticate", code)
        if not authed.get("session_token"):
            raise _Failed("sms authenticate: no session")
        self.tally.redeemed[f"code {phone} {sms['code']}"] += 1
        self.tally.redeemed[f"IST {ist}"] += 1
        if replay:
            await self._replay(http, "/v1/b2b/otps/sms/authenticate", code)

    async def _replay(self, http: httpx.AsyncClient, path: str, body: dict[str, Any]) -> None:
        """Present a redeemed token or code again: it must be refused (4xx)."""
        with contextlib.suppress(httpx.HTTPError):
            r = await http.post(path, json=body, auth=self.auth)
            self.tally.replays["accepted" if r.status_code == 200 else "refused"] += 1

    async def closed_loop(self, concurrency: int, seconds: float) -> float:
        """Logins as fast as `concurrency` clients go for `seconds`; logins per second."""
        self._members()
        done = 0
        stop = time.monotonic() + seconds

        async def user(i: int) -> None:
            nonlocal done
            async with _client(self.base_url) as http:
                while time.monotonic() < stop:
                    await self.flow(http, "optional" if (i + done) % 2 else "required")
                    done += 1

        await asyncio.gather(*(user(i) for i in range(concurrency)))
        ok = sum(1 for f in self.tally.flows if f.outcome == "ok")
        return ok / seconds

    async def paced(self, rate: float, until: asyncio.Event, cap: int) -> None:
        """Start logins at `rate` a second (at most `cap` at once) until `until` is set."""
        self._members()
        running: set[asyncio.Task[None]] = set()
        async with _client(self.base_url, cap) as http:
            n = 0
            t0 = time.monotonic()
            while not until.is_set():
                n += 1
                delay = t0 + n / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                if len(running) >= cap:
                    continue  # the deployment is slower than the rate: skip, do not queue
                kind: Kind = "optional" if n % 2 else "required"
                task = asyncio.create_task(self.flow(http, kind))
                running.add(task)
                task.add_done_callback(running.discard)
            await asyncio.gather(*running)


class _Failed(Exception):
    def __init__(self, what: str, *, hung: bool = False) -> None:
        super().__init__(what)
        self.what = what
        self.hung = hung


def _client(base_url: str, connections: int = 32) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=CLIENT_TIMEOUT_S,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )


# --- Processes ------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _server_workers(root: int) -> list[int]:
    """uvicorn's worker processes under the supervisor `root`."""
    return [p for p in _children(root) if b"resource_tracker" not in _cmdline(p)]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


class DeliveryWorker:
    """`antechamber worker`, restarted by `supervise` as a process supervisor would."""

    def __init__(self, env: dict[str, str], cwd: Path, log: Path) -> None:
        self.env, self.cwd, self.log = env, cwd, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "antechamber", "worker"],
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def supervise(self) -> None:
        """Start it again if it died (call it every second)."""
        if self.proc is not None and self.proc.poll() is not None:
            self.restarts += 1
            self.start()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(15)
            if self.proc.poll() is None:
                self.proc.kill()


# --- The run --------------------------------------------------------------------------------


@dataclass
class Fault:
    name: str
    started: float
    ended: float  # when the fault condition was over
    detail: str = ""

    def recovered_at(self, flows: list[Flow]) -> float | None:
        """When the first of RECOVERED_AFTER consecutive successful logins, all started after
        the fault began, ended."""
        after = sorted(
            (f for f in flows if f.started >= self.started and f.ended), key=lambda f: f.ended
        )
        streak: list[Flow] = []
        for flow in after:
            streak = [*streak, flow] if flow.outcome == "ok" else []
            if len(streak) >= RECOVERED_AFTER:
                return max(streak[0].ended, self.ended)
        return None


def _settle(seconds: float, worker: DeliveryWorker) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        worker.supervise()
        time.sleep(min(1.0, max(0.0, end - time.monotonic())))


def _inject(
    load: Load,
    running: Running,
    worker: DeliveryWorker,
    pg: PrivatePostgres,
    redis: PrivateRedis,
    gap: float,
) -> list[Fault]:
    faults: list[Fault] = []
    _settle(gap, worker)

    workers = _server_workers(running.process.pid)
    victim = workers[0]
    t = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    faults.append(Fault("server worker SIGKILL", t, t, f"pid {victim} of {len(workers)} workers"))
    print(f"  fault: killed server worker {victim} (SIGKILL)", flush=True)
    _settle(gap, worker)

    assert worker.proc is not None
    t = time.monotonic()
    worker.proc.kill()
    worker.proc.wait()
    print("  fault: killed the delivery worker (SIGKILL); restarting it in 2 s", flush=True)
    time.sleep(2)
    worker.supervise()
    faults.append(Fault("delivery worker SIGKILL", t, time.monotonic(), "restarted after 2 s"))
    _settle(gap, worker)

    t = time.monotonic()
    pg.crash()
    print("  fault: PostgreSQL stopped (immediate); starting it again in 2 s", flush=True)
    time.sleep(2)
    pg.start()
    faults.append(Fault("PostgreSQL crash and restart", t, time.monotonic(), "down 2 s"))
    _settle(gap, worker)

    t = time.monotonic()
    held = redis.fill()
    print(f"  fault: Redis's connections filled ({held} held); releasing in 5 s", flush=True)
    _settle(5, worker)
    redis.release()
    faults.append(Fault("Redis connections filled", t, time.monotonic(), f"{held} held for 5 s"))
    _settle(gap, worker)
    return faults


def _drain(outbox_url: str, worker: DeliveryWorker, timeout: float) -> dict[str, int]:
    """Wait until no message is pending or being sent; the count of each status."""
    import psycopg

    url = outbox_url.replace("postgresql+psycopg://", "postgresql://", 1)
    deadline = time.monotonic() + timeout
    while True:
        worker.supervise()
        with psycopg.connect(url) as conn:
            rows = conn.execute("SELECT status, count(*) FROM outbox_messages GROUP BY status")
            counts = {str(s): int(n) for s, n in rows}
        if not (counts.get("pending") or counts.get("sending")) or time.monotonic() > deadline:
            return counts
        time.sleep(1)


def _checks(
    load: Load, url: str, smtp: SmtpSink, twilio: TwilioSink, server_key: str
) -> tuple[list[Check], dict[str, Any]]:
    import psycopg

    from antechamber.delivery.outbox import unseal_context

    url = url.replace("postgresql+psycopg://", "postgresql://", 1)
    results: list[Check] = []
    twice = [t for t, n in load.tally.redeemed.items() if n > 1]
    accepted = load.tally.replays["accepted"]
    results.append(
        (
            "no magic link, code or IST redeemed twice",
            not twice and not accepted,
            f"{len(load.tally.redeemed)} redeemed once; {load.tally.replays['refused']} replays "
            f"refused, {accepted} accepted; {len(twice)} redeemed twice",
        )
    )

    with psycopg.connect(url) as conn:
        sent = conn.execute(
            "SELECT id, channel, recipient, payload FROM outbox_messages WHERE status = 'sent'"
        ).fetchall()
        statuses: dict[str, int] = {
            str(status): int(n)
            for status, n in conn.execute(
                "SELECT status, count(*) FROM outbox_messages GROUP BY status"
            )
        }
        sessions = conn.execute(
            "SELECT s.factors, o.mfa_policy FROM member_sessions s "
            "JOIN organizations o ON o.id = s.organization_id"
        ).fetchall()
    emails = {f"<{mid}@" for mid, channel, _, _ in sent if channel == "email"}
    got = smtp.received
    email_missing = [m for m in emails if not any(k.startswith(m) for k in got)]
    email_twice = sum(1 for n in got.values() if n > 1)
    key = server_key.encode()
    texts: Counter[tuple[str, str]] = Counter()
    for _, channel, recipient, payload in sent:
        if channel == "sms":
            context = unseal_context(payload, key)
            texts[(recipient, str(context["code"]))] += 1
    sms_received = set(twilio.received)
    sms_missing = [
        t for t in texts if not any(to == t[0] and t[1] in body for to, body in sms_received)
    ]
    sms_twice = sum(1 for n in twilio.received.values() if n > 1)
    not_final = statuses.get("pending", 0) + statuses.get("sending", 0)
    results.append(
        (
            "every message queued delivered (none lost, none given up)",
            not email_missing and not sms_missing and not not_final and not statuses.get("failed"),
            f"{len(emails)} emails and {sum(texts.values())} texts sent; missing "
            f"{len(email_missing)} + {len(sms_missing)}; still queued {not_final}; failed "
            f"{statuses.get('failed', 0)}",
        )
    )
    results.append(
        (
            "no message delivered twice",
            not email_twice and not sms_twice,
            f"{email_twice} emails and {sms_twice} texts arrived twice (a worker killed, or its "
            "database gone, between the provider's acceptance and the commit that records it: "
            "the one at-least-once window; an email's copies share one Message-ID)",
        )
    )

    lacking = 0
    for factors, mfa_policy in sessions:
        kinds = {f.get("type") for f in (factors or [])}
        if "magic_link" not in kinds or (mfa_policy == "REQUIRED_FOR_ALL" and "otp" not in kinds):
            lacking += 1
    results.append(
        (
            "no session without its factors",
            lacking == 0,
            f"{len(sessions)} sessions, {lacking} without their factors",
        )
    )
    hangs = sum(1 for f in load.tally.flows if f.hung)
    # A clear error names itself (an envelope with its error_type) and is not a bare 500: the
    # client knows whether to retry (503, 429) or not (4xx).
    unclear = sum(
        n
        for a, n in load.tally.answers.items()
        if "without an error envelope" in a or a.startswith("500")
    )
    results.append(
        (
            "every client saw a clear error or success (no hang)",
            hangs == 0 and unclear == 0,
            f"{hangs} requests unanswered after {CLIENT_TIMEOUT_S:.0f} s; {unclear} errors "
            "without an error envelope or a bare 500",
        )
    )
    return results, {"outbox": statuses}


def run(args: Any) -> int:
    """The command: 0 if every check passed, 1 otherwise."""
    return 0 if all(ok for _, ok, _ in execute(args)) else 1


def execute(args: Any) -> list[Check]:
    """Build the deployment, run the load and the faults, print and return the checks."""
    root = Path(tempfile.mkdtemp(prefix="antechamber-faults-"))
    pg = PrivatePostgres(root)
    redis = PrivateRedis(root)
    smtp = SmtpSink()
    twilio = TwilioSink()
    shape = Shape(args.orgs, 1)
    worker: DeliveryWorker | None = None
    results: list[Check] = []
    try:
        t0 = time.monotonic()
        pg.start()
        redis.start()
        smtp.start()
        twilio.start()
        print(
            f"private PostgreSQL on :{pg.port}, Redis on :{redis.port} (maxclients "
            f"{REDIS_MAXCLIENTS}), SMTP sink on :{smtp.port}, Twilio sink on :{twilio.port}",
            flush=True,
        )
        env_extra = {
            # Production mode: email and texts go to the providers (the sinks), not the inbox.
            "ANTECHAMBER_DEV": "false",
            "ANTECHAMBER_REDIS_URL": redis.url,
            "ANTECHAMBER_DELIVERY_WORKER": "false",
            "ANTECHAMBER_SMTP_HOST": "127.0.0.1",
            "ANTECHAMBER_SMTP_PORT": str(smtp.port),
            "ANTECHAMBER_SMTP_TLS": "none",
            "ANTECHAMBER_SMTP_FROM": "Antechamber <login@faults.example>",
            "ANTECHAMBER_TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
            "ANTECHAMBER_TWILIO_AUTH_TOKEN": "faults",
            "ANTECHAMBER_TWILIO_FROM_NUMBER": "+12025550100",
            "ANTECHAMBER_TWILIO_BASE_URL": f"http://127.0.0.1:{twilio.port}",
            "ANTECHAMBER_DELIVERY_LEASE_SECONDS": str(LEASE_SECONDS),
            "ANTECHAMBER_DELIVERY_SEND_TIMEOUT_SECONDS": "5",
            "ANTECHAMBER_DELIVERY_POLL_SECONDS": "0.2",
            "ANTECHAMBER_DELIVERY_RETRY_BASE_SECONDS": "1",
            "ANTECHAMBER_DELIVERY_RETRY_MAX_SECONDS": "5",
        }
        server = Antechamber(
            run_dir=root,
            database="postgres",
            pg_admin_url=pg.admin_url,
            shape=shape,
            workers=2,
            log_level="warning",
            client_kind="httpx",
            extra_env=env_extra,
            # Its checks read every outbox message as one this run queued.
            history=False,
        )
        with server as running:
            port = int(running.target.base_url.rsplit(":", 1)[1])
            env = server._env(running.target.database_url, port, running.target.server_key)
            worker = DeliveryWorker(env, root, root / "worker.log")
            worker.start()
            print(
                f"deployment up after {time.monotonic() - t0:.1f} s: 2 server workers, "
                "1 delivery worker",
                flush=True,
            )
            results = asyncio.run(_measure(args, running, worker, pg, redis, smtp, twilio, shape))
    finally:
        if worker is not None:
            worker.stop()
        redis.stop()
        pg.stop()
        smtp.stop()
        twilio.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"kept: {root}")
    return results


async def _measure(
    args: Any,
    running: Running,
    worker: DeliveryWorker,
    pg: PrivatePostgres,
    redis: PrivateRedis,
    smtp: SmtpSink,
    twilio: TwilioSink,
    shape: Shape,
) -> list[Check]:
    calibration = Load(running, shape)
    maximum = await calibration.closed_loop(args.concurrency, args.calibrate)
    rate = max(0.5, maximum * args.fraction)
    print(
        f"maximum: {maximum:.1f} logins/s ({args.concurrency} clients, {args.calibrate:g} s); "
        f"load: {rate:.1f} logins/s",
        flush=True,
    )
    load = Load(running, shape)
    load.last_seen = calibration.last_seen
    stop = asyncio.Event()
    driving = asyncio.create_task(load.paced(rate, stop, cap=args.concurrency * 4))
    loop = asyncio.get_running_loop()
    faults = await loop.run_in_executor(None, _inject, load, running, worker, pg, redis, args.gap)
    final_start = time.monotonic()
    await loop.run_in_executor(None, _settle, args.gap, worker)
    stop.set()
    await driving
    final = [f for f in load.tally.flows if f.started >= final_start]
    final_ok = sum(1 for f in final if f.outcome == "ok")
    counts = await loop.run_in_executor(
        None, _drain, running.target.database_url, worker, LEASE_SECONDS * 6
    )
    live_workers = len(_server_workers(running.process.pid))
    await load.outbox.close()
    await calibration.outbox.close()

    print("\nfaults:")
    for fault in faults:
        back = fault.recovered_at(load.tally.flows)
        during = [
            f for f in load.tally.flows if fault.started <= f.started <= (back or fault.ended)
        ]
        errors = sum(1 for f in during if f.outcome != "ok")
        took = f"recovered in {back - fault.started:.1f} s" if back else "NOT recovered"
        print(
            f"  {fault.name} ({fault.detail}): {took}; {errors} of {len(during)} logins "
            "started meanwhile failed"
        )
    flows = load.tally.flows
    outcomes = Counter(f.outcome for f in flows)
    print(f"\nlogins: {len(flows)} started, {outcomes['ok']} succeeded")
    for what, n in outcomes.most_common():
        if what != "ok":
            print(f"  failed: {n} × {what}")
    print("answers: " + ", ".join(f"{n} × {a}" for a, n in load.tally.answers.most_common()))
    print(
        f"outbox: {counts}; SMTP sink: {sum(smtp.received.values())} emails; Twilio sink: "
        f"{sum(twilio.received.values())} texts; delivery worker restarts: {worker.restarts}"
    )

    results, _ = _checks(load, running.target.database_url, smtp, twilio, running.target.server_key)
    recovered = all(f.recovered_at(flows) for f in faults)
    results.append(
        (
            "recovered without a manual step",
            recovered and live_workers == 2 and bool(final) and final_ok >= 0.95 * len(final),
            f"{live_workers} server workers at the end; last {args.gap:g} s: {final_ok} of "
            f"{len(final)} logins succeeded",
        )
    )
    print("\nchecks:")
    for name, ok, detail in results:
        print(f"  [{'ok' if ok else 'FAILED'}] {name}: {detail}")
    return results


def add_parser(sub: Any) -> None:
    faults = sub.add_parser(
        "faults",
        help="Logins under load on a private PostgreSQL and Redis while a server worker, the "
        "delivery worker, PostgreSQL and Redis's connections fail; then the safety checks.",
    )
    faults.add_argument("--orgs", type=int, default=400, help="Organizations pre-loaded (400).")
    faults.add_argument(
        "--concurrency", type=int, default=8, help="Clients while measuring the maximum (8)."
    )
    faults.add_argument(
        "--calibrate", type=float, default=8.0, help="Seconds measuring the maximum (8)."
    )
    faults.add_argument(
        "--fraction", type=float, default=0.5, help="Share of the maximum rate to run at (0.5)."
    )
    faults.add_argument(
        "--gap", type=float, default=10.0, help="Seconds before, between and after faults (10)."
    )
    faults.add_argument("--keep", action="store_true", help="Keep the run directory (logs).")
