"""Verify an Antechamber session JWT in your app, offline (the recipe of docs/security.md).

Copy this file into your app. It needs PyJWT 2.13 or later with its crypto extra
(`pip install "pyjwt[crypto]>=2.13"`): older versions accept a public JWK as an HMAC secret
(CVE-2026-48526).

    jwks = jwks_client("https://auth.example.com", PROJECT_ID)   # once, at start
    claims = verify_session_jwt(token, project_id=PROJECT_ID, jwks=jwks)

What it refuses, and why (each case is tried by tests/security/test_jwt_forgeries.py):
- any algorithm but RS256, so `alg: none` and HS256 signed with our public key (in PEM or JWK
  form) fail: the algorithm is ours, never the token's;
- a key from anywhere but our JWKS: the key is chosen by `kid` among the keys the server
  publishes, so a foreign `kid`, and `jku`, `x5u` or `jwk` headers pointing elsewhere, fail;
- a wrong `typ`, `iss` or `aud` (another project's JWT), a missing claim, a changed claim;
- an expired or not-yet-valid JWT (`exp`, `nbf`, `iat`; pass `leeway` for clock skew).

A JWT stays valid offline until it expires (at most 5 minutes), even if its session was
revoked in the meantime: for anything sensitive, call `sessions/authenticate` with the
session token instead, which is refused at once after a revocation.
"""

from __future__ import annotations

from typing import Any

import jwt

ALGORITHMS = ["RS256"]
REQUIRED_CLAIMS = ["exp", "iat", "nbf", "iss", "aud", "sub"]


def jwks_client(base_url: str, project_id: str) -> jwt.PyJWKClient:
    """The project's public keys, from the server you configured (cached five minutes)."""
    url = f"{base_url.rstrip('/')}/v1/b2b/sessions/jwks/{project_id}"
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=300)


def verify_session_jwt(
    token: str, *, project_id: str, jwks: jwt.PyJWKClient, leeway: float = 0
) -> dict[str, Any]:
    """The claims of a valid session JWT of `project_id`; raises `jwt.PyJWTError` otherwise."""
    if jwt.get_unverified_header(token).get("typ") != "JWT":
        raise jwt.InvalidTokenError("not a session JWT")
    key = jwks.get_signing_key_from_jwt(token)  # by kid, among our published keys only
    claims: dict[str, Any] = jwt.decode(
        token,
        key.key,
        algorithms=ALGORITHMS,  # never the algorithm the token names
        audience=project_id,
        issuer=f"stytch.com/{project_id}",
        leeway=leeway,
        options={"require": REQUIRED_CLAIMS},
    )
    return claims
