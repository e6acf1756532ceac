"""Ollama's native API (``/api/chat``) through the official ``ollama`` client.

Wire facts this module relies on: thinking arrives in ``message.thinking`` (older servers inline
``<think>`` in ``content``); tool calls arrive whole, arguments as a JSON object; the thinking
switch is the top-level ``think`` field; sampling goes under ``options`` (``num_predict`` is the
token limit); an unknown model is HTTP 404. On input, an assistant message's past thinking goes in
its ``thinking`` field and a user message's images in ``images`` (base64; Ollama cannot fetch URLs).
``/api/show`` reports a model's template, architecture and capabilities (profile detection).
Structured output is ``format`` (``"json"`` or a JSON
schema; Ollama 0.10+ applies it after the thinking, older servers skip thinking under it). There is
no ``tool_choice``: ``"none"`` leaves the tools out, and a required call (any tool, or a named one)
is forced through ``format`` (see :func:`output_schema`).

Errors: one mapping, :meth:`OllamaTransport._translate`, turns everything the client or the wire can
throw into the :mod:`graphs.errors` tree: HTTP errors (``Retry-After`` kept, read from the response
by an httpx event hook because the ``ollama`` client drops headers), bodies that are not JSON or not
Ollama's chat format (the client's ``JSONDecodeError``/``ValidationError``: a
:class:`ResponseFormatError` naming the field), streams that end without their ``done`` chunk or
break mid-answer (:class:`StreamInterrupted`), refused connections and timeouts.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import httpx
import ollama
import pydantic

from graphs.errors import (
    ConfigError,
    ModelError,
    ModelNotFound,
    ResponseFormatError,
    ServerError,
    StreamInterrupted,
)
from graphs.models.choice import call_schema
from graphs.models.images import image_bytes_base64
from graphs.models.structured import ANY_OBJECT, format_schema
from graphs.models.transports.aio import AiohttpTransport, LoopClients
from graphs.models.transports.assemble import DeltaAssembler, tool_schemas
from graphs.models.transports.base import ChatRequest, Delta, Usage
from graphs.models.transports.coalesce import acoalesce, coalesce
from graphs.models.transports.retry import (
    RetryPolicy,
    aretrying,
    connection_error,
    cut_short,
    empty_or_cut,
    final_error,
    parse_retry_after,
    retrying,
)

DEFAULT_BASE_URL = "http://localhost:11434"
_RETRY_AFTER: contextvars.ContextVar[float | None] = contextvars.ContextVar("retry_after", default=None)
_BAD_BODY = (ValueError, TypeError, AttributeError, KeyError)
"""What the ``ollama`` client raises on a body it cannot read: ``json.JSONDecodeError`` and pydantic's
``ValidationError`` (both ``ValueError``), and ``TypeError``/``AttributeError``/``KeyError`` for JSON
that is not an object."""


def _note_retry_after(response: httpx.Response) -> None:
    _RETRY_AFTER.set(parse_retry_after(response.headers.get("retry-after")))


async def _anote_retry_after(response: httpx.Response) -> None:
    _note_retry_after(response)


class OllamaTransport:
    """Talks to one Ollama server; one sync and one async client, created on first use."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        retry: RetryPolicy | None = None,
        expect_thinking: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.expect_thinking = expect_thinking
        self._client: ollama.Client | None = None
        self._aclients: LoopClients[ollama.AsyncClient] = LoopClients(
            lambda: ollama.AsyncClient(
                host=self.base_url,
                timeout=self._timeout(),
                transport=AiohttpTransport(),
                event_hooks={"response": [_anote_retry_after]},
            ),
            lambda client: client.close(),  # type: ignore[no-untyped-call]  # the ollama client is untyped
        )

    def _timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.retry.read_timeout, connect=self.retry.connect_timeout)

    @property
    def client(self) -> ollama.Client:
        """The sync client (created lazily so that cassettes patch the transport it uses)."""
        if self._client is None:
            hooks = {"response": [_note_retry_after]}
            self._client = ollama.Client(host=self.base_url, timeout=self._timeout(), event_hooks=hooks)
        return self._client

    @property
    def aclient(self) -> ollama.AsyncClient:
        """The running event loop's async client, on aiohttp (see :mod:`.aio`)."""
        return self._aclients.get()

    def chat(self, request: ChatRequest) -> Iterator[Delta]:
        """Send ``request`` to ``/api/chat`` and yield deltas, retrying before the first one."""
        return coalesce(retrying(self.retry, lambda: self._chat_once(request), self._final))

    def achat(self, request: ChatRequest) -> AsyncIterator[Delta]:
        """Async twin of :meth:`chat`."""
        return acoalesce(aretrying(self.retry, lambda: self._achat_once(request), self._final))

    def close(self) -> None:
        """Close the sync client (an async one closes as its event loop shuts down)."""
        if self._client is not None:
            self._client.close()  # type: ignore[no-untyped-call]  # the ollama client is untyped
            self._client = None

    def _chat_once(self, request: ChatRequest) -> Iterator[Delta]:
        reader = _Reader(self._assembler(request))
        try:
            if request.stream:
                parts = self.client.chat(**ollama_kwargs(request), stream=True)
                while (part := _next_part(parts)) is not None:
                    yield from reader.body(part.model_dump(exclude_none=True))
            else:
                whole = _whole_part(lambda: self.client.chat(**ollama_kwargs(request), stream=False))
                yield from reader.body(whole.model_dump(exclude_none=True))
            yield reader.finish(stream=request.stream)
        except (ollama.ResponseError, ConnectionError, httpx.HTTPError, _BadBody, _Incomplete) as exc:
            raise self._translate(exc, request.model, reader.received) from None

    async def _achat_once(self, request: ChatRequest) -> AsyncIterator[Delta]:
        reader = _Reader(self._assembler(request))
        try:
            if request.stream:
                parts = await self.aclient.chat(**ollama_kwargs(request), stream=True)
                while (part := await _anext_part(parts)) is not None:
                    for delta in reader.body(part.model_dump(exclude_none=True)):
                        yield delta
            else:
                try:
                    whole = await self.aclient.chat(**ollama_kwargs(request), stream=False)
                except _BAD_BODY as exc:
                    raise _BadBody(exc) from None
                for delta in reader.body(whole.model_dump(exclude_none=True)):
                    yield delta
            yield reader.finish(stream=request.stream)
        except (ollama.ResponseError, ConnectionError, httpx.HTTPError, _BadBody, _Incomplete) as exc:
            raise self._translate(exc, request.model, reader.received) from None

    def _assembler(self, request: ChatRequest) -> DeltaAssembler:
        names = tool_schemas(request.tools)
        return DeltaAssembler(
            think=request.think,
            tool_names=names,
            expect_thinking=self.expect_thinking,
            thinking_forced=request.thinking_forced,
            check_names=request.tool_choice != "required",
        )

    def show(self, model: str) -> dict[str, Any] | None:
        """Ollama's ``/api/show`` for ``model`` (template, model_info, capabilities), or ``None``
        when the server cannot say (unreachable, unknown model): detection then falls back."""
        try:
            return self.client.show(model).model_dump(exclude_none=True, by_alias=True)
        except (ollama.ResponseError, ConnectionError, httpx.HTTPError, ValueError):
            return None

    def _translate(self, exc: Exception, model: str, received: int = 0) -> ModelError:
        """The one place where this transport's failures become :mod:`graphs.errors` errors."""
        url = f"{self.base_url}/api/chat"
        where = f"Ollama at {self.base_url}"
        if isinstance(exc, _BadBody):
            return exc.error(where, url, received)
        if isinstance(exc, _Incomplete):
            return _incomplete(where, url, received)
        if isinstance(exc, ollama.ResponseError):
            if exc.status_code == 404:
                return ModelNotFound(
                    f"{where} has no model {model!r}: run `ollama pull {model}` "
                    f"(server said: {_short(exc.error)})",
                    model=model,
                    url=url,
                )
            status = exc.status_code if exc.status_code > 0 else 500
            said = _short(exc.error)
            if exc.status_code < 0 and received:  # an {"error": ...} line in the middle of the stream
                return StreamInterrupted(
                    f"{where} reported an error mid-answer, after {received} characters: {said}",
                    url=url,
                    received=received,
                )
            return ServerError(
                f"{where} answered HTTP {status}: {said}",
                url=url,
                status=status,
                body=str(exc.error),
                retry_after=_RETRY_AFTER.get() if status in (429, 503) else None,
            )
        hint = "is `ollama serve` running?"
        if isinstance(exc, httpx.HTTPError):
            return connection_error(exc, where, url, received, hint)
        return connection_error(httpx.ConnectError(str(exc)), where, url, received, hint)  # refused

    def _final(self, err: ModelError, attempts: int) -> ModelError:
        return final_error(err, attempts, self.retry)


