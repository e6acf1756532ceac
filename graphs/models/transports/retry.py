"""Bounded retries with backoff, shared by the HTTP transports, and the httpx failures they map.

A request is retried only while nothing has reached the caller yet: once a streamed response has
produced its first delta, a failure is final (retrying would duplicate output). Connection
failures, timeouts, HTTP 5xx, HTTP 429 and a response that broke off before any of the answer
arrived are retried; everything else fails at once. A server's ``Retry-After`` (429 or 503) sets
the wait, up to ``RetryPolicy.max_retry_after``; a server that asks for longer is not retried.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import httpx

from graphs.errors import ModelError, ServerError, ServerUnavailable, StreamInterrupted

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry. Waits are ``backoff * 2**attempt`` seconds."""

    attempts: int = 3
    backoff: float = 0.5
    connect_timeout: float = 5.0
    read_timeout: float = 300.0
    max_retry_after: float = 30.0

    def wait(self, attempt: int, error: ModelError | None = None) -> float:
        """Seconds to sleep after failed attempt number ``attempt`` (0-based): the server's
        ``Retry-After`` when it gave one, else ``backoff * 2**attempt``."""
        asked = getattr(error, "retry_after", None)
        if asked is not None:
            return float(min(max(asked, 0.0), self.max_retry_after))
        return float(self.backoff * (2**attempt))

    def retryable(self, error: ModelError) -> bool:
        """Whether ``error`` may pass on a new attempt (see :func:`is_retryable`), and any wait the
        server asked for is one this policy accepts."""
        asked = getattr(error, "retry_after", None)
        return is_retryable(error) and (asked is None or asked <= self.max_retry_after)


def is_retryable(error: ModelError) -> bool:
    """Connection problems, server-side (5xx) errors, rate limits (429) and responses that broke
    off before any answer may pass; client errors and unreadable answers will not."""
    if isinstance(error, ServerUnavailable):
        return True
    if isinstance(error, StreamInterrupted):
        return error.received == 0
    return isinstance(error, ServerError) and (error.status >= 500 or error.status == 429)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (a number of seconds or an HTTP date); ``None`` if absent
    or unreadable."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        return max(float(text), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def connection_error(exc: httpx.HTTPError, where: str, url: str, received: int, hint: str = "") -> ModelError:
    """The error for an httpx failure talking to ``where`` (``Ollama at http://…``), knowing how many
    characters of the answer had arrived: timeouts, refused connections (with ``hint``, e.g. "is
    ``ollama serve`` running?") and connections that broke mid-transfer are told apart."""
    reason = _first_line(exc)
    if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout) and received:
        return StreamInterrupted(
            f"{where} stopped sending mid-answer ({type(exc).__name__} after {received} characters)",
            url=url,
            received=received,
        )
    if isinstance(exc, httpx.TimeoutException):
        return ServerUnavailable(f"{where} timed out ({type(exc).__name__})", url=url, attempts=1)
    if isinstance(exc, httpx.ConnectError | httpx.UnsupportedProtocol | httpx.ProxyError):
        hint = f" {hint}" if hint else ""
        return ServerUnavailable(f"cannot reach {where}:{hint} ({reason})", url=url, attempts=1)
    if received:
        return StreamInterrupted(
            f"the connection to {where} broke mid-answer, after {received} characters ({reason}); "
            "the partial answer is not kept",
            url=url,
            received=received,
        )
    return StreamInterrupted(
        f"the connection to {where} broke before the answer arrived ({reason})", url=url, received=0
    )


def cut_short(text: str) -> bool:
    """A reply body or stream line that is empty, or a JSON object that stops before its closing
    brace: a transfer cut short (worth retrying when none of the answer was shown), not garbage."""
    body = text.strip()
    return not body or (body.startswith("{") and not body.endswith("}"))


def empty_or_cut(where: str, url: str, text: str, received: int) -> StreamInterrupted:
    """The error for a reply that :func:`cut_short` recognises."""
    if not text.strip():
        return StreamInterrupted(
            f"{where} ended the reply before sending any of it", url=url, received=received
        )
    return StreamInterrupted(
        f"the reply from {where} broke off inside its JSON, after {received} characters of answer "
        f"(it ends {text.strip()[-60:]!r})",
        url=url,
        received=received,
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


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
            if produced or not policy.retryable(err) or attempt + 1 >= policy.attempts:
                raise describe(err, attempt + 1) from None
            time.sleep(policy.wait(attempt, err))
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
            if produced or not policy.retryable(err) or attempt + 1 >= policy.attempts:
                raise describe(err, attempt + 1) from None
            await asyncio.sleep(policy.wait(attempt, err))
            attempt += 1


def final_error(err: ModelError, attempts: int, policy: RetryPolicy | None = None) -> ModelError:
    """The error to show after ``attempts`` tries: the same class, with the count in the message
    (and, for a server that asked to wait longer than ``policy`` allows, how long it asked)."""
    asked = getattr(err, "retry_after", None)
    limit = policy.max_retry_after if policy is not None else None
    if isinstance(err, ServerError) and asked is not None and limit is not None and asked > limit:
        note = f" (the server asks to retry after {asked:g} s, longer than the {limit:g} s this client waits)"
        return ServerError(str(err) + note, url=err.url, status=err.status, body=err.body, retry_after=asked)
    if attempts <= 1:
        return err
    suffix = f" (gave up after {attempts} attempts)"
    if isinstance(err, ServerUnavailable):
        return ServerUnavailable(str(err) + suffix, url=err.url, attempts=attempts)
    if isinstance(err, ServerError):
        text = str(err) + suffix
        return ServerError(text, url=err.url, status=err.status, body=err.body, retry_after=asked)
    if isinstance(err, StreamInterrupted):
        return StreamInterrupted(str(err) + suffix, url=err.url, received=err.received)
    return err
