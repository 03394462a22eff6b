"""Secrets that travel: random, at least 128 bits, stored only as digests.

A token is shown to its holder once and never stored: the database keeps `digest(token)`
(SHA-256; the tokens are 256-bit random, so no salt or slow hash is needed, ASVS 6.5.2).
Short codes (6 digits, ~20 bits) are a different matter: `keyed_digest` uses HMAC with a key
kept outside the database, so a database dump alone does not let anyone enumerate them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets


def new_token(nbytes: int = 32) -> str:
    """A url-safe random token (default 256 bits), 43+ characters, no padding."""
    return secrets.token_urlsafe(nbytes)


def new_secret(environment: str) -> str:
    """A project API secret in Stytch's shape: `secret-<env>-<base64url>` (256 bits)."""
    raw = base64.urlsafe_b64encode(secrets.token_bytes(27)).decode().rstrip("=")
    return f"secret-{environment}-{raw}"


def digest(token: str) -> str:
    """The stored form of a high-entropy token: hex SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


def keyed_digest(key: bytes, value: str, purpose: str) -> str:
    """The stored form of a low-entropy secret (an OTP): HMAC-SHA256 keyed and salted by purpose."""
    # `hmac.digest`: the one-shot in C, the same bytes as `hmac.new(...).hexdigest()` without
    # building a Python HMAC object (tests/test_tokens.py compares the two).
    return hmac.digest(key, f"{purpose}\x00{value}".encode(), "sha256").hex()


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two digests."""
    return hmac.compare_digest(a.encode(), b.encode())


def new_numeric_code(digits: int = 6) -> str:
    """`digits` uniformly random decimal digits (leading zeros kept): one draw below 10**digits,
    the same distribution as a `secrets.choice` per digit."""
    return f"{secrets.randbelow(10**digits):0{digits}d}"
