"""Session JWT forgeries, refused by the server and by the recipe we document for apps.

Research §1.4 (ASVS 9.1.1–9.1.3, 9.2.1–9.2.4; OWASP JWT cheat sheet) and §2.10 (PyJWT
CVE-2022-29217 and CVE-2026-48526, Authlib CVE-2024-37568, python-jose#419: algorithm and
key confusion). Every forgery is tried twice: against `POST /v1/b2b/sessions/authenticate`
(401 `unable_to_parse_session_jwt`, database unchanged) and against
docs/examples/verify_jwt.py, the offline recipe, which must raise `jwt.PyJWTError`.

Forgeries that need our real signature (a wrong `iss`, `aud` or `typ`, a missing claim) are
signed with the project's real private key, read back from the database as only a test can:
they show that each claim is checked for itself, not merely covered by the signature check.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from antechamber import crypto
from antechamber.clock import FrozenClock
from antechamber.keys import service as keys
from antechamber.keys.models import SigningKey
from antechamber.services import Services
from tests.conftest import Credentials, LiveServer
from tests.factories import allow_redirect, make_member, make_org
from tests.flows import LIST, SESSION_AUTHENTICATE, SESSION_EXCHANGE, SESSION_REVOKE, login
from tests.snapshots import assert_refused, unchanged

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "docs" / "examples" / "verify_jwt.py"


def _load_recipe() -> ModuleType:
    spec = importlib.util.spec_from_file_location("verify_jwt_recipe", RECIPE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


recipe = _load_recipe()


def b64(data: bytes | dict[str, Any]) -> str:
    raw = json.dumps(data).encode() if isinstance(data, dict) else data
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{b64({**header, 'alg': 'HS256'})}.{b64(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


class KeyServer:
    """An attacker's web server: serves their JWKS and certificate, and counts the requests."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        body = json.dumps(jwks).encode()
        hits = self.hits = [0]

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits[0] += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def callback(services: Services, project: Credentials) -> None:
    allow_redirect(services, project.project_id)


@pytest.fixture
def org(services: Services, project: Credentials) -> Any:
    org = make_org(services, project.project_id, organization_slug="acme")
    make_member(services, project.project_id, org, email_address="ada@acme.example")
    return org


@pytest.fixture
def session(api: TestClient, services: Services, org: Any) -> dict[str, Any]:
    return login(api, services, "ada@acme.example", org.id)


@pytest.fixture
def real_key(services: Services, project: Credentials, session: dict[str, Any]) -> Any:
    """The project's signing key (kid, private key), as only someone with the server key has."""
    with services.sessions() as s:
        row = s.scalars(select(SigningKey).where(SigningKey.project_id == project.project_id)).one()
    pem = crypto.unseal(services.settings.key_bytes(), keys.SEAL_PURPOSE, row.private_key)
    return row.id, serialization.load_pem_private_key(pem, password=None)


@pytest.fixture
def attacker() -> Iterator[tuple[rsa.RSAPrivateKey, KeyServer]]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    server = KeyServer({"keys": [{**jwk, "kid": "attacker", "alg": "RS256", "use": "sig"}]})
    yield private, server
    server.close()


