"""The transports' error mapping and retry rules, and the joining of deltas for huge answers."""

from __future__ import annotations

import email.utils
import time
from types import SimpleNamespace

import pytest
from servers import Fault, OllamaServer, Turn, VLLMServer, status

import graphs.models.transports.retry as retry
from graphs.errors import ModelError, ResponseFormatError, ServerError, ServerUnavailable, StreamInterrupted
from graphs.models.transports.base import ChatRequest, Delta
from graphs.models.transports.coalesce import FLUSH_S, LARGE, coalesce
from graphs.models.transports.ollama import OllamaTransport
from graphs.models.transports.openai import OpenAITransport
from graphs.models.transports.retry import RetryPolicy, cut_short, is_retryable, parse_retry_after


def test_retry_after_in_seconds_and_as_a_date() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-3") == 0.0
    soon = email.utils.formatdate(1_000_010, usegmt=True)
    assert parse_retry_after(soon, now=1_000_000) == pytest.approx(10, abs=1)
    assert parse_retry_after(None) is None and parse_retry_after("soon-ish") is None


def test_which_errors_are_retried_and_how_long_the_wait_is() -> None:
    policy = RetryPolicy()
    limited = ServerError("429", url="u", status=429, body="", retry_after=2.0)
    assert policy.retryable(limited) and policy.wait(0, limited) == 2.0
    too_long = ServerError("429", url="u", status=429, body="", retry_after=3600.0)
    assert not policy.retryable(too_long)
    assert policy.wait(1, ServerError("503", url="u", status=503, body="")) == 1.0  # backoff
    assert is_retryable(ServerUnavailable("x", url="u", attempts=1))
    assert is_retryable(StreamInterrupted("x", url="u", received=0))
    assert not is_retryable(StreamInterrupted("x", url="u", received=5)), "shown output is never repeated"
    assert not is_retryable(ServerError("400", url="u", status=400, body=""))
    assert not is_retryable(ResponseFormatError("x"))


def test_cut_short_tells_truncation_from_garbage() -> None:
    assert cut_short("") and cut_short('{"message": {"content": "ab')
    assert not cut_short('{"message": oops}') and not cut_short("<html>502</html>")


REQUEST = ChatRequest(model="qwen3:8b", messages=[{"role": "user", "content": "hi"}])


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    recorded: list[float] = []
    monkeypatch.setattr(retry, "time", SimpleNamespace(sleep=recorded.append, time=time.time))
    return recorded


@pytest.mark.parametrize("kind", ["ollama", "openai"])
async def test_the_async_path_honours_retry_after(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(retry.asyncio, "sleep", fake_sleep)
    server = (
        OllamaServer([Turn(content="hello")]) if kind == "ollama" else VLLMServer([Turn(content="hello")])
    )
    with server:
        server.inject(status(429, Retry_After="2"))
        transport = OllamaTransport(server.url) if kind == "ollama" else OpenAITransport(server.base_url)
        model = "qwen3:8b" if kind == "ollama" else "Qwen/Qwen3-8B"
        request = ChatRequest(model=model, messages=REQUEST.messages, stream=True)
        deltas = [d async for d in transport.achat(request)]
    assert "".join(d.text for d in deltas) == "hello"
    assert slept == [2.0] and len(server.chat_requests) == 2


@pytest.mark.parametrize("stream", [True, False])
async def test_the_async_path_maps_a_bad_body_like_the_sync_one(stream: bool) -> None:
    with OllamaServer([Turn(content="x")]) as server:
        server.inject(Fault("body", body=b'{"message": oops}'))
        request = ChatRequest(model="qwen3:8b", messages=REQUEST.messages, stream=stream)
        with pytest.raises(ResponseFormatError, match="not JSON"):
            [d async for d in OllamaTransport(server.url).achat(request)]


def test_an_unreadable_retry_after_falls_back_to_backoff(waits: list[float]) -> None:
    with VLLMServer([Turn(content="ok")]) as server:
        server.inject(status(503, Retry_After="whenever"))
        request = ChatRequest(model="Qwen/Qwen3-8B", messages=REQUEST.messages)
        assert "".join(d.text for d in OpenAITransport(server.base_url).chat(request)) == "ok"
    assert waits == [0.5]


def test_errors_are_model_errors_with_one_line_messages(waits: list[float]) -> None:
    with OllamaServer([Turn(content="x")]) as server:
        server.inject(Fault("body", body=b"<html>\n<h1>502 Bad Gateway</h1>\n</html>"))
        with pytest.raises(ModelError) as caught:
            list(OllamaTransport(server.url).chat(REQUEST))
    assert "\n" not in str(caught.value)


def clock(*times: float):
    values = iter(times)
    return lambda: next(values)


def test_small_answers_pass_through_unchanged() -> None:
    pieces = [Delta(thinking="a"), Delta(text="b"), Delta(text="c"), Delta(finish_reason="stop")]
    assert list(coalesce(iter(pieces))) == pieces


def test_large_answers_are_joined_into_few_pieces_in_order() -> None:
    parts = [Delta(text=f"{i:04d}" * 2_500) for i in range(400)]  # 4 MB in 10 KB deltas
    out = list(coalesce(iter([*parts, Delta(finish_reason="stop")]), clock=lambda: 0.0))
    assert "".join(d.text for d in out) == "".join(d.text for d in parts)
    assert out[-1].finish_reason == "stop"
    assert len(out) < 60, len(out)  # about 6 below LARGE + ~8 per doubling after it


def test_a_slow_large_stream_is_never_held_longer_than_the_flush_interval() -> None:
    big = [Delta(text="x" * (LARGE + 1))]
    slow = [Delta(text="y")] * 3
    times = [0.0, 0.0, FLUSH_S + 0.01, FLUSH_S + 0.02, 2 * FLUSH_S + 0.05, 3 * FLUSH_S, 4 * FLUSH_S]
    out = list(coalesce(iter(big + slow), clock=clock(*times)))
    assert [d.text for d in out][:2] == ["x" * (LARGE + 1), "y"]


def test_a_failure_still_shows_what_arrived_first() -> None:
    def failing():
        yield Delta(text="x" * (LARGE + 10))
        yield Delta(text="tail")
        raise StreamInterrupted("cut", url="u", received=5)

    seen: list[str] = []
    stream = coalesce(failing(), clock=lambda: 0.0)
    seen.append(next(stream).text)
    seen.append(next(stream).text)
    with pytest.raises(StreamInterrupted):
        next(stream)
    assert "".join(seen).endswith("tail")
