"""The OpenID Connect client: authorization code flow with state, nonce and PKCE (S256).

No database here; `flow` keeps the login. Library: PyJWT (already ours for session JWTs) for
the ID token's signature and claims, httpx (`outbound`) for the token, user info and JWKS
endpoints (see docs/architecture.md, "SSO: libraries").

ID token checks (OpenID Connect Core §3.1.3.7): signature by a key of the provider's JWKS
whose `kid` the header names, with an asymmetric algorithm only (RS*, PS*, ES*, EdDSA; never
`none`, never HS* — a provider's public key must not become an HMAC secret); `iss` equal to
the connection's issuer; `aud` containing the client id (and `azp` equal to it when there
are several audiences); `exp` in the future and `iat` not in the future (60 s of skew, by the
injected clock); `nonce` equal to the login's; `sub` present.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import jwt

from antechamber.settings import Settings
from antechamber.sso import errors
from antechamber.sso.outbound import OutboundError, get_json, post_form

ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
DEFAULT_SCOPES = "openid email profile"
SKEW_SECONDS = 60
JWKS_TTL_SECONDS = 600
JWKS_REFRESH_MIN_SECONDS = 30  # an unknown kid refetches at most this often


@dataclass(frozen=True)
class Provider:
    """What the client needs of a connection."""

    issuer: str
    client_id: str
    client_secret: str
    authorization_url: str
    token_url: str
    userinfo_url: str
    jwks_url: str
    redirect_uri: str
    scopes: str = DEFAULT_SCOPES


@dataclass(frozen=True)
class Identity:
    subject: str
    email: str
    email_verified: bool | None
    name: str
    claims: dict[str, Any]


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def authorization_redirect(provider: Provider, *, state: str, nonce: str, verifier: str) -> str:
    query = urlencode(
        {
            "response_type": "code",
            "client_id": provider.client_id,
            "redirect_uri": provider.redirect_uri,
            "scope": provider.scopes,
            "state": state,
            "nonce": nonce,
            "code_challenge": pkce_challenge(verifier),
            "code_challenge_method": "S256",
        }
    )
    separator = "&" if "?" in provider.authorization_url else "?"
    return f"{provider.authorization_url}{separator}{query}"


def redeem_code(
    provider: Provider,
    *,
    code: str,
    verifier: str,
    nonce: str,
    now: datetime,
    settings: Settings,
) -> Identity:
    """Exchange the code for tokens (client_secret_basic), verify the ID token, and read the
    user info when the ID token lacks the email. Raises `sso.errors` refusals."""
    try:
        tokens = post_form(
            provider.token_url,
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": provider.redirect_uri,
                "code_verifier": verifier,
            },
            settings,
            auth=(provider.client_id, provider.client_secret),
        )
    except OutboundError:
        raise errors.OidcAuthCodeError() from None
    if not isinstance(tokens, dict) or not isinstance(tokens.get("id_token"), str):
        raise errors.OidcAuthCodeError("The identity provider answered without an ID token.")
    claims = verify_id_token(tokens["id_token"], provider, nonce=nonce, now=now, settings=settings)
    if not claims.get("email") and isinstance(tokens.get("access_token"), str):
        claims = {**_userinfo(provider, tokens["access_token"], claims["sub"], settings), **claims}
    return identity_of(claims)


def identity_of(claims: dict[str, Any]) -> Identity:
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise errors.EmailMissing()
    verified = claims.get("email_verified")
    if isinstance(verified, str):  # some providers send "true"/"false"
        verified = verified.lower() == "true"
    name = claims.get("name")
    if not isinstance(name, str):
        parts = [claims.get("given_name"), claims.get("family_name")]
        name = " ".join(p for p in parts if isinstance(p, str))
    return Identity(
        subject=str(claims["sub"]),
        email=email,
        email_verified=verified if isinstance(verified, bool) else None,
        name=name[:256],
        claims=claims,
    )


def verify_id_token(
    token: str, provider: Provider, *, nonce: str, now: datetime, settings: Settings
) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise errors.IdTokenInvalid() from None
    algorithm = header.get("alg")
    if algorithm not in ASYMMETRIC_ALGORITHMS:
        raise errors.IdTokenInvalid("The ID token's algorithm is not an accepted one.")
    key = _signing_key(provider.jwks_url, header.get("kid"), algorithm, settings)
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=provider.client_id,
            issuer=provider.issuer,
            # Time is checked below by the injected clock, like every other expiry here.
            options={
                "require": ["iss", "aud", "sub", "exp", "iat"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.InvalidAudienceError:
        raise errors.IdTokenIncorrectAudience() from None
    except jwt.InvalidIssuerError:
        raise errors.IdTokenIssuerInvalid() from None
    except jwt.PyJWTError:
        raise errors.IdTokenInvalid() from None
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != provider.client_id:
        raise errors.IdTokenIncorrectAudience()
    moment = now.timestamp()
    if not _number(claims["exp"]) or claims["exp"] + SKEW_SECONDS <= moment:
        raise errors.IdTokenExpired()
    if not _number(claims["iat"]) or claims["iat"] - SKEW_SECONDS > moment:
        raise errors.IdTokenInvalid("The ID token was issued in the future.")
    if "nbf" in claims and (not _number(claims["nbf"]) or claims["nbf"] - SKEW_SECONDS > moment):
        raise errors.IdTokenInvalid("The ID token is not valid yet.")
    given = claims.get("nonce")
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), nonce.encode()):
        raise errors.IdTokenNonceInvalid()
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise errors.SubjectMissing()
    return claims


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _userinfo(
    provider: Provider, access_token: str, subject: str, settings: Settings
) -> dict[str, Any]:
    try:
        info = get_json(
            provider.userinfo_url, settings, headers={"Authorization": f"Bearer {access_token}"}
        )
    except OutboundError:
        raise errors.IdentityProviderUnavailable() from None
    if not isinstance(info, dict):
        raise errors.IdentityProviderUnavailable()
    if info.get("sub") != subject:
        raise errors.SubjectMismatch()
    return info


# --- the provider's keys, cached per process -----------------------------------------------


class _JwksCache:
    """JWKS documents by URL: kept `JWKS_TTL_SECONDS`, refetched early (at most every
    `JWKS_REFRESH_MIN_SECONDS`) when a token names a key not in them (key rotation)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, list[dict[str, Any]]]] = {}

    def keys(self, url: str, settings: Settings, *, refresh: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            entry = self._entries.get(url)
        age = time.monotonic() - entry[0] if entry else None
        stale = age is None or age > JWKS_TTL_SECONDS
        if entry is not None and not stale and not (refresh and age > JWKS_REFRESH_MIN_SECONDS):  # type: ignore[operator]
            return entry[1]
        try:
            document = get_json(url, settings)
        except OutboundError:
            if entry is not None:
                return entry[1]
            raise errors.IdentityProviderUnavailable() from None
        found = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(found, list):
            raise errors.IdentityProviderUnavailable()
        keys = [k for k in found if isinstance(k, dict)]
        with self._lock:
            self._entries[url] = (time.monotonic(), keys)
        return keys

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


jwks_cache = _JwksCache()


def _signing_key(url: str, kid: object, algorithm: str, settings: Settings) -> Any:
    for refresh in (False, True):
        for jwk in jwks_cache.keys(url, settings, refresh=refresh):
            if kid is not None and jwk.get("kid") != kid:
                continue
            if jwk.get("use", "sig") != "sig" or jwk.get("alg", algorithm) != algorithm:
                continue
            try:
                return jwt.PyJWK(jwk, algorithm=algorithm).key
            except jwt.PyJWTError:
                continue
    raise errors.IdTokenInvalid("No key of the provider's JWKS verifies this ID token.")