def forgeries(
    session: dict[str, Any],
    public_jwk: dict[str, Any],
    real_key: tuple[str, Any],
    attacker: tuple[rsa.RSAPrivateKey, KeyServer],
) -> dict[str, str]:
    token = session["session_jwt"]
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    head, body, signature = token.split(".")
    kid, private = real_key
    stranger, keyserver = attacker
    public_pem = jwt.PyJWK(public_jwk).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    stranger_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(stranger.public_key()))
    elevated = {
        **claims,
        "https://stytch.com/session": {
            **claims["https://stytch.com/session"],
            "roles": ["stytch_member", "stytch_admin"],
        },
    }

    def ours(payload: dict[str, Any], **head_fields: Any) -> str:
        return jwt.encode(payload, private, algorithm="RS256", headers={"kid": kid, **head_fields})

    def theirs(payload: dict[str, Any], **head_fields: Any) -> str:
        return jwt.encode(payload, stranger, algorithm="RS256", headers=head_fields)

    return {
        "alg none": f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{body}.",
        "alg none, no signature part": f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{body}",
        "alg NONE": f"{b64({'alg': 'NONE', 'typ': 'JWT', 'kid': kid})}.{body}.",
        "HS256 keyed with our public key (PEM)": hs256(header, claims, public_pem),
        "HS256 keyed with our public key (JWK)": hs256(
            header, claims, json.dumps(public_jwk).encode()
        ),
        "HS256 keyed with our public key (modulus)": hs256(
            header, claims, base64.urlsafe_b64decode(public_jwk["n"] + "==")
        ),
        "another RSA key, our kid": theirs(claims, kid=kid),
        "another RSA key, a foreign kid": theirs(claims, kid="attacker"),
        "another RSA key, no kid": theirs(claims),
        "kid as an injection": theirs(claims, kid="' OR 1=1 --"),
        "kid as a path": theirs(claims, kid="../../../../dev/null"),
        "jku to the attacker's JWKS": theirs(claims, kid="attacker", jku=keyserver.url),
        "jku, our kid": theirs(claims, kid=kid, jku=keyserver.url),
        "x5u to the attacker's certificate": theirs(claims, kid="attacker", x5u=keyserver.url),
        "embedded jwk": theirs(claims, kid="attacker", jwk=stranger_jwk),
        "embedded jwk, our kid": theirs(claims, kid=kid, jwk=stranger_jwk),
        "payload changed, signature kept": f"{head}.{b64(elevated)}.{signature}",
        "header changed, signature kept": f"{b64({**header, 'kid': kid + 'x'})}.{body}.{signature}",
        "signature stripped": f"{head}.{body}.",
        "wrong iss": ours({**claims, "iss": "stytch.com/project-test-someone-else"}),
        "wrong aud": ours({**claims, "aud": ["project-test-someone-else"]}),
        "no aud": ours({k: v for k, v in claims.items() if k != "aud"}),
        "no sub": ours({k: v for k, v in claims.items() if k != "sub"}),
        "no exp": ours({k: v for k, v in claims.items() if k != "exp"}),
        "no nbf": ours({k: v for k, v in claims.items() if k != "nbf"}),
        "typ of another token": ours(claims, typ="at+jwt"),
        "no typ": jwt.encode(claims, private, algorithm="RS256", headers={"kid": kid, "typ": None}),
        "not yet valid": ours({**claims, "nbf": claims["nbf"] + 3600, "iat": claims["iat"] + 3600}),
        "garbage": "not.a.jwt",
        "empty segments": "..",
    }


@pytest.fixture
def public_jwk(client: TestClient, project: Credentials) -> dict[str, Any]:
    [jwk] = client.get(f"/v1/b2b/sessions/jwks/{project.project_id}", auth=None).json()["keys"]
    return dict(jwk)


def test_the_server_refuses_every_forgery(
    api: TestClient,
    engine: Engine,
    session: dict[str, Any],
    public_jwk: dict[str, Any],
    real_key: tuple[str, Any],
    attacker: tuple[rsa.RSAPrivateKey, KeyServer],
) -> None:
    forged = forgeries(session, public_jwk, real_key, attacker)
    with unchanged(engine):
        for name, token in forged.items():
            for path, extra in [
                (SESSION_AUTHENTICATE, {}),
                (SESSION_REVOKE, {}),
                (LIST, {}),
                (SESSION_EXCHANGE, {"organization_id": session["organization"]["organization_id"]}),
            ]:
                response = api.post(path, json={"session_jwt": token, **extra})
                try:
                    assert_refused(response, 401, "unable_to_parse_session_jwt")
                except AssertionError as exc:
                    raise AssertionError(f"{name} at {path}: {exc}") from None
    assert attacker[1].hits == [0]  # the server never fetched a key from a token's header
    # The real one still works: nothing above revoked it.
    assert api.post(SESSION_AUTHENTICATE, json={"session_jwt": session["session_jwt"]}).is_success


def test_the_recipe_refuses_every_forgery(
    live_server: LiveServer,
    project: Credentials,
    session: dict[str, Any],
    public_jwk: dict[str, Any],
    real_key: tuple[str, Any],
    attacker: tuple[rsa.RSAPrivateKey, KeyServer],
) -> None:
    jwks = recipe.jwks_client(live_server.url, project.project_id)
    claims = recipe.verify_session_jwt(
        session["session_jwt"], project_id=project.project_id, jwks=jwks
    )
    assert claims["sub"] == session["member_id"]
    for name, token in forgeries(session, public_jwk, real_key, attacker).items():
        with pytest.raises(jwt.PyJWTError):
            recipe.verify_session_jwt(token, project_id=project.project_id, jwks=jwks)
            pytest.fail(f"the recipe accepted: {name}")
    assert attacker[1].hits == [0]  # nor did the recipe


