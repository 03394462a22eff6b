"""Session JWTs signed and read without PyJWT's `encode` and `json.loads` (keys.service).

`keys.encode_jws` makes the bytes PyJWT's `jwt.encode` made (RS256 PKCS#1 v1.5 signatures are
deterministic, so whole tokens compare), for any claims, but for a float's spelling; the
server's own tokens still verify with PyJWT pinned to RS256. `keys.verify` reads segments with
orjson where `json.loads` gives the same: every malformed token is still a 401
`unable_to_parse_session_jwt`, never a 500 (tests/security/test_jwt_forgeries.py tries the
forgeries: `alg: none`, HMAC keyed with the public key, foreign keys and kids, tampering).
"""

from __future__ import annotations

import base64
import json
from collections import OrderedDict
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from antechamber.keys import service as keys
from antechamber.services import Services
from antechamber.sessions import jwts
from tests.conftest import Credentials
from tests.factories import allow_redirect, make_member, make_org
from tests.flows import SESSION_AUTHENTICATE, ada_signed_in, login

KID = "jwk-test-00000000-0000-4000-8000-000000000000"
PRIVATE = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pyjwt(claims: dict[str, Any]) -> bytes:
    """What `keys.sign` called before."""
    token = jwt.encode(claims, PRIVATE, algorithm="RS256", headers={"kid": KID, "typ": "JWT"})
    return token.encode("ascii")


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# JSON values as claims hold them: text of any code point (lone surrogates among them, which
# orjson refuses), integers past 64 bits (which it refuses too), no floats (below).
texts = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)
leaves = st.none() | st.booleans() | st.integers() | texts
values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)
STANDARD = {
    "aud": ["project-test-1"],
    "iss": "stytch.com/project-test-1",
    "sub": "member-test-1",
    "iat": 1_700_000_000,
    "nbf": 1_700_000_000,
    "exp": 1_700_000_300,
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(texts, values, max_size=6))
@example({"team": "é", "ok": "\x7f", "ctl": '\x00\x1f\b\f\n\r\t"\\/'})
@example({"big": 2**64, "neg": -(2**63) - 1, "max": 2**63 - 1, "lone": "\ud800"})
@example({"nested": {"a": [1, {"b": "\u2028\u2029<>&'"}]}})
def test_the_same_bytes_as_pyjwt(custom: dict[str, Any]) -> None:
    claims = {**custom, **STANDARD}
    assert keys.encode_jws(KID, PRIVATE, claims) == pyjwt(claims)


@pytest.mark.parametrize("number", [1e-7, 1e16, 0.1, -0.0, 1.5e300, 5e-324, 123456789.125])
def test_a_float_claim_is_the_same_number(number: float) -> None:
    claims = {**STANDARD, "score": number, "list": [number, {"x": number}]}
    ours = keys.encode_jws(KID, PRIVATE, claims).decode()
    decoded = jwt.decode(
        ours,
        PRIVATE.public_key(),
        algorithms=["RS256"],
        audience="project-test-1",
        options={"verify_exp": False},  # claims of 2023
    )
    assert decoded == json.loads(json.dumps(claims))
    assert ours.split(".")[0] == pyjwt(claims).decode().split(".")[0]


def test_the_header_is_pyjwts() -> None:
    token = keys.encode_jws(KID, PRIVATE, STANDARD).decode()
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "kid": KID, "typ": "JWT"}
    assert base64.urlsafe_b64decode(token.split(".")[0] + "==") == (
        b'{"alg":"RS256","kid":"' + KID.encode() + b'","typ":"JWT"}'
    )


@pytest.fixture
def session(api: TestClient, services: Services, project: Credentials) -> dict[str, Any]:
    return ada_signed_in(api, services, project.project_id)


