"""The discovery flow through the official Node SDK (stytch 14.x from npm) against a live server.

`scripts/test` runs `npm install` in tests/compat/node; without Node or the installed SDK these
tests are skipped with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from fastapi import FastAPI

from antechamber.clock import FrozenClock
from antechamber.services import Services
from tests.compat.conftest import RequestLog
from tests.conftest import Credentials, LiveServer
from tests.factories import CALLBACK_URL, last_code, magic_token, message_ids, sms_ids

NODE_DIR = Path(__file__).parent / "node"
NODE = shutil.which("node")
EMAIL = "grace@acme.example"
PHONE = "+12025550123"

pytestmark = pytest.mark.skipif(
    NODE is None or not (NODE_DIR / "node_modules" / "stytch").is_dir(),
    reason="needs node and `npm install` in tests/compat/node (scripts/test does it)",
)


def node(live_server: LiveServer, project: Credentials, *args: str) -> dict[str, Any]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "STYTCH_BASE_URL": live_server.url,
        "STYTCH_PROJECT_ID": project.project_id,
        "STYTCH_SECRET": project.secret,
    }
    done = subprocess.run(
        [str(NODE), "script.mjs", *args],
        cwd=NODE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_node_discovery_create_session_jwt_revoke(
    live_server: LiveServer, project: Credentials, services: Services, request_log: RequestLog
) -> None:
    sent = node(live_server, project, "send", "grace@acme.example", CALLBACK_URL)
    assert sent == {"status_code": 200}
    result = node(live_server, project, "login", magic_token(services, "grace@acme.example"))
    assert result["email_address"] == "grace@acme.example"
    assert result["member_authenticated"] is True
    assert result["is_admin"] is True
    assert result["intermediate_session_token"] == ""
    assert result["local_member_id"] == result["member_id"]
    assert result["local_organization_id"] == result["organization_id"]
    assert result["local_factors"] == ["magic_link"]
    # authenticateJwt fetched the JWKS and verified offline: no sessions/authenticate fallback
    # between it and the script's own sessions.authenticate calls (before and after revoke).
    assert request_log.order == [
        "magic_links/email/discovery/send",
        "magic_links/discovery/authenticate",
        "discovery/organizations",
        "discovery/organizations/create",
        f"sessions/jwks/{project.project_id}",
        "sessions/authenticate",
        "sessions/revoke",
        "sessions/authenticate",
    ]
    assert result["after_revoke"] == {"status_code": 404, "error_type": "session_not_found"}


def test_node_required_for_all_stops_at_mfa(
    live_server: LiveServer, project: Credentials, services: Services
) -> None:
    node(live_server, project, "send", "grace@acme.example", CALLBACK_URL)
    result = node(live_server, project, "mfa", magic_token(services, "grace@acme.example"))
    assert result["member_authenticated"] is False
    assert result["session_jwt"] == ""
    assert result["session_token"] == ""
    assert result["member_session"] is None
    assert result["mfa_required"] == {"member_options": None, "secondary_auth_initiated": None}
    assert result["ist_is_the_same"] is True


class NodeSdk:
    """One `node script.mjs serve` process: each `call` runs one SDK step and returns its body.

    Multi-step flows need it: the code of a step is read from the outbox between two calls.
    """

    def __init__(self, live_server: LiveServer, project: Credentials) -> None:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "STYTCH_BASE_URL": live_server.url,
            "STYTCH_PROJECT_ID": project.project_id,
            "STYTCH_SECRET": project.secret,
        }
        self.process = subprocess.Popen(
            [str(NODE), "script.mjs", "serve"],
            cwd=NODE_DIR,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def call(self, step: str, *args: Any) -> dict[str, Any]:
        """The step's result (`ok`) or its refusal (`error`: status_code, error_type)."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps({"step": step, "args": list(args)}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, self.process.stderr.read() if self.process.stderr else "node exited"
        answer: dict[str, Any] = json.loads(line)
        return answer

    def ok(self, step: str, *args: Any) -> dict[str, Any]:
        answer = self.call(step, *args)
        assert "ok" in answer, answer
        body: dict[str, Any] = answer["ok"]
        return body

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture
def node_sdk(live_server: LiveServer, project: Credentials) -> Iterator[NodeSdk]:
    client = NodeSdk(live_server, project)
    yield client
    client.close()


def node_login(node_sdk: NodeSdk, services: Services, email: str) -> str:
    """A discovery link sent, read from the outbox and redeemed through Node: the IST."""
    seen = message_ids(services, email)
    node_sdk.ok("sendLink", email, CALLBACK_URL)
    found = node_sdk.ok("discover", magic_token(services, email, seen=seen))
    return str(found["intermediate_session_token"])


