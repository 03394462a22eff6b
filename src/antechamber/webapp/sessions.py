"""Checking the session cookie's JWT locally, against the project's JWKS.

A member's session JWT (RS256, five minutes) is verified here without asking the server:
signature by a key of the project's JWKS chosen by `kid`, RS256 only (no `none`, no HMAC with
a public key), issuer `stytch.com/<project_id>`, audience the project, `nbf`/`exp` by the
app's clock, and the session and organization claims present. An expired JWT whose signature
is good raises `JwtExpired`: the caller refreshes it through `sessions.authenticate`, which
also notices a revoked session. Anything else raises `JwtInvalid`.

The JWKS is cached for `cache_seconds`; a `kid` not in the cache refetches it, at most once
per `refetch_seconds` (a key rotation is picked up at once, a flood of made-up kids is not a
flood of requests).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from antechamber.clock import Clock
from antechamber.webapp.backend import JSON, Backend

ALGORITHM = "RS256"
SESSION_CLAIM = "https://stytch.com/session"
ORGANIZATION_CLAIM = "https://stytch.com/organization"
MAX_JWT_LENGTH = 8 * 1024
#: Clock skew tolerated between this app and the server that signed the JWT.
LEEWAY = timedelta(seconds=30)
#: Second factors (an SMS or WhatsApp code, TOTP, a recovery code); an email OTP is a first one.
_SECOND_FACTORS = frozenset({"totp", "recovery_codes"})


class JwtInvalid(Exception):
    """Not a JWT this project signed (or not a session JWT)."""


class JwtExpired(Exception):
    """A good signature, but past `exp`: refresh it with the server."""


@dataclass(frozen=True)
class LocalSession:
    """What a verified session JWT says."""

    member_id: str
    organization_id: str
    session_id: str
    expires_at: datetime
    factors: list[JSON]


def has_second_factor(factors: list[JSON]) -> bool:
    """Whether a session's factors include a second factor (MFA)."""
    for factor in factors:
        kind = factor.get("type")
        if kind in _SECOND_FACTORS:
            return True
        if kind == "otp" and factor.get("delivery_method") in ("sms", "whatsapp"):
            return True
    return False


class JwtVerifier:
    def __init__(
        self,
        backend: Backend,
        clock: Clock,
        *,
        cache_seconds: float = 300,
        refetch_seconds: float = 30,
    ) -> None:
        self.backend = backend
        self.clock = clock
        self.cache_seconds = cache_seconds
        self.refetch_seconds = refetch_seconds
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()

    def verify(self, token: str) -> LocalSession:
        """The session a JWT stands for; `JwtExpired` or `JwtInvalid` (module docstring).

        May raise `BackendError` when the JWKS cannot be fetched.
        """
        if not token or len(token) > MAX_JWT_LENGTH:
            raise JwtInvalid()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise JwtInvalid() from None
        kid = header.get("kid")
        if header.get("alg") != ALGORITHM or not isinstance(kid, str) or len(kid) > 128:
            raise JwtInvalid()
        key = self._key(kid)
        if key is None:
            raise JwtInvalid()
        project_id = self.backend.project_id()
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[ALGORITHM],
                audience=project_id,
                issuer=f"stytch.com/{project_id}",
                options={
                    "require": ["aud", "iss", "sub", "exp", "nbf"],
                    # Time is checked below with the app's clock (tests freeze it); PyJWT
                    # would check `iat` against the wall clock (nbf covers it below).
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError:
            raise JwtInvalid() from None
        return self._session(claims)

    def _session(self, claims: dict[str, Any]) -> LocalSession:
        now = self.clock.now()
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not isinstance(exp, int | float) or not isinstance(nbf, int | float):
            raise JwtInvalid()
        if datetime.fromtimestamp(nbf, UTC) > now + LEEWAY:
            raise JwtInvalid()
        session = claims.get(SESSION_CLAIM)
        organization = claims.get(ORGANIZATION_CLAIM)
        member_id = claims.get("sub")
        if not isinstance(session, dict) or not isinstance(organization, dict):
            raise JwtInvalid()
        session_id = session.get("id")
        organization_id = organization.get("organization_id")
        factors = session.get("authentication_factors")
        if not (
            isinstance(member_id, str)
            and isinstance(session_id, str)
            and isinstance(organization_id, str)
            and isinstance(factors, list)
        ):
            raise JwtInvalid()
        if datetime.fromtimestamp(exp, UTC) <= now:
            raise JwtExpired()
        return LocalSession(
            member_id=member_id,
            organization_id=organization_id,
            session_id=session_id,
            expires_at=_session_end(session.get("expires_at"), exp),
            factors=[f for f in factors if isinstance(f, dict)],
        )

    def _key(self, kid: str) -> jwt.PyJWK | None:
        with self._lock:
            age = time.monotonic() - self._fetched_at
            stale = age > self.cache_seconds
            unknown = kid not in self._keys and age > self.refetch_seconds
            if stale or unknown:
                self._keys = _parse(self.backend.jwks())
                self._fetched_at = time.monotonic()
            return self._keys.get(kid)


def _parse(keys: list[JSON]) -> dict[str, jwt.PyJWK]:
    """RSA signing keys by kid; anything else in the set is ignored."""
    parsed: dict[str, jwt.PyJWK] = {}
    for data in keys:
        kid = data.get("kid")
        if not isinstance(kid, str) or data.get("kty") != "RSA":
            continue
        if data.get("alg") not in (None, ALGORITHM) or data.get("use") not in (None, "sig"):
            continue
        try:
            parsed[kid] = jwt.PyJWK({**data, "alg": ALGORITHM}, algorithm=ALGORITHM)
        except jwt.PyJWTError:
            continue
    return parsed


def _session_end(value: object, jwt_exp: float) -> datetime:
    """The session's own end (its claim), or at least the JWT's."""
    if isinstance(value, str):
        try:
            end = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return end if end.tzinfo else end.replace(tzinfo=UTC)
    return datetime.fromtimestamp(jwt_exp, UTC)
