"""RS256 signing keys per project, session JWT signing and verification, and the JWKS.

- A project's first key is made on first use (the first JWT or JWKS request), under a lock on
  the project row so concurrent first uses make one key.
- `rotate` retires the signing key and makes a new one. A retired key stays in the JWKS for
  `PUBLISHED_AFTER_RETIREMENT` (the JWT lifetime plus a margin for requests in flight), so every
  JWT it signed can still be verified offline until it expires.
- Private keys are sealed at rest (`crypto.seal`) and never leave this module: no function
  returns one, and nothing here logs.
- Verification accepts RS256 only (`algorithms=["RS256"]`), with the key chosen by `kid` among
  this project's keys; `alg: none`, HMAC with the public key, and foreign keys all fail.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Any, cast

import orjson
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import Table, bindparam, or_, select

from antechamber import crypto, db, json_columns, rows
from antechamber.audit import service as audit
from antechamber.audit.events import EventType
from antechamber.db import on_commit
from antechamber.errors import Unauthorized
from antechamber.ids import new_id
from antechamber.keys.models import SigningKey
from antechamber.projects.models import Project
from antechamber.scope import Scope

ALGORITHM = "RS256"
KEY_BITS = 2048
JWT_LIFETIME = timedelta(minutes=5)
PUBLISHED_AFTER_RETIREMENT = JWT_LIFETIME + timedelta(minutes=1)
SEAL_PURPOSE = "jwt-signing-key"
MAX_JWT_LENGTH = 16 * 1024

# Parsed keys by kid. A kid's key never changes, so caching cannot go stale, and no other
# process needs this: it only saves unsealing and parsing on every signature.
_private_keys: dict[str, rsa.RSAPrivateKey] = {}
_public_keys: dict[tuple[str, str], Any] = {}
_cache_lock = threading.Lock()
# The signing kid by project, with the monotonic time it was read. Another process's rotation
# reaches this one within SIGNING_KID_TTL; until then it signs with the key just retired, which
# stays published for PUBLISHED_AFTER_RETIREMENT, longer than such a JWT lives (see the check
# below). Filled only after the reading unit of work commits: a key made in a transaction that
# rolls back must never be cached.
SIGNING_KID_TTL = 30.0
# Digests of the JWTs this process signed lately, with their project, oldest first: `verify`
# knows such a token's signature is good without checking it again (an RSA verification is
# most of a session check by JWT, and apps send back the JWT they were just given). Only the
# exact token matches, so this holds nothing a caller could use; its claims are checked as any.
# A digest leaves after JWT_LIFETIME (its token has expired; process time, `time.monotonic`),
# so the memo holds the last five minutes' signatures, at most `_SIGNED_HERE_KEPT`.
_SIGNED_HERE_KEPT = 10_000
_signed_here: OrderedDict[bytes, tuple[str, float]] = OrderedDict()
_signing_kids: dict[str, tuple[str, float]] = {}
assert JWT_LIFETIME.total_seconds() + SIGNING_KID_TTL < PUBLISHED_AFTER_RETIREMENT.total_seconds()


class InvalidSessionJwt(Unauthorized):
    error_type = "unable_to_parse_session_jwt"
    default_message = "The session JWT is malformed, or not signed by this project's keys."


def signing_key(scope: Scope) -> SigningKey:
    """The key that signs now: the newest unretired one, made if the project has none."""
    key = _newest_active(scope)
    if key is None:
        _lock_project(scope)
        key = _newest_active(scope) or _create(scope)
    return key


def rotate(scope: Scope) -> tuple[SigningKey, list[SigningKey]]:
    """Retire the signing key(s) and make a new one; returns (new key, retired keys)."""
    _lock_project(scope)
    with _cache_lock:
        _signing_kids.pop(scope.project_id, None)
    now = scope.clock.now()
    retired = list(
        scope.db.scalars(
            select(SigningKey).where(
                SigningKey.project_id == scope.project_id, SigningKey.retired_at.is_(None)
            )
        )
    )
    for key in retired:
        key.retired_at = now
        audit.record(
            scope,
            EventType.SIGNING_KEY_RETIRED,
            kid=key.id,
            published_until=(now + PUBLISHED_AFTER_RETIREMENT).isoformat(),
        )
    return _create(scope), retired


def published_keys(scope: Scope, *, make_first: bool = True) -> list[SigningKey]:
    """Keys a verifier may need: the signing key and keys retired too recently to drop.

    A project without a key gets its first one here (a write); with `make_first=False` it gets
    an empty list instead, so that a read-only unit of work stays read-only."""
    if make_first:
        signing_key(scope)
    cutoff = scope.clock.now() - PUBLISHED_AFTER_RETIREMENT
    found = list(
        scope.db.scalars(
            select(SigningKey)
            .where(
                SigningKey.project_id == scope.project_id,
                or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > cutoff),
            )
            .order_by(SigningKey.created_at.desc(), SigningKey.id)
        )
    )
    return found if any(key.retired_at is None for key in found) else []


def jwks(scope: Scope, *, make_first: bool = True) -> list[dict[str, Any]]:
    """The JWKS `keys`: public parts only (n, e, x5c …), never a private component; the keys
    of `published_keys` (`make_first` too), read as two columns rather than key rows (whose
    sealed private keys a JWKS has no use for)."""
    if make_first:
        signing_key(scope)
    cutoff = scope.clock.now() - PUBLISHED_AFTER_RETIREMENT
    found = db.connection(scope.db).execute(
        _PUBLISHED_JWKS, {"project_id": scope.project_id, "cutoff": cutoff}
    )
    published = found.all()
    if not any(row.retired_at is None for row in published):
        return []
    return [dict(row.public_jwk) for row in published]


def sign(scope: Scope, claims: dict[str, Any]) -> str:
    """A compact RS256 JWT of `claims` with header `{alg, kid, typ: JWT}`.

    The bytes PyJWT's `jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid, "typ":
    "JWT"})` makes (`encode_jws`), but for a float claim's spelling (`1e-7`, was `1e-07`: the
    same number; only custom claims hold floats, and the API's answers spell them so already).
    """
    kid, private = _cached_signing_key(scope.project_id) or _load_signing_key(scope)
    signed_bytes = encode_jws(kid, private, claims)
    token = signed_bytes.decode("ascii")
    signed = hashlib.sha256(signed_bytes).digest()
    at = time.monotonic()
    expired = at - JWT_LIFETIME.total_seconds()
    with _cache_lock:
        _signed_here[signed] = (scope.project_id, at)
        while _signed_here and (
            len(_signed_here) > _SIGNED_HERE_KEPT or next(iter(_signed_here.values()))[1] < expired
        ):
            _signed_here.popitem(last=False)
    return token


def encode_jws(kid: str, private: rsa.RSAPrivateKey, claims: dict[str, Any]) -> bytes:
    """The compact RS256 JWS of `claims` (`sign`), made directly: PyJWT's `encode` rebuilt and
    re-serialised the header, re-checked the key and encoded the claims with `json` on every
    call: 0.27 M instructions a signature beside the RSA operation's 6.3 M, now 0.13 M."""
    head = _header_segments.get(kid)
    if head is None:
        head = _header_segments[kid] = _header_segment(kid)
        _our_headers[head[:-1].decode("ascii")] = kid
    signing_input = head + _b64url(_claims_json(claims))
    signature = private.sign(signing_input, _PKCS1V15, _SHA256)
    return signing_input + b"." + _b64url(signature)


def _header_segment(kid: str) -> bytes:
    # As PyJWT writes it: compact, keys sorted (its `sort_headers=True`), then a dot.
    header = {"alg": ALGORITHM, "kid": kid, "typ": "JWT"}
    return _b64url(json.dumps(header, separators=(",", ":"), sort_keys=True).encode()) + b"."


def _claims_json(claims: dict[str, Any]) -> bytes:
    """`json.dumps(claims, separators=(",", ":")).encode()`, as PyJWT encodes a payload, by
    orjson where its bytes are the same: compact, keys in order, the same escapes of `"`, `\\`
    and controls. Not for what orjson refuses (integers past 64 bits, lone surrogates, keys that
    are not strings) nor for text beyond ASCII or a DEL, which `json` escapes (`\\u00e9`) and
    orjson does not: those take `json` as before. Floats differ in their exponent's spelling
    only (`1e-7`, `json`'s `1e-07`); NaN and infinities never get here (`api.guard`), nor
    values JSON has no type for (datetimes, UUIDs: orjson would write them, `json` raised):
    claims are JSON columns' values and strings."""
    try:
        raw = orjson.dumps(claims)
    except orjson.JSONEncodeError:
        raw = b"\x7f"  # take the standard library's path below
    if raw.isascii() and b"\x7f" not in raw:
        return raw
    return json.dumps(claims, separators=(",", ":")).encode()


def _b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


_PKCS1V15 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()
# The header segment (with its dot) by kid, and the other way round: one per key this process
# signed with, as `_private_keys`. `verify` knows such a header without reading it again.
_header_segments: dict[str, bytes] = {}
_our_headers: dict[str, str] = {}


def signing_kid(scope: Scope) -> str:
    """The kid `sign` would use now (from this process's cache when fresh)."""
    return (_cached_signing_key(scope.project_id) or _load_signing_key(scope))[0]


def _cached_signing_key(project_id: str) -> tuple[str, rsa.RSAPrivateKey] | None:
    with _cache_lock:
        kid, read_at = _signing_kids.get(project_id, ("", 0.0))
        private = _private_keys.get(kid)
    if private is None or time.monotonic() - read_at > SIGNING_KID_TTL:
        return None
    return kid, private


def _load_signing_key(scope: Scope) -> tuple[str, rsa.RSAPrivateKey]:
    key = signing_key(scope)
    kid, project_id, read_at = key.id, scope.project_id, time.monotonic()

    def remember() -> None:
        with _cache_lock:
            _signing_kids[project_id] = (kid, read_at)

    on_commit(scope.db, remember)
    return kid, _private_key(scope, key)


def verify(scope: Scope, token: str, *, now: datetime) -> dict[str, Any]:
    """The claims of a JWT this project signed, or `InvalidSessionJwt`.

    Checks: three base64url segments; a header of `alg: RS256`, `typ: JWT` and a `kid`, and
    nothing else (no `jku`, `jwk`, `x5u`, `crit`, `b64`: this server never sets them); `kid`
    names a key of this project; the RSASSA-PKCS1-v1_5 SHA-256 signature over the first two
    segments; a JSON object payload with `iss` `stytch.com/<project_id>`, `aud` (a string or a
    list of strings) containing the project id, a string `sub`, and `iat`, `nbf`, `exp`
    present, `nbf` not in the future (by the injected clock). `exp` is deliberately *not*
    enforced here: the caller holds the session row, which is authoritative (as with Stytch, an
    expired JWT of a live session authenticates and is refreshed).

    The checks PyJWT's `decode` makes with these options, made directly: its decode validates
    each segment's base64 character by character in Python, which cost more than everything
    else in a session check by JWT.
    """
    if not isinstance(token, str) or not token or len(token) > MAX_JWT_LENGTH:
        raise InvalidSessionJwt()
    # A JWT this process signed for this project is known by its digest: exactly the bytes
    # `encode_jws` wrote (three base64url segments, our header, our signature), so only its
    # claims are read. (`surrogatepass`: any text hashes; only ASCII can match.)
    digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
    with _cache_lock:
        ours = _signed_here.get(digest)
    if ours is not None and ours[0] == scope.project_id:
        body = token.split(".", 2)[1]
    else:
        body = _checked_body(scope, token)
    claims = _json_segment(body)
    if any(claims.get(name) is None for name in _REQUIRED_CLAIMS):
        raise InvalidSessionJwt()
    audience = claims["aud"]
    audiences = [audience] if isinstance(audience, str) else audience
    if (
        not isinstance(audiences, list)
        or not all(isinstance(a, str) for a in audiences)
        or scope.project_id not in audiences
        or claims["iss"] != issuer(scope.project_id)
        or not isinstance(claims["sub"], str)
    ):
        raise InvalidSessionJwt()
    nbf = claims["nbf"]
    # `not <=`, not `>`: a NaN `nbf` (which `json.loads` reads) is refused, as PyJWT does.
    if isinstance(nbf, bool) or not isinstance(nbf, int | float) or not nbf <= now.timestamp() + 1:
        raise InvalidSessionJwt()
    return claims


def _checked_body(scope: Scope, token: str) -> str:
    """The payload segment of a JWT whose form, header, kid and signature `verify` checks."""
    parts = _COMPACT_JWS.fullmatch(token)
    if parts is None:
        raise InvalidSessionJwt()
    head, body, signature = parts.groups()
    kid = _our_headers.get(head)  # exactly the header `encode_jws` writes, so it passes
    if kid is None:
        header = _json_segment(head)
        kid = header.get("kid")
        if (
            header.keys() != _HEADER_KEYS
            or header.get("alg") != ALGORITHM
            or header.get("typ") != "JWT"  # ASVS 9.2.2: a token of another type is not a session
            or not isinstance(kid, str)
            or len(kid) > 80
        ):
            raise InvalidSessionJwt()
    public_key = _public_key(scope, kid)
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise InvalidSessionJwt()
    try:
        public_key.verify(
            _segment_bytes(signature), f"{head}.{body}".encode("ascii"), _PKCS1V15, _SHA256
        )
    except InvalidSignature:
        raise InvalidSessionJwt() from None
    return body


_COMPACT_JWS = re.compile(r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)")
_HEADER_KEYS = frozenset({"alg", "kid", "typ"})
_REQUIRED_CLAIMS = ("aud", "iss", "sub", "iat", "nbf", "exp")


def _segment_bytes(segment: str) -> bytes:
    # The caller matched the base64url alphabet; a length of 4n+1 is no base64 at all.
    if len(segment) % 4 == 1:
        raise InvalidSessionJwt()
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _json_segment(segment: str) -> dict[str, Any]:
    # `json_columns.loads`: what `json.loads` gives, by orjson where that is the same.
    try:
        value = json_columns.loads(_segment_bytes(segment))
    except (ValueError, RecursionError):  # bad UTF-8 or JSON (binascii.Error too, though the
        # alphabet is checked), or arrays nested past the parser's depth
        raise InvalidSessionJwt() from None
    if not isinstance(value, dict):
        raise InvalidSessionJwt()
    return value


def issuer(project_id: str) -> str:
    return f"stytch.com/{project_id}"


# Read when a process signs its first JWT of a project (and every SIGNING_KID_TTL): built
# once, a Core statement whose row becomes a transient object (`rows`; nothing changes a key
# read so: `rotate` reads the keys it retires into the unit of work).
_KEYS = rows.Columns(SigningKey)
_keys = cast(Table, SigningKey.__table__)
_NEWEST_ACTIVE = (
    select(*_KEYS.columns)
    .where(_keys.c.project_id == bindparam("project_id"), _keys.c.retired_at.is_(None))
    .order_by(_keys.c.created_at.desc(), _keys.c.id.desc())
    .limit(1)
)


# Read on every JWKS request (public, and fetched by every SDK): built once.
_PUBLISHED_JWKS = (
    select(SigningKey.public_jwk, SigningKey.retired_at)
    .where(
        SigningKey.project_id == bindparam("project_id"),
        or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > bindparam("cutoff")),
    )
    .order_by(SigningKey.created_at.desc(), SigningKey.id)
)