def test_node_required_for_all_with_sms(
    node_sdk: NodeSdk, services: Services, request_log: RequestLog
) -> None:
    created = node_sdk.ok(
        "create", node_login(node_sdk, services, EMAIL), "Strict", "REQUIRED_FOR_ALL"
    )
    assert created["session_jwt"] == ""
    assert created["mfa_required"] == {"member_options": None, "secondary_auth_initiated": None}
    org_id, member_id = created["organization"]["organization_id"], created["member_id"]
    sent = node_sdk.ok("smsSend", org_id, member_id, PHONE)
    assert sent["member"]["mfa_phone_number"] == PHONE
    done = node_sdk.ok(
        "smsAuthenticate",
        org_id,
        member_id,
        last_code(services, PHONE),
        created["intermediate_session_token"],
    )
    assert done["member"]["mfa_phone_number_verified"] is True
    assert done["member"]["mfa_enrolled"] is True
    assert [f["type"] for f in done["member_session"]["authentication_factors"]] == [
        "magic_link",
        "otp",
    ]
    local = node_sdk.ok("authenticateJwtLocally", done["session_jwt"])
    assert local == {"member_id": member_id, "factors": [["magic_link", "email"], ["otp", "sms"]]}
    assert "sessions/authenticate" not in request_log.order  # verified offline, with the JWKS


def test_node_optional_opt_in_and_out(
    node_sdk: NodeSdk, inner_app: FastAPI, services: Services
) -> None:
    created = node_sdk.ok("create", node_login(node_sdk, services, EMAIL), "Relaxed", "OPTIONAL")
    assert created["member_authenticated"] is True
    org_id, member_id = created["organization"]["organization_id"], created["member_id"]
    node_sdk.ok("updateMember", org_id, member_id, {"mfa_enrolled": True})

    # Opted in, no phone yet: the login stops, the member enrols a number.
    pending = node_sdk.ok("exchange", node_login(node_sdk, services, EMAIL), org_id)
    assert pending["session_jwt"] == ""
    assert pending["mfa_required"]["member_options"] is None
    node_sdk.ok("smsSend", org_id, member_id, PHONE)
    code = last_code(services, PHONE)
    done = node_sdk.ok(
        "smsAuthenticate", org_id, member_id, code, pending["intermediate_session_token"]
    )
    assert done["member_session"]["authentication_factors"][1]["type"] == "otp"

    # Next login: the code is texted with the MFA answer.
    inner_app.state.services.limiter.reset()  # (limits follow the wall clock)
    seen = sms_ids(services, PHONE)
    pending = node_sdk.ok("exchange", node_login(node_sdk, services, EMAIL), org_id)
    assert pending["mfa_required"] == {
        "member_options": {"mfa_phone_number": "+1******0123", "totp_registration_id": ""},
        "secondary_auth_initiated": "sms_otp",
    }
    code = last_code(services, PHONE, seen=seen)
    done = node_sdk.ok(
        "smsAuthenticate", org_id, member_id, code, pending["intermediate_session_token"]
    )
    assert done["session_jwt"]

    # Opted out: the next login has no MFA step.
    assert (
        node_sdk.ok("updateMember", org_id, member_id, {"mfa_enrolled": False})["member"][
            "mfa_enrolled"
        ]
        is False
    )
    inner_app.state.services.limiter.reset()
    entered = node_sdk.ok("exchange", node_login(node_sdk, services, EMAIL), org_id)
    assert entered["member_authenticated"] is True
    assert entered["mfa_required"] is None


def test_node_totp_enrol_log_in_and_recover(
    node_sdk: NodeSdk, inner_app: FastAPI, services: Services, clock: FrozenClock
) -> None:
    """The codes are computed here with pyotp from the secret the Node SDK received."""
    created = node_sdk.ok(
        "create", node_login(node_sdk, services, EMAIL), "Authenticator", "REQUIRED_FOR_ALL"
    )
    org_id, member_id = created["organization"]["organization_id"], created["member_id"]
    ist = created["intermediate_session_token"]
    totp = node_sdk.ok("totpCreate", org_id, member_id, ist)
    assert totp["qr_code"].startswith("data:image/png;base64,")
    assert len(totp["recovery_codes"]) == 10
    code = pyotp.TOTP(totp["secret"]).at(clock.now())
    done = node_sdk.ok("totpAuthenticate", org_id, member_id, code, ist)
    assert [
        (f["type"], f["delivery_method"]) for f in done["member_session"]["authentication_factors"]
    ] == [("magic_link", "email"), ("totp", "authenticator_app")]
    assert done["member"]["totp_registration_id"] == totp["totp_registration_id"]
    local = node_sdk.ok("authenticateJwtLocally", done["session_jwt"])
    assert local["factors"][1] == ["totp", "authenticator_app"]

    # A second login: the used code is refused, a recovery code finishes it.
    inner_app.state.services.limiter.reset()
    second = node_sdk.ok("exchange", node_login(node_sdk, services, EMAIL), org_id)
    assert (
        second["mfa_required"]["member_options"]["totp_registration_id"]
        == (totp["totp_registration_id"])
    )
    again = node_sdk.call(
        "totpAuthenticate", org_id, member_id, code, second["intermediate_session_token"]
    )
    assert again == {"error": {"status_code": 400, "error_type": "totp_code_already_authenticated"}}
    recovered = node_sdk.ok(
        "recoveryCodesRecover",
        org_id,
        member_id,
        totp["recovery_codes"][0],
        second["intermediate_session_token"],
    )
    assert recovered["recovery_codes_remaining"] == 9
    assert recovered["member_session"]["authentication_factors"][1]["type"] == "recovery_codes"
