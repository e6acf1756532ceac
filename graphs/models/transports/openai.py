"""OpenAI-compatible ``/v1/chat/completions`` over plain httpx.

Serves vLLM, llama.cpp's server, SGLang, LM Studio and Ollama's ``/v1``. Wire facts: arguments of
tool calls are JSON *strings*; streamed calls arrive as fragments keyed by ``index``; thinking is
``reasoning`` (vLLM 0.17+, Ollama /v1), ``reasoning_content`` (older vLLM) or inline tags; the
thinking switch is ``chat_template_kwargs.enable_thinking`` (vLLM, SGLang, llama.cpp) or, for
servers without it, Qwen3's ``/think`` and ``/no_think`` soft switches. The current turn's past
thinking goes back in the field the server reads (``reasoning_field``): ``reasoning`` (vLLM 0.17+,
which ignores ``reasoning_content`` on input from 0.20), ``reasoning_content`` (older vLLM),
``both``, or ``inline`` as ``<think>…</think>`` before the content (SGLang drops
``reasoning_content`` on input; llama.cpp-style servers). Images go as ``image_url`` content parts.
Extra ``chat_template_kwargs`` (``preserve_thinking``) ride with the switch.
``tool_choice`` goes as the
server's own field (a mode, or ``{"type": "function", ...}`` for one tool) and structured output as
``response_format`` (vLLM applies it after the thinking when it runs a reasoning parser; without one
it constrains from the first token, so the model does not think). A thinking budget is sent as
vLLM's top-level ``thinking_token_budget`` (honoured when the server runs with a reasoning config;
other servers ignore the field). No SDK: the openai package
adds milliseconds per call and nothing we need.

Errors: HTTP errors keep the server's message and ``Retry-After``
(:meth:`OpenAITransport._status_error`); connection failures are told apart by when they happened
(:func:`~graphs.models.transports.retry.connection_error`);
a stream must end with ``[DONE]`` or a finish reason, else it was cut (:class:`StreamInterrupted`,
retried when none of the answer had arrived); a server that answers a streamed request with one
JSON body is read as a whole answer.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, Literal

import httpx

from graphs.errors import ModelError, ModelNotFound, ResponseFormatError, ServerError, StreamInterrupted
from graphs.models.choice import openai_tool_choice
from graphs.models.images import data_url
from graphs.models.qwen import field_thinking, soft_switch
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

DEFAULT_BASE_URL = "http://localhost:8000/v1"
ThinkSwitch = Literal["template_kwargs", "soft_switch"]
ReasoningField = Literal["reasoning", "reasoning_content", "both", "inline"]
REASONING_FIELDS: tuple[ReasoningField, ...] = ("reasoning", "reasoning_content", "both", "inline")


class OpenAITransport:
    """Talks to one OpenAI-compatible server; one pooled httpx client per transport."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        api_key: str | None = None,
        retry: RetryPolicy | None = None,
        think_switch: ThinkSwitch = "template_kwargs",
        expect_thinking: bool = False,
        reasoning_field: ReasoningField = "reasoning",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.retry = retry or RetryPolicy()
        self.think_switch = think_switch
        self.expect_thinking = expect_thinking
        self.reasoning_field: ReasoningField = reasoning_field
        self._client: httpx.Client | None = None
        self._aclients: LoopClients[httpx.AsyncClient] = LoopClients(
            lambda: httpx.AsyncClient(transport=AiohttpTransport(), **self._client_kwargs()),
            lambda client: client.aclose(),
        )

    @property
    def url(self) -> str:
        """The chat completions endpoint."""
        return f"{self.base_url}/chat/completions"

    def _client_kwargs(self) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        timeout = httpx.Timeout(self.retry.read_timeout, connect=self.retry.connect_timeout)
        return {"headers": headers, "timeout": timeout}

    @property
    def client(self) -> httpx.Client:
        """The sync client, created on first use."""
        if self._client is None:
            self._client = httpx.Client(**self._client_kwargs())
        return self._client

    @property
    def aclient(self) -> httpx.AsyncClient:
        """The running event loop's async client, on aiohttp (see :mod:`.aio`), created on first use."""
        return self._aclients.get()

    def chat(self, request: ChatRequest) -> Iterator[Delta]:
        """POST the request and yield deltas, retrying before the first one."""
        return coalesce(retrying(self.retry, lambda: self._chat_once(request), self._final))

    def achat(self, request: ChatRequest) -> AsyncIterator[Delta]:
        """Async twin of :meth:`chat`."""
        return acoalesce(aretrying(self.retry, lambda: self._achat_once(request), self._final))

    def _final(self, err: ModelError, attempts: int) -> ModelError:
        return final_error(err, attempts, self.retry)

    def close(self) -> None:
        """Close the sync client."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def payload(self, request: ChatRequest) -> dict[str, Any]:
        """The JSON body for a neutral request."""
        messages = [openai_message(m, self.reasoning_field) for m in request.messages]
        body: dict[str, Any] = {"model": request.model, "messages": messages, "stream": request.stream}
        if request.stream:
            body["stream_options"] = {"include_usage": True}
        if request.tools:
            body["tools"] = request.tools
            if request.tool_choice:
                body["tool_choice"] = openai_tool_choice(request.tool_choice, request.tool_name)
        if request.response_format:
            body["response_format"] = request.response_format
        body.update({k: v for k, v in request.sampling.items() if v is not None})
        if request.think is not None:
            if self.think_switch == "template_kwargs":
                body["chat_template_kwargs"] = {"enable_thinking": request.think, **request.template_kwargs}
            else:
                _soft_switch_last_user(messages, request.think)
        if request.template_kwargs and "chat_template_kwargs" not in body:
            body["chat_template_kwargs"] = dict(request.template_kwargs)
        if request.thinking_budget is not None and request.think is not False:
            body["thinking_token_budget"] = request.thinking_budget  # vLLM's own budget field
        if request.prefill is not None:  # vLLM's extension: continue the final assistant message
            messages.append({"role": "assistant", "content": request.prefill})
            body.update(continue_final_message=True, add_generation_prompt=False)
        return body

    def _chat_once(self, request: ChatRequest) -> Iterator[Delta]:
        assembler = self._assembler(request)
        reader = _SSEReader(assembler, self.base_url)
        try:
            with self.client.stream("POST", self.url, json=self.payload(request)) as response:
                if response.status_code >= 400:
                    response.read()
                    raise self._status_error(response, request.model)
                if request.stream and not _is_json(response):
                    for line in response.iter_lines():
                        yield from reader.line(line)
                    yield reader.finish()
                else:
                    response.read()
                    yield from _whole(assembler, _json(response, self.base_url))
        except httpx.HTTPError as exc:
            raise connection_error(exc, self.base_url, self.url, reader.received) from None

    async def _achat_once(self, request: ChatRequest) -> AsyncIterator[Delta]:
        assembler = self._assembler(request)
        reader = _SSEReader(assembler, self.base_url)
        try:
            async with self.aclient.stream("POST", self.url, json=self.payload(request)) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise self._status_error(response, request.model)
                if request.stream and not _is_json(response):
                    async for line in response.aiter_lines():
                        for delta in reader.line(line):
                            yield delta
                    yield reader.finish()
                else:
                    await response.aread()
                    for delta in _whole(assembler, _json(response, self.base_url)):
                        yield delta
        except httpx.HTTPError as exc:
            raise connection_error(exc, self.base_url, self.url, reader.received) from None

    def _assembler(self, request: ChatRequest) -> DeltaAssembler:
        names = tool_schemas(request.tools)
        return DeltaAssembler(
            think=request.think,
            tool_names=names,
            expect_thinking=self.expect_thinking and request.prefill is None,
            keep_edges=request.prefill is not None,
            thinking_forced=request.thinking_forced,
            check_names=request.tool_choice != "required",
        )

    def _status_error(self, response: httpx.Response, model: str) -> ModelError:
        text = response.text
        try:
            detail = json.loads(text)
        except ValueError:
            detail = text
        message = (_error_message(detail) or text[:300]).strip().split("\n", 1)[0][:300]
        if response.status_code == 404 and ("model" in message.lower() or "not found" in message.lower()):
            return ModelNotFound(
                f"the server at {self.base_url} does not serve model {model!r} (server said: {message}); "
                "check the served model name (GET /v1/models)",
                model=model,
                url=self.url,
            )
        status = response.status_code
        wait = parse_retry_after(response.headers.get("retry-after")) if status in (429, 503) else None
        return ServerError(
            f"{self.url} answered HTTP {status}: {message}",
            url=self.url,
            status=status,
            body=text,
            retry_after=wait,
        )


def openai_message(
    message: Mapping[str, Any], reasoning_field: ReasoningField = "reasoning"
) -> dict[str, Any]:
    """A neutral message in OpenAI's shape: tool-call arguments as JSON strings, images as
    ``image_url`` parts, past thinking in ``reasoning_field`` (see the module docstring)."""
    role = message["role"]
    out: dict[str, Any] = {"role": role, "content": message.get("content") or ""}
    reasoning = message.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        if reasoning_field == "inline":
            out["content"] = f"<think>\n{reasoning}\n</think>\n\n{out['content']}"
        else:
            for key in ("reasoning", "reasoning_content"):
                if reasoning_field in (key, "both"):
                    out[key] = reasoning
    if message.get("images"):
        parts: list[dict[str, Any]] = [{"type": "text", "text": out["content"]}] if out["content"] else []
        parts += [{"type": "image_url", "image_url": {"url": data_url(i)}} for i in message["images"]]
        out["content"] = parts
    if message.get("tool_calls"):
        out["tool_calls"] = [
            {
                "id": c["id"],
                "type": "function",
                "function": {"name": c["name"], "arguments": json.dumps(c["args"], ensure_ascii=False)},
            }
            for c in message["tool_calls"]
        ]
    if role == "tool":
        out["tool_call_id"] = message.get("tool_call_id") or ""
    return out


def openai_usage(body: Mapping[str, Any] | None) -> Usage | None:
    """Token counts from an OpenAI ``usage`` object (reasoning tokens where the server reports them)."""
    if not body:
        return None
    details = body.get("completion_tokens_details") or {}
    reasoning = details.get("reasoning_tokens") if isinstance(details, Mapping) else None
    return Usage(
        prompt_tokens=int(body.get("prompt_tokens") or 0),
        completion_tokens=int(body.get("completion_tokens") or 0),
        thinking_tokens=int(reasoning) if reasoning is not None else None,
    )


class _SSEReader:
    """Reads one SSE stream: feeds the assembler, remembers the finish reason and usage, and notices
    a stream that was cut (no ``[DONE]`` and no finish reason, or a last event cut mid-JSON)."""

    def __init__(self, assembler: DeltaAssembler, where: str) -> None:
        self.assembler = assembler
        self.where = where
        self.finish_reason: str | None = None
        self.stop_sequence: str | None = None
        self.usage: Usage | None = None
        self.received = 0
        self.done = False
        self.bad: str | None = None  # an event that is not JSON: garbage, or the cut end of the stream

    def line(self, line: str) -> Iterator[Delta]:
        """Handle one line of the event stream."""
        if not line.startswith("data:"):
            return
        data = line[5:].strip()
        if not data:
            return
        if self.bad is not None:
            raise ResponseFormatError(f"{self.where} sent an SSE event that is not JSON: {self.bad[:120]!r}")
        if data == "[DONE]":
            self.done = True
            return
        try:
            chunk = json.loads(data)
        except ValueError:
            self.bad = data
            return
        if not isinstance(chunk, dict):
            raise ResponseFormatError(f"{self.where} sent an SSE event that is not an object: {data[:120]!r}")
        if "error" in chunk:
            message = _error_message(chunk).strip().split("\n", 1)[0][:300]
            if self.received:
                raise StreamInterrupted(
                    f"{self.where} reported an error mid-answer, after {self.received} characters: {message}",
                    url=self.where,
                    received=self.received,
                )
            raise ServerError(
                f"{self.where} reported an error: {message}", url=self.where, status=500, body=data
            )
        if chunk.get("usage"):
            self.usage = openai_usage(chunk["usage"])
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            self.finish_reason = choice.get("finish_reason") or self.finish_reason
            self.stop_sequence = _stop_string(choice) or self.stop_sequence
            self.assembler.feed_tool_deltas(delta.get("tool_calls"))
            out = self.assembler.feed(thinking=field_thinking(delta), content=delta.get("content") or "")
            if out is not None:
                self.received += len(out.text) + len(out.thinking)
                yield out

    def finish(self) -> Delta:
        """The closing delta of the stream.

        Raises:
            StreamInterrupted: the stream ended without ``[DONE]`` or a finish reason.
        """
        if self.bad is not None or not (self.done or self.finish_reason):
            how = f"inside an event ({self.bad[-60:]!r})" if self.bad is not None else "before its end"
            got = f"after {self.received} characters" if self.received else "before any of the answer"
            raise StreamInterrupted(
                f"the stream from {self.where} was cut {how}, {got}", url=self.where, received=self.received
            )
        closing = self.assembler.finish(self.finish_reason, self.usage)
        closing.stop_sequence = self.stop_sequence
        return closing


def _stop_string(choice: Mapping[str, Any]) -> str | None:
    """The stop string that ended a choice: vLLM's ``stop_reason`` (a token id is not one)."""
    reason = choice.get("stop_reason")
    return reason if isinstance(reason, str) and reason else None