def _newest_active(scope: Scope) -> SigningKey | None:
    row = db.connection(scope.db).execute(_NEWEST_ACTIVE, {"project_id": scope.project_id})
    found = row.first()
    return None if found is None else _KEYS.make(found)


def _lock_project(scope: Scope) -> None:
    # PostgreSQL: serialise key creation per project. SQLite: a no-op; BEGIN IMMEDIATE already
    # serialises every writing transaction. FOR NO KEY UPDATE, not FOR UPDATE: a login asking
    # for the key has usually inserted a row referencing the project, whose foreign key holds
    # FOR KEY SHARE on it; FOR UPDATE conflicts with that, and two such logins deadlocked.
    scope.db.execute(
        select(Project.id).where(Project.id == scope.project_id).with_for_update(key_share=True)
    )


def _create(scope: Scope) -> SigningKey:
    now = scope.clock.now()
    kid = new_id("jwk", scope.environment)
    private = new_private_key()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    key = SigningKey(
        id=kid,
        project_id=scope.project_id,
        algorithm=ALGORITHM,
        private_key=crypto.seal(scope.settings.key_bytes(), SEAL_PURPOSE, pem),
        public_jwk=_public_jwk(kid, private, scope.project_id, now),
        created_at=now,
        retired_at=None,
    )
    scope.db.add(key)
    scope.db.flush()
    _remember_private_key(scope.project_id, kid, private)
    audit.record(scope, EventType.SIGNING_KEY_CREATED, kid=kid)
    return key


