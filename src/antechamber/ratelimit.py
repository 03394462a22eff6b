"""Rate limits: named limits from settings, counted with the `limits` package.

Counters live in this process's memory (`ratelimit_memory`), or in Redis when
`ANTECHAMBER_REDIS_URL` is set (so several processes share them). A limit is a string in
`limits`' syntax ("1/30 seconds;5/hour"); each part is a moving window. Keys are hashed
before they reach the storage, so Redis never holds an email address or a phone number.

Use:

    limiter.hit("sms:recipient", "+12025550123")          # a named limit from settings
    limiter.hit("otp:attempts", member_id, limit="5/10 minutes")   # or an explicit one
    limiter.hit_all([Check("sms:recipient", e164), Check("sms:project", project_id)])
    limiter.check("authenticate:ip", key); …; limiter.count("authenticate:ip", key)  # failures

A refusal raises `TooManyRequests` with `retry_after` in seconds and counts in the
`antechamber_rate_limited_total{limit=…}` metric. Windows follow the wall clock
(`time.time()`, the one clock the processes sharing Redis agree on), not the injected `Clock`.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple, Protocol

import limits
from limits.errors import ConfigurationError, StorageError
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from limits.util import WindowStats

from antechamber.errors import ServiceUnavailable, TooManyRequests
from antechamber.metrics import Metrics
from antechamber.ratelimit_memory import MemoryWindows
from antechamber.settings import Settings, SettingsError

log = logging.getLogger("antechamber.ratelimit")

#: Limit name → the setting that holds its value. Later work adds its names here.
NAMED_LIMITS: dict[str, str] = {
    "email:recipient": "limit_email_per_recipient",
    "email:project": "limit_email_per_project",
    "sms:recipient": "limit_sms_per_recipient",
    "sms:prefix": "limit_sms_per_prefix",
    "sms:project": "limit_sms_per_project",
    "sms:member": "limit_sms_per_member",
    "discovery:ip": "limit_discovery_send_per_ip",
    "authenticate:ip": "limit_authenticate_failures_per_ip",
    "invite:inviter": "limit_invites_per_inviter",
    "invite:organization": "limit_invites_per_organization",
    "invite:recipient": "limit_invites_per_recipient",
    "sso_start:ip": "limit_sso_start_per_ip",
    "sso_discovery:ip": "limit_sso_discovery_per_ip",
}

#: What a refusal says to the caller, by limit name.
MESSAGES: dict[str, str] = {
    "email:recipient": "Too many emails have been sent to this address. Try again later.",
    "email:project": "This project has sent too many emails. Try again later.",
    "sms:recipient": "Too many text messages have been sent to this number. Try again later.",
    "sms:prefix": "Too many text messages have been sent to similar numbers. Try again later.",
    "sms:project": "This project has sent too many text messages. Try again later.",
    "sms:member": "Too many codes have been sent to this member. Try again later.",
    "discovery:ip": "Too many login emails have been requested from this address. Try again later.",
    "authenticate:ip": "Too many failed login attempts from this address. Try again later.",
    "invite:inviter": "This inviter has sent too many invitations. Try again later.",
    "invite:organization": "Too many invitations have been sent into this organization. "
    "Try again later.",
    "invite:recipient": "Too many invitations have been sent to this address. Try again later.",
    "sso_start:ip": "Too many SSO logins have been started from this address. Try again later.",
    "sso_discovery:ip": "Too many SSO connection lookups from this address. Try again later.",
}


class RateLimitUnavailable(ServiceUnavailable):
    """The counter storage (Redis) cannot be reached: refuse rather than send unmetered."""

    error_type = "rate_limit_unavailable"
    default_message = "The service cannot check its rate limits right now. Try again shortly."


class _Windows(Protocol):
    def test(self, item: limits.RateLimitItem, *identifiers: str) -> bool: ...
    def hit(self, item: limits.RateLimitItem, *identifiers: str) -> bool: ...
    def get_window_stats(self, item: limits.RateLimitItem, *identifiers: str) -> WindowStats: ...
    def clear(self, item: limits.RateLimitItem, *identifiers: str) -> None: ...


class Check(NamedTuple):
    """One limit to apply: its name, the key it counts per, and its value if not a setting.

    (A named tuple, not a frozen dataclass: a send builds two to four, and a frozen
    dataclass's `__init__` costs a microsecond each.)"""

    name: str
    key: str
    limit: str | None = None


class RateLimiter:
    """Named moving-window limits over one storage (memory, or Redis when configured)."""

    def __init__(
        self,
        settings: Settings,
        *,
        metrics: Metrics | None = None,
        storage_uri: str | None = None,
        namespace: str | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.namespace = namespace or settings.redis_key_prefix
        self._parsed: dict[str, list[limits.RateLimitItem]] = {}
        uri = storage_uri or settings.redis_url or "memory://"
        self.strategy: _Windows
        self._reset: Callable[[], object]
        # The in-memory windows count a whole `hit_all` under one lock (exact); Redis's tests,
        # then hits.
        self._memory: MemoryWindows | None = None
        if uri == "memory://":
            memory = MemoryWindows()
            self.strategy, self._reset, self._memory = memory, memory.reset, memory
        else:
            storage = self._shared_storage(uri)
            self.strategy, self._reset = MovingWindowRateLimiter(storage), storage.reset

    def _shared_storage(self, uri: str) -> Storage:
        options: dict[str, Any] = {"wrap_exceptions": True}
        if uri.startswith(("redis", "rediss")):
            options |= {
                "key_prefix": self.namespace,
                "socket_timeout": 2,
                "socket_connect_timeout": 2,
            }
        try:
            storage = storage_from_string(uri, **options)
        except ConfigurationError as exc:
            raise SettingsError(
                f"ANTECHAMBER_REDIS_URL: {exc} (Redis needs: pip install 'antechamber[redis]')"
            ) from None
        if not isinstance(storage, Storage):
            raise SettingsError(f"ANTECHAMBER_REDIS_URL: {uri.split(':')[0]} is asynchronous only")
        return storage

    def hit(self, name: str, key: str, *, limit: str | None = None) -> None:
        """Count one event for `key` under `name`; raise `TooManyRequests` if over the limit."""
        self.hit_all([Check(name, key, limit)])

    def hit_all(self, checks: Iterable[Check]) -> None:
        """Count one event under every check, or under none if any of them is exhausted.

        All checks are tested first, so a refusal by the project-wide limit does not use up the
        recipient's allowance. In memory, test and hit are one step under the windows' lock, so
        concurrent callers never overshoot; with Redis they may overshoot by a few between test
        and hit.
        """
        memory = self._memory
        if memory is not None:
            # In memory (no storage to fail): the windows' keys, and whose each one is.
            windows: list[tuple[limits.RateLimitItem, tuple[str, ...]]] = []
            owners: list[Check] = []
            for check in checks:
                identifiers = self._identifiers(check)
                for item in self._items(check):
                    windows.append((item, identifiers))
                    owners.append(check)
            refused = memory.hit_all(windows)
            if refused >= 0:
                self._refuse(owners[refused], windows[refused][0])
            return
        planned = [
            (check, item, identifiers)
            for check in checks
            for identifiers in (self._identifiers(check),)
            for item in self._items(check)
        ]
        try:
            for check, item, identifiers in planned:
                if not self.strategy.test(item, *identifiers):
                    self._refuse(check, item)
            for check, item, identifiers in planned:
                if not self.strategy.hit(item, *identifiers):
                    self._refuse(check, item)
        except StorageError as exc:
            log.error("rate-limit storage failed: %s", exc)
            raise RateLimitUnavailable() from None

    def check(self, name: str, key: str, *, limit: str | None = None) -> None:
        """Raise `TooManyRequests` if `hit` would, without counting anything.

        For a limit to count only once the event really happened (a text message that other
        checks could still refuse): `check` first, `hit` after.
        """
        check = Check(name, key, limit)
        identifiers = self._identifiers(check)
        try:
            for item in self._items(check):
                if not self.strategy.test(item, *identifiers):
                    self._refuse(check, item)
        except StorageError as exc:
            log.error("rate-limit storage failed: %s", exc)
            raise RateLimitUnavailable() from None

    def count(self, name: str, key: str, *, limit: str | None = None) -> None:
        """Count one event for `key` under `name` that has already happened; never refuses."""
        check = Check(name, key, limit)
        identifiers = self._identifiers(check)
        try:
            for item in self._items(check):
                self.strategy.hit(item, *identifiers)
        except StorageError as exc:
            log.error("rate-limit storage failed: %s", exc)
            raise RateLimitUnavailable() from None

    def remaining(self, name: str, key: str, *, limit: str | None = None) -> int:
        """Events still allowed now for `key` under `name` (the tightest of its windows)."""
        check = Check(name, key, limit)
        return min(
            self.strategy.get_window_stats(item, *self._identifiers(check)).remaining
            for item in self._items(check)
        )

    def release(self, checks: Iterable[Check], *, windows_up_to: int) -> None:
        """Forget the events of every window of `checks` no longer than `windows_up_to`
        seconds (the short spacing between two events); longer windows keep counting.

        Best effort: a storage failure is logged, never raised (callers run it after commit).
        """
        try:
            for check in checks:
                for item in self._items(check):
                    if item.get_expiry() <= windows_up_to:
                        self.strategy.clear(item, *self._identifiers(check))
        except StorageError as exc:
            log.error("rate-limit storage failed: %s", exc)

    def reset(self) -> None:
        """Forget every counter (tests; an operator clearing a lockout)."""
        self._reset()

    def _items(self, check: Check) -> Sequence[limits.RateLimitItem]:
        text = check.limit if check.limit is not None else self._setting(check.name)
        items = self._parsed.get(text)
        if items is None:
            items = self._parsed[text] = limits.parse_many(text)
        return items

    def _setting(self, name: str) -> str:
        try:
            value: str = getattr(self.settings, NAMED_LIMITS[name])
        except KeyError:
            raise ValueError(
                f"unknown limit {name!r}; give limit= or add it to NAMED_LIMITS"
            ) from None
        return value

    def _identifiers(self, check: Check) -> tuple[str, str, str]:
        return (self.namespace, check.name, _digest(check.key))

    def _refuse(self, check: Check, item: limits.RateLimitItem) -> None:
        stats = self.strategy.get_window_stats(item, *self._identifiers(check))
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        if self.metrics is not None:
            self.metrics.rate_limited.labels(check.name).inc()
        raise TooManyRequests(
            MESSAGES.get(check.name, TooManyRequests.default_message),
            retry_after=retry_after,
            limit=check.name,
        )


@functools.lru_cache(maxsize=4096)
def _digest(key: str) -> str:
    """What a window is keyed by instead of `key` (an address, a number): remembered for the
    keys counted most (the project, a client address), which every send counts again."""
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def hit(limiter: RateLimiter, name: str, key: str, *, limit: str | None = None) -> None:
    """`limiter.hit(name, key, limit=limit)`, for callers that prefer a function."""
    limiter.hit(name, key, limit=limit)
