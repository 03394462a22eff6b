"""The scenarios: whole flows, driven over HTTP as an SDK or a browser would drive them.

Antechamber (the Stytch B2B wire API, reference §2.8, §2.11, §3.1–3.5, §3.8, §3.11):
  a  discovery login into an OPTIONAL org: send → link from the outbox → authenticate →
     exchange into an org where the user is a member → session
  b  the same into a REQUIRED_FOR_ALL org, then SMS MFA: exchange → mfa_required →
     otps/sms/send (unless the exchange already sent the code) → code from the outbox →
     otps/sms/authenticate → session
  c  sessions/authenticate by session_token      d  by session_jwt
  e  GET the JWKS                                 f  baseline: GET /healthz (no DB, no auth)
  g  GET an organization by id: an authenticated primary-key read (Basic auth + a unit of
     work + serialising a Stytch object), and how it grows with the number of orgs
The django-allauth peer (headless "app" API):
  a  login by emailed code      b  login by code, then TOTP
  c  GET the current session    f  baseline: GET /healthz (a trivial Django view)

A route that does not exist yet (404 `route_not_found`) raises `RouteMissing`: the scenario is
reported as not available instead of failing the run.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import sqlite3
import struct
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bench import dataset
from bench.dataset import Kind, Shape
from bench.http import Client, HttpError
from bench.stats import Recorder

DISCOVERY_REDIRECT_URL = "http://localhost:3000/discovery"
SESSION_MINUTES = 60
OUTBOX_POLL_TRIES = 200  # × 5 ms: a message the server committed shows up at once
#: PostgreSQL connections reading the development outbox, per client process (a read holds
#: one for a round trip; more reads at once wait their turn on the loop).
OUTBOX_CONNECTIONS = 8
#: Threads (each with its sqlite3 connection) reading a SQLite outbox, per client process.
OUTBOX_THREADS = 4
ERROR_PAUSE_S = 0.005  # after a failed flow, so an error storm does not spin the CPU


class RouteMissing(Exception):
    """The server does not serve a route the scenario needs (yet)."""


class FlowFailed(Exception):
    """One iteration failed; it is counted and the virtual user goes on."""


@dataclass(frozen=True)
class Target:
    """What a client process needs to drive one server (picklable)."""

    name: str  # "antechamber" | "allauth"
    base_url: str
    client_kind: str = "raw"
    project_id: str = ""
    secret: str = ""
    database_url: str = ""  # to read Antechamber's development outbox, and for CPU accounting
    server_key: str = ""
    shape: Shape = field(default_factory=lambda: Shape(0, 1))
    maildir: str = ""  # the allauth peer's mail folder
    peer_users: int = 0


@dataclass
class VirtualUser:
    index: int  # global, across client processes
    users: int  # how many there are in all
    target: Target
    http: Client
    rec: Recorder
    outbox: Outbox | None
    cursor: int = 0
    state: dict[str, Any] = field(default_factory=dict)
    last_message: dict[str, str] = field(default_factory=dict)

    def next_member(self, kind: Kind) -> tuple[int, int]:
        """This user's next member of that kind: every `users`-th one, round robin, so no two
        virtual users ever wait for a message to the same address."""
        count = self.target.shape.count(kind)
        mine = range(self.index, count, self.users)
        i = mine[self.cursor % len(mine)]
        self.cursor += 1
        return self.target.shape.member(kind, i)


#: `antechamber.delivery.outbox.recent(recipient=…, limit=1)` as one plain statement: the
#: three columns the driver needs, newest first (ix_outbox_recipient_created serves it).
_NEWEST = (
    "SELECT id, template, payload FROM outbox_messages WHERE recipient = {} "
    "ORDER BY created_at DESC, id DESC LIMIT 1"
)


class Outbox:
    """Reads the development outbox (Antechamber's `outbox_messages`) straight from its DB.

    One prepared statement, not the ORM: on PostgreSQL on a few psycopg connections driven by
    the client's own event loop (no thread hand-off), on SQLite on a few threads each with its
    own sqlite3 connection. The ORM select in a thread pool it replaces cost the driver about
    1.2 ms of CPU per read, more than the four requests of a login together, all of it taken
    from the server under test (docs/performance.md, item 89)."""

    def __init__(self, database_url: str, server_key: str) -> None:
        from sqlalchemy.engine import make_url

        url = make_url(database_url)
        self.key = server_key.encode()
        self._reader: _SqliteReader | _PostgresReader
        if url.get_backend_name() == "sqlite":
            self._reader = _SqliteReader(url.database or "")
        else:
            conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
            self._reader = _PostgresReader(conninfo)

    async def newest(self, recipient: str) -> tuple[str, str, dict[str, Any]] | None:
        """(message id, template, context) of the newest message to `recipient`."""
        from antechamber.delivery import outbox

        row = await self._reader.newest(recipient)
        if row is None:
            return None
        message_id, template, payload = row
        return message_id, template, outbox.unseal_context(payload, self.key)

    async def close(self) -> None:
        await self._reader.close()


class _PostgresReader:
    """Up to OUTBOX_CONNECTIONS autocommit connections on the running loop, each reused."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self.idle: list[Any] = []  # psycopg.AsyncConnection, imported only for PostgreSQL
        self.slots = asyncio.Semaphore(OUTBOX_CONNECTIONS)

    async def newest(self, recipient: str) -> tuple[str, str, str] | None:
        import psycopg

        async with self.slots:
            if self.idle:
                conn = self.idle.pop()
            else:
                conn = await psycopg.AsyncConnection.connect(
                    self.conninfo, autocommit=True, connect_timeout=10
                )
            try:
                # Prepared on first use: one round trip a read (Bind, Execute, Sync), and no
                # BEGIN or ROLLBACK around it. The reads are counted in the run's pg%.
                cur = await conn.execute(_NEWEST.format("%s"), (recipient,), prepare=True)
                row: tuple[str, str, str] | None = await cur.fetchone()
            except BaseException:
                # Failed, or cancelled mid-read: the connection's state is unknown (and the
                # database may be down: bench faults). A later read opens a new one.
                await conn.close()
                raise
            self.idle.append(conn)
            return row

    async def close(self) -> None:
        idle, self.idle = self.idle, []
        for conn in idle:
            await conn.close()


class _SqliteReader:
    """A few threads, each with its own connection: a read that waits on the file must not
    hold up the event loop."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.local = threading.local()
        self.opened: list[sqlite3.Connection] = []
        self.lock = threading.Lock()
        self.executor = ThreadPoolExecutor(OUTBOX_THREADS, thread_name_prefix="outbox")

    def _read(self, recipient: str) -> tuple[str, str, str] | None:
        conn: sqlite3.Connection | None = getattr(self.local, "conn", None)
        if conn is None:
            # isolation_level None: no transaction is left open between reads; the timeout
            # is the one the ORM engine had
            conn = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            self.local.conn = conn
            with self.lock:
                self.opened.append(conn)
        row: tuple[str, str, str] | None = conn.execute(
            _NEWEST.format("?"), (recipient,)
        ).fetchone()
        return row

    async def newest(self, recipient: str) -> tuple[str, str, str] | None:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self._read, recipient)

    async def close(self) -> None:
        self.executor.shutdown()
        for conn in self.opened:
            conn.close()


async def read_message(vu: VirtualUser, recipient: str, template: str) -> dict[str, Any]:
    """The context of the newest `template` message to `recipient` not read before; the time
    it takes is recorded as the pseudo-route `outbox: <template>` (client-side work)."""
    assert vu.outbox is not None
    t0 = time.perf_counter()
    for _ in range(OUTBOX_POLL_TRIES):
        found = await vu.outbox.newest(recipient)
        if found and found[0] != vu.last_message.get(recipient) and found[1] == template:
            vu.last_message[recipient] = found[0]
            vu.rec.route(f"outbox: {template}", time.perf_counter() - t0)
            return found[2]
        await asyncio.sleep(0.005)
    vu.rec.route_error(f"outbox: {template}", "no new message")
    raise FlowFailed(f"no new {template} message for the recipient")


async def call(
    vu: VirtualUser,
    name: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    ok: tuple[int, ...] = (200,),
    headers: dict[str, str] | None = None,
    answer: bool = True,
) -> Any:
    """One request: its latency goes to route `name`, an unexpected status to the errors.
    The parsed answer, or None with `answer=False` (a flow that does not read it skips the
    parse: a check's answer is ~5 kB, the driver's CPU is the server's loss)."""
    t0 = time.perf_counter()
    try:
        r = await vu.http.request(method, path, json=body, headers=headers)
    except (OSError, HttpError, TimeoutError, asyncio.IncompleteReadError) as exc:
        vu.rec.route_error(name, type(exc).__name__)
        raise FlowFailed(f"{name}: {type(exc).__name__}") from None
    elapsed = time.perf_counter() - t0
    if r.status >= 500:
        vu.rec.server_error()
    if r.status in ok:
        vu.rec.route(name, elapsed)
        if not answer:
            return None
        try:
            return r.json()
        except ValueError:
            return None
    try:
        data = r.json()
    except ValueError:
        data = None
    error_type = data.get("error_type") if isinstance(data, dict) else None
    if r.status == 404 and (error_type == "route_not_found" or data == {"detail": "Not Found"}):
        raise RouteMissing(f"not available yet: {name} is not served (404 route_not_found)")
    what = f"{r.status} {error_type or ''}".strip()
    vu.rec.route_error(name, what)
    raise FlowFailed(f"{name}: {what}")


def _basic(target: Target) -> dict[str, str]:
    pair = f"{target.project_id}:{target.secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


# --- Antechamber -------------------------------------------------------------------------

SEND = "POST /v1/b2b/magic_links/email/discovery/send"
AUTHENTICATE = "POST /v1/b2b/magic_links/discovery/authenticate"
EXCHANGE = "POST /v1/b2b/discovery/intermediate_sessions/exchange"
SMS_SEND = "POST /v1/b2b/otps/sms/send"
SMS_AUTHENTICATE = "POST /v1/b2b/otps/sms/authenticate"
SESSIONS_AUTHENTICATE = "POST /v1/b2b/sessions/authenticate"
JWKS = "GET /v1/b2b/sessions/jwks/{project_id}"
HEALTHZ = "GET /healthz"
GET_ORG = "GET /v1/b2b/organizations/{organization_id}"


def _path(route: str) -> str:
    return route.split(" ", 1)[1]


async def _discovery_to_exchange(vu: VirtualUser, kind: Kind) -> tuple[int, int, Any]:
    """send → link → authenticate → exchange; the (org, member) used and the exchange answer."""
    j, k = vu.next_member(kind)
    email = dataset.email(j, k)
    await call(
        vu,
        SEND,
        "POST",
        _path(SEND),
        {"email_address": email, "discovery_redirect_url": DISCOVERY_REDIRECT_URL},
    )
    link = await read_message(vu, email, "discovery_magic_link")
    token = parse_qs(urlsplit(str(link["url"])).query).get("token", [""])[0]
    found = await call(
        vu, AUTHENTICATE, "POST", _path(AUTHENTICATE), {"discovery_magic_links_token": token}
    )
    exchanged = await call(
        vu,
        EXCHANGE,
        "POST",
        _path(EXCHANGE),
        {
            "intermediate_session_token": found["intermediate_session_token"],
            "organization_id": dataset.org_id(j),
            # a soak's sessions must outlive it
            "session_duration_minutes": vu.state.get("session_minutes", SESSION_MINUTES),
        },
    )
    return j, k, exchanged


def _session_of(answer: Any, step: str) -> dict[str, str]:
    if not isinstance(answer, dict) or not answer.get("session_token"):
        raise FlowFailed(f"{step}: no session in the answer")
    return {"session_token": answer["session_token"], "session_jwt": answer["session_jwt"]}


async def login_optional(vu: VirtualUser) -> dict[str, str]:
    _, _, exchanged = await _discovery_to_exchange(vu, "optional")
    return _session_of(exchanged, "exchange")


async def login_mfa(vu: VirtualUser) -> dict[str, str]:
    j, k, exchanged = await _discovery_to_exchange(vu, "required")
    mfa = exchanged.get("mfa_required") if isinstance(exchanged, dict) else None
    if not mfa:
        raise FlowFailed("exchange: expected mfa_required for a REQUIRED_FOR_ALL org")
    ist = exchanged["intermediate_session_token"]
    member = exchanged.get("member_id") or dataset.member_id(j, k)
    phone = dataset.phone(vu.target.shape, j, k)
    factor = {"organization_id": dataset.org_id(j), "member_id": member}
    # Stytch sends the SMS itself on exchange when the member has a phone
    # (secondary_auth_initiated = "sms_otp"); only otherwise does the app call send.
    if mfa.get("secondary_auth_initiated") != "sms_otp":
        await call(
            vu,
            SMS_SEND,
            "POST",
            _path(SMS_SEND),
            {**factor, "mfa_phone_number": phone, "intermediate_session_token": ist},
        )
    sms = await read_message(vu, phone, "sms_otp")
    authed = await call(
        vu,
        SMS_AUTHENTICATE,
        "POST",
        _path(SMS_AUTHENTICATE),
        {
            **factor,
            "code": str(sms["code"]),
            "intermediate_session_token": ist,
            "session_duration_minutes": SESSION_MINUTES,
        },
    )
    return _session_of(authed, "otps/sms/authenticate")


async def _setup_session(vu: VirtualUser) -> None:
    vu.state.update(await login_optional(vu))
    vu.state["jwt_at"] = time.monotonic()


_SESSIONS_AUTHENTICATE_PATH = _path(SESSIONS_AUTHENTICATE)


def session_by_token(vu: VirtualUser) -> Awaitable[Any]:
    # `call`'s coroutine itself, not one awaiting it: one coroutine less a check (a flow of
    # one request, run thousands of times a second with the driver's CPU taken from the server)
    return call(
        vu,
        SESSIONS_AUTHENTICATE,
        "POST",
        _SESSIONS_AUTHENTICATE_PATH,
        {"session_token": vu.state["session_token"]},
        answer=False,
    )


#: How old (driver's monotonic seconds) the kept session JWT may get before a check's answer
#: is parsed for the fresh one it carries. The server's JWTs live 5 minutes and it hands out
#: the same one for 60 s (`sessions.jwts.JWT_REUSE_SECONDS`), so the JWT sent is at most about
#: 90 s old, and it changes as often as the server mints: once a session a minute, as when
#: every answer was parsed. The other answers are read whole and their status checked, not
#: parsed (~4.5 kB of JSON each: the driver's CPU is the server's loss).
JWT_REFRESH_S = 30.0


def session_by_jwt(vu: VirtualUser) -> Awaitable[Any]:
    state = vu.state
    if time.monotonic() - state.get("jwt_at", -JWT_REFRESH_S) >= JWT_REFRESH_S:
        return _session_by_jwt_refreshed(vu)
    # not due: `call`'s coroutine itself, as session_by_token's
    return call(
        vu,
        SESSIONS_AUTHENTICATE,
        "POST",
        _SESSIONS_AUTHENTICATE_PATH,
        {"session_jwt": state["session_jwt"]},
        answer=False,
    )


async def _session_by_jwt_refreshed(vu: VirtualUser) -> None:
    """A check whose answer is parsed for the JWT it carries (valid 5 minutes), kept so long
    runs never send an expired one."""
    answer = await call(
        vu,
        SESSIONS_AUTHENTICATE,
        "POST",
        _SESSIONS_AUTHENTICATE_PATH,
        {"session_jwt": vu.state["session_jwt"]},
    )
    if isinstance(answer, dict) and answer.get("session_jwt"):
        vu.state["session_jwt"] = answer["session_jwt"]
        vu.state["jwt_at"] = time.monotonic()


async def jwks(vu: VirtualUser) -> None:
    await call(vu, JWKS, "GET", f"/v1/b2b/sessions/jwks/{vu.target.project_id}")


async def get_organization(vu: VirtualUser) -> None:
    # Any pre-loaded organization, spread over the whole table so a large data set is not
    # served from a few hot pages.
    j = (vu.index + vu.users * vu.cursor * 7919) % vu.target.shape.orgs
    vu.cursor += 1
    await call(vu, GET_ORG, "GET", f"/v1/b2b/organizations/{dataset.org_id(j)}")


async def healthz(vu: VirtualUser) -> None:
    await call(vu, HEALTHZ, "GET", "/healthz")


# --- django-allauth peer -------------------------------------------------------------------

PEER_CODE_REQUEST = "POST /_allauth/app/v1/auth/code/request"
PEER_CODE_CONFIRM = "POST /_allauth/app/v1/auth/code/confirm"
PEER_2FA = "POST /_allauth/app/v1/auth/2fa/authenticate"
PEER_SESSION = "GET /_allauth/app/v1/auth/session"
TOTP_PERIOD = 30


def totp_secret(i: int) -> str:
    """The TOTP secret the peer's `bench_seed` gave user i."""
    seed = hashlib.sha1(f"bench-totp-{i}".encode(), usedforsecurity=False).digest()
    return base64.b32encode(seed).decode()


def totp(secret: str, step: int) -> str:
    """RFC 6238 (SHA-1, 6 digits, 30 s), as authenticator apps and allauth compute it."""
    mac = hmac.new(base64.b32decode(secret), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def _peer_user(vu: VirtualUser, mfa: bool) -> int:
    """This virtual user's next peer user (even: no MFA, odd: TOTP), round robin."""
    half = vu.target.peer_users // 2
    mine = range(vu.index, half, vu.users)
    m = mine[vu.cursor % len(mine)]
    vu.cursor += 1
    return 2 * m + (1 if mfa else 0)


async def _peer_code_login(vu: VirtualUser, user: int) -> tuple[str, Any]:
    email = f"user{user}@peer.example.com"
    started = await call(
        vu, PEER_CODE_REQUEST, "POST", _path(PEER_CODE_REQUEST), {"email": email}, ok=(401,)
    )
    token = started["meta"]["session_token"]
    headers = {"X-Session-Token": token}
    code = await _read_peer_code(vu, email)
    confirmed = await call(
        vu,
        PEER_CODE_CONFIRM,
        "POST",
        _path(PEER_CODE_CONFIRM),
        {"code": code},
        ok=(200, 401),
        headers=headers,
    )
    return token, confirmed


async def _read_peer_code(vu: VirtualUser, email: str) -> str:
    t0 = time.perf_counter()
    path = Path(vu.target.maildir) / email
    for _ in range(OUTBOX_POLL_TRIES):
        try:
            text = path.read_text()
            stamp = str(path.stat().st_mtime_ns)
        except FileNotFoundError:
            text, stamp = "", ""
        if text.startswith("CODE: ") and stamp != vu.last_message.get(email):
            vu.last_message[email] = stamp
            vu.rec.route("mailbox: login code", time.perf_counter() - t0)
            return text.removeprefix("CODE: ").strip()
        await asyncio.sleep(0.005)
    vu.rec.route_error("mailbox: login code", "no new message")
    raise FlowFailed("no new login code in the peer's mailbox")


async def peer_login_code(vu: VirtualUser) -> dict[str, str]:
    _, confirmed = await _peer_code_login(vu, _peer_user(vu, mfa=False))
    if not confirmed.get("meta", {}).get("is_authenticated"):
        raise FlowFailed("code/confirm: not authenticated")
    return {"session_token": confirmed["meta"]["session_token"]}


async def peer_login_totp(vu: VirtualUser) -> dict[str, str]:
    # allauth refuses a TOTP code a user already used (for 90 s), as it should; so each
    # user logs in at most once per 30 s period, and a virtual user moves to one whose last
    # login was in an earlier period, waiting for the next period if it has none.
    used: dict[int, int] = vu.state.setdefault("totp_steps", {})
    half = vu.target.peer_users // 2
    mine = len(range(vu.index, half, vu.users))
    user = -1
    for _ in range(mine):
        candidate = _peer_user(vu, mfa=True)
        if used.get(candidate, -1) < int(time.time()) // TOTP_PERIOD:
            user = candidate
            break
    if user < 0:
        vu.rec.flow_error("peer user pool exhausted this TOTP period (waited; add --peer-users)")
        await asyncio.sleep(TOTP_PERIOD - time.time() % TOTP_PERIOD + 0.01)
        raise FlowFailed("waited for a TOTP period")
    token, confirmed = await _peer_code_login(vu, user)
    flows = confirmed.get("data", {}).get("flows", [])
    if not any(f.get("id") == "mfa_authenticate" and f.get("is_pending") for f in flows):
        raise FlowFailed("code/confirm: expected a pending mfa_authenticate flow")
    step = int(time.time()) // TOTP_PERIOD
    used[user] = step
    done = await call(
        vu,
        PEER_2FA,
        "POST",
        _path(PEER_2FA),
        {"code": totp(totp_secret(user), step)},
        headers={"X-Session-Token": token},
    )
    return {"session_token": done["meta"]["session_token"]}


async def _peer_setup_session(vu: VirtualUser) -> None:
    vu.state.update(await peer_login_code(vu))


async def peer_session(vu: VirtualUser) -> None:
    await call(
        vu,
        PEER_SESSION,
        "GET",
        _path(PEER_SESSION),
        headers={"X-Session-Token": vu.state["session_token"]},
    )


# --- the catalogue --------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    routes: tuple[str, ...]  # every route the scenario calls, probed before it runs
    iteration: Callable[[VirtualUser], Awaitable[Any]]
    setup: Callable[[VirtualUser], Awaitable[None]] | None = None
    needs_outbox: bool = False


ANTECHAMBER: dict[str, Scenario] = {
    s.key: s
    for s in (
        Scenario("f", "baseline: GET /healthz", (HEALTHZ,), healthz),
        Scenario("e", "GET JWKS", (JWKS,), jwks),
        Scenario("g", "GET organization (authenticated read)", (GET_ORG,), get_organization),
        Scenario(
            "a",
            "discovery login, OPTIONAL org",
            (SEND, AUTHENTICATE, EXCHANGE),
            login_optional,
            needs_outbox=True,
        ),
        Scenario(
            "b",
            "discovery login + SMS MFA, REQUIRED_FOR_ALL org",
            (SEND, AUTHENTICATE, EXCHANGE, SMS_SEND, SMS_AUTHENTICATE),
            login_mfa,
            needs_outbox=True,
        ),
        Scenario(
            "c",
            "sessions/authenticate by session_token",
            (SEND, AUTHENTICATE, EXCHANGE, SESSIONS_AUTHENTICATE),
            session_by_token,
            setup=_setup_session,
            needs_outbox=True,
        ),
        Scenario(
            "d",
            "sessions/authenticate by session_jwt",
            (SEND, AUTHENTICATE, EXCHANGE, SESSIONS_AUTHENTICATE),
            session_by_jwt,
            setup=_setup_session,
            needs_outbox=True,
        ),
    )
}

ALLAUTH: dict[str, Scenario] = {
    s.key: s
    for s in (
        Scenario("f", "baseline: GET /healthz (Django view)", (HEALTHZ,), healthz),
        Scenario(
            "a", "login by emailed code", (PEER_CODE_REQUEST, PEER_CODE_CONFIRM), peer_login_code
        ),
        Scenario(
            "b",
            "login by emailed code + TOTP",
            (PEER_CODE_REQUEST, PEER_CODE_CONFIRM, PEER_2FA),
            peer_login_totp,
        ),
        Scenario(
            "c",
            "GET auth/session by session token",
            (PEER_CODE_REQUEST, PEER_CODE_CONFIRM, PEER_SESSION),
            peer_session,
            setup=_peer_setup_session,
        ),
    )
}

CATALOGUE = {"antechamber": ANTECHAMBER, "allauth": ALLAUTH}
ORDER = ("f", "e", "g", "a", "b", "c", "d")  # baseline first: every ratio needs it