class _BadBody(Exception):
    """A response body the ``ollama`` client could not read (carries the client's exception)."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause

    def error(self, where: str, url: str, received: int) -> ModelError:
        """A :class:`ResponseFormatError`, or a :class:`StreamInterrupted` for a line cut short."""
        cause = self.cause
        if isinstance(cause, pydantic.ValidationError):
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in cause.errors()[:3]
            )
            return ResponseFormatError(f"{where} sent a reply not in Ollama's chat format ({problems})")
        if isinstance(cause, json.JSONDecodeError):
            if cut_short(cause.doc):
                return empty_or_cut(where, url, cause.doc, received)
            return ResponseFormatError(f"{where} sent a reply that is not JSON: {cause.doc[:120]!r}")
        return ResponseFormatError(f"{where} sent JSON that is not a chat response ({_short(str(cause))})")


class _Incomplete(Exception):
    """The stream ended without its final ``done`` chunk."""


def _incomplete(where: str, url: str, received: int) -> StreamInterrupted:
    if received:
        return StreamInterrupted(
            f"the stream from {where} ended mid-answer, after {received} characters and before its "
            "final chunk; the partial answer is not kept",
            url=url,
            received=received,
        )
    return StreamInterrupted(f"{where} ended the reply before sending any of it", url=url, received=0)


def _next_part(parts: Iterator[Any]) -> Any:
    """The next stream part, ``None`` at the end; the client's parse failures become :class:`_BadBody`."""
    try:
        return next(parts)
    except StopIteration:
        return None
    except _BAD_BODY as exc:
        raise _BadBody(exc) from None


