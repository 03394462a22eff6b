"""An OIDC provider the test controls, for crafted ID tokens (wrong nonce, issuer, audience,
`alg: none`, HS256 keyed with the public key, expired, `email_verified: false`).

It lives outside the product (an identity provider), so a fake is allowed here; the flow's
end-to-end test runs against the real `oidc-provider` instead (tests/sso/oidc_provider/).
Endpoints: /jwks, /token (answers the ID token the test queued), /userinfo.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KID = "fake-key-1"


def public_jwk() -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key()))
    return {**jwk, "kid": KID, "use": "sig", "alg": "RS256"}


def public_pem() -> bytes:
    return KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@dataclass
class FakeIdp:
    url: str
    client_id: str = "antechamber-client"
    client_secret: str = "fake-client-secret"
    id_token: str = ""
    token_requests: list[dict[str, str]] = field(default_factory=list)
    userinfo: dict[str, Any] = field(default_factory=dict)
    discovery: bool = False  # serve /.well-known/openid-configuration

    @property
    def issuer(self) -> str:
        return self.url

    def claims(self, nonce: str, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        base = {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": "idp-user-1",
            "email": "grace@acme.example",
            "email_verified": True,
            "name": "Grace Hopper",
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
        }
        base.update(overrides)
        return {k: v for k, v in base.items() if v is not None}

    def sign(self, claims: dict[str, Any], *, alg: str = "RS256", kid: str = KID) -> str:
        return jwt.encode(claims, KEY, algorithm=alg, headers={"kid": kid})

    def queue(self, token: str) -> None:
        self.id_token = token


def unsigned(claims: dict[str, Any]) -> str:
    """`alg: none`."""

    def part(value: dict[str, Any]) -> str:
        raw = json.dumps(value).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return f"{part({'alg': 'none', 'kid': KID})}.{part(claims)}."


def hs256_with_public_key(claims: dict[str, Any]) -> str:
    """The key-confusion attack: HMAC keyed with the provider's public key, which anyone has."""
    import hashlib
    import hmac

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    header = b64(json.dumps({"alg": "HS256", "kid": KID, "typ": "JWT"}).encode())
    payload = b64(json.dumps(claims).encode())
    signature = hmac.new(public_pem(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


@contextmanager
def running() -> Iterator[FakeIdp]:
    state: dict[str, FakeIdp] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _json(self, body: Any, status: int = 200) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:
            idp = state["idp"]
            if self.path == "/jwks":
                self._json({"keys": [public_jwk()]})
            elif self.path == "/.well-known/openid-configuration" and idp.discovery:
                self._json(
                    {
                        "issuer": idp.issuer,
                        "authorization_endpoint": f"{idp.issuer}/authorize",
                        "token_endpoint": f"{idp.issuer}/token",
                        "userinfo_endpoint": f"{idp.issuer}/userinfo",
                        "jwks_uri": f"{idp.issuer}/jwks",
                    }
                )
            elif self.path == "/userinfo":
                self._json(idp.userinfo)
            else:
                self._json({"error": "not_found"}, 404)

        def do_POST(self) -> None:
            idp = state["idp"]
            length = int(self.headers.get("Content-Length", "0"))
            form = dict(
                pair.split("=", 1) for pair in self.rfile.read(length).decode().split("&") if pair
            )
            idp.token_requests.append(form)
            if self.path == "/token":
                self._json({"access_token": "at", "token_type": "Bearer", "id_token": idp.id_token})
            else:
                self._json({"error": "not_found"}, 404)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["idp"] = FakeIdp(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state["idp"]
    finally:
        server.shutdown()
        server.server_close()
