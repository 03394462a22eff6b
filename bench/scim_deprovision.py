"""`python -m bench scim-deprovision`: how long from a directory's deprovisioning call to the
first refusal of the member's session.

A real server (`antechamber serve`, its own process, a fresh SQLite or PostgreSQL database).
Per round: a member with a live session (token and JWT) provisioned by a SCIM connection;
the clock starts as the SCIM `PATCH active=false` is sent; `sessions/authenticate` with the
token is sent the moment the PATCH answers (no polling interval: one try, which must already
be refused), then with the JWT. Prints the time to each refusal, per round and as p50 / max.
The target is under one second; the work is one transaction, so it is milliseconds.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.dataset import Shape
from bench.servers import Antechamber

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def _session(url: str, key: str, project_id: str, org_id: str, member_id: str) -> tuple[str, str]:
    """A session started by the domain, in this process, on the server's database."""
    from antechamber import db
    from antechamber.clock import SystemClock
    from antechamber.members.models import Member
    from antechamber.organizations.models import Organization
    from antechamber.scope import Scope
    from antechamber.sessions import factors
    from antechamber.sessions import service as sessions
    from antechamber.settings import Settings

    settings = Settings(database_url=url, secret_key=key, dev=True, _env_file=None)  # type: ignore[arg-type,call-arg]
    engine = db.make_engine(url)
    try:
        with db.transaction(db.session_factory(engine)) as session:
            scope = Scope(session, project_id, "test", "bench", SystemClock(), settings)
            org = session.get(Organization, org_id)
            member = session.get(Member, member_id)
            assert org is not None
            assert member is not None
            factor = factors.magic_link("test", project_id, member.email_address, scope.clock.now())
            started = sessions.start(scope, org, member, [factor])
            return started.session_token, started.session_jwt
    finally:
        engine.dispose()


def _ok(response: httpx.Response, *codes: int) -> dict[str, Any]:
    if response.status_code not in codes:
        raise RuntimeError(f"{response.request.method} {response.request.url}: {response.text}")
    body: dict[str, Any] = response.json() if response.content else {}
    return body


def run(rounds: int, database: str, pg_admin_url: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-scim-") as tmp:
        server = Antechamber(
            run_dir=Path(tmp),
            database=database,
            pg_admin_url=pg_admin_url,
            shape=Shape(orgs=2, members_per_org=1),
            workers=1,
            log_level="warning",
            client_kind="httpx",
            extra_env={},
        )
        with server as running:
            target = running.target
            api = httpx.Client(
                base_url=target.base_url, auth=(target.project_id, target.secret), timeout=10
            )
            org = _ok(
                api.post(
                    "/v1/b2b/organizations",
                    json={"organization_name": "SCIM bench", "organization_slug": "scim-bench"},
                ),
                200,
            )["organization"]
            made = _ok(api.post(f"/v1/b2b/scim/{org['organization_id']}/connection", json={}), 200)[
                "connection"
            ]
            path = httpx.URL(made["base_url"]).path
            scim = httpx.Client(
                base_url=target.base_url + path,
                headers={
                    "Authorization": f"Bearer {made['bearer_token']}",
                    "Content-Type": "application/scim+json",
                },
                timeout=10,
            )
            token_ms: list[float] = []
            jwt_ms: list[float] = []
            for i in range(rounds):
                email = f"leaver{i}@bench.example"
                user = _ok(scim.post("/Users", json={"schemas": [USER], "userName": email}), 201)
                member = _ok(
                    api.get(
                        f"/v1/b2b/organizations/{org['organization_id']}/member",
                        params={"email_address": email},
                    ),
                    200,
                )["member"]
                token, jwt = _session(
                    target.database_url,
                    target.server_key,
                    target.project_id,
                    org["organization_id"],
                    member["member_id"],
                )
                _ok(api.post("/v1/b2b/sessions/authenticate", json={"session_token": token}), 200)
                started = time.perf_counter()
                _ok(
                    scim.patch(
                        f"/Users/{user['id']}",
                        json={
                            "schemas": [PATCH],
                            "Operations": [{"op": "replace", "path": "active", "value": False}],
                        },
                    ),
                    200,
                )
                by_token = api.post("/v1/b2b/sessions/authenticate", json={"session_token": token})
                token_ms.append((time.perf_counter() - started) * 1000)
                by_jwt = api.post("/v1/b2b/sessions/authenticate", json={"session_jwt": jwt})
                jwt_ms.append((time.perf_counter() - started) * 1000)
                if by_token.status_code != 404 or by_jwt.status_code != 404:
                    raise RuntimeError(
                        f"round {i}: not refused at once ({by_token.status_code}, "
                        f"{by_jwt.status_code})"
                    )
    result = {
        "rounds": rounds,
        "database": database,
        "token_refused_ms": {"p50": statistics.median(token_ms), "max": max(token_ms)},
        "jwt_refused_ms": {"p50": statistics.median(jwt_ms), "max": max(jwt_ms)},
        "target_ms": 1000,
    }
    for i, (t, j) in enumerate(zip(token_ms, jwt_ms, strict=True)):
        print(f"round {i:3d}: token refused after {t:7.1f} ms, JWT after {j:7.1f} ms")
    print(
        f"SCIM deprovision → first refusal ({database}, {rounds} rounds, no polling): "
        f"token p50 {result['token_refused_ms']['p50']:.1f} ms, "
        f"max {result['token_refused_ms']['max']:.1f} ms; "
        f"JWT p50 {result['jwt_refused_ms']['p50']:.1f} ms, "
        f"max {result['jwt_refused_ms']['max']:.1f} ms (target < 1000 ms)"
    )
    return result
