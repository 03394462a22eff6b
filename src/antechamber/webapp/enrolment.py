"""An authenticator-app setup between "show the QR code" and "confirm with the first code".

The server keeps the pending registration (its seed sealed, its recovery codes hashed) and
shows the secret, the QR code and the recovery codes only in its `totps.create` answer. The
app must show the QR code again when the first code is wrong, and the recovery codes once the
registration is confirmed, yet it keeps no state of its own (several processes may serve it,
and the SDK backend has no database). So the setup page carries them in a hidden form field,
sealed (AES-256-GCM, `crypto.seal`) under a key derived from the app's cookie key, bound to
the organization and member, with an expiry: the browser holds only ciphertext, the secret
never enters a URL (or the access log, which has paths only), and another member cannot open
it. The page itself is `no-store` and `no-referrer`.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from antechamber import crypto
from antechamber.webapp.backend import TotpSetup
from antechamber.webapp.config import WebappConfig

#: As long as the server keeps a pending registration by default (`totps.create`).
LIFETIME = timedelta(minutes=60)
#: The largest sealed setup accepted back (a QR PNG is a few KiB).
MAX_SEALED_LENGTH = 12 * 1024


def _purpose(organization_id: str, member_id: str) -> str:
    return f"webapp-totp-setup:{organization_id}:{member_id}"


def seal(config: WebappConfig, organization_id: str, member_id: str, setup: TotpSetup) -> str:
    """`setup` as an opaque string for a hidden form field."""
    data = {
        "id": setup.totp_registration_id,
        "secret": setup.secret,
        "qr": setup.qr_code,
        "uri": setup.uri,
        "codes": setup.recovery_codes,
        "exp": int((config.clock.now() + LIFETIME).timestamp()),
    }
    plaintext = json.dumps(data, separators=(",", ":")).encode()
    return crypto.seal(config.cookie_key, _purpose(organization_id, member_id), plaintext)


def unseal(
    config: WebappConfig, organization_id: str, member_id: str, sealed: object
) -> TotpSetup | None:
    """The setup `seal` made for this member, or None (absent, changed, another member's,
    expired)."""
    if not isinstance(sealed, str) or not sealed or len(sealed) > MAX_SEALED_LENGTH:
        return None
    try:
        raw = crypto.unseal(config.cookie_key, _purpose(organization_id, member_id), sealed)
        data: Any = json.loads(raw)
    except (crypto.Unsealable, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    codes = data.get("codes")
    fields = (data.get("id"), data.get("secret"), data.get("qr"), data.get("uri"))
    if not all(isinstance(f, str) for f in fields) or not isinstance(codes, list):
        return None
    exp = data.get("exp")
    if not isinstance(exp, int) or exp <= config.clock.now().timestamp():
        return None
    return TotpSetup(
        totp_registration_id=data["id"],
        secret=data["secret"],
        qr_code=data["qr"],
        recovery_codes=[c for c in codes if isinstance(c, str)],
        uri=data["uri"],
    )
