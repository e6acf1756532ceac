"""Bounded retries with backoff, shared by the HTTP transports.

A request is retried only while nothing has reached the caller yet: once a streamed response has
produced its first delta, a failure is final (retrying would duplicate output). Connection
failures, timeouts and HTTP 5xx are retried; everything else fails at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from graphs.errors import ModelError, ServerError, ServerUnavailable

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry. Waits are ``backoff * 2**attempt`` seconds."""

    attempts: int = 3
    backoff: float = 0.5
    connect_timeout: float = 5.0
    read_timeout: float = 300.0

    def wait(self, attempt: int) -> float:
        """Seconds to sleep after failed attempt number ``attempt`` (0-based)."""
        return float(self.backoff * (2**attempt))


def is_retryable(error: ModelError) -> bool:
    """Connection problems and server-side (5xx) errors may pass; client errors will not."""
    if isinstance(error, ServerUnavailable):
        return True
    return isinstance(error, ServerError) and error.status >= 500


def retrying(
    policy: RetryPolicy, start: Callable[[], Iterator[T]], describe: Callable[[ModelError, int], ModelError]
) -> Iterator[T]:
    """Yield from ``start()``, restarting it on retryable errors raised before the first item.

    ``start`` must raise :class:`ModelError` subclasses (transports translate their client's
    exceptions). ``describe`` turns the last error and the attempt count into the final error.
    """
    attempt = 0
    while True:
        produced = False
        try:
            for item in start():
                produced = True
                yield item
            return
        except ModelError as err:
            if produced or not is_retryable(err) or attempt + 1 >= policy.attempts:
                raise describe(err, attempt + 1) from None
            time.sleep(policy.wait(attempt))
            attempt += 1


async def aretrying(
    policy: RetryPolicy,
    start: Callable[[], AsyncIterator[T]],
    describe: Callable[[ModelError, int], ModelError],
) -> AsyncIterator[T]:
    """Async twin of :func:`retrying`."""
    attempt = 0
    while True:
        produced = False
        try:
            async for item in start():
                produced = True
                yield item
            return
        except ModelError as err:
            if produced or not is_retryable(err) or attempt + 1 >= policy.attempts:
                raise describe(err, attempt + 1) from None
            await asyncio.sleep(policy.wait(attempt))
            attempt += 1


def final_error(err: ModelError, attempts: int) -> ModelError:
    """The error to show after ``attempts`` tries: the same class, with the count in the message."""
    if attempts <= 1:
        return err
    suffix = f" (gave up after {attempts} attempts)"
    if isinstance(err, ServerUnavailable):
        return ServerUnavailable(str(err) + suffix, url=err.url, attempts=attempts)
    if isinstance(err, ServerError):
        return ServerError(str(err) + suffix, url=err.url, status=err.status, body=err.body)
    return err
