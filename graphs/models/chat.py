"""``ChatQwen``: one LangChain chat model for Qwen on any server.

Picks a transport from the model URI, applies the model's Qwen profile (thinking switch, card
sampling per mode, the current turn's thinking sent back: :mod:`graphs.models.profile_request`),
and turns the transport's neutral deltas into
langchain-core messages: thinking as ``reasoning`` content blocks (never answer text), tool calls
as ``tool_calls``, unreadable tool calls as ``invalid_tool_calls`` with a precise error.

Thinking policy: ``think="auto"`` asks :func:`graphs.models.thinking.decide_think` (or your
``think_rule``); ``thinking_budget`` caps reasoning tokens (:mod:`graphs.models.budget`); a response
that only thought is retried once (``no_answer``) and marked ``response_metadata["recovered"]``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.model_profile import ModelProfile
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, InvalidToolCall, ToolCall
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, PrivateAttr, model_validator

from graphs.errors import ConfigError
from graphs.models.budget import NoAnswerPolicy, lacks_answer, retry_settings
from graphs.models.convert import to_neutral
from graphs.models.profile_detect import Detection
from graphs.models.profile_request import (
    check_request,
    detect_for,
    langchain_profile,
    plan_thinking,
    qwen_profile_argument,
    reasoning_scope,
)
from graphs.models.profiles import Profile, get_profile
from graphs.models.thinking import ThinkRule, decide_think
from graphs.models.transports.base import ChatRequest, Delta, Transport
from graphs.models.transports.factory import make_transport
from graphs.models.transports.openai import ReasoningField
from graphs.models.uri import parse_model_uri

THINK_INDEX, TEXT_INDEX, FIRST_TOOL_INDEX = 0, 1, 2


class ChatQwen(BaseChatModel):
    """A Qwen chat model reached through Ollama, an OpenAI-compatible server, or in process.

    Example:
        >>> model = ChatQwen(model="ollama:qwen3:8b", think=True)  # doctest: +SKIP
        >>> model.bind_tools([calculator]).invoke("What is 17*23?")  # doctest: +SKIP
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, populate_by_name=True)

    model: str = Field(
        description="Model URI: ollama:<model>, openai:<model>, local:<name|path.gguf> or "
        "transformers:<hub-id|dir|path.gguf>."
    )
    base_url: str | None = Field(
        default=None, description="Server URL; else QWENGRAPH_BASE_URL; else the default."
    )
    api_key: str | None = Field(default=None, description="Bearer token for OpenAI-compatible servers.")
    think: bool | Literal["auto"] | None = Field(
        default=None, description="Thinking on/off; 'auto' decides per request; None leaves it to the server."
    )
    think_rule: ThinkRule | None = Field(
        default=None, exclude=True, description="Replaces decide_think for think='auto'."
    )
    thinking_budget: int | None = Field(
        default=None, ge=0, description="Reasoning tokens allowed per call (see graphs.models.budget)."
    )
    no_answer: NoAnswerPolicy = Field(
        default="no_think",
        description="When a response only thought: retry without thinking, with double budget, or off.",
    )
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_tokens: int | None = None
    seed: int | None = None
    think_switch: Literal["template_kwargs", "soft_switch"] = Field(
        default="template_kwargs",
        description="How OpenAI-compatible servers are told to think: template kwargs or /think, /no_think.",
    )
    expect_thinking: bool = Field(
        default=False, description="The chat template pre-inserts <think>, so output starts inside thinking."
    )
    retries: int = Field(
        default=3, ge=1, description="Attempts for connection errors, timeouts and HTTP 5xx."
    )
    timeout: float = Field(default=300.0, gt=0, description="Read timeout in seconds.")
    transport: Any = Field(
        default=None, exclude=True, description="A ready Transport (tests, custom servers)."
    )
    engine: dict[str, Any] | None = Field(
        default=None,
        description="local: models: llama.cpp settings n_ctx, n_threads, n_batch, extra_bufts (else env).",
    )
    qwen_profile: str | Profile | None = Field(
        default=None, description="The Qwen profile (also as profile=...); None detects it."
    )
    preserve_thinking: bool = Field(
        default=False, description="Qwen3.6+: send back and render all past thinking, not this turn's only."
    )
    reasoning_field: ReasoningField = Field(
        default="reasoning", description="Where OpenAI-compatible servers get past thinking (see openai.py)."
    )

    _transport: Transport | None = PrivateAttr(default=None)
    _detection: Detection | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _profile_argument(cls, data: Any) -> Any:
        return qwen_profile_argument(data)

    def _resolve_model_profile(self) -> ModelProfile | None:
        return langchain_profile(self.model, self.qwen_profile)

    @property
    def _llm_type(self) -> str:
        return "qwen"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": self.model, "base_url": self.base_url, "think": self.think}

    def get_transport(self) -> Transport:
        """The transport for this model's URI, built once and reused (one client per server)."""
        if self.transport is not None:
            return self.transport  # type: ignore[no-any-return]
        if self._transport is None:
            self._transport = self._make_transport()
        return self._transport

    def _make_transport(self) -> Transport:
        return make_transport(
            self.model,
            base_url=self.base_url,
            api_key=self.api_key,
            retries=self.retries,
            timeout=self.timeout,
            think_switch=self.think_switch,
            expect_thinking=self.expect_thinking,
            reasoning_field=self.reasoning_field,
            engine=self.engine,
            profile=get_profile(self.qwen_profile)
            if isinstance(self.qwen_profile, str)
            else self.qwen_profile,
        )

    def profile_detection(self) -> Detection:
        """This model's Qwen profile and why it was picked (see :mod:`graphs.models.profile_detect`)."""
        if self._detection is None:
            self._detection = detect_for(self.model, self.qwen_profile, self.get_transport())
        return self._detection

    @property
    def model_name(self) -> str:
        """The model's name as its server knows it (the URI without its kind)."""
        return parse_model_uri(self.model).name

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (any LangChain tool, function, pydantic model or OpenAI schema).

        ``tool_choice`` is ``"auto"``, ``"required"`` (local models: forced by a prefilled call)
        or ``"none"``.
        """
        if tool_choice not in (None, "auto", "required", "none"):
            raise ConfigError(f"tool_choice must be auto, required or none, not {tool_choice!r}")
        schemas = [convert_to_openai_tool(t) for t in tools]
        return self.bind(tools=schemas, tool_choice=tool_choice, **kwargs)

    def build_request(
        self, messages: list[BaseMessage], stop: list[str] | None, *, stream: bool, **kwargs: Any
    ) -> ChatRequest:
        """The neutral request for ``messages`` with per-call overrides (``think``, ``tools``...)."""
        profile = self.profile_detection().profile
        think = kwargs.get("think", self.think)
        if think == "auto":
            think = (kwargs.get("think_rule") or self.think_rule or decide_think)(messages)
        plan = plan_thinking(profile, think)
        preserve = bool(kwargs.get("preserve_thinking", self.preserve_thinking))
        neutral = to_neutral(messages, scope=reasoning_scope(profile, preserve))
        check_request(
            profile, neutral, model=self.model, think_switch=self.think_switch, preserve_thinking=preserve
        )
        sampling: dict[str, Any] = dict(profile.sampling(plan.think))
        for key in ("temperature", "top_p", "top_k", "max_tokens", "seed"):
            value = kwargs.get(key, getattr(self, key))
            if value is not None:
                sampling[key] = value
        if stop:
            sampling["stop"] = list(stop)
            if kwargs.get("include_stop"):  # vLLM's name; the local transport honours it too
                sampling["include_stop_str_in_output"] = True
        budget = kwargs.get("thinking_budget", self.thinking_budget)
        return ChatRequest(
            model=self.model_name,
            messages=neutral,
            tools=list(kwargs.get("tools") or []),
            think=plan.think,
            sampling=sampling,
            stream=stream,
            tool_choice=kwargs.get("tool_choice"),
            thinking_budget=budget if plan.think else None,
            prefill=kwargs.get("prefill"),
            template_kwargs={"preserve_thinking": True} if preserve else {},
            opens_thinking=profile.opens_thinking and plan.think,
            thinking_forced=plan.forced,
        )

    def _recovery(self, request: ChatRequest, **kwargs: Any) -> tuple[dict[str, Any], str] | None:
        """Per-call overrides and label for the one retry after a response without an answer."""
        policy = kwargs.get("no_answer", self.no_answer)
        settings = retry_settings(policy, request.thinking_budget, request.sampling.get("max_tokens"))
        if settings is None or (request.think is False and settings[0].get("think") is False):
            return None
        return {**kwargs, **settings[0]}, settings[1]

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = self.build_request(messages, stop, stream=False, **kwargs)
        deltas = list(self.get_transport().chat(request))
        retry = (
            self._recovery(request, **kwargs)
            if lacks_answer(deltas, tools_offered=bool(request.tools))
            else None
        )
        keep = request.prefill is not None
        if retry is None:
            return _result(deltas, self.model_name, keep_space=keep)
        again = self.build_request(messages, stop, stream=False, **retry[0])
        deltas += list(self.get_transport().chat(again))
        return _result(deltas, self.model_name, recovered=retry[1], keep_space=keep)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = self.build_request(messages, stop, stream=False, **kwargs)
        deltas = [d async for d in self.get_transport().achat(request)]
        retry = (
            self._recovery(request, **kwargs)
            if lacks_answer(deltas, tools_offered=bool(request.tools))
            else None
        )
        keep = request.prefill is not None
        if retry is None:
            return _result(deltas, self.model_name, keep_space=keep)
        again = self.build_request(messages, stop, stream=False, **retry[0])
        deltas += [d async for d in self.get_transport().achat(again)]
        return _result(deltas, self.model_name, recovered=retry[1], keep_space=keep)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        request: ChatRequest | None = self.build_request(messages, stop, stream=True, **kwargs)
        chunker = _Chunker(self.model_name)
        while request is not None:
            held: list[Delta] = []  # closing deltas wait: a retry must not merge two finish reasons
            for delta in self.get_transport().chat(request):
                chunker.seen.append(delta)
                if _is_final(delta):
                    held.append(delta)
                    continue
                chunk = chunker.chunk(delta)
                if run_manager is not None:
                    run_manager.on_llm_new_token(delta.text, chunk=chunk)
                yield chunk
            request = self._next_attempt(chunker, request, messages, stop, kwargs)
            for delta in held:
                chunk = chunker.chunk(delta, final=request is None)
                if run_manager is not None:
                    run_manager.on_llm_new_token(delta.text, chunk=chunk)
                yield chunk

    def _next_attempt(
        self,
        chunker: _Chunker,
        request: ChatRequest,
        messages: list[BaseMessage],
        stop: list[str] | None,
        kwargs: dict[str, Any],
    ) -> ChatRequest | None:
        """The retry request after a streamed response without an answer (once), else ``None``."""
        if chunker.extra.get("recovered") or not lacks_answer(
            chunker.seen, tools_offered=bool(request.tools)
        ):
            return None
        retry = self._recovery(request, **kwargs)
        if retry is None:
            return None
        chunker.extra["recovered"] = retry[1]
        chunker.seen.clear()
        return self.build_request(messages, stop, stream=True, **retry[0])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        request: ChatRequest | None = self.build_request(messages, stop, stream=True, **kwargs)
        chunker = _Chunker(self.model_name)
        while request is not None:
            held: list[Delta] = []
            async for delta in self.get_transport().achat(request):
                chunker.seen.append(delta)
                if _is_final(delta):
                    held.append(delta)
                    continue
                chunk = chunker.chunk(delta)
                if run_manager is not None:
                    await run_manager.on_llm_new_token(delta.text, chunk=chunk)
                yield chunk
            request = self._next_attempt(chunker, request, messages, stop, kwargs)
            for delta in held:
                chunk = chunker.chunk(delta, final=request is None)
                if run_manager is not None:
                    await run_manager.on_llm_new_token(delta.text, chunk=chunk)
                yield chunk


class _Chunker:
    """Turns deltas into message chunks that merge into the same message ``_result`` builds."""

    def __init__(self, model_name: str) -> None:
        self.model_name = model_name
        self.next_tool_index = FIRST_TOOL_INDEX
        self.seen: list[Delta] = []  # this attempt's deltas, for the no-answer check
        self.extra: dict[str, Any] = {}  # added to the final metadata (``recovered``)

    def chunk(self, delta: Delta, *, final: bool = True) -> ChatGenerationChunk:
        """The chunk for ``delta``; ``final=False`` drops the closing metadata of a retried attempt."""
        content: list[str | dict[str, Any]] = []
        if delta.thinking:
            content.append({"type": "reasoning", "reasoning": delta.thinking, "index": THINK_INDEX})
        if delta.text:
            content.append({"type": "text", "text": delta.text, "index": TEXT_INDEX})
        tool_chunks = []
        for call in delta.tool_calls:
            tool_chunks.append(
                tool_call_chunk(
                    name=call.name, args=json.dumps(call.args), id=call.id, index=self.next_tool_index
                )
            )
            self.next_tool_index += 1
        closing = final and _is_final(delta)
        metadata = {**_metadata(delta, self.model_name), **self.extra} if closing else {}
        message = AIMessageChunk(
            content=content,
            tool_call_chunks=tool_chunks,
            response_metadata=metadata,
            usage_metadata=_usage(delta) if final else None,
        )
        return ChatGenerationChunk(message=message)


def _is_final(delta: Delta) -> bool:
    return delta.finish_reason is not None or delta.usage is not None or bool(delta.bad_tool_calls)


def _metadata(delta: Delta, model_name: str) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if delta.finish_reason is not None or delta.usage is not None:
        meta.update(model_name=model_name, finish_reason=delta.finish_reason or "")
    if delta.thinking_budget_hit:
        meta["thinking_budget_hit"] = True
    if delta.stop_sequence:
        meta["stop_sequence"] = delta.stop_sequence
    if delta.think_ignored:
        meta["think_ignored"] = True
    if delta.bad_tool_calls:
        meta["bad_tool_calls"] = [
            {"name": b.name, "raw": b.raw, "error": b.error, "id": b.id} for b in delta.bad_tool_calls
        ]
    return meta


def _usage(delta: Delta) -> Any:
    if delta.usage is None:
        return None
    u = delta.usage
    usage: dict[str, Any] = {
        "input_tokens": u.prompt_tokens,
        "output_tokens": u.completion_tokens,
        "total_tokens": u.prompt_tokens + u.completion_tokens,
    }
    if u.thinking_tokens is not None:
        usage["output_token_details"] = {"reasoning": u.thinking_tokens}
    return usage


def _result(
    deltas: list[Delta], model_name: str, *, recovered: str | None = None, keep_space: bool = False
) -> ChatResult:
    """The whole message; ``keep_space`` keeps the text's outer whitespace (a continued prefill)."""
    thinking = "".join(d.thinking for d in deltas).strip()
    text = "".join(d.text for d in deltas)
    text = text if keep_space else text.strip()
    content: list[str | dict[str, Any]] = []
    if thinking:
        content.append({"type": "reasoning", "reasoning": thinking})
    if text:
        content.append({"type": "text", "text": text})
    calls = [ToolCall(name=c.name, args=c.args, id=c.id) for d in deltas for c in d.tool_calls]
    bad = [b for d in deltas for b in d.bad_tool_calls]
    invalid = [
        InvalidToolCall(type="invalid_tool_call", name=b.name, args=b.raw, id=b.id, error=b.error)
        for b in bad
    ]
    final = next((d for d in reversed(deltas) if d.finish_reason is not None or d.usage is not None), Delta())
    hit = any(d.thinking_budget_hit for d in deltas)
    closing = Delta(
        finish_reason=final.finish_reason or "",
        usage=final.usage,
        bad_tool_calls=bad,
        stop_sequence=final.stop_sequence,
    )
    closing.thinking_budget_hit = hit
    closing.think_ignored = any(d.think_ignored for d in deltas)
    meta = _metadata(closing, model_name)
    if recovered:
        meta["recovered"] = recovered
    message = AIMessage(
        content=content,
        tool_calls=calls,
        invalid_tool_calls=invalid,
        response_metadata=meta,
        usage_metadata=_usage(final),
    )
    return ChatResult(generations=[ChatGeneration(message=message)])