async def _anext_part(parts: AsyncIterator[Any]) -> Any:
    try:
        return await anext(parts)
    except StopAsyncIteration:
        return None
    except _BAD_BODY as exc:
        raise _BadBody(exc) from None


def _whole_part(call: Any) -> Any:
    try:
        return call()
    except _BAD_BODY as exc:
        raise _BadBody(exc) from None


def _short(text: Any) -> str:
    lines = str(text).strip().splitlines()
    return lines[0][:300] if lines else ""


def ollama_kwargs(request: ChatRequest) -> dict[str, Any]:
    """Keyword arguments for ``ollama.Client.chat`` from a neutral request.

    Raises:
        ConfigError: the request continues a prefill, which Ollama's chat API does not offer.
    """
    if request.prefill is not None:
        raise ConfigError(
            "continuing a partial answer (prefill) is not available through Ollama's native chat API; "
            "use a local: model or an openai: model on vLLM"
        )
    options: dict[str, Any] = {}
    for key, value in request.sampling.items():
        if value is None:
            continue
        options["num_predict" if key == "max_tokens" else key] = value
    kwargs: dict[str, Any] = {
        "model": request.model,
        "messages": [ollama_message(m) for m in request.messages],
    }
    if request.tools and request.tool_choice != "none":
        kwargs["tools"] = request.tools
    schema = output_schema(request)
    if schema is not None:
        kwargs["format"] = "json" if schema == ANY_OBJECT else schema
    if request.think is not None:
        kwargs["think"] = request.think
    if options:
        kwargs["options"] = options
    return kwargs


def output_schema(request: ChatRequest) -> dict[str, Any] | None:
    """What Ollama's ``format`` must hold: a forced tool call's schema, else the requested answer's.

    Ollama's chat API has no ``tool_choice``; a required call is enforced by a schema that only
    admits ``{"name": <tool>, "arguments": {...}}``, which the dialect parser reads as a tool call.
    """
    if request.tools and request.tool_choice == "required":
        return call_schema(request.tools, request.tool_name)
    return format_schema(request.response_format)


def ollama_message(message: Mapping[str, Any]) -> dict[str, Any]:
    """A neutral message in Ollama's native shape: tool-call arguments stay objects, past thinking
    goes in ``thinking``, images in ``images`` as base64."""
    out: dict[str, Any] = {"role": message["role"], "content": message.get("content") or ""}
    if message.get("reasoning_content"):
        out["thinking"] = message["reasoning_content"]
    if message.get("images"):
        out["images"] = [image_bytes_base64(i, server="Ollama") for i in message["images"]]
    if message.get("tool_calls"):
        out["tool_calls"] = [
            {"function": {"name": c["name"], "arguments": c["args"]}} for c in message["tool_calls"]
        ]
    if message["role"] == "tool" and message.get("name"):
        out["tool_name"] = message["name"]
    return out


def ollama_usage(body: Mapping[str, Any]) -> Usage | None:
    """Token counts from a final Ollama response (``prompt_eval_count``, ``eval_count``)."""
    if "eval_count" not in body and "prompt_eval_count" not in body:
        return None
    return Usage(
        prompt_tokens=int(body.get("prompt_eval_count") or 0),
        completion_tokens=int(body.get("eval_count") or 0),
    )


class _Reader:
    """Feeds Ollama response bodies (stream chunks or one whole answer) to the assembler."""

    def __init__(self, assembler: DeltaAssembler) -> None:
        self.assembler = assembler
        self.last: Mapping[str, Any] = {}
        self.received = 0

    def body(self, body: Mapping[str, Any]) -> Iterator[Delta]:
        """Take one body; yield what can be shown now."""
        self.last = body
        delta = self.assembler.feed_message(body.get("message") or {})
        if delta is not None:
            self.received += len(delta.text) + len(delta.thinking)
            yield delta

    def finish(self, *, stream: bool) -> Delta:
        """The closing delta, with the last body's done reason and token counts.

        Raises:
            _Incomplete: a stream ended without its ``done`` chunk.
        """
        if stream and not self.last.get("done"):
            raise _Incomplete
        return self.assembler.finish(self.last.get("done_reason"), ollama_usage(self.last))