def test_another_projects_jwt_is_refused_by_both(
    app: Any,
    api: TestClient,
    engine: Engine,
    services: Services,
    live_server: LiveServer,
    project: Credentials,
    other_project: Credentials,
) -> None:
    allow_redirect(services, other_project.project_id)
    theirs = make_org(services, other_project.project_id)
    make_member(services, other_project.project_id, theirs, email_address="bob@b.example")
    other = TestClient(app, raise_server_exceptions=False)
    other.auth = other_project.auth
    foreign = login(other, services, "bob@b.example", theirs.id)["session_jwt"]
    with unchanged(engine):
        response = api.post(SESSION_AUTHENTICATE, json={"session_jwt": foreign})
        assert_refused(response, 401, "unable_to_parse_session_jwt")
    ours = recipe.jwks_client(live_server.url, project.project_id)
    with pytest.raises(jwt.PyJWTError):
        recipe.verify_session_jwt(foreign, project_id=project.project_id, jwks=ours)
    # Even with the other project's keys, it is not a JWT of this project (aud, iss).
    theirs_keys = recipe.jwks_client(live_server.url, other_project.project_id)
    with pytest.raises(jwt.PyJWTError):
        recipe.verify_session_jwt(foreign, project_id=project.project_id, jwks=theirs_keys)


def test_expiry(
    api: TestClient,
    engine: Engine,
    services: Services,
    org: Any,
    clock: FrozenClock,
    live_server: LiveServer,
    project: Credentials,
) -> None:
    """The recipe refuses an expired JWT. The server, like Stytch, treats a JWT as a pointer
    to its session: an expired JWT of a live session is refreshed (that is how SDKs renew
    them), and once the session is over it is refused at once."""
    clock.advance(minutes=-10)
    old = login(api, services, "ada@acme.example", org.id)
    clock.advance(minutes=10)
    jwks = recipe.jwks_client(live_server.url, project.project_id)
    with pytest.raises(jwt.ExpiredSignatureError):
        recipe.verify_session_jwt(old["session_jwt"], project_id=project.project_id, jwks=jwks)
    assert api.post(SESSION_AUTHENTICATE, json={"session_jwt": old["session_jwt"]}).is_success
    api.post(SESSION_REVOKE, json={"session_token": old["session_token"]})
    with unchanged(engine):
        response = api.post(SESSION_AUTHENTICATE, json={"session_jwt": old["session_jwt"]})
        assert_refused(response, 404, "session_not_found")


def test_a_jwt_minted_in_the_future_is_refused_by_both(
    api: TestClient,
    services: Services,
    org: Any,
    clock: FrozenClock,
    live_server: LiveServer,
    project: Credentials,
) -> None:
    clock.advance(minutes=10)
    body = login(api, services, "ada@acme.example", org.id)
    clock.advance(minutes=-10)
    response = api.post(SESSION_AUTHENTICATE, json={"session_jwt": body["session_jwt"]})
    assert_refused(response, 401, "unable_to_parse_session_jwt")
    jwks = recipe.jwks_client(live_server.url, project.project_id)
    with pytest.raises(jwt.ImmatureSignatureError):
        recipe.verify_session_jwt(body["session_jwt"], project_id=project.project_id, jwks=jwks)


def test_custom_claims_cannot_forge_registered_or_stytch_claims(
    api: TestClient, session: dict[str, Any], org: Any
) -> None:
    """ASVS 8.2.3: a caller-chosen claim cannot raise roles or move the session elsewhere."""
    response = api.post(
        SESSION_AUTHENTICATE,
        json={
            "session_token": session["session_token"],
            "session_custom_claims": {
                "sub": "member-test-someone-else",
                "aud": ["project-test-someone-else"],
                "exp": 9999999999,
                "https://stytch.com/session": {"roles": ["stytch_admin"]},
                "https://stytch.com/organization": {"organization_id": "elsewhere"},
                "plan": "pro",
            },
        },
    )
    assert response.status_code == 200, response.json()
    claims = jwt.decode(response.json()["session_jwt"], options={"verify_signature": False})
    assert claims["sub"] == session["member_id"]
    assert claims["exp"] - claims["iat"] <= 300
    assert claims["https://stytch.com/session"]["roles"] == ["stytch_member"]
    assert claims["https://stytch.com/organization"]["organization_id"] == org.id
    assert claims["plan"] == "pro"


def test_the_documented_recipe_is_this_code() -> None:
    """docs/security.md shows the recipe's function; it must be the tested code, verbatim."""
    doc = (ROOT / "docs" / "security.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", doc, flags=re.DOTALL)
    shown = [b for b in blocks if "def verify_session_jwt" in b]
    assert shown, "docs/security.md no longer shows verify_session_jwt"
    source = RECIPE.read_text()
    for block in shown:
        for chunk in block.strip().split("\n\n"):
            assert chunk.strip() in source, chunk
