"""Service safety: per-user rate limits, a maximum input length, and redaction of user content.

These guard an agent served to many users (an API, a chat bot):

- :class:`RateLimiter`: a token bucket per user id; over the limit raises
  :class:`~graphs.errors.RateLimited` with the seconds to wait.
- :func:`check_input`: rejects input over a maximum length with
  :class:`~graphs.errors.InputTooLong`, saying the limit and the actual length.
- :func:`redact`: ``sha256:<12 hex>… (N chars)``, what logs and traces show of user content unless
  the user opted in to storing it (the trace recorder's ``store_content=True``).
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from graphs.errors import InputTooLong, RateLimited

DEFAULT_MAX_INPUT_CHARS = 32_000
"""About 8k tokens of English: generous for a question, small enough to stop abuse."""


def redact(text: str) -> str:
    """``sha256:<first 12 hex digits>… (N chars)``: identifies a text without showing it."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return f"sha256:{digest[:12]}… ({len(text)} chars)"


def check_input(text: str, max_chars: int = DEFAULT_MAX_INPUT_CHARS) -> str:
    """Return ``text`` when it is at most ``max_chars`` characters long.

    Raises:
        InputTooLong: the text is longer; the message gives the limit and the actual length.
    """
    if max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    if len(text) > max_chars:
        raise InputTooLong(
            f"input is too long: {len(text):,} characters, the limit is {max_chars:,}; "
            "shorten it or split it into several requests",
            limit=max_chars,
            length=len(text),
        )
    return text


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per user: ``burst`` requests at once, refilled at ``rate`` per second.

    Thread-safe. Buckets of users who are back to a full bucket are forgotten when more than
    ``max_users`` are tracked, so memory stays bounded.

    Args:
        rate: requests per second allowed in the long run (e.g. ``10 / 60`` for 10 a minute).
        burst: requests allowed at once (the bucket size).
        clock: a monotonic clock in seconds; inject a fake one in tests.
        max_users: how many buckets to keep before forgetting full ones.

    Example:
        >>> limiter = RateLimiter.per_minute(20, burst=5)
        >>> limiter.acquire("alice")  # raises RateLimited when alice is over her limit
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_users: int = 10_000,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self.max_users = max_users
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    @classmethod
    def per_minute(
        cls,
        requests: float,
        *,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_users: int = 10_000,
    ) -> RateLimiter:
        """``requests`` a minute, ``burst`` at once (default: the per-minute number, at least 1)."""
        size = burst if burst is not None else max(1, math.floor(requests))
        return cls(requests / 60, size, clock=clock, max_users=max_users)

    def _refilled(self, user_id: str, now: float) -> _Bucket:
        bucket = self._buckets.get(user_id)
        if bucket is None:
            if len(self._buckets) >= self.max_users:
                self._forget_full(now)
            bucket = self._buckets[user_id] = _Bucket(float(self.burst), now)
        else:
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
            bucket.updated = now
        return bucket

    def _forget_full(self, now: float) -> None:
        for user, bucket in list(self._buckets.items()):
            if bucket.tokens + (now - bucket.updated) * self.rate >= self.burst:
                del self._buckets[user]

    def try_acquire(self, user_id: str, cost: float = 1.0) -> float:
        """Take ``cost`` from the user's bucket; return 0, or the seconds to wait (nothing taken)."""
        if cost > self.burst:
            raise ValueError(f"cost {cost} is more than the burst size {self.burst}")
        with self._lock:
            bucket = self._refilled(user_id, self._clock())
            if bucket.tokens >= cost:
                bucket.tokens -= cost
                return 0.0
            return (cost - bucket.tokens) / self.rate

    def acquire(self, user_id: str, cost: float = 1.0) -> None:
        """Take ``cost`` from the user's bucket.

        Raises:
            RateLimited: the user is over the limit; ``retry_after`` says how long to wait.
        """
        wait = self.try_acquire(user_id, cost)
        if wait > 0:
            raise RateLimited(
                f"rate limit reached for user {user_id!r}: retry in {math.ceil(wait * 10) / 10:g} s",
                user_id=user_id,
                retry_after=wait,
            )
