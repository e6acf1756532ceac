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
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import httpx
import ollama

from graphs.errors import ConfigError, ModelError, ModelNotFound, ServerError, ServerUnavailable
from graphs.models.choice import call_schema
from graphs.models.images import image_bytes_base64
from graphs.models.structured import ANY_OBJECT, format_schema
from graphs.models.transports.assemble import DeltaAssembler, tool_schemas
from graphs.models.transports.base import ChatRequest, Delta, Usage
from graphs.models.transports.retry import RetryPolicy, aretrying, final_error, retrying

DEFAULT_BASE_URL = "http://localhost:11434"


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
        self._aclient: ollama.AsyncClient | None = None

    def _timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.retry.read_timeout, connect=self.retry.connect_timeout)

    @property
    def client(self) -> ollama.Client:
        """The sync client (created lazily so that cassettes patch the transport it uses)."""
        if self._client is None:
            self._client = ollama.Client(host=self.base_url, timeout=self._timeout())
        return self._client

    @property
    def aclient(self) -> ollama.AsyncClient:
        """The async client."""
        if self._aclient is None:
            self._aclient = ollama.AsyncClient(host=self.base_url, timeout=self._timeout())
        return self._aclient

    def chat(self, request: ChatRequest) -> Iterator[Delta]:
        """Send ``request`` to ``/api/chat`` and yield deltas, retrying before the first one."""
        return retrying(self.retry, lambda: self._chat_once(request), self._final)

    def achat(self, request: ChatRequest) -> AsyncIterator[Delta]:
        """Async twin of :meth:`chat`."""
        return aretrying(self.retry, lambda: self._achat_once(request), self._final)

    def close(self) -> None:
        """Close the sync client (the async one closes with its event loop's transports)."""
        if self._client is not None:
            self._client.close()  # type: ignore[no-untyped-call]  # the ollama client is untyped
            self._client = None

    def _chat_once(self, request: ChatRequest) -> Iterator[Delta]:
        reader = _Reader(self._assembler(request))
        try:
            if request.stream:
                for part in self.client.chat(**ollama_kwargs(request), stream=True):
                    yield from reader.body(part.model_dump(exclude_none=True))
            else:
                whole = self.client.chat(**ollama_kwargs(request), stream=False)
                yield from reader.body(whole.model_dump(exclude_none=True))
            yield reader.finish()
        except (ollama.ResponseError, ConnectionError, httpx.HTTPError) as exc:
            raise self._translate(exc, request.model) from None

    async def _achat_once(self, request: ChatRequest) -> AsyncIterator[Delta]:
        reader = _Reader(self._assembler(request))
        try:
            if request.stream:
                async for part in await self.aclient.chat(**ollama_kwargs(request), stream=True):
                    for delta in reader.body(part.model_dump(exclude_none=True)):
                        yield delta
            else:
                whole = await self.aclient.chat(**ollama_kwargs(request), stream=False)
                for delta in reader.body(whole.model_dump(exclude_none=True)):
                    yield delta
            yield reader.finish()
        except (ollama.ResponseError, ConnectionError, httpx.HTTPError) as exc:
            raise self._translate(exc, request.model) from None

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

    def _translate(self, exc: Exception, model: str) -> ModelError:
        url = f"{self.base_url}/api/chat"
        if isinstance(exc, ollama.ResponseError):
            if exc.status_code == 404:
                return ModelNotFound(
                    f"Ollama at {self.base_url} has no model {model!r}: run `ollama pull {model}` "
                    f"(server said: {exc.error})",
                    model=model,
                    url=url,
                )
            status = exc.status_code if exc.status_code > 0 else 500
            return ServerError(
                f"Ollama at {self.base_url} answered HTTP {status}: {exc.error}",
                url=url,
                status=status,
                body=str(exc.error),
            )
        if isinstance(exc, httpx.TimeoutException):
            return ServerUnavailable(
                f"Ollama at {self.base_url} timed out ({type(exc).__name__})", url=url, attempts=1
            )
        return ServerUnavailable(
            f"cannot reach Ollama at {self.base_url}: is `ollama serve` running? ({_reason(exc)})",
            url=url,
            attempts=1,
        )

    @staticmethod
    def _final(err: ModelError, attempts: int) -> ModelError:
        return final_error(err, attempts)


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

    def body(self, body: Mapping[str, Any]) -> Iterator[Delta]:
        """Take one body; yield what can be shown now."""
        self.last = body
        delta = self.assembler.feed_message(body.get("message") or {})
        if delta is not None:
            yield delta

    def finish(self) -> Delta:
        """The closing delta, with the last body's done reason and token counts."""
        return self.assembler.finish(self.last.get("done_reason"), ollama_usage(self.last))


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
