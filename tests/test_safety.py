"""Service safety: per-user rate limits with a fake clock, input length, redaction."""

from __future__ import annotations

import threading

import pytest

from agents.safety import DEFAULT_MAX_INPUT_CHARS, RateLimiter, check_input, redact
from graphs.errors import ConfigError, InputTooLong, QwenGraphError, RateLimited


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_limited_with_retry_after():
    clock = FakeClock()
    limiter = RateLimiter(rate=0.5, burst=3, clock=clock)
    for _ in range(3):
        limiter.acquire("alice")
    with pytest.raises(RateLimited, match="retry in 2 s") as caught:
        limiter.acquire("alice")
    assert caught.value.retry_after == pytest.approx(2.0)
    assert caught.value.user_id == "alice" and isinstance(caught.value, QwenGraphError)
    clock.now += 1.0
    assert limiter.try_acquire("alice") == pytest.approx(1.0)
    clock.now += 1.0
    limiter.acquire("alice")  # one token refilled after 2 s


def test_users_have_separate_buckets_and_refill_caps_at_burst():
    clock = FakeClock()
    limiter = RateLimiter(rate=1.0, burst=2, clock=clock)
    limiter.acquire("a")
    limiter.acquire("a")
    limiter.acquire("b")  # b is not affected by a
    clock.now += 1000
    limiter.acquire("a")
    limiter.acquire("a")
    with pytest.raises(RateLimited):
        limiter.acquire("a")


def test_per_minute_and_validation():
    clock = FakeClock()
    limiter = RateLimiter.per_minute(6, burst=1, clock=clock)
    limiter.acquire("u")
    assert limiter.try_acquire("u") == pytest.approx(10.0)
    with pytest.raises(ValueError, match="rate must be positive"):
        RateLimiter(rate=0, burst=1)
    with pytest.raises(ValueError, match="more than the burst size"):
        limiter.try_acquire("u", cost=2)


def test_many_users_stay_bounded():
    clock = FakeClock()
    limiter = RateLimiter(rate=1.0, burst=1, clock=clock, max_users=10)
    for i in range(50):
        limiter.try_acquire(f"user{i}")
        clock.now += 1.0  # earlier users are full again and can be forgotten
    assert len(limiter._buckets) <= 10


def test_thread_safe_under_contention():
    limiter = RateLimiter(rate=1e-9, burst=100, clock=FakeClock())
    granted = []

    def worker():
        for _ in range(50):
            if limiter.try_acquire("shared") == 0:
                granted.append(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == 100


def test_check_input():
    assert check_input("short", max_chars=10) == "short"
    with pytest.raises(InputTooLong) as caught:
        check_input("x" * 12_345, max_chars=10_000)
    err = caught.value
    assert (err.limit, err.length) == (10_000, 12_345)
    assert "12,345 characters" in str(err) and "limit is 10,000" in str(err)
    assert isinstance(err, ConfigError) and err.exit_code == 2
    check_input("y" * DEFAULT_MAX_INPUT_CHARS)


def test_redact():
    text = "my secret question"
    shown = redact(text)
    assert shown.startswith("sha256:") and shown.endswith(f"… ({len(text)} chars)")
    assert "secret" not in shown
    assert len(shown.split(":")[1].split("…")[0]) == 12
    assert redact(text) == shown and redact(text + "!") != shown