def new_private_key() -> rsa.RSAPrivateKey:
    """A fresh RSA key (about 60 ms of CPU; the test suite swaps in a pre-made pool)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def _public_jwk(
    kid: str, private: rsa.RSAPrivateKey, project_id: str, now: datetime
) -> dict[str, Any]:
    public = private.public_key()
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(public, as_dict=True)
    # Stytch publishes x5c/x5tS256 and the Python SDK's JWK model requires them: a self-signed
    # certificate over the same key (verifiers use n/e; nothing trusts the certificate chain).
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, project_id[:64])])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .sign(private, hashes.SHA256())
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    return {
        "alg": ALGORITHM,
        "kid": kid,
        "kty": "RSA",
        "use": "sig",
        "key_ops": ["verify"],
        "n": jwk["n"],
        "e": jwk["e"],
        "x5c": [base64.b64encode(der).decode()],
        "x5tS256": base64.urlsafe_b64encode(hashlib.sha256(der).digest()).decode().rstrip("="),
    }


def _private_key(scope: Scope, key: SigningKey) -> rsa.RSAPrivateKey:
    with _cache_lock:
        cached = _private_keys.get(key.id)
    if cached is not None:
        return cached
    pem = crypto.unseal(scope.settings.key_bytes(), SEAL_PURPOSE, key.private_key)
    loaded = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):  # pragma: no cover - we only store RSA keys
        raise TypeError("signing key is not RSA")
    _remember_private_key(key.project_id, key.id, loaded)
    return loaded


def _remember_private_key(project_id: str, kid: str, private: rsa.RSAPrivateKey) -> None:
    # Its public half too: `verify` of a JWT this process signed then reads no key row. (A key
    # made in a unit of work that rolls back is cached all the same, as before: its kid is
    # new and random, so no JWT anyone holds names it.)
    public = private.public_key()
    with _cache_lock:
        _private_keys[kid] = private
        _public_keys[(project_id, kid)] = public


def _public_key(scope: Scope, kid: str) -> Any:
    cache_key = (scope.project_id, kid)
    with _cache_lock:
        cached = _public_keys.get(cache_key)
    if cached is not None:
        return cached
    jwk = scope.db.scalar(
        select(SigningKey.public_jwk).where(
            SigningKey.id == kid, SigningKey.project_id == scope.project_id
        )
    )
    if jwk is None:
        return None
    public = RSAAlgorithm.from_jwk(jwk)
    with _cache_lock:
        _public_keys[cache_key] = public
    return public