def _whole(assembler: DeltaAssembler, body: Mapping[str, Any]) -> Iterator[Delta]:
    choices = body.get("choices")
    if not choices:
        raise ResponseFormatError(f"the server's response has no choices: {json.dumps(body)[:200]}")
    choice = choices[0]
    delta = assembler.feed_message(choice.get("message") or {})
    if delta is not None:
        yield delta
    closing = assembler.finish(choice.get("finish_reason"), openai_usage(body.get("usage")))
    closing.stop_sequence = _stop_string(choice)
    yield closing


def _is_json(response: httpx.Response) -> bool:
    """A whole JSON body (some servers answer a streamed request that way)."""
    return str(response.headers.get("content-type", "")).split(";")[0].strip() == "application/json"


def _json(response: httpx.Response, where: str) -> dict[str, Any]:
    text = response.text
    if cut_short(text):
        raise empty_or_cut(where, str(response.url), text, 0)
    try:
        body = response.json()
    except ValueError:
        raise ResponseFormatError(f"{where} sent a reply that is not JSON: {text[:120]!r}") from None
    if not isinstance(body, dict):
        raise ResponseFormatError(f"{where} sent JSON that is not an object: {text[:120]!r}")
    return body


def _error_message(detail: Any) -> str:
    if isinstance(detail, Mapping):
        err = detail.get("error", detail.get("message", detail.get("detail")))
        if isinstance(err, Mapping):
            return str(err.get("message") or err)
        return str(err) if err is not None else ""
    return str(detail)


def _soft_switch_last_user(messages: list[dict[str, Any]], think: bool) -> None:
    for message in reversed(messages):
        if message["role"] == "user":
            content = message["content"]
            if isinstance(content, list):  # text and images: the switch goes into the text part
                texts = [p for p in content if p.get("type") == "text"] or [{"type": "text", "text": ""}]
                texts[-1]["text"] = soft_switch(texts[-1]["text"], think)
                if texts[-1] not in content:
                    content.insert(0, texts[-1])
            else:
                message["content"] = soft_switch(content, think)
            return
