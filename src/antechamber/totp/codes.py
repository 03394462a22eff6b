"""The arithmetic of TOTP and recovery codes; no database, no clock of its own.

- TOTP (RFC 6238 over RFC 4226): HMAC-SHA1, 6 digits, 30-second steps, the seed 160 random
  bits from `secrets` (base32, 32 characters), what every authenticator app expects.
  `matching_step` accepts the current step and one on each side (clock drift, typing time);
  which step matched is what makes "once per step" checkable by the caller.
- Recovery codes: 4 groups of 6 base32 characters (120 random bits), shown once. Input is
  normalised (case, spaces, dashes) before hashing, so `ABCDEF-…` and `abcdef …` are the same.
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets
from datetime import datetime
from urllib.parse import quote, urlencode

import pyotp
import segno

DIGITS = 6
STEP_SECONDS = 30
WINDOW = 1  # steps accepted on each side of the current one
SECRET_BYTES = 20  # 160 bits, RFC 4226's recommended seed length
RECOVERY_CODE_COUNT = 10
RECOVERY_GROUPS = 4
RECOVERY_GROUP_LENGTH = 6

_CODE = re.compile(rf"[0-9]{{{DIGITS}}}")
_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
_RECOVERY = re.compile(rf"[a-z2-7]{{{RECOVERY_GROUPS * RECOVERY_GROUP_LENGTH}}}")
_SEPARATORS = re.compile(r"[\s\-]+")


def new_secret() -> str:
    """A fresh seed, base32 without padding (what `otpauth://` and the apps take)."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode().rstrip("=")


def step_of(at: datetime) -> int:
    return int(at.timestamp()) // STEP_SECONDS


def code_at_step(secret: str, step: int) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).at(step * STEP_SECONDS)


def is_code_shaped(value: object) -> bool:
    return isinstance(value, str) and bool(_CODE.fullmatch(value))


def matching_step(secret: str, code: str, at: datetime) -> int | None:
    """The time step within the window whose code is `code`, newest first; None if none.

    Every candidate is compared in constant time and all are computed, so the answer's
    timing does not say which step (if any) matched.
    """
    now = step_of(at)
    found: int | None = None
    for step in range(now + WINDOW, now - WINDOW - 1, -1):
        if hmac.compare_digest(code_at_step(secret, step), code) and found is None:
            found = step
    return found


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    """`otpauth://totp/Issuer:account?secret=…&issuer=…` (Key Uri Format, as Google's apps read)."""
    label = quote(f"{issuer}:{account}", safe="@:")
    query = urlencode(
        {
            "secret": secret,
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": DIGITS,
            "period": STEP_SECONDS,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"


def qr_code(uri: str) -> str:
    """The URI as a QR code: a PNG data URL, as Stytch's `qr_code`."""
    return str(segno.make(uri, error="m").png_data_uri(scale=4))


def new_recovery_codes() -> list[str]:
    return [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_BASE32) for _ in range(RECOVERY_GROUPS * RECOVERY_GROUP_LENGTH))
    n = RECOVERY_GROUP_LENGTH
    return "-".join(raw[i : i + n] for i in range(0, len(raw), n))


def normalised_recovery_code(value: object) -> str | None:
    """The canonical form of a recovery code as typed (no case, spaces, dashes); None if it
    cannot be one."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    plain = _SEPARATORS.sub("", value).lower()
    return plain if _RECOVERY.fullmatch(plain) else None
