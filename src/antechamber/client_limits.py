"""Limits per client address: discovery sends, and failed token presentations (guessing).

Both count under `client_address.limit_key(scope.client_ip)` in the process's rate limiter
(Redis when configured, so they hold across processes), and do nothing when the scope has no
client address (the CLI) or no limiter.

- `count_discovery_send`: one more magic-link send from this address, or `TooManyRequests`
  (`discovery:ip`). It does not depend on the recipient, so it answers the same for known and
  unknown emails.
- `failures_counted`: around a lookup of a magic-link or intermediate session token. An address
  already over its allowance of failures (`authenticate:ip`) is refused before the lookup, so
  guessing stops even with the right token; a lookup that fails with one of the given errors
  counts one failure. Successes count nothing, so people who click their links never run into
  it. Failures are counted outside the database transaction: the refusal rolls back, the count
  stays.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from antechamber.client_address import limit_key
from antechamber.scope import Scope

DISCOVERY_SEND = "discovery:ip"
AUTHENTICATE_FAILURES = "authenticate:ip"
SSO_START = "sso_start:ip"
SSO_DISCOVERY = "sso_discovery:ip"


def count_discovery_send(scope: Scope) -> None:
    if scope.limiter is not None and scope.client_ip:
        scope.limiter.hit(DISCOVERY_SEND, limit_key(scope.client_ip))


def count_sso_start(scope: Scope) -> None:
    """One more SSO login started from this address (`sso.flow.start`), or `TooManyRequests`."""
    if scope.limiter is not None and scope.client_ip:
        scope.limiter.hit(SSO_START, limit_key(scope.client_ip))


def count_sso_discovery(scope: Scope) -> None:
    """One more anonymous SSO connection lookup by email from this address
    (`sso.discovery`), or `TooManyRequests`: it answers for any address, so it is metered
    whatever the answer."""
    if scope.limiter is not None and scope.client_ip:
        scope.limiter.hit(SSO_DISCOVERY, limit_key(scope.client_ip))


@contextmanager
def failures_counted(scope: Scope, *failures: type[Exception]) -> Iterator[None]:
    """Refuse a client over its failure allowance; count one failure if the block raises one
    of `failures`."""
    if scope.limiter is None or not scope.client_ip:
        yield
        return
    key = limit_key(scope.client_ip)
    scope.limiter.check(AUTHENTICATE_FAILURES, key)
    try:
        yield
    except failures:
        scope.limiter.count(AUTHENTICATE_FAILURES, key)
        raise
