"""The reference app's settings and what it holds while it runs."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from antechamber.clock import Clock, SystemClock
from antechamber.ratelimit import RateLimiter
from antechamber.webapp.backend import Backend
from antechamber.webapp.sessions import JwtVerifier

#: Sign-in emails one client address may ask for (on top of the server's per-recipient and
#: per-project limits): enough for a person, not for spraying inboxes from one machine.
START_LIMIT = "10/minute;60/hour"
#: Seconds before the SMS page offers another code (the server's per-number limit is 1/30 s).
RESEND_COOLDOWN_SECONDS = 30


@dataclass(frozen=True)
class WebappConfig:
    """How the app is reached and how it behaves.

    `public_url` is the origin people use (sign-in links come back to
    `{public_url}/auth/callback`, and it is the origin form posts must come from). `dev` is
    development mode: cookies without `Secure` and without the `__Host-` prefix (plain http),
    and a link to the development inbox (`inbox_url`). `cookie_key` seals the pending-login
    cookie. `cors_origins` may call `/api/*` with cookies from their own pages.
    """

    public_url: str
    cookie_key: bytes
    dev: bool = False
    cors_origins: frozenset[str] = frozenset()
    product_name: str = "Antechamber"
    inbox_url: str | None = None
    clock: Clock = field(default_factory=SystemClock)
    limiter: RateLimiter | None = None
    start_limit: str = START_LIMIT
    resend_cooldown_seconds: int = RESEND_COOLDOWN_SECONDS

    @property
    def callback_url(self) -> str:
        return f"{self.public_url.rstrip('/')}/auth/callback"

    @property
    def public_origin(self) -> str:
        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def secure_cookies(self) -> bool:
        return not self.dev


def derived_key(secret: bytes, purpose: str) -> bytes:
    """A key for one purpose from a longer-lived secret (HMAC-SHA256 as a PRF)."""
    return hmac.new(secret, f"antechamber-webapp:{purpose}".encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class Webapp:
    """The running app: its settings, its backend and its JWT checker (`app.state.webapp`)."""

    config: WebappConfig
    backend: Backend
    verifier: JwtVerifier
