"""Rate limits: named limits from settings, in memory or shared through Redis."""

from __future__ import annotations

import secrets
import socket

import pytest

from antechamber.errors import TooManyRequests
from antechamber.metrics import Metrics
from antechamber.ratelimit import Check, RateLimiter, RateLimitUnavailable, hit
from antechamber.settings import Settings

REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return False
    return True


@pytest.fixture
def settings_() -> Settings:
    return Settings(_env_file=None, limit_sms_per_recipient="2/minute")  # type: ignore[call-arg]


def test_named_limit_from_settings(settings_: Settings) -> None:
    metrics = Metrics()
    limiter = RateLimiter(settings_, metrics=metrics)
    hit(limiter, "sms:recipient", "+12025550123")
    limiter.hit("sms:recipient", "+12025550123")
    with pytest.raises(TooManyRequests) as refused:
        limiter.hit("sms:recipient", "+12025550123")
    assert 1 <= refused.value.retry_after <= 60
    assert refused.value.error_type == "too_many_requests"
    assert "text messages" in refused.value.message
    limiter.hit("sms:recipient", "+12025550124")  # keys are separate
    assert metrics.rate_limited.labels("sms:recipient")._value.get() == 1


def test_check_refuses_like_hit_without_counting(settings_: Settings) -> None:
    limiter = RateLimiter(settings_)
    for _ in range(5):
        limiter.check("sms:recipient", "+12025550123")
    assert limiter.remaining("sms:recipient", "+12025550123") == 2
    limiter.hit("sms:recipient", "+12025550123")
    limiter.hit("sms:recipient", "+12025550123")
    with pytest.raises(TooManyRequests) as refused:
        limiter.check("sms:recipient", "+12025550123")
    assert 1 <= refused.value.retry_after <= 60


def test_explicit_limit_for_later_work(settings_: Settings) -> None:
    limiter = RateLimiter(settings_)
    limiter.hit("otp:attempts", "member-1", limit="1/hour")
    assert limiter.remaining("otp:attempts", "member-1", limit="1/hour") == 0
    with pytest.raises(TooManyRequests):
        limiter.hit("otp:attempts", "member-1", limit="1/hour")
    with pytest.raises(ValueError, match="unknown limit"):
        limiter.hit("otp:attempts", "member-1")


def test_hit_all_counts_nothing_when_one_check_refuses(settings_: Settings) -> None:
    limiter = RateLimiter(settings_)
    tight = Check("project", "p1", "1/hour")
    limiter.hit_all([tight])
    with pytest.raises(TooManyRequests):
        limiter.hit_all([Check("recipient", "r1", "1/hour"), tight])
    limiter.hit("recipient", "r1", limit="1/hour")  # its one allowance is still there


def test_every_window_of_a_limit_applies(settings_: Settings) -> None:
    limiter = RateLimiter(settings_)
    for _ in range(2):
        limiter.hit("x", "k", limit="5/minute;2/hour")
    with pytest.raises(TooManyRequests):
        limiter.hit("x", "k", limit="5/minute;2/hour")


@pytest.mark.skipif(not redis_up(), reason="Redis is not running on 127.0.0.1:6379")
def test_redis_storage_is_shared_between_processes(settings_: Settings) -> None:
    shared = settings_.model_copy(update={"redis_url": REDIS_URL})
    namespace = f"antechamber-test-{secrets.token_hex(4)}"
    first = RateLimiter(shared, namespace=namespace)  # two processes, as far as counts go
    second = RateLimiter(shared, namespace=namespace)
    try:
        first.hit("sms:recipient", "+12025550123")
        second.hit("sms:recipient", "+12025550123")
        with pytest.raises(TooManyRequests):
            first.hit("sms:recipient", "+12025550123")
        # Keys are hashed: Redis never holds the number.
        import redis

        keys = redis.Redis.from_url(REDIS_URL).keys(f"{namespace}*")
        assert keys
        assert not any(b"2025550123" in key for key in keys)
    finally:
        first.reset()


def test_unreachable_redis_refuses_rather_than_sends_unmetered(settings_: Settings) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = settings_.model_copy(update={"redis_url": f"redis://127.0.0.1:{port}/0"})
    limiter = RateLimiter(down)
    with pytest.raises(RateLimitUnavailable) as refused:
        limiter.hit("sms:recipient", "+12025550123")
    assert refused.value.status_code == 503


def test_unknown_storage_scheme_is_a_settings_error(settings_: Settings) -> None:
    from antechamber.settings import SettingsError

    with pytest.raises(SettingsError, match="ANTECHAMBER_REDIS_URL"):
        RateLimiter(settings_.model_copy(update={"redis_url": "nosuch://host"}))