def test_the_server_signs_without_pyjwt(
    api: TestClient, services: Services, project: Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fast path is the only path: PyJWT's encoder is never reached, and what the server
    # signed verifies with PyJWT, RS256 only, against the published key.
    def refuse(*args: Any, **kwargs: Any) -> str:
        raise AssertionError("PyJWT's encode was called")

    monkeypatch.setattr(jwt.api_jws.PyJWS, "encode", refuse)
    monkeypatch.setattr(jwt.api_jwt.PyJWT, "encode", refuse)
    allow_redirect(services, project.project_id)
    org = make_org(services, project.project_id)
    make_member(services, project.project_id, org, email_address="ada@acme.example")
    token = login(api, services, "ada@acme.example", org.id)["session_jwt"]
    jwks = api.get(f"/v1/b2b/sessions/jwks/{project.project_id}", auth=None).json()
    kid = jwt.get_unverified_header(token)["kid"]
    [public] = [jwt.PyJWK(k) for k in jwks["keys"] if k["kid"] == kid]
    claims = jwt.decode(
        token,
        public.key,
        algorithms=["RS256"],
        audience=project.project_id,
        issuer=f"stytch.com/{project.project_id}",
    )
    assert claims["sub"].startswith("member-")
    checked = api.post(SESSION_AUTHENTICATE, json={"session_jwt": token})
    assert checked.status_code == 200, checked.json()


def refused(api: TestClient, token: str) -> None:
    response = api.post(SESSION_AUTHENTICATE, json={"session_jwt": token})
    assert response.status_code == 401, (token[:80], response.json())
    assert response.json()["error_type"] == "unable_to_parse_session_jwt"


def malformed(token: str) -> dict[str, str]:
    head, body, signature = token.split(".")
    deep = b64(b"[" * 5000 + b"]" * 5000)
    not_utf8 = b'{"alg":"RS256\xff"}'
    short = base64.urlsafe_b64decode(signature + "==")[:-1]
    return {
        "extra segment": f"{token}.{signature}",
        "two segments": f"{head}.{body}",
        "padding": f"{head}.{body}.{signature}==",
        "standard base64 alphabet": f"{head}.{body}.{signature[:-2]}+/",
        "not base64": f"{head}.{body}!.{signature}",
        "4n+1 segment": f"{head}.{body}A.{signature}",
        "whitespace": f"{head}. {body}.{signature}",
        "newline at the end": f"{token}\n",
        "header nested past any parser": f"{deep}.{body}.{signature}",
        "header a list": f"{b64(b'[]')}.{body}.{signature}",
        "header NaN": f"{b64(b'NaN')}.{body}.{signature}",
        "header not UTF-8": f"{b64(not_utf8)}.{body}.{signature}",
        "header UTF-16": f"{b64(json.dumps({'alg': 'RS256'}).encode('utf-16'))}.{body}.{signature}",
        "header with a duplicate alg": (
            b64(base64.urlsafe_b64decode(head + "==")[:-1] + b',"alg":"none"}')
            + f".{body}.{signature}"
        ),
        "signature one byte short": f"{head}.{body}.{b64(short)}",
    }


def test_malformed_tokens_are_refused_never_a_500(api: TestClient, session: dict[str, Any]) -> None:
    for name, token in malformed(session["session_jwt"]).items():
        try:
            refused(api, token)
        except AssertionError as e:
            raise AssertionError(name) from e


def signed_payload(token: str, payload: bytes) -> str:
    # Our header and key (as only the server has it): a bad payload past the signature check.
    head = token.split(".")[0]
    kid = jwt.get_unverified_header(token)["kid"]
    signing_input = f"{head}.{b64(payload)}".encode()
    signature = keys._private_keys[kid].sign(signing_input, keys._PKCS1V15, keys._SHA256)
    return f"{signing_input.decode()}.{b64(signature)}"


def test_bad_claims_under_our_own_signature_are_refused(
    api: TestClient, session: dict[str, Any]
) -> None:
    token = session["session_jwt"]
    claims = jwt.decode(token, options={"verify_signature": False})
    compact = json.dumps(claims, separators=(",", ":")).encode()
    for name, payload in {
        "nested past any parser": b"[" * 5000 + b"]" * 5000,
        "a list": b"[]",
        "not UTF-8": compact[:-1] + b',"x":"\xff"}',
        "NaN nbf": compact.replace(b'"nbf":', b'"nbf":NaN,"_":', 1),
        "trailing garbage": compact + b"x",
        "no sub": json.dumps({k: v for k, v in claims.items() if k != "sub"}).encode(),
        "sub an integer past 64 bits": json.dumps({**claims, "sub": 2**70}).encode(),
        "nbf in an hour": json.dumps({**claims, "nbf": claims["nbf"] + 3600}).encode(),
        "aud of another project": json.dumps({**claims, "aud": ["project-test-x"]}).encode(),
    }.items():
        try:
            refused(api, signed_payload(token, payload))
        except AssertionError as e:
            raise AssertionError(name) from e
    # The same path accepts the claims as they were (the helper signs like the server).
    ok = api.post(SESSION_AUTHENTICATE, json={"session_jwt": signed_payload(token, compact)})
    assert ok.status_code == 200, ok.json()


def test_a_jwt_this_process_signed_is_known_by_its_digest(
    api: TestClient, session: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only the payload is read: neither matched nor its header read nor its signature checked.
    token = session["session_jwt"]
    read: list[str] = []
    real = keys._json_segment

    def counting(segment: str) -> dict[str, Any]:
        read.append(segment)
        return real(segment)

    class NoRegex:
        def fullmatch(self, text: str) -> None:
            raise AssertionError("a JWT signed here was matched again")

    monkeypatch.setattr(keys, "_json_segment", counting)
    monkeypatch.setattr(keys, "_COMPACT_JWS", NoRegex())
    assert api.post(SESSION_AUTHENTICATE, json={"session_jwt": token}).status_code == 200
    assert read == [token.split(".")[1]]
    monkeypatch.undo()
    monkeypatch.setattr(keys, "_json_segment", counting)
    # Not in the memo of JWTs signed here: its signature is checked; its header, one this
    # process wrote, is known. (Nor in the memo of JWTs a check accepted, which would skip
    # `verify` altogether: tests/api/test_session_jwt_memory.py.)
    read.clear()
    monkeypatch.setattr(jwts, "_verified", OrderedDict())
    monkeypatch.setattr(keys, "_signed_here", type(keys._signed_here)())
    assert api.post(SESSION_AUTHENTICATE, json={"session_jwt": token}).status_code == 200
    assert read == [token.split(".")[1]]
    # A process that wrote neither (another worker, a restart) reads and checks both.
    read.clear()
    monkeypatch.setattr(jwts, "_verified", OrderedDict())
    monkeypatch.setattr(keys, "_our_headers", {})
    assert api.post(SESSION_AUTHENTICATE, json={"session_jwt": token}).status_code == 200
    assert read == token.split(".")[:2]
