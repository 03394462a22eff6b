"""The app's cookies: the session, the login in progress, and the email a link went to.

Every cookie is `HttpOnly` (no script reads a token), `SameSite=Lax` (not sent with
cross-site POSTs; a link from a mail client still opens signed-in pages) and `Path=/`.
Outside development mode they are also `Secure` and carry the `__Host-` prefix, which makes
browsers refuse them from plain http, from another path and with a `Domain`.

- `session`: the member's session JWT; lives as long as the session (refreshed in place).
- `intermediate_session`: the login in progress, sealed by the app (AES-256-GCM): the IST,
  and once an organization asks for MFA, which organization and member it waits in, the
  masked phone number and when a code was last sent. The browser carries it but can neither
  read it (the IST is a credential) nor change it: the pending organization and member come
  from here, never from a request body or a URL (seed-app.md §4, items 6 and 21).
- `login_hint`: the address the last sign-in email went to, for the "check your email" page.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote

from starlette.responses import Response

from antechamber import crypto
from antechamber.webapp.config import WebappConfig

SESSION = "session"
PENDING = "intermediate_session"
HINT = "login_hint"
#: An IST lives 10 minutes; the cookie no longer than that.
PENDING_SECONDS = 600
HINT_SECONDS = 3600
MAX_COOKIE_LENGTH = 4096


def name(config: WebappConfig, base: str) -> str:
    return f"__Host-{base}" if config.secure_cookies else base


def _set(config: WebappConfig, response: Response, base: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name(config, base),
        value,
        max_age=max(1, max_age),
        path="/",
        secure=config.secure_cookies,
        httponly=True,
        samesite="lax",
    )


def _clear(config: WebappConfig, response: Response, base: str) -> None:
    response.delete_cookie(
        name(config, base),
        path="/",
        secure=config.secure_cookies,
        httponly=True,
        samesite="lax",
    )


# -- the session ------------------------------------------------------------------------------


def set_session(config: WebappConfig, response: Response, jwt: str, expires_at: datetime) -> None:
    """The session JWT, kept until the session itself ends (the JWT inside is refreshed)."""
    seconds = math.ceil((expires_at - config.clock.now()).total_seconds())
    _set(config, response, SESSION, jwt, seconds)


def clear_session(config: WebappConfig, response: Response) -> None:
    _clear(config, response, SESSION)


def session_jwt(config: WebappConfig, cookies: dict[str, str]) -> str:
    value = cookies.get(name(config, SESSION), "")
    return value if len(value) <= MAX_COOKIE_LENGTH else ""


# -- the login in progress --------------------------------------------------------------------


@dataclass(frozen=True)
class Pending:
    """A login between the magic link and a session.

    `organization_id`/`member_id` are set once an organization asked for MFA (the IST is then
    bound to them). `phone` is the masked number codes go to, `phone_verified` whether the
    member's number is proven, `sent_at` the Unix time a code was last sent (0: none yet).
    `totp` says the member has an active authenticator app, `default_method` is their
    `default_mfa_method` (`sms_otp`, `totp` or `""`), `sms_allowed`/`totp_allowed` what the
    organization's `allowed_mfa_methods` permit: which second factors the MFA step offers.
    """

    ist: str
    email: str
    organization_id: str = ""
    member_id: str = ""
    organization_name: str = ""
    phone: str = ""
    phone_verified: bool = False
    sent_at: int = 0
    totp: bool = False
    default_method: str = ""
    sms_allowed: bool = True
    totp_allowed: bool = True

    @property
    def waiting_for_mfa(self) -> bool:
        return bool(self.organization_id and self.member_id)

    def sent(self, at: int, phone: str | None = None) -> Pending:
        return replace(self, sent_at=at, phone=phone if phone is not None else self.phone)


_FIELDS = {
    "ist": str,
    "email": str,
    "organization_id": str,
    "member_id": str,
    "organization_name": str,
    "phone": str,
    "phone_verified": bool,
    "sent_at": int,
    "totp": bool,
    "default_method": str,
    "sms_allowed": bool,
    "totp_allowed": bool,
}


#: Cookie values made before encryption (`payload.mac`) carry no prefix and are not read.
_PREFIX = "v2."
_PURPOSE = "webapp-pending-login"


def encode_pending(config: WebappConfig, pending: Pending) -> str:
    """The login, sealed (AES-256-GCM under a key of the app's own): the IST inside is a
    bearer credential for the rest of the login, so the browser may carry it but not read it
    (nor change anything in it)."""
    data = json.dumps(asdict(pending), separators=(",", ":")).encode()
    return _PREFIX + crypto.seal(config.cookie_key, _PURPOSE, data).rstrip("=")


def decode_pending(config: WebappConfig, value: str) -> Pending | None:
    """The login in the cookie, or None if it is absent, malformed or not sealed by us."""
    if not value or len(value) > MAX_COOKIE_LENGTH or not value.startswith(_PREFIX):
        return None
    sealed = value.removeprefix(_PREFIX)
    try:
        plain = crypto.unseal(config.cookie_key, _PURPOSE, sealed + "=" * (-len(sealed) % 4))
        data: Any = json.loads(plain)
    except (crypto.Unsealable, ValueError):
        return None
    if not isinstance(data, dict) or set(data) != set(_FIELDS):
        return None
    if not all(type(data[k]) is kind for k, kind in _FIELDS.items()):
        return None
    if not data["ist"]:
        return None
    return Pending(**data)


def pending(config: WebappConfig, cookies: dict[str, str]) -> Pending | None:
    return decode_pending(config, cookies.get(name(config, PENDING), ""))


def set_pending(config: WebappConfig, response: Response, login: Pending) -> None:
    _set(config, response, PENDING, encode_pending(config, login), PENDING_SECONDS)


def clear_pending(config: WebappConfig, response: Response) -> None:
    _clear(config, response, PENDING)


# -- the address the last link went to --------------------------------------------------------


def set_hint(config: WebappConfig, response: Response, email: str) -> None:
    _set(config, response, HINT, quote(email, safe="@"), HINT_SECONDS)


def hint(config: WebappConfig, cookies: dict[str, str]) -> str:
    value = unquote(cookies.get(name(config, HINT), ""))
    return value if 0 < len(value) <= 254 and "@" in value else ""
