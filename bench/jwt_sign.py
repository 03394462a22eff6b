# ruff: noqa
"""CPU of a session JWT's signature and verification alone (keys.service), without a database:
`keys.sign` with the signing key cached (as on every login but a project's first), and
`keys.verify` of a JWT this process signed (memo: no RSA) and of one it did not (RSA verify),
with claims shaped as a login's (a magic-link factor, two roles).

    cd <tree> && PYTHONPATH=src python -m bench.jwt_sign [n]
        µs of CPU (time.process_time) per operation: median of 15 batches of n
    CALLGRIND=1 PYTHONPATH=src valgrind --tool=callgrind --instr-atstart=no \
        --callgrind-out-file=/tmp/cg.%p python -m bench.jwt_sign 20
    python -m bench.asgi_routes_sum /tmp/cg.<pid>
        one dump per operation (after 20 unmeasured); instructions per operation (median)

Runs on any tree that has `keys.sign`/`keys.verify` with these caches (main and after), so a
before and after is the same script on the two trees.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from types import SimpleNamespace

from antechamber.keys import service as keys

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200
CALLGRIND = bool(os.environ.get("CALLGRIND"))

project_id = "project-test-0b0c4b6c-6a8e-4b5e-9d55-3f1d2f0f4a11"
kid = "jwk-test-5d2f9a43-1b4c-4f7e-8a4b-2c6e9d0f1a22"
private = keys.new_private_key()
keys._remember_private_key(project_id, kid, private)
keys._signing_kids[project_id] = (kid, time.monotonic() + 1e9)  # fresh for the whole run
scope: object = SimpleNamespace(project_id=project_id)
now = datetime.now(timezone.utc)
issued = int(now.timestamp())
stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
claims = {
    "aud": [project_id],
    "iss": keys.issuer(project_id),
    "sub": "member-test-8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d",
    "https://stytch.com/session": {
        "id": "member-session-test-1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
        "started_at": stamp,
        "last_accessed_at": stamp,
        "expires_at": stamp,
        "attributes": {"user_agent": "", "ip_address": ""},
        "authentication_factors": [
            {
                "type": "magic_link",
                "delivery_method": "email",
                "last_authenticated_at": stamp,
                "email_factor": {
                    "email_id": "member-email-test-9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a",
                    "email_address": "member-000042@bench.example",
                },
            }
        ],
        "roles": ["stytch_member", "stytch_admin"],
    },
    "https://stytch.com/organization": {
        "organization_id": "organization-test-7c6b5a49-3827-4165-a4b3-c2d1e0f9a8b7",
        "slug": "bench-org-42",
    },
    "iat": issued,
    "nbf": issued,
    "exp": issued + 300,
}
signed_here = keys.sign(scope, claims)
# A JWT another process signed: the same key, a claim apart, so not in this process's memo.
elsewhere = keys.sign(scope, {**claims, "sub": claims["sub"][:-1] + "e"})
keys._signed_here.pop(__import__("hashlib").sha256(elsewhere.encode()).digest())


def op_sign() -> None:
    keys.sign(scope, claims)


def op_verify_memo() -> None:
    keys.verify(scope, signed_here, now=now)


def op_verify_rsa() -> None:
    keys.verify(scope, elsewhere, now=now)


def op_nothing() -> None:
    pass  # the measuring's own cost (callgrind_control's fork in each dump): subtract it


OPS = {
    "nothing": op_nothing,
    "sign": op_sign,
    "verify_memo": op_verify_memo,
    "verify_rsa": op_verify_rsa,
}


def callgrind(*args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(os.getpid())], check=True, capture_output=True)


if CALLGRIND:
    callgrind("-i", "on")
    for name, op in OPS.items():
        for _ in range(20):
            op()
        for _ in range(N):
            callgrind("-z")
            op()
            callgrind("-d", name)
    callgrind("-i", "off")
else:
    for name, op in OPS.items():
        for _ in range(N // 5):
            op()
        batches = []
        for _ in range(15):
            start = time.process_time()
            for _ in range(N):
                op()
            batches.append((time.process_time() - start) / N * 1e6)
        print(f"{name:12s} median {statistics.median(batches):8.1f} µs  min {min(batches):8.1f}")
